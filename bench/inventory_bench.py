"""Inventory sync of a large simulated estate: full sync and no-change re-sync, against a raw-SSH baseline.

One command: ``.venv/bin/python bench/inventory_bench.py`` (defaults: 100 IVMs x 40 partitions). See
bench/README.md. It

1. writes a fleet file (``--ivms`` systems, ``--lpars`` client partitions each: one virtual Ethernet, one
   vSCSI disk and, for every other partition, one NPIV adapter) into a temporary directory and starts ONE
   simulator on it through tests/simfleet.py;
2. creates a throw-away PostgreSQL database ``ivmweb_bench_<pid>`` (server from ``--pg``), migrates it and
   registers every IVM (pinned key, encrypted password) as ``make run`` does;
3. **baseline**: runs the very commands a sync sends (the same concurrency: ``IVMWEB_SYNC_WORKERS`` IVMs at
   once, 4 channels each), on fresh connections, without parsing the listings or touching the database;
4. **full sync**: ``sync_all()`` on the empty inventory; **re-sync**: ``sync_all()`` again, nothing changed,
   on the pooled connections (as the engine's periodic sync finds them); then again on new connections;
5. with ``--rounds N``, repeats 3-4 N times (emptying the inventory between rounds) and keeps each phase's best;
6. prints the figures, each sync as a multiple of the floor (and ``--json``), drops the database and stops the
   simulator. Exit 1 if any sync failed or a re-sync wrote a row.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))  # run as a script from anywhere
from tests.simfleet import SimFleet  # noqa: E402  (the project's one way to start ivmsim)


def fleet_toml(ivms: int, lpars: int) -> str:
    """A valid FLEET.md fleet: every partition Running except every fourth (Not Activated)."""
    out = ['trust = "none"', ""]
    for i in range(1, ivms + 1):
        serial = f"B{i:06d}"
        disks = ",\n".join(
            f'  {{ name = "hdisk{n}", unique_id = "3321360050768BENCH{i:04d}{n:04d}IBMfcp", '
            f'reserve_policy = "no_reserve" }}' for n in range(1, lpars + 1))
        out += [
            "[[system]]", f'name = "Server-8205-E6C-SN{serial}"', f'ivm = "ivm{i}"', 'type_model = "8205-E6C"',
            f'serial = "{serial}"', "memory_mb = 131072", "proc_units = 32.0", "mem_region_size = 128",
            'compat_modes = ["default", "POWER6", "POWER6+", "POWER7"]', f'password = "padmin-ivm{i}"', "",
            "[system.vios]", f'name = "vios{i}"', "max_virtual_slots = 400",
            'sea = [{ name = "ent4", pvid = 1, vlans = [1, 100, 200] }]',
            'fc_port = [{ name = "fcs0", fabric = "A" }, { name = "fcs1", fabric = "B" }]',
            f"hdisk = [\n{disks}\n]", "",
        ]
        for n in range(1, lpars + 1):
            out += [
                "[[system.lpar]]", f'name = "lpar{i:03d}x{n:02d}"', f"id = {n + 1}",
                f'state = "{"Not Activated" if n % 4 == 0 else "Running"}"', 'rmc_state = "active"',
                "memory_mb = 1024", "proc_units = 0.1", 'compat_mode = "POWER7"',
                f"eth = [{{ slot = 2, vlan = {1 if n % 2 else 100} }}]",
                f'scsi = [{{ slot = 3, disks = ["hdisk{n}"] }}]',
            ]
            if n % 2 == 0:
                out.append(f'fc = [{{ slot = 4, port = "fcs{n % 4 // 2}" }}]')
            out.append("")
    return "\n".join(out)


def production_settings() -> None:
    """Measure what production runs: DEBUG off (no query log, no debug cursor), unless the caller set DEBUG. The
    workers and daphne inherit these; the throw-away keys are the bench's own."""
    if "DEBUG" in os.environ:
        return
    import atexit
    import secrets
    import shutil

    from cryptography.fernet import Fernet

    checkpoints = tempfile.mkdtemp(prefix="bench-")
    atexit.register(shutil.rmtree, checkpoints, ignore_errors=True)  # the bench's own, gone with it
    os.environ.update(DEBUG="0", SECRET_KEY=secrets.token_urlsafe(64), ALLOWED_HOSTS="127.0.0.1,localhost",
                      IVMWEB_ENCRYPTION_KEYS=Fernet.generate_key().decode(), SECURE_SSL_REDIRECT="0",
                      EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend",
                      IVMWEB_AUDIT_CHECKPOINT_KEY=secrets.token_hex(32),
                      IVMWEB_AUDIT_CHECKPOINT_FILE=os.path.join(checkpoints, "checkpoints"))


