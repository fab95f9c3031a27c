"""One migration's wall time through ivmweb, against the same migration started with ``migrlpar`` directly.

One command: ``.venv/bin/python bench/engine_bench.py`` (about 3 minutes). See bench/README.md. It

1. writes a two-server fleet (ivm1 → ivm2, key trust, 80 MB/s MSP link) with identical running partitions
   ``twin1``…``twinN`` on ivm1 (same memory, same workload: the simulator's pre-copy model gives them the
   same transfer) and starts ONE simulator on it (tests/simfleet.py);
2. creates a throw-away PostgreSQL database, migrates it, registers and syncs both IVMs, and makes a team
   with a requester and an approver that owns the twins;
3. **direct** (the floor): ``migrlpar -o m -t … --ip … -u padmin -p twinK`` without ``--async`` over one
   SSH exec channel. The IVM's synchronous migration returns when the partition runs on the destination;
   the bench then polls the source every 0.1 s until it no longer lists the partition (the clean-up is over);
4. **ivmweb**: ``manage.py run_engine`` (the worker ``make run`` starts, the settings' defaults: 1 s polling) runs
   idle; a plan for the next twin is made, validated (``migrlpar -o v``), submitted and approved through the
   real code; the clock runs from the approval's commit (which wakes the worker over the channel layer:
   Redis when ``REDIS_URL`` is set, otherwise the worker finds it at its next poll) to step 8 done (runs on the
   destination) and to status ``completed`` (step 9: gone from the source, both servers re-synced). Between
   them: pick-up, step 1 (approval re-check, both inventories refreshed, drift), the start, the transfer
   polls, the suspend window;
5. repeats 3 and 4 ``--rounds`` times, alternating, and prints each time and the ratios of the medians.

Exit 1 if a migration failed. The goal (issue 6) is ivmweb / direct ≤ 1.03.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
from inventory_bench import admin_sql, setup_django  # noqa: E402  (same throw-away database helpers)

from tests.simfleet import SimFleet  # noqa: E402
from tests.workers import Worker  # noqa: E402


def fleet_toml(twins: int, memory_mb: int, touched_mb: int) -> str:
    out = ['trust = "all"', ""]
    for i, serial in ((1, "0BE0001"), (2, "0BE0002")):
        out += [
            "[[system]]", f'name = "Server-8205-E6C-SN{serial}"', f'ivm = "ivm{i}"', 'type_model = "8205-E6C"',
            f'serial = "{serial}"', "memory_mb = 262144", "proc_units = 32.0", "mem_region_size = 128",
            'compat_modes = ["default", "POWER6", "POWER6+", "POWER7"]', f'password = "padmin-ivm{i}"',
            "msp_bandwidth_mb_s = 80.0", "",
            "[system.vios]", f'name = "vios{i}"', "max_virtual_slots = 200",
            'sea = [{ name = "ent4", pvid = 1, vlans = [1] }]',
            "hdisk = [" + ", ".join(f'{{ name = "hdisk{n}", unique_id = "33213600BENCHTWIN{n:04d}IBMfcp", '
                                    f'reserve_policy = "no_reserve" }}' for n in range(1, twins + 1)) + "]", "",
        ]
        if i == 1:
            for n in range(1, twins + 1):
                out += [
                    "[[system.lpar]]", f'name = "twin{n}"', f"id = {n + 1}", 'state = "Running"',
                    'rmc_state = "active"', f"memory_mb = {memory_mb}", "proc_units = 0.5", 'compat_mode = "POWER7"',
                    "eth = [{ slot = 2, vlan = 1 }]", f'scsi = [{{ slot = 3, disks = ["hdisk{n}"] }}]',
                    f"workload = {{ touched_mb = {touched_mb}, dirty_mb_s = 20, working_set_mb = 256 }}", "",
                ]
    return "\n".join(out)


def bench_team():
    """A team "bench" with a requester and an approver (the four-eyes pair every bench migration needs)."""
    from django.contrib.auth.models import Group, User

    from mobility.models import Team

    requester = User.objects.create_user("bench-requester", password="x")
    approver = User.objects.create_user("bench-approver", password="x")
    requester.groups.add(Group.objects.get(name="requester"))
    approver.groups.add(Group.objects.get(name="approver"))
    team = Team.objects.create(name="bench")
    team.members.add(requester, approver)
    return requester, approver, team


def submit_recommended(partition, destination, requester, reason: str):
    """Plan the move with the recommended mappings, have IVM validate it (``migrlpar -o v``) and submit it, as the
    wizard does; the migration waits for approval."""
    from mobility import planning
    from mobility.plans import mode_of, plan_context, submit_plan, validate_plan

    mode = mode_of(partition)
    ctx = plan_context(partition, destination, mode)
    rows = planning.recommend_mappings(ctx.partition, ctx.destination).rows
    validation = validate_plan(partition, destination, rows, user=requester)
    if not validation["ok"]:
        raise SystemExit(f"validation of {partition.name} failed: {validation}")
    return submit_plan(partition=partition, destination=destination, user=requester, mode=mode, mappings=rows,
                       validation=validation, reason=reason, options={})


def direct(fleet, name: str) -> tuple[float, float]:
    """``migrlpar -o m`` (synchronous) straight against the source IVM: the floor.

    Returns (seconds until migrlpar returned: the partition runs on the destination, seconds until the source
    no longer lists it, polled every 0.1 s: the migration's clean-up is over)."""
    from mobility.ivm import IVMClient, commands

    src, dst = fleet.ivm("ivm1"), fleet.ivm("ivm2")
    cmd = commands.migrlpar("m", target_system=dst["system"], target_ip=dst["host"], target_user="padmin",
                            lpar_name=name)
    listed = commands.lssyscfg("lpar", lpar_names=name, fields=("name",))
    with IVMClient(src["host"], src["port"], src["user"], password=src["password"], host_key=src["host_key"],
                   command_timeout=3600) as client:
        client.connect()
        t = time.monotonic()
        client.run(cmd)
        arrived = time.monotonic() - t
        while client.run(listed, retry_safe=True).parsed():
            time.sleep(0.1)
        return arrived, time.monotonic() - t


def through_ivmweb(name: str, requester, approver) -> tuple[float, float, dict]:
    """Plan, validate, submit and approve; (seconds from the approval's commit until step 8 is done: the
    partition runs on the destination, seconds until the migration is completed: step 9 done, step times)."""
    from mobility.governance.approvals import approve
    from mobility.models import ManagedSystem, Migration, Partition

    partition = Partition.objects.get(name=name, system__console__name="ivm1", vanished_at__isnull=True)
    migration = submit_recommended(partition, ManagedSystem.objects.get(console__name="ivm2"), requester,
                                   "engine bench")
    approve(migration, approver, "bench", plan_hash=migration.latest_plan().content_hash)  # commits, then wakes the worker over the channel layer
    t = time.time()
    while True:
        status = Migration.objects.values_list("status", flat=True).get(pk=migration.pk)
        if status == "completed":
            break
        if status in ("failed", "stopped", "pending_approval", "rejected", "expired"):
            raise SystemExit(f"migration of {name} ended {status}")
        time.sleep(0.05)
    steps = {s.number: s for s in Migration.objects.get(pk=migration.pk).steps.all()}
    times = {n: round((s.finished_at - s.started_at).total_seconds(), 2)
             for n, s in steps.items() if s.started_at and s.finished_at}
    return steps[8].finished_at.timestamp() - t, steps[9].finished_at.timestamp() - t, times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=2, help="direct + ivmweb pairs (default 2)")
    ap.add_argument("--memory-mb", type=int, default=8192,
                    help="the twins' memory (default 8192: ~100-160 s at the simulated 80 MB/s)")
    ap.add_argument("--touched-mb", type=int, default=None, help="memory their workload touches (default: half)")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    args.touched_mb = args.touched_mb or args.memory_mb // 2

    db_name = f"ivmweb_enginebench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="engine-bench-"))
    fleet_path = tmp / "fleet.toml"
    fleet_path.write_text(fleet_toml(2 * args.rounds, args.memory_mb, args.touched_mb))
    admin_sql(args.pg, f'CREATE DATABASE "{db_name}"')
    try:
        setup_django(db_name, args.pg)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from mobility.engine.config import load
        from mobility.inventory import sync_all
        from mobility.inventory.connections import close_all_clients
        from mobility.management.commands.register_fleet import register_entry
        from mobility.models import Partition

        call_command("migrate", verbosity=0)
        requester, approver, team = bench_team()
        cfg = load()
        with SimFleet(fleet_path, time_scale=1.0, seed=1, start_timeout=60) as fleet:
            consoles = [register_entry(e)[0] for e in fleet.ivms]
            assert all(r.ok for r in sync_all(consoles))
            Partition.objects.filter(name__startswith="twin").update(team=team)
            worker = Worker("engine-bench", lease=None, poll=None)  # the settings' defaults, as shipped
            rows = []
            try:
                for k in range(args.rounds):
                    floor_arrived, floor_done = direct(fleet, f"twin{2 * k + 1}")
                    print(f"round {k + 1}: direct migrlpar: running on the destination after {floor_arrived:.2f} s, "
                          f"gone from the source after {floor_done:.2f} s", flush=True)
                    arrived, done, steps = through_ivmweb(f"twin{2 * k + 2}", requester, approver)
                    print(f"round {k + 1}: through ivmweb:  step 8 done after {arrived:.2f} s, completed after "
                          f"{done:.2f} s (step times, s: {steps})", flush=True)
                    rows.append((floor_arrived, floor_done, arrived, done, steps))
            finally:
                worker.stop()
                close_all_clients()
        connections.close_all()
    finally:
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')

    def median(i):
        return statistics.median(r[i] for r in rows)

    figures = {"rounds": args.rounds, "memory_mb": args.memory_mb, "touched_mb": args.touched_mb,
               "poll_s": cfg.poll_s, "channel_layer": settings.CHANNEL_LAYER_NAME,
               "direct_arrived_s": [round(r[0], 2) for r in rows], "direct_done_s": [round(r[1], 2) for r in rows],
               "ivmweb_arrived_s": [round(r[2], 2) for r in rows], "ivmweb_done_s": [round(r[3], 2) for r in rows],
               "steps_s": [r[4] for r in rows],
               "ratio_arrived": round(median(2) / median(0), 4), "ratio_done": round(median(3) / median(1), 4)}
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"running on the destination: median direct {median(0):.2f} s, ivmweb {median(2):.2f} s, "
              f"ratio {figures['ratio_arrived']:.3f}")
        print(f"gone from the source (ivmweb: completed): median direct {median(1):.2f} s, ivmweb {median(3):.2f} s, "
              f"ratio {figures['ratio_done']:.3f} (goal <= 1.03; wake-ups over the {settings.CHANNEL_LAYER_NAME} "
              "channel layer)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
