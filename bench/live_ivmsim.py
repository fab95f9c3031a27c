"""``live_bench.py`` in its default mode: the state changes are the engine's own, 50 migrations driven on ivmsim.

A throw-away PostgreSQL database (created, migrated, dropped), an ivmsim fleet of ``--pairs`` source/destination
pairs (10 running partitions on each source, 10 GbE MSP links, ``max_active_migrations`` raised above that),
every IVM registered and synced, one plan per partition planned, validated (``migrlpar -o v``) and submitted by a
requester; ``--workers`` ``manage.py run_engine`` processes idle; daphne serving ``ivmweb.asgi:application`` with
the clients subscribed (pages with ``last_seq`` 0); then an approver of the same team approves all of them and the
workers run them to the end. The delay of a delivery is the client's receive time minus the ``MigrationEvent``'s
``at`` (set when the row is created, before the commit: it overstates the delay by the commit and the rest of the
transaction). Then the floor replays the same timeline (each event at its offset, each engine process's dashboard
coalesced on its own, page messages padded to ivmweb's mean page-message size) through a bare consumer: ``--floor
loaded`` while a bare driver moves the partitions back on ivmsim (the simulator's load in both phases), ``idle``
with nothing else running, ``both`` (the default) one after the other.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_PAIR = 10
TERMINAL = ("completed", "failed", "stopped", "rejected", "expired")


def fleet_toml(pairs: int, per_pair: int, memory_mb: int, touched_mb: int) -> str:
    out = ['trust = "all"', ""]
    lpar = 0
    for k in range(pairs):
        for side in (1, 2):
            n = 2 * k + side
            serial = f"0LB{n:04d}"
            first = lpar
            out += [
                "[[system]]", f'name = "Server-8205-E6C-SN{serial}"', f'ivm = "ivm{n}"', 'type_model = "8205-E6C"',
                f'serial = "{serial}"', "memory_mb = 262144", "proc_units = 32.0", "mem_region_size = 128",
                'compat_modes = ["default", "POWER6", "POWER6+", "POWER7"]', f'password = "padmin-ivm{n}"',
                "msp_bandwidth_mb_s = 800.0", f"max_active_migrations = {per_pair + 2}", "",
                "[system.vios]", f'name = "vios{n}"', "max_virtual_slots = 200",
                'sea = [{ name = "ent4", pvid = 1, vlans = [1] }]',
                "hdisk = [" + ", ".join(f'{{ name = "hdisk{i + 1}", unique_id = "33213600LIVEB{first + i:05d}IBMfcp", '
                                        f'reserve_policy = "no_reserve" }}' for i in range(per_pair)) + "]", "",
            ]
            if side == 1:
                for i in range(per_pair):
                    out += [
                        "[[system.lpar]]", f'name = "lb{lpar + i:03d}"', f"id = {i + 2}", 'state = "Running"',
                        'rmc_state = "active"', f"memory_mb = {memory_mb}", "proc_units = 0.5",
                        'compat_mode = "POWER7"', "eth = [{ slot = 2, vlan = 1 }]",
                        f'scsi = [{{ slot = 3, disks = ["hdisk{i + 1}"] }}]',
                        f"workload = {{ touched_mb = {touched_mb}, dirty_mb_s = 20, working_set_mb = 256 }}", "",
                    ]
        lpar += per_pair
    return "\n".join(out)


def _bare_driver_main() -> None:
    """``live_ivmsim.py --bare-driver SPEC``: the IVM-side load of the floor phase without ivmweb. SPEC (JSON) lists
    {name, offset, from: ivm entry, to: ivm entry}; each partition is moved back at its offset with
    ``migrlpar -o m --async`` and polled with ``lslparmigr -r lpar`` every second until it is off the IVM it left,
    one thread and one SSH connection per migration, as bare as driving IVM gets. Prints one JSON line at the end:
    {"moved": n, "failed": [names], "seconds": s}."""
    import threading

    sys.path.insert(0, str(REPO))
    from mobility.ivm import IVMClient, commands

    spec = json.loads(Path(sys.argv[2]).read_text())
    failed, start = [], time.monotonic()

    def drive(job):
        src, dst, name = job["from"], job["to"], job["name"]
        time.sleep(max(0.0, start + job["offset"] - time.monotonic()))
        try:
            with IVMClient(src["host"], src["port"], src["user"], password=src["password"],
                           host_key=src["host_key"]) as client:
                client.connect()
                client.run(commands.migrlpar("m", target_system=dst["system"], target_ip=dst["host"],
                                             target_user="padmin", lpar_name=name, async_=True))
                poll = commands.lslparmigr("lpar", lpar_names=name, fields=("name", "migration_state",
                                                                             "bytes_transmitted", "bytes_remaining"))
                deadline = time.monotonic() + 900
                while time.monotonic() < deadline:
                    time.sleep(1.0)
                    if not client.run(poll, retry_safe=True).parsed():
                        return
                failed.append(name)
        except Exception as exc:  # noqa: BLE001 - reported, and the bench fails on it
            failed.append(f"{name}: {exc}")

    threads = [threading.Thread(target=drive, args=(job,)) for job in spec]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({"moved": len(spec) - len(failed), "failed": failed,
                      "seconds": round(time.monotonic() - start, 1)}), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--bare-driver"]:
    _bare_driver_main()
    raise SystemExit(0)


def _bare_load(fleet, ids, t0: float, tmp: Path):
    """The floor phase's IVM load: the bench's partitions moved back to their source servers by the bare driver (a
    process of its own), each at the offset from the first approval at which ivmweb started it. Returns a function
    that starts it and a function that waits for its result."""
    from mobility.models import Migration

    jobs = []
    for m in Migration.objects.filter(pk__in=ids).select_related("partition", "source__console",
                                                                   "destination__console"):
        jobs.append({"name": m.partition.name, "offset": max(0.0, (m.started_at.timestamp() - t0) if m.started_at
                                                               else 0.0),
                     "from": fleet.ivm(m.destination.console.name), "to": fleet.ivm(m.source.console.name)})
    spec = tmp / "bare-driver.json"
    spec.write_text(json.dumps(jobs))
    state = {}

    def start():
        state["proc"] = subprocess.Popen([sys.executable, __file__, "--bare-driver", str(spec)], cwd=REPO,
                                         stdout=subprocess.PIPE, text=True)

    def result() -> dict:
        out, _ = state["proc"].communicate(timeout=900)
        return json.loads(out.strip().splitlines()[-1])

    return start, result


def _plans(n: int, pairs: int, requester):
    """One submitted plan per partition (``lbNNN`` on the pair's source to the pair's destination)."""
    from engine_bench import submit_recommended

    from mobility.models import ManagedSystem, Partition

    migrations = []
    for i in range(n):
        k = i // PER_PAIR
        partition = Partition.objects.get(name=f"lb{i:03d}", vanished_at__isnull=True)
        destination = ManagedSystem.objects.get(console__name=f"ivm{2 * k + 2}")
        migrations.append(submit_recommended(partition, destination, requester, "live bench"))
    return migrations


def _session_cookie(user) -> str:
    from django.contrib.sessions.backends.db import SessionStore

    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return session.session_key


def _workers(n: int, log_dir: Path) -> list[subprocess.Popen]:
    procs = []
    for w in range(n):
        log = open(log_dir / f"worker{w}.log", "w")  # noqa: SIM115 - lives as long as the worker
        procs.append(subprocess.Popen([sys.executable, "manage.py", "run_engine", "--worker-id", f"live-bench-{w}"],
                                      cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=log,
                                      stderr=subprocess.STDOUT))
    return procs


def _stop(procs) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()


class _LockWaits:
    """Samples pg_stat_activity every 0.25 s: which statements of the bench database wait on a lock (a diagnosis of
    where the commit of an event waits; the delay is measured from before it)."""

    def __init__(self, db_name: str, pg: str):
        import threading

        self.db_name, self.pg, self.samples, self.waits = db_name, pg, 0, {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import psycopg

        with psycopg.connect(f"{self.pg.rstrip('/')}/postgres", autocommit=True) as conn:
            while not self.stop.wait(0.25):
                self.samples += 1
                for (query,) in conn.execute("SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 70) "
                                             "FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                                             [self.db_name]):
                    self.waits[query] = self.waits.get(query, 0) + 1

    def result(self) -> dict:
        self.stop.set()
        self.thread.join(5)
        top = sorted(self.waits.items(), key=lambda kv: -kv[1])[:4]
        return {"samples": self.samples, "mean_waiting": round(sum(self.waits.values()) / max(1, self.samples), 2),
                "top": dict(top)}


def _run_migrations(migrations, approver, timeout: float, lock_waits) -> dict:
    """Approve every migration (the clients are subscribed), then wait for all to end."""
    from mobility.governance.approvals import approve
    from mobility.models import Migration

    waits = lock_waits()
    t0 = time.time()
    order = sorted(range(len(migrations)), key=lambda i: (i % PER_PAIR, i))  # round-robin over the pairs
    for i in order:
        approve(migrations[i], approver, "live bench", plan_hash=migrations[i].latest_plan().content_hash)
    approved = time.time()
    ids = [m.pk for m in migrations]
    while time.time() - approved < timeout:
        statuses = dict(Migration.objects.filter(pk__in=ids).values_list("pk", "status"))
        if all(s in TERMINAL for s in statuses.values()):
            break
        time.sleep(0.5)
    return {"t0": t0, "approved": approved, "ended": time.time(), "lock_waits": waits.result()}


def _ivmweb_pages(lb, received, events, ids, dashboards, t0) -> dict:
    """Pages: every event of the migration (the backlog from seq 1 included), once, in order; the delay is measured
    for the events committed after the approvals began."""
    delays, lost, disorder, by_kind = [], 0, 0, {}
    for i in range(dashboards, len(received)):
        mid = ids[(i - dashboards) % len(ids)]
        got = [(s, t) for m, s, t in received[i] if m == mid]
        seqs = [s for s, _ in got]
        disorder += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
        at = {}
        for s, t in got:
            at.setdefault(s, t)
        expected = events[mid]
        lost += len(set(expected) - set(at))
        for s, (committed, kind) in expected.items():
            if s in at and committed >= t0:
                delays.append((at[s] - committed) * 1000)
                by_kind.setdefault(kind, []).append(delays[-1])
    figures = lb._figures(delays, lost, disorder)
    figures["by_kind"] = {kind: {k: v for k, v in lb._figures(d, 0, 0).items() if k in ("deliveries", "p50_ms", "p99_ms")}
                          for kind, d in sorted(by_kind.items())}
    return figures


def _ivmweb_dashboard(lb, received, events, dashboards, t0) -> dict:
    """Dashboard (latest state wins): a change counts as delivered when a row or cell shows its seq or a later one,
    or when the row has left (a whole-rows refresh without it) after the migration's terminal status was committed:
    that is its final state. Lost: the last state a client saw of a migration is behind its last seq."""
    delays, lost, disorder = [], 0, 0
    for i in range(dashboards):
        rows: dict[int, list] = {}
        for m, s, t in received[i]:
            rows.setdefault(m, []).append((s, t))
        for mid, expected in events.items():
            last = max(expected)
            ended = min((c for s, (c, kind) in expected.items() if kind == "terminal"), default=None)
            seen = [(last if s < 0 else s, t) for s, t in rows.get(mid, [])
                    if s >= 0 or (ended is not None and t >= ended)]
            disorder += sum(1 for a, b in zip(seen, seen[1:], strict=False) if b[0] < a[0])
            top = max((s for s, _ in seen), default=0)
            measured = {s: c for s, (c, _) in expected.items() if c >= t0}
            lost += sum(1 for s in measured if s > top)
            for s, committed in measured.items():
                first = next((t for v, t in seen if v >= s), None)
                if first is not None:
                    delays.append((first - committed) * 1000)
    return lb._figures(delays, lost, disorder)


def _floor_replay(lb, ids, timeline, page_bytes: int, begin=None):
    """The floor: the same events at the same offsets, one coalesced dashboard per producing process; ``begin``
    (the bare driver's start) is called at offset 0."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer, seqs = get_channel_layer(), dict.fromkeys(ids, 0)
    dashboards = {w: lb._FloorDashboard(layer, seqs) for w in {w for _, _, w in timeline}}
    base = '<div id="live-events-{m}" hx-swap-oob="beforeend"><div id="ev-{m}-{s}" data-seq="{s}">{pad}</div></div>'
    pad = "x" * max(0, page_bytes - len(base.format(m=ids[0], s=100, pad="")))

    def drive():
        if begin is not None:
            begin()
        sent, start = {}, time.monotonic()
        for offset, mid, worker in timeline:
            time.sleep(max(0.0, start + offset - time.monotonic()))
            with dashboards[worker].lock:
                seqs[mid] += 1
                seq = seqs[mid]
            sent[(mid, seq)] = time.time()
            async_to_sync(layer.group_send)(lb.FLOOR_GROUP.format(mid),
                                            {"type": "live.push", "html": base.format(m=mid, s=seq, pad=pad)})
            dashboards[worker].changed(mid)
        return sent, time.monotonic() - start

    return drive


def _rates(sizes, dashboards, seconds) -> dict:
    dash = sizes[:dashboards]
    pages = sizes[dashboards:]
    per_client = sum(n for n, _ in dash) / max(1, len(dash))
    return {"dashboard_messages_per_client_per_s": round(per_client / seconds, 2),
            "dashboard_message_bytes": round(sum(b for _, b in dash) / max(1, sum(n for n, _ in dash))),
            "page_messages": sum(n for n, _ in pages),
            "page_message_bytes": round(sum(b for _, b in pages) / max(1, sum(n for n, _ in pages)))}


def run(args, lb) -> int:
    sys.path.insert(0, str(REPO / "bench"))
    from engine_bench import bench_team
    from inventory_bench import admin_sql, setup_django

    from tests.simfleet import SimFleet

    if args.migrations > args.pairs * PER_PAIR:
        raise SystemExit(f"--migrations {args.migrations} needs --pairs >= {math.ceil(args.migrations / PER_PAIR)}")
    os.environ["IVMWEB_ENGINE_THREADS"] = str(min(64, math.ceil(args.migrations / args.workers) + 4))
    db_name = f"ivmweb_livebench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="live-bench-"))
    fleet_path = tmp / "fleet.toml"
    fleet_path.write_text(fleet_toml(args.pairs, PER_PAIR, args.memory_mb, args.touched_mb))
    admin_sql(args.pg, f'CREATE DATABASE "{db_name}"')
    began, sim = time.time(), None
    try:
        setup_django(db_name, args.pg)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from mobility.inventory import sync_all
        from mobility.inventory.connections import close_all_clients
        from mobility.management.commands.register_fleet import register_entry
        from mobility.models import Migration, MigrationEvent, MigrationStep, Partition

        if settings.CHANNEL_LAYER_NAME != "redis":
            raise SystemExit("set REDIS_URL: the pushes cross processes")
        call_command("migrate", verbosity=0)
        requester, approver, team = bench_team()
        sim = SimFleet(fleet_path, time_scale=1.0, seed=1, start_timeout=60)
        fleet = sim.__enter__()  # stopped in the finally below: the loaded floor needs it after the ivmweb phase
        consoles = [register_entry(e)[0] for e in fleet.ivms]
        results = sync_all(consoles)
        if not all(r.ok for r in results):
            raise SystemExit(f"sync failed: {[r.summary() for r in results if not r.ok]}")
        Partition.objects.filter(name__startswith="lb").update(team=team)
        migrations = _plans(args.migrations, args.pairs, requester)
        ids = [m.pk for m in migrations]
        cookie = _session_cookie(requester)
        prepared = time.time()
        workers = _workers(args.workers, tmp)
        load_before = os.getloadavg()
        try:
            times, received, closes, sizes = lb.session(
                "ivmweb.asgi:application", ids, cookie, args.clients, args.dashboard,
                lambda: _run_migrations(migrations, approver, 600, lambda: _LockWaits(db_name, args.pg)))
        finally:
            _stop(workers)
            close_all_clients()
        load_ivmweb = os.getloadavg()
        # The committed events: {mid: {seq: (at, "terminal" | kind)}}, and the producing process of each.
        events: dict[int, dict] = {mid: {} for mid in ids}
        timeline = []
        t0 = times["t0"]
        for mid, seq, at, kind, payload in MigrationEvent.objects.filter(migration_id__in=ids).values_list(
                "migration_id", "seq", "at", "kind", "payload").order_by("at"):
            terminal = kind == "status" and payload.get("status") in TERMINAL
            events[mid][seq] = (at.timestamp(), "terminal" if terminal else kind)
            if at.timestamp() >= t0:
                timeline.append((at.timestamp() - t0, mid, payload.get("worker", "bench")))
        outcome, spans, step_s = {}, [], {}
        for step in MigrationStep.objects.filter(migration_id__in=ids, started_at__isnull=False,
                                                 finished_at__isnull=False):
            step_s.setdefault(f"{step.number} {step.key}", []).append((step.finished_at - step.started_at).total_seconds())
        for m in Migration.objects.filter(pk__in=ids):
            outcome[m.status] = outcome.get(m.status, 0) + 1
            if m.started_at and m.finished_at:
                spans.append((m.started_at.timestamp(), m.finished_at.timestamp()))
        window = timeline[-1][0] if timeline else 0.0
        live = {"socket_closes": closes, "events": len(timeline), "events_per_s": round(len(timeline) / window, 1),
                **_rates(sizes, args.dashboard, window),
                "pages": _ivmweb_pages(lb, received, events, ids, args.dashboard, t0),
                "dashboard": _ivmweb_dashboard(lb, received, events, args.dashboard, t0)}
        # The floor: the same clients, the same timeline, through a bare consumer; "loaded": while the bare driver
        # moves the partitions back on ivmsim (the simulated IVMs' load, which production keeps on other machines,
        # hits both phases alike); "idle": with nothing else running.
        floors, load_floor, bare = {}, {}, None
        for kind in (("loaded", "idle") if args.floor == "both" else (args.floor,)):
            begin = result_of = None
            if kind == "loaded":
                begin, result_of = _bare_load(fleet, ids, t0, tmp)
            (floor_sent, floor_s), f_received, f_closes, f_sizes = lb.session(
                "live_bench:floor_application", ids, cookie, args.clients, args.dashboard,
                _floor_replay(lb, ids, timeline, live["page_message_bytes"], begin))
            if result_of is not None:
                bare = result_of()  # the bare migrations end before the next phase
            load_floor[kind] = os.getloadavg()
            floors[kind] = {"socket_closes": f_closes, "events": len(floor_sent),
                            "events_per_s": round(len(floor_sent) / max(floor_s, 1e-9), 1),
                            **_rates(f_sizes, args.dashboard, floor_s),
                            "pages": lb._page_figures(f_received, floor_sent, ids, args.dashboard),
                            "dashboard": lb._dashboard_figures(f_received, floor_sent, args.dashboard)}
        connections.close_all()
    finally:
        if sim is not None:
            sim.__exit__(None, None, None)
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    ratios = {kind: {k: round(live[k]["p99_ms"] / f[k]["p99_ms"], 2) for k in ("pages", "dashboard")
                     if live[k]["p99_ms"] and f[k]["p99_ms"]} for kind, f in floors.items()}
    marks = sorted([(s, 1) for s, _ in spans] + [(f, -1) for _, f in spans])
    running, most, at_least = 0, 0, {}
    for (t, d), (t_next, _) in zip(marks, marks[1:] + [marks[-1]], strict=True) if marks else ():
        running += d
        most = max(most, running)
        for share in (1.0, 0.9, 0.5):
            if running >= share * len(ids):
                at_least[share] = at_least.get(share, 0.0) + (t_next - t)
    result = {
        "mode": "ivmsim", "migrations": args.migrations, "clients": args.clients, "dashboard_clients": args.dashboard,
        "workers": args.workers, "memory_mb": args.memory_mb, "touched_mb": args.touched_mb,
        "outcome": outcome, "run_s": round(times["ended"] - times["t0"], 1),
        "approvals_s": round(times["approved"] - times["t0"], 1),
        "migration_s": sorted(round(f - s, 1) for s, f in spans)[:: max(1, len(spans) // 5)],
        "most_running_at_once": most,
        "seconds_with_running": {f">= {int(k * 100)} %": round(v, 1) for k, v in sorted(at_least.items())},
        "step_median_s": {k: round(sorted(v)[len(v) // 2], 1) for k, v in sorted(step_s.items(), key=lambda kv: int(kv[0].split()[0]))},
        "setup_s": round(prepared - began, 1), "total_s": round(time.time() - began, 1),
        "pg_lock_waits": times["lock_waits"],
        "worker_logs": str(tmp),
        "worker_log_errors": sum(line.count(" ERROR ") for f in tmp.glob("worker*.log") for line in f.open()),
        "worker_log_too_many_clients": sum(line.count("too many clients") for f in tmp.glob("worker*.log")
                                           for line in f.open()),
        "load_average": {"before": load_before, "after_ivmweb": load_ivmweb,
                         **{f"after_floor_{k}": v for k, v in load_floor.items()}},
        "bare_driver": bare, "ivmweb": live, **{f"floor_{k}": f for k, f in floors.items()},
        **{f"p99_ivmweb_over_floor_{k}": r for k, r in ratios.items()},
    }
    print(json.dumps(result, indent=None if args.json else 2))
    bad = any(live[kind]["lost"] or live[kind]["out_of_order"] for kind in ("pages", "dashboard"))
    bad = bad or (bare is not None and bool(bare["failed"]))
    return 1 if bad or outcome.get("completed", 0) != len(ids) else 0
