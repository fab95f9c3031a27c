"""Evacuate 40 partitions from one server to three, with an IVM limit of 8 active migrations, against the makespan
of the same 40 migrations measured each alone in the same run.

One command: ``.venv/bin/python bench/batch_bench.py`` (about 6 minutes on 2 cores). See bench/README.md. It

1. writes the batch tests' generated fleet (``tests/batches/fleet.py``): ivm1 with ``--members`` running partitions,
   ivm2-ivm4 empty, every IVM limited to 8 active migrations, every LUN zoned to all four, links that eight transfers
   at once do not slow (``--msp-mb-s``: the bound counts each member alone); starts one simulator at its own pace
   (``--time-scale``);
2. creates a throw-away PostgreSQL database, registers and syncs the four IVMs, a team with a requester and an
   approver, and starts one ``manage.py run_engine`` worker (``--workers N``: N of them) with the settings' defaults
   (1 s polling; wake-ups over Redis when ``REDIS_URL`` is set) and production's DEBUG off (throw-away keys; set
   ``DEBUG`` in the environment to keep it);
3. **alone**: evacuates ivm1 as a batch with the knob at 1, so each member runs alone, and takes each member's time
   from its admission (``started_at``) to ``completed`` (``finished_at``);
4. moves everything back (a move-back batch, knob 8, not measured);
5. **batch**: evacuates ivm1 again (the same placement: same estate), knob 8 (the IVMs' limit), and takes the wall
   time from the batch's opening to its last member's end, and how busy the 8 slots were while members waited
   (from the members' admission and end times: the integral of admitted members over the time some member still
   waited, ÷ 8 × that time).

Lower bound = max(sum of the alone times ÷ 8, the longest alone time). Goal: wall ≤ 1.10 × bound, slots busy ≥ 95 %.
Exit 1 if a member failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from engine_bench import bench_team  # noqa: E402  (the same four-eyes pair)
from inventory_bench import admin_sql, cpu_s, production_settings, setup_django  # noqa: E402  (same helpers)

from tests.batches.fleet import write_fleet  # noqa: E402
from tests.simfleet import SimFleet  # noqa: E402
from tests.workers import Worker  # noqa: E402

SLOTS = 8


def machine_jiffies() -> tuple[int, int]:
    """(busy, all) jiffies of the whole machine so far, from /proc/stat's first line."""
    user, nice, system, idle, iowait, irq, softirq, steal = (int(x) for x in Path("/proc/stat").read_text()
                                                              .split("\n", 1)[0].split()[1:9])
    busy = user + nice + system + irq + softirq + steal
    return busy, busy + idle + iowait


def postgres_cpu_s() -> float:
    """CPU seconds of the PostgreSQL processes alive now (the workers' pooled connections live through a phase)."""
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:  # gone meanwhile
            continue
        if text.split("(", 1)[1].startswith("postgres"):
            fields = text.rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def wait_status(batch_id: int, wanted: tuple[str, ...], timeout: float) -> None:
    from mobility.models import Batch

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = Batch.objects.values_list("status", flat=True).get(pk=batch_id)
        if status in wanted:
            return
        if status in ("cancelled", "rejected", "stopped"):
            raise SystemExit(f"batch {batch_id} ended {status}: {Batch.objects.get(pk=batch_id).outcome}")
        time.sleep(0.1)
    raise SystemExit(f"batch {batch_id} not {wanted} after {timeout} s")


def run_batch(batch, approver, knob: int, timeout: float):
    """Validate (jobs), approve with ``knob``, run to the end; the finished batch."""
    from mobility.batches import approval
    from mobility.models import Batch

    wait_status(batch.pk, ("pending_approval",), timeout)
    batch.refresh_from_db()
    approval.approve(batch, approver, "bench", batch_hash_seen=batch.content_hash, parallelism=knob)
    wait_status(batch.pk, ("finished",), timeout)
    batch = Batch.objects.get(pk=batch.pk)
    failed = batch.migrations.exclude(status="completed").values_list("partition__name", "status", "outcome")
    if failed:
        raise SystemExit(f"batch {batch.pk}: members did not complete: {list(failed)}")
    return batch


