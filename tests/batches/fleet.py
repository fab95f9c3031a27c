"""A generated ivmsim fleet for batch tests and the batch benchmark: one server full of partitions (some running, some
shut down, optionally one that cannot move: it owns a physical I/O slot) and three empty destinations, every SAN LUN
zoned to all four, every IVM limited to ``limit`` active migrations at a time."""

from __future__ import annotations

from pathlib import Path

SERVERS = ("ivm1", "ivm2", "ivm3", "ivm4")


def _uid(n: int) -> str:
    return f"33213600507680180010A{n:021d}IBMfcp"


def names(count: int) -> list[str]:
    return [f"lp{i:02d}" for i in range(1, count + 1)]


def fleet_toml(count: int, *, limit: int = 4, inactive_every: int = 4, immovable: bool = True,
               memory_mb: int = 131072, touched_mb: int = 600, msp_mb_s: float = 800.0) -> str:
    """``count`` movable partitions on ivm1 (every ``inactive_every``-th one Not Activated), plus ``bad-physio``."""
    parts = names(count) + (["bad-physio"] if immovable else [])
    disks = "\n".join(f'  {{ name = "hdisk{i + 1}", unique_id = "{_uid(i + 1)}", reserve_policy = "no_reserve" }},'
                      for i in range(len(parts)))
    out = ['trust = "all"', ""]
    for k, ivm in enumerate(SERVERS, start=1):
        out += [
            "[[system]]",
            f'name = "Server-8205-E6C-SN06B{k}00{k}"', f'ivm = "{ivm}"', 'type_model = "8205-E6C"',
            f'serial = "06B{k}00{k}"', f"memory_mb = {memory_mb}", "proc_units = 32.0", "mem_region_size = 128",
            'compat_modes = ["default", "POWER6", "POWER6+", "POWER7"]', f"msp_bandwidth_mb_s = {msp_mb_s}",
            f"max_active_migrations = {limit}", f'password = "padmin-{ivm}"', "",
            "[system.vios]", f'name = "vios{k}"', "memory_mb = 4096", "max_virtual_slots = 400",
            "logical_volumes = []", 'sea = [{ name = "ent4", pvid = 1, vlans = [1, 100] }]',
            'fc_port = [{ name = "fcs0", fabric = "A" }, { name = "fcs1", fabric = "B" }]',
            "hdisk = [", disks, "]", "",
        ]
        if ivm != "ivm1":
            continue
        for i, name in enumerate(parts, start=1):
            running = name == "bad-physio" or i % inactive_every != 0
            memory = 1024 * (1 + (i * 7) % 6)
            out += [
                "[[system.lpar]]", f'name = "{name}"', f"id = {i + 1}",
                f'state = "{"Running" if running else "Not Activated"}"',
                f"memory_mb = {memory}", "proc_units = 0.5", 'compat_mode = "POWER7"',
                "eth = [{ slot = 2, vlan = 1 }]", f'scsi = [{{ slot = 3, disks = ["hdisk{i}"] }}]',
            ]
            if running:
                out.append(f"workload = {{ touched_mb = {min(touched_mb, memory * 3 // 4)}, dirty_mb_s = 5, "
                           "working_set_mb = 64 }")
            if name == "bad-physio":
                out.append('io_slot = [{ drc_name = "U78A0.001.06B1001-P1-C3", description = "PCI-E SAS Controller" }]')
            out.append("")
    return "\n".join(out) + "\n"


def write_fleet(path: Path, count: int, **kw) -> Path:
    path.write_text(fleet_toml(count, **kw))
    return path
