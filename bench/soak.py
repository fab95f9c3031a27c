"""Soak: ivmweb as deployed (web processes behind the shipped nginx site, engine workers) for a long while, with
migrations cycling back and forth between pairs of servers on ivmsim and browsers' websockets following them.

    REDIS_URL=redis://… .venv/bin/python bench/soak.py [--minutes 30] [--migrations 50] [--clients 200]
        [--web 2] [--workers 2] [--memory-mb 4096] [--touched-mb 2048] [--json]

A throw-away PostgreSQL database (created, migrated, dropped), an ivmsim fleet of --migrations / 10 pairs of
servers with 10 running partitions on each pair's source; every IVM registered and synced. ``--web`` daphne
processes (the shipped unit's command line, DEBUG off) behind nginx (the shipped site, a test certificate),
``--workers`` run_engine processes (the shipped worker unit's command line). Every partition moves to the other
server of its pair, and back when it has arrived, planned, validated (``migrlpar -o v``), submitted and approved
through ivmweb's own code, for ``--minutes``; then the bench waits for the last ones to end.

``--clients`` websockets through nginx (TLS), spread over the partitions; each subscribes on its one socket to every
migration of its partition as the migration is created (the bench tells it), like a page left open per partition.

Reported (and exit 1 unless all hold): lost and out-of-order events (every client must have every event of every
migration it subscribed to, once, in order); each ivmweb process's resident memory growth between minute 5 and the
end (< 10 %); PostgreSQL connections of the database, sampled every 5 s, under the configured pool total (processes
x DATABASE_POOL_MAX_SIZE); the push delay (client receive time minus the event row's ``at``) p99 of the last five
minutes within 1.2x that of the first five. Run once with ``--web 2`` and once with ``--web 1`` (same load) for the
two-processes-behind-nginx against one-process comparison. Also reported, minute by minute: the push p99, the
deliveries, the load average and the cores the machine spent outside the bench's own processes (PostgreSQL and
Redis included), so that a slower window can be told from a busier machine.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
PER_PAIR = 10
TERMINAL = ("completed", "failed", "stopped", "rejected", "expired", "cancelled")


def _client_process() -> None:
    """``soak.py --clients SPEC``: the websocket clients (autobahn on asyncio), through nginx with TLS. Client i
    follows partition i % partitions: on a stdin line ``SUB <partition index> <migration id>`` its clients subscribe
    on their socket (from seq 0); a socket that closes reconnects and subscribes again to each of its migrations with
    the last seq it has. ``STOP`` prints {"got": {i: {mid: [[seq, t], ...]}}, "closes": n} and exits."""
    import asyncio
    import re
    import ssl

    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    spec = json.loads(Path(sys.argv[2]).read_text())
    count, partitions = spec["count"], spec["partitions"]
    event = re.compile(r'id="ev-(\d+)-(\d+)"')
    got: dict[int, dict[int, list]] = {i: {} for i in range(count)}
    state = {"closes": 0, "stopping": False, "ready": 0}
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE

    async def run():
        loop = asyncio.get_running_loop()
        ready = asyncio.Event()
        factories = []

        class Client(WebSocketClientProtocol):
            def onOpen(self):
                self.factory.socket = self
                for mid in list(self.factory.last):
                    self.subscribe(mid)
                if not self.factory.ready:
                    self.factory.ready = True
                    state["ready"] += 1
                    if state["ready"] == count:
                        ready.set()

            def subscribe(self, mid):
                self.sendMessage(json.dumps({"subscribe": mid, "last_seq": self.factory.last[mid]}).encode())

            def onMessage(self, payload, is_binary):
                now, f = time.time(), self.factory
                for mid, seq in event.findall(payload.decode()):
                    mid, seq = int(mid), int(seq)
                    if mid in f.last:
                        got[f.index].setdefault(mid, []).append([seq, now])
                        f.last[mid] = max(f.last[mid], seq)

            def onClose(self, was_clean, code, reason):
                self.factory.socket = None
                if not state["stopping"]:
                    state["closes"] += 1
                    loop.call_later(0.5, lambda: asyncio.ensure_future(connect(self.factory)))

        async def connect(factory):
            try:
                await loop.create_connection(factory, "127.0.0.1", spec["port"], ssl=tls, server_hostname=spec["name"])
            except OSError:
                if not state["stopping"]:
                    loop.call_later(0.5, lambda: asyncio.ensure_future(connect(factory)))

        for i in range(count):
            factory = WebSocketClientFactory(f"wss://{spec['host']}/ws/live/", origin=f"https://{spec['host']}",
                                             headers={"Cookie": spec["cookie"]})
            factory.protocol, factory.index, factory.ready, factory.socket, factory.last = Client, i, False, None, {}
            factories.append(factory)
            await connect(factory)
        await asyncio.wait_for(ready.wait(), 180)
        print("READY", flush=True)
        while True:
            line = (await loop.run_in_executor(None, sys.stdin.readline)).split()
            if not line or line[0] == "STOP":
                break
            part, mid = int(line[1]), int(line[2])
            for f in factories[part::partitions]:
                f.last.setdefault(mid, 0)
                if f.socket is not None:
                    f.socket.subscribe(mid)
        state["stopping"] = True

    asyncio.run(run())
    print(json.dumps({"got": got, "closes": state["closes"]}), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--clients"]:
    _client_process()
    raise SystemExit(0)


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def machine_busy_s() -> float:
    """CPU seconds the whole machine has been busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def tree_cpu_s(root: int) -> float:
    """CPU seconds used so far by ``root`` and its living descendants (utime + stime of each)."""
    children: dict[int, list[int]] = {}
    used: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
        used[int(entry.name)] = (int(fields[11]) + int(fields[12])) / tick
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += used.get(pid, 0.0)
        todo.extend(children.get(pid, ()))
    return total