def members(batch) -> list[tuple[str, str, float, float, float]]:
    """(partition, destination, admitted at, slot freed at, ended at) of every member, in start order. A member holds
    its slot from its admission until the IVMs are done with it (``ivm_done_at``: step 9 saw it leave the source);
    the re-sync of both servers that follows runs outside the slot."""
    return [(m.partition.name, m.destination.name, m.started_at.timestamp(),
             (m.ivm_done_at or m.finished_at).timestamp(), m.finished_at.timestamp())
            for m in batch.migrations.select_related("partition", "destination").order_by("batch_position")]


def segments(m) -> dict[str, float]:
    """Where one member's time went: each step's segment, from the end of the one before (or the admission) to its
    own end; its slot (admission to the IVMs being done with it, ``ivm_done_at``) against what follows it (step 9's
    re-sync, the end)."""
    found, t = {}, m.started_at
    for s in sorted((s for s in m.steps.all() if s.finished_at and s.number <= 10), key=lambda s: s.number):
        found[f"step {s.number}"] = (s.finished_at - t).total_seconds()
        t = max(t, s.finished_at)
    found["last step -> end"] = (m.finished_at - t).total_seconds()
    if m.ivm_done_at:
        found["slot: admitted -> IVM done"] = (m.ivm_done_at - m.started_at).total_seconds()
        found["IVM done -> end"] = (m.finished_at - m.ivm_done_at).total_seconds()
    return found


def step_profile(batch) -> dict[str, float]:
    """Each segment's median over the members (``segments``)."""
    from statistics import median

    found: dict[str, list[float]] = {}
    for m in batch.migrations.prefetch_related("steps"):
        for key, seconds in segments(m).items():
            found.setdefault(key, []).append(seconds)
    return {k: round(median(v), 3) for k, v in sorted(found.items())}


def last_member(batch) -> dict[str, float]:
    """The segments of the member that ended last: what the tail is made of."""
    m = batch.migrations.prefetch_related("steps").order_by("-finished_at").first()
    return {k: round(v, 3) for k, v in sorted(segments(m).items())}


def work_done(batch) -> dict:
    """What the phase asked of the IVMs and the journal: inventory syncs per IVM (one ``lssyscfg -r sys`` each), IVM
    commands and audit events in its time, and events per member (each one pushed)."""
    from collections import Counter

    from mobility.models import AuditEvent, MigrationEvent

    during = AuditEvent.objects.filter(at__gte=batch.started_at, at__lte=batch.finished_at)
    commands = during.filter(action="ivm.command")
    syncs = Counter(commands.filter(data__command__startswith="lssyscfg -r sys ").values_list("data__console",
                                                                                                flat=True))
    members = batch.migrations.count()
    return {"syncs": dict(sorted(syncs.items())), "ivm_commands": commands.count(), "audit_events": during.count(),
            "events_per_member": round(MigrationEvent.objects.filter(migration__batch=batch).count() / members, 1)}


def handoffs(rows) -> list[float]:
    """For each member that had to wait for a slot: seconds from the slot's release to its admission."""
    ends = sorted(e for _, _, _, e, _ in rows)
    starts = sorted(a for _, _, a, _, _ in rows)
    return [round(a - ends[k], 3) for k, a in enumerate(starts[SLOTS:])]