def setup_django(db_name: str, pg: str) -> None:
    os.environ["DATABASE_URL"] = f"{pg.rstrip('/')}/{db_name}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivmweb.settings")
    os.environ.setdefault("DEBUG", "1")  # the development defaults, as before DEBUG became off when unset
    os.environ.setdefault("IVMWEB_LOG_LEVEL", "ERROR")  # one INFO line per command would dominate the run
    import django

    django.setup()


def admin_sql(pg: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (children excluded), from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Phase:
    """Wall time, this process's CPU and the simulator's CPU over one phase."""

    def __init__(self, sim_pid: int):
        self.sim_pid = sim_pid

    def __enter__(self):
        self.t, self.cpu, self.sim = time.monotonic(), cpu_s(os.getpid()), cpu_s(self.sim_pid)
        return self

    def __exit__(self, *exc):
        self.wall_s = time.monotonic() - self.t
        self.cpu_s = cpu_s(os.getpid()) - self.cpu
        self.sim_cpu_s = cpu_s(self.sim_pid) - self.sim

    def row(self, label: str, rows: int | None = None, floor: Phase | None = None) -> str:
        written = "" if rows is None else f"   rows written {rows}"
        ratio = "" if floor is None else f"   {self.wall_s / floor.wall_s:.2f}x the floor"
        return (f"{label:<34}{self.wall_s:8.2f} s wall  (ivmweb CPU {self.cpu_s:6.2f} s, "
                f"simulator CPU {self.sim_cpu_s:6.2f} s){written}{ratio}")

    def figures(self, prefix: str) -> dict:
        return {f"{prefix}_s": round(self.wall_s, 2), f"{prefix}_cpu_s": round(self.cpu_s, 2),
                f"{prefix}_sim_cpu_s": round(self.sim_cpu_s, 2)}


def baseline(consoles, workers: int) -> tuple[float, int]:
    """Send a sync's commands to every IVM (same concurrency) on fresh clients; no parsing beyond the device
    lists that name the per-device reads, no database."""
    from mobility.inventory import reads
    from mobility.inventory.connections import MAX_CHANNELS
    from mobility.ivm import IVMClient

    def one(c) -> int:
        with IVMClient(c.host, c.port, c.username, password=c.get_password(), host_key=c.host_key,
                       max_channels=MAX_CHANNELS) as client:
            cmds = reads.inventory_commands()
            out = reads.run_reads(client, cmds)
            disks = cmds["disks"].parse_output(out["disks"])
            seas = cmds["seas"].parse_output(out["seas"])
            devices = reads.device_commands([d.name for d in disks], [s.name for s in seas])
            reads.run_reads(client, devices)
            return len(cmds) + len(devices)

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return sum(pool.map(one, consoles))


def one_round(fleet, consoles, workers: int, sync_all, close_all_clients, forget_parses) -> dict:
    """Baseline, full sync, re-sync on the pooled connections, re-sync on new ones."""
    with Phase(fleet.proc.pid) as base:
        base_cmds = baseline(consoles, workers)
    with Phase(fleet.proc.pid) as first:
        full = sync_all(consoles)
    # The engine's periodic sync finds its pooled connections still open (keepalive): re-sync on them.
    with Phase(fleet.proc.pid) as second:
        again = sync_all(consoles)
    close_all_clients()  # and once more paying for new SSH connections and parsing everything, as after a restart
    forget_parses()
    with Phase(fleet.proc.pid) as third:
        cold = sync_all(consoles)
    close_all_clients()
    return {"base": base, "first": first, "second": second, "third": third, "base_cmds": base_cmds,
            "full_rows": sum(r.rows_written for r in full), "full_commands": sum(r.commands for r in full),
            "again_rows": sum(r.rows_written for r in again), "cold_rows": sum(r.rows_written for r in cold),
            "results": full + again + cold}


def empty_inventory() -> None:
    """Delete every inventory row and forget the digests (between rounds; not timed)."""
    from mobility.models import (
        FCPort,
        IOSlot,
        IVMConsole,
        ManagedSystem,
        Partition,
        SharedEthernetAdapter,
        StorageDevice,
        VirtualAdapter,
    )

    for model in (StorageDevice, IOSlot, FCPort, SharedEthernetAdapter, VirtualAdapter, Partition, ManagedSystem):
        model.objects.all().delete()
    IVMConsole.objects.update(inventory_digest="")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ivms", type=int, default=100)
    ap.add_argument("--lpars", type=int, default=40, help="client partitions per IVM")
    ap.add_argument("--workers", type=int, default=None, help="IVMWEB_SYNC_WORKERS (default: settings)")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="PostgreSQL server URL")
    ap.add_argument("--rounds", type=int, default=1,
                    help="repeat the four phases (emptying the inventory between); report each phase's best")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    db_name = f"ivmweb_bench_{os.getpid()}"
    tmp = Path(tempfile.mkdtemp(prefix="inventory-bench-"))
    fleet_path = tmp / "fleet.toml"
    fleet_path.write_text(fleet_toml(args.ivms, args.lpars))
    admin_sql(args.pg, f'CREATE DATABASE "{db_name}"')
    try:
        setup_django(db_name, args.pg)
        from django.conf import settings
        from django.core.management import call_command
        from django.db import connections

        from mobility.inventory import forget_parses, sync_all
        from mobility.inventory.connections import close_all_clients
        from mobility.management.commands.register_fleet import register_entry
        from mobility.models import Partition, VirtualAdapter

        if args.workers:
            settings.IVMWEB_SYNC_WORKERS = args.workers
        workers = settings.IVMWEB_SYNC_WORKERS
        call_command("migrate", verbosity=0)
        t0 = time.monotonic()
        rounds = []
        with SimFleet(fleet_path, time_scale=1.0, seed=1, start_timeout=120) as fleet:
            sim_start_s = time.monotonic() - t0
            consoles = [register_entry(e)[0] for e in fleet.ivms]
            for number in range(args.rounds):
                if number:
                    empty_inventory()  # the next full sync finds empty tables, opens new connections, parses all
                    close_all_clients()
                    forget_parses()
                rounds.append(one_round(fleet, consoles, workers, sync_all, close_all_clients, forget_parses))
        results = [r for one in rounds for r in one["results"]]
        failed = [r for r in results if not r.ok]
        best = {phase: min((one[phase] for one in rounds), key=lambda p: p.wall_s)
                for phase in ("base", "first", "second", "third")}
        base, first, second, third = best["base"], best["first"], best["second"], best["third"]
        figures = {
            "ivms": args.ivms, "lpars_per_ivm": args.lpars, "sync_workers": workers, "rounds": args.rounds,
            "partitions": Partition.objects.count(), "adapters": VirtualAdapter.objects.count(),
            "simulator_start_s": round(sim_start_s, 2),
            **base.figures("baseline_raw_ssh"), "baseline_commands": rounds[0]["base_cmds"],
            **first.figures("full_sync"), "full_sync_rows_written": rounds[0]["full_rows"],
            "full_sync_commands": rounds[0]["full_commands"],
            **second.figures("resync"), "resync_rows_written": sum(one["again_rows"] for one in rounds),
            **third.figures("resync_new_connections"),
            "resync_new_connections_rows_written": sum(one["cold_rows"] for one in rounds),
            "failed": len(failed),
            # Each round's walls, for the spread a loaded machine gives.
            "round_walls_s": [{phase: round(one[phase].wall_s, 2) for phase in ("base", "first", "second", "third")}
                              for one in rounds],
        }
        # The goals are ratios to the floor (the best of each phase over the rounds: load from elsewhere only ever
        # adds time, so the best is the figure least disturbed by it).
        figures["full_sync_over_floor"] = round(first.wall_s / base.wall_s, 2)
        figures["resync_over_floor"] = round(second.wall_s / base.wall_s, 2)
        base_cmds = figures["baseline_commands"]
        connections.close_all()
        if hasattr(connections["default"], "close_pool"):
            connections["default"].close_pool()  # or its workers would try to refill it from the dropped database
    finally:
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"estate: {figures['ivms']} IVMs x {figures['lpars_per_ivm']} partitions "
              f"({figures['partitions']} partitions incl. VIOS, {figures['adapters']} virtual adapters), "
              f"{workers} sync workers")
        print(f"SSH commands per pass: baseline {base_cmds}, sync {figures['full_sync_commands']}"
              + (f"; best of {args.rounds} rounds per phase" if args.rounds > 1 else ""))
        print(base.row("baseline (raw SSH, no parse/DB)"))
        print(first.row("full sync (empty inventory)", figures["full_sync_rows_written"], base))
        print(second.row("re-sync, nothing changed", figures["resync_rows_written"], base))
        print(third.row("re-sync, new SSH connections", figures["resync_new_connections_rows_written"], base))
    for r in failed[:5]:
        print(f"FAILED {r.summary()}", file=sys.stderr)
    return 1 if failed or figures["resync_rows_written"] or figures["resync_new_connections_rows_written"] else 0


if __name__ == "__main__":
    sys.exit(main())