class Sampler:
    """Every 5 s: each ivmweb process's RSS, the database's connections in pg_stat_activity, the load average, and
    the CPU the machine spent outside this bench's processes (other work on a shared machine, PostgreSQL and Redis
    included): what tells a slower last five minutes from a busier machine."""

    def __init__(self, procs: dict[str, subprocess.Popen], db_name: str, pg: str):
        self.procs, self.db_name, self.pg = procs, db_name, pg
        self.rss: list[tuple[float, dict[str, int | None]]] = []
        self.connections: list[tuple[float, int]] = []
        self.machine: list[tuple[float, float, float, float]] = []  # (time, load 1 min, busy CPU-s, own CPU-s)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        import psycopg

        with psycopg.connect(f"{self.pg.rstrip('/')}/postgres", autocommit=True) as conn:
            while not self.stop.wait(5):
                now = time.time()
                self.rss.append((now, {name: rss_kib(p.pid) for name, p in self.procs.items()}))
                (n,) = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                                    [self.db_name]).fetchone()
                self.connections.append((now, n))
                self.machine.append((now, os.getloadavg()[0], machine_busy_s(), tree_cpu_s(os.getpid())))

    def per_minute(self, t0: float) -> dict[int, dict]:
        """Minute -> mean load average and the cores used outside this bench's processes."""
        out: dict[int, dict] = {}
        for (t, load, busy, own), (t_before, _, busy0, own0) in zip(self.machine[1:], self.machine, strict=False):
            minute = out.setdefault(int((t - t0) // 60), {"loads": [], "other": 0.0, "span": 0.0})
            minute["loads"].append(load)
            minute["other"] += max(0.0, (busy - busy0) - (own - own0))
            minute["span"] += t - t_before  # 5 s and the sampling itself
        return {m: {"load": round(sum(v["loads"]) / len(v["loads"]), 1),
                    "other_cores": round(v["other"] / v["span"], 2)} for m, v in out.items()}

    def result(self, t0: float, end: float) -> dict:
        self.stop.set()
        self.thread.join(10)
        at5 = min(self.rss, key=lambda s: abs(s[0] - (t0 + 300)))[1] if self.rss else {}
        last = self.rss[-1][1] if self.rss else {}
        growth = {name: round(100.0 * (last[name] - at5[name]) / at5[name], 1)
                  for name in last if last.get(name) and at5.get(name)}
        return {"rss_mib_at_minute_5": {k: round(v / 1024, 1) for k, v in at5.items() if v},
                "rss_mib_at_end": {k: round(v / 1024, 1) for k, v in last.items() if v},
                "rss_growth_percent_minute_5_to_end": growth,
                "pg_connections_max": max((n for _, n in self.connections), default=0),
                "pg_connections_mean": round(sum(n for _, n in self.connections) / max(1, len(self.connections)), 1)}


def p99(values: list[float]) -> float | None:
    values = sorted(values)
    return round(values[min(len(values) - 1, int(0.99 * len(values)))], 1) if values else None


def p50(values: list[float]) -> float | None:
    values = sorted(values)
    return round(values[len(values) // 2], 1) if values else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=30.0, help="how long migrations keep being started")
    parser.add_argument("--migrations", type=int, default=50, help="partitions moving at once (10 per server pair)")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--web", type=int, default=2, help="daphne processes behind nginx")
    parser.add_argument("--workers", type=int, default=2, help="run_engine processes")
    parser.add_argument("--memory-mb", type=int, default=4096)
    parser.add_argument("--touched-mb", type=int, default=2048)
    parser.add_argument("--pool", type=int, default=10, help="DATABASE_POOL_MAX_SIZE of every process")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("set REDIS_URL: the pushes cross processes")
    pairs = math.ceil(args.migrations / PER_PAIR)

    from cryptography.fernet import Fernet

    secret_key = secrets.token_urlsafe(64)
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    os.environ.update(DEBUG="0", SECRET_KEY=secret_key, IVMWEB_ENCRYPTION_KEYS=Fernet.generate_key().decode(),
                      IVMWEB_AUDIT_CHECKPOINT_KEY=secrets.token_hex(32),
                      IVMWEB_AUDIT_CHECKPOINT_FILE=str(tmp / "checkpoints.jsonl"), ALLOWED_HOSTS="ivmweb.test,127.0.0.1",
                      SECURE_PROXY_SSL_HEADER_NAME="HTTP_X_FORWARDED_PROTO", IVMWEB_LOG_LEVEL="WARNING",
                      EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                      DATABASE_POOL_MAX_SIZE=str(args.pool), DJANGO_SETTINGS_MODULE="ivmweb.settings",
                      IVMWEB_ENGINE_THREADS=str(min(64, math.ceil(args.migrations / args.workers) + 4)))
    from engine_bench import bench_team, submit_recommended
    from inventory_bench import admin_sql, setup_django
    from live_ivmsim import fleet_toml

    from tests.deploy.hosts import (
        HOST_NAME,
        free_port,
        nginx_conf,
        nginx_site,
        self_signed,
        unit,
        wait_listening,
    )
    from tests.simfleet import SimFleet

    db_name = f"ivmweb_soak_{os.getpid()}"
    admin_sql(args.pg, f'CREATE DATABASE "{db_name}"')
    procs: dict[str, subprocess.Popen] = {}
    others: list[subprocess.Popen] = []
    sim = None
    began = time.time()
    try:
        setup_django(db_name, args.pg)
        from django.core.management import call_command
        from django.db import connections

        from mobility.governance.approvals import approve
        from mobility.inventory import sync_all
        from mobility.inventory.connections import close_all_clients
        from mobility.management.commands.register_fleet import register_entry
        from mobility.models import ManagedSystem, Migration, MigrationEvent, Partition

        call_command("migrate", verbosity=0)
        requester, approver, team = bench_team()
        (tmp / "fleet.toml").write_text(fleet_toml(pairs, PER_PAIR, args.memory_mb, args.touched_mb))
        sim = SimFleet(tmp / "fleet.toml", time_scale=1.0, seed=1, start_timeout=60).start()
        consoles = [register_entry(e)[0] for e in sim.ivms]
        results = sync_all(consoles)
        if not all(r.ok for r in results):
            raise SystemExit(f"sync failed: {[r.summary() for r in results if not r.ok]}")
        Partition.objects.filter(name__startswith="lb").update(team=team)
        names = [f"lb{i:03d}" for i in range(args.migrations)]
        # Each partition's pair: (first server, second server); it moves to whichever it is not on.
        pair_of = {n: tuple(ManagedSystem.objects.get(console__name=f"ivm{2 * (i // PER_PAIR) + s}").pk
                            for s in (1, 2)) for i, n in enumerate(names)}

        nginx_port = free_port()
        host = f"{HOST_NAME}:{nginx_port}"
        env = {**os.environ, "PYTHONUNBUFFERED": "1", "CSRF_TRUSTED_ORIGINS": f"https://{host}"}
        metrics_dir = tmp / "metrics"  # the host's multiprocess directory, as the units have it
        metrics_dir.mkdir()
        web_argv, web_env, _ = unit("ivmweb-web@.service")
        upstreams = []
        for w in range(args.web):
            port = free_port()
            argv = [sys.executable, "-m", "daphne", *web_argv[1:]]
            argv = [a.replace("%i", str(port)) for a in argv]
            log = open(tmp / f"web{w}.log", "w")  # noqa: SIM115
            procs[f"web{w}"] = subprocess.Popen(argv, cwd=REPO, env={**env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                                                stdout=log, stderr=subprocess.STDOUT)
            wait_listening("127.0.0.1", port, procs[f"web{w}"])
            upstreams.append(f"127.0.0.1:{port}")
        worker_argv, worker_env, nice = unit("ivmweb-worker@.service")
        for w in range(args.workers):
            argv = ["nice", "-n", str(nice), sys.executable,
                    *[a.replace("%H-%i", f"soak-{w}") for a in worker_argv[1:]]]
            log = open(tmp / f"worker{w}.log", "w")  # noqa: SIM115
            procs[f"worker{w}"] = subprocess.Popen(argv, cwd=REPO, env={**env, **worker_env,
                                                                         "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)},
                                                   stdout=log, stderr=subprocess.STDOUT)
        site = tmp / "ivmweb.conf"
        site.write_text(nginx_site(upstreams, nginx_port, free_port(), *self_signed(tmp)))
        (tmp / "nginx.conf").write_text(nginx_conf(tmp, site))
        others.append(subprocess.Popen(["/usr/sbin/nginx", "-c", str(tmp / "nginx.conf")], stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL))
        wait_listening("127.0.0.1", nginx_port, others[-1])

        from django.contrib.sessions.backends.db import SessionStore

        session = SessionStore()
        session.update({"_auth_user_id": str(requester.pk), "_auth_user_hash": requester.get_session_auth_hash(),
                        "_auth_user_backend": "django.contrib.auth.backends.ModelBackend"})
        session.create()
        spec = tmp / "clients.json"
        spec.write_text(json.dumps({"port": nginx_port, "name": HOST_NAME, "host": host, "count": args.clients,
                                    "partitions": len(names),
                                    "cookie": f"sessionid={session.session_key}"}))
        clients = subprocess.Popen([sys.executable, __file__, "--clients", str(spec)], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
        others.append(clients)
        if clients.stdout.readline().strip() != "READY":
            raise SystemExit("the websocket clients did not all connect")
        sampler = Sampler(procs, db_name, args.pg)

        started, subscribed = time.time(), []
        deadline = started + args.minutes * 60
        current: dict[str, int | None] = dict.fromkeys(names)
        cycles = 0
        while True:
            now = time.time()
            live = dict(Migration.objects.filter(pk__in=[m for m in current.values() if m]).values_list("pk", "status"))
            pending = [n for n, m in current.items() if m is None or live.get(m) in TERMINAL]
            if now >= deadline and len(pending) == len(names):
                break
            if now < deadline:
                for name in pending:
                    partition = Partition.objects.select_related("system").get(name=name, vanished_at__isnull=True)
                    first, second = pair_of[name]
                    destination = ManagedSystem.objects.get(pk=second if partition.system_id == first else first)
                    m = submit_recommended(partition, destination, requester, "soak")
                    clients.stdin.write(f"SUB {names.index(name)} {m.pk}\n")
                    clients.stdin.flush()
                    subscribed.append(m.pk)
                    approve(m, approver, "soak", plan_hash=m.latest_plan().content_hash)
                    current[name] = m.pk
                    cycles += 1
            elif time.time() > deadline + 600:
                break  # the last ones did not end within 10 minutes: reported below
            close_all_clients()
            time.sleep(1.0)
        ended = time.time()
        time.sleep(5)  # the last pushes, and the sockets' watch repairs
        clients.stdin.write("STOP\n")
        clients.stdin.flush()
        answer = json.loads(clients.stdout.readline())
        figures = sampler.result(started, ended)

        outcome: dict[str, int] = {}
        for status in Migration.objects.filter(pk__in=subscribed).values_list("status", flat=True):
            outcome[status] = outcome.get(status, 0) + 1
        events: dict[int, dict[int, float]] = {}
        for mid, seq, at in MigrationEvent.objects.filter(migration_id__in=subscribed).values_list(
                "migration_id", "seq", "at"):
            events.setdefault(mid, {})[seq] = at.timestamp()
        lost = disorder = duplicates = 0
        first5, last5, every = [], [], []
        by_minute: dict[int, list[float]] = {}
        window = min(300.0, (deadline - started) / 2)  # five minutes, or half of a shorter run
        for per_client in answer["got"].values():
            for mid, received in per_client.items():
                expected = events.get(int(mid), {})
                seqs = [s for s, _ in received]
                disorder += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b < a)
                duplicates += len(seqs) - len(set(seqs))
                lost += len(set(expected) - set(seqs))
                for s, t in received:
                    if s in expected:
                        delay = (t - expected[s]) * 1000
                        every.append(delay)
                        by_minute.setdefault(int((expected[s] - started) // 60), []).append(delay)
                        if expected[s] < started + window:
                            first5.append(delay)
                        elif deadline - window < expected[s] <= deadline:  # the last five minutes under full load
                            last5.append(delay)
        never_subscribed = sum(1 for i in range(args.clients) if not answer["got"][str(i)])
        pool_total = (args.web + args.workers + 1) * args.pool  # (+1: this process, which plans and approves)
        result = {
            "minutes": args.minutes, "web_processes": args.web, "workers": args.workers, "clients": args.clients,
            "partitions": len(names), "migrations": len(subscribed), "cycles": cycles, "outcome": outcome,
            "run_s": round(ended - started, 1), "total_s": round(time.time() - began, 1),
            "events": sum(len(v) for v in events.values()), "lost": lost, "out_of_order": disorder,
            "duplicates": duplicates, "socket_closes": answer["closes"], "clients_without_events": never_subscribed,
            "push_window_s": window, "push_p99_ms_all": p99(every), "push_p50_ms_all": p50(every),
            "push_p99_ms_first_5_min": p99(first5), "push_p99_ms_last_5_min": p99(last5),
            "push_deliveries_first_5_min": len(first5), "push_deliveries_last_5_min": len(last5),
            **figures, "pg_pool_total": pool_total, "load_average": os.getloadavg(), "logs": str(tmp),
        }
        machine = sampler.per_minute(started)
        result["per_minute"] = [{"minute": m, "push_p99_ms": p99(d), "deliveries": len(d), **machine.get(m, {})}
                                for m, d in sorted(by_minute.items())]
        ratio = (result["push_p99_ms_last_5_min"] / result["push_p99_ms_first_5_min"]
                 if result["push_p99_ms_first_5_min"] and result["push_p99_ms_last_5_min"] else None)
        result["push_p99_last_over_first"] = round(ratio, 2) if ratio else None
        checks = {
            "no lost or out-of-order events": lost == 0 and disorder == 0 and duplicates == 0,
            "every migration completed": outcome.get("completed", 0) == len(subscribed),
            "RSS growth < 10 % (minute 5 to end)": all(g < 10 for g in figures["rss_growth_percent_minute_5_to_end"]
                                                       .values()),
            "PostgreSQL connections under the pool total": figures["pg_connections_max"] < pool_total,
            "push p99 last 5 min <= 1.2 x first 5 min": ratio is not None and ratio <= 1.2,
        }
        result["checks"] = checks
        print(json.dumps(result, indent=None if args.json else 2))
        connections.close_all()
        return 0 if all(checks.values()) else 1
    finally:
        for p in [*others, *procs.values()]:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in [*others, *procs.values()]:
            try:
                p.wait(20)
            except subprocess.TimeoutExpired:
                p.kill()
        if sim is not None:
            sim.stop()
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')


if __name__ == "__main__":
    raise SystemExit(main())