def busy_share(rows, opened: float) -> tuple[float, float]:
    """Slots busy while some member waited: (share, seconds some member waited)."""
    last_start = max(a for _, _, a, _, _ in rows)
    if last_start <= opened:
        return 1.0, 0.0
    edges = sorted([(a, 1) for _, _, a, _, _ in rows] + [(e, -1) for _, _, _, e, _ in rows])
    busy, running, t = 0.0, 0, opened
    for at, step in edges:
        if at > last_start:
            break
        busy += min(running, SLOTS) * (max(at, opened) - t)
        t = max(at, opened)
        running += step
    busy += min(running, SLOTS) * (last_start - t)
    return busy / (SLOTS * (last_start - opened)), last_start - opened


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--members", type=int, default=40)
    ap.add_argument("--time-scale", type=float, default=1.0,
                    help="simulated seconds per wall second (default 1, ivmsim's own pace: members of about 6 s; 4 "
                         "runs them 4 times faster, and 2 cores then run out before the orchestration does)")
    ap.add_argument("--touched-mb", type=int, default=2000, help="memory each partition's workload touches")
    ap.add_argument("--msp-mb-s", type=float, default=80000.0,
                    help="each IVM's MSP link (MB/s; default 80,000); ivmsim shares a link equally between a pair's "
                         "migrations, which the bound (each member alone) does not count: a link far above the "
                         "transfers' needs keeps the bound a lower bound, and leaves the orchestration's own cost "
                         "(800: a shared link, the network's cost on top)")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--workers", type=int, default=1, help="run_engine processes (docs/deploy.md enables 2 a host)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    db_name = f"ivmweb_batchbench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="batch-bench-"))
    fleet_path = write_fleet(tmp / "fleet.toml", args.members, limit=SLOTS, inactive_every=10**6, immovable=False,
                             memory_mb=262144, touched_mb=args.touched_mb, msp_mb_s=args.msp_mb_s)
    admin_sql(args.pg, f'CREATE DATABASE "{db_name}"')
    try:
        production_settings()  # DEBUG off, as shipped: no query log in the workers (DEBUG=1 in the caller's env keeps it)
        setup_django(db_name, args.pg)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from mobility.batches import planning
        from mobility.inventory import sync_all
        from mobility.inventory.connections import close_all_clients
        from mobility.management.commands.register_fleet import register_entry
        from mobility.models import ManagedSystem, Partition

        call_command("migrate", verbosity=0)
        requester, approver, team = bench_team()
        with SimFleet(fleet_path, time_scale=args.time_scale, seed=1, start_timeout=60) as fleet:
            consoles = [register_entry(e)[0] for e in fleet.ivms]
            assert all(r.ok for r in sync_all(consoles))
            Partition.objects.exclude(env="vioserver").update(team=team)
            source = ManagedSystem.objects.get(console__name="ivm1")
            # The settings' defaults, as shipped; --workers 2: as docs/deploy.md enables them on a worker host.
            workers = [Worker(f"batch-bench-{i}", lease=None, poll=None) for i in range(args.workers)]

            def cpu() -> dict[str, float]:
                busy, every = machine_jiffies()
                return {"worker": sum(cpu_s(w.proc.pid) for w in workers), "simulator": cpu_s(fleet.proc.pid),
                        "postgres": postgres_cpu_s(), "machine_busy": busy, "machine_all": every}

            def spent(before: dict[str, float]) -> dict[str, float]:
                """CPU seconds per process kind over a phase, and the machine's busy cores (all of it, all processes)."""
                after = cpu()
                out = {k: round(after[k] - before[k], 2) for k in ("worker", "simulator", "postgres")}
                out["machine_busy_cores"] = round((after["machine_busy"] - before["machine_busy"]) * os.cpu_count()
                                                  / max(1, after["machine_all"] - before["machine_all"]), 2)
                return out

            try:
                t, before = time.monotonic(), cpu()
                alone = run_batch(planning.evacuate(requester, source, reason="bench: each alone"), approver, 1,
                                  1800)
                alone_cpu = spent(before)
                alone_rows, alone_steps, alone_work = members(alone), step_profile(alone), work_done(alone)
                print(f"alone: {len(alone_rows)} members one at a time in {time.monotonic() - t:.1f} s", flush=True)
                back = run_batch(planning.move_back(requester, alone), approver, SLOTS, 1800)
                print(f"moved back in {(back.finished_at - back.started_at).total_seconds():.1f} s", flush=True)
                before = cpu()
                batch = run_batch(planning.evacuate(requester, source, reason="bench: batch"), approver, SLOTS, 1800)
                batch_cpu = spent(before)
                rows, batch_steps, batch_work = members(batch), step_profile(batch), work_done(batch)
                last = last_member(batch)
                queued = batch.migrations.filter(queued_at__isnull=False).count()
            finally:
                for worker in workers:
                    worker.stop()
                close_all_clients()
        connections.close_all()
    finally:
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    durations = [e - a for _, _, a, _, e in alone_rows]
    bound = max(sum(durations) / SLOTS, max(durations))
    opened = batch.started_at.timestamp()
    wall = max(e for *_, e in rows) - opened
    share, waited = busy_share(rows, opened)
    same = [(n, d) for n, d, *_ in rows] == [(n, d) for n, d, *_ in alone_rows]
    figures = {"members": len(rows), "slots": SLOTS, "workers": args.workers, "time_scale": args.time_scale,
               "msp_mb_s": args.msp_mb_s, "touched_mb": args.touched_mb,
               "channel_layer": settings.CHANNEL_LAYER_NAME, "alone_s": [round(d, 2) for d in durations],
               "alone_sum_s": round(sum(durations), 2), "alone_max_s": round(max(durations), 2),
               "lower_bound_s": round(bound, 2), "batch_wall_s": round(wall, 2), "ratio": round(wall / bound, 4),
               "slots_busy_while_waiting": round(share, 4), "waited_s": round(waited, 2),
               "same_placement": same, "members_queued_by_ivm_limits": queued,
               "handoff_s": sorted(handoffs(rows)),
               # the batch's opening to each of the first admissions (slots idle while members wait), and the last
               # slot's release to the last member's end (its re-sync: outside the slots, inside the wall)
               "opening_s": [round(a - opened, 3) for a in sorted(a for _, _, a, _, _ in rows)[:SLOTS]],
               "tail_s": round(wall - (max(f for _, _, _, f, _ in rows) - opened), 3), "last_member": last,
               "batch_member_s": [round(e - a, 2) for _, _, a, _, e in rows],
               "alone_step_median_s": alone_steps, "batch_step_median_s": batch_steps,
               # CPU seconds the worker(s), the simulator and PostgreSQL spent on each phase, and the machine's
               # busy cores over it: the batch has to fit that work into its wall time on the machine's cores.
               "alone_cpu_s": alone_cpu, "batch_cpu_s": batch_cpu, "cores": os.cpu_count(),
               "alone_work": alone_work, "batch_work": batch_work}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"alone: sum {figures['alone_sum_s']} s, longest {figures['alone_max_s']} s -> lower bound "
              f"{figures['lower_bound_s']} s on {SLOTS} slots")
        print(f"batch: wall {figures['batch_wall_s']} s = {figures['ratio']:.3f} x the bound (goal <= 1.10); slots busy "
              f"{share * 100:.1f} % of the {waited:.1f} s members waited (goal >= 95 %); same placement: {same}")
        print(f"batch members' own times (s): {figures['batch_member_s']}")
        print(f"CPU seconds, alone phase: {alone_cpu}; batch phase: {batch_cpu} (on {os.cpu_count()} cores; "
              f"{args.workers} worker process(es))")
        print(f"work, alone phase: {alone_work}")
        print(f"work, batch phase: {batch_work}")
        print(f"median step times (s), alone: {alone_steps}")
        print(f"median step times (s), batch: {batch_steps}")
        gaps = figures["handoff_s"] or [float("nan")]  # none when every member fits in the slots at once
        print(f"slot hand-offs (a member's end to the next admission), s: median {gaps[len(gaps) // 2]:.2f}, "
              f"max {gaps[-1]:.2f}; members queued by an IVM's limit: {queued}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
