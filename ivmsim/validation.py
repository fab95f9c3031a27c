"""What ``migrlpar -o v`` checks (ivm-cli.md §2), and the destination plan a valid migration gets.

Each failed check is its own error with its own code (reference.MIGRATION_CODES); all of them are
reported at once, one line each, as IVM validation does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ivmsim import model as m
from ivmsim import records
from ivmsim import reference as ref
from ivmsim.errors import CommandError, MultiError, migration_error


@dataclass
class Plan:
    """A validated migration: where the partition goes and which destination slots serve its adapters."""

    lpar: m.Partition
    source: m.System
    target: m.System
    migration_type: str
    dest_lpar_id: int
    scsi_slots: dict[int, int] = field(default_factory=dict)  # client slot -> destination server slot
    fc_slots: dict[int, tuple[int, str]] = field(default_factory=dict)  # client slot -> (server slot, port)


def migration_type(lpar: m.Partition) -> str | None:
    return {ref.RUNNING: "active", ref.NOT_ACTIVATED: "inactive"}.get(lpar.state)


def check(world, source: m.System, lpar: m.Partition, target: m.System, inputs: dict[str, str],
          *, check_limits: bool = True) -> Plan:
    """Run every check; raise MultiError with one line per failure, or return the Plan."""
    errors: list[CommandError] = []
    name = lpar.name
    if lpar.is_vios:
        raise migration_error("is_vios", lpar=name)
    if lpar.migration_id is not None:
        mig = world.migrations.get(lpar.migration_id)
        raise migration_error("already_migrating", lpar=name,
                              migration_state=mig.migration_state if mig else "unknown")
    kind = migration_type(lpar)
    if kind is None:
        raise migration_error("bad_state", lpar=name, state=lpar.state)
    active = kind == "active"

    capability = f"{kind}_lpar_mobility_capable"
    if capability not in source.capabilities:
        errors.append(migration_error("source_not_capable", system=source.name, capability=capability))
    if capability not in target.capabilities:
        errors.append(migration_error("target_not_capable", system=target.name, capability=capability))
    if source.mem_region_size != target.mem_region_size:
        errors.append(migration_error("lmb_mismatch", source=source.mem_region_size, target=target.mem_region_size))
    # The preferred (desired) mode moves unchanged; a running partition keeps its current one until it restarts
    # (ivm-cli.md §1.6), so both must exist on the destination.
    current = records.current_compat_mode(source, lpar) if active else lpar.compat_mode
    for mode in dict.fromkeys([lpar.compat_mode, current]):
        if mode not in target.compat_modes:
            errors.append(migration_error("compat_mode", lpar=name, mode=mode,
                                          supported=",".join(target.compat_modes)))
    # RMC: the mobile partition (active only) and both management partitions
    if active and lpar.rmc_state != "active":
        errors.append(migration_error("rmc_inactive", lpar=name, rmc_state=lpar.rmc_state))
    for side in (source, target):
        if side.vios.rmc_state != "active":
            errors.append(migration_error("rmc_inactive", lpar=side.vios.name, rmc_state=side.vios.rmc_state))
    if active and not (lpar.dlpar_mem_capable and lpar.dlpar_proc_capable):
        errors.append(migration_error("not_dlpar_capable", lpar=name))
    if lpar.io_slots:
        errors.append(migration_error("physical_io", lpar=name, slots=",".join(s.drc_name for s in lpar.io_slots)))
    if lpar.vopt_media:
        errors.append(migration_error("vopt_loaded", lpar=name, media=lpar.vopt_media))
    errors += _storage_errors(source, target, lpar)
    errors += _network_errors(target, lpar)
    if target.lpar(name) is not None:
        errors.append(migration_error("name_clash", lpar=name))

    dest_id = lpar.lpar_id
    if "dest_lpar_id" in inputs:
        raw = inputs["dest_lpar_id"]
        if not raw.isdigit() or not 2 <= int(raw) <= ref.MAX_LPARS:
            errors.append(migration_error("bad_mapping", attribute="dest_lpar_id", value=raw,
                                          reason=f"expected 2-{ref.MAX_LPARS}"))
        elif target.lpar(lpar_id=int(raw)) is not None:
            errors.append(migration_error("dest_id_taken", lpar_id=raw))
        else:
            dest_id = int(raw)
    else:
        dest_id = target.free_lpar_id(lpar.lpar_id)

    # a shell partition needs memory and processing units on the destination (both kinds)
    if target.free_memory_mb() < lpar.memory_mb:
        errors.append(migration_error("memory", lpar=name, needed=lpar.memory_mb,
                                      available=max(target.free_memory_mb(), 0)))
    if target.free_proc_units() + 1e-9 < lpar.proc_units:
        errors.append(migration_error("processors", lpar=name, needed=lpar.proc_units,
                                      available=max(target.free_proc_units(), 0)))
    free_slots = target.free_vios_slots()
    needed = len(lpar.scsi) + len(lpar.fc)
    if needed > len(free_slots):
        errors.append(migration_error("virtual_slots", needed=needed, available=len(free_slots)))

    scsi_slots, fc_slots, mapping_errors = _mappings(target, lpar, inputs, free_slots)
    errors += mapping_errors
    if check_limits:
        for side in (source, target):
            limit = side.max_active_migrations if active else side.max_inactive_migrations
            count = world.migrations_in_progress(side.ivm, kind)
            if count >= limit:
                errors.append(migration_error(f"{kind}_limit", system=side.name, in_progress=count, supported=limit))
    if errors:
        raise MultiError(errors)
    return Plan(lpar=lpar, source=source, target=target, migration_type=kind, dest_lpar_id=dest_id,
                scsi_slots=scsi_slots, fc_slots=fc_slots)


def _storage_errors(source: m.System, target: m.System, lpar: m.Partition) -> list[CommandError]:
    errors = []
    target_luns = {d.unique_id: d for d in target.vios.hdisks}
    for adapter in lpar.scsi:
        for vtd in adapter.vtds:
            disk = source.vios.hdisk(vtd.backing)
            if disk is None:
                kind = "logical volume" if vtd.backing in source.vios.logical_volumes else "file"
                errors.append(migration_error("lv_backed", lpar=lpar.name, vtd=vtd.name, kind=kind,
                                              device=vtd.backing))
                continue
            if disk.reserve_policy != "no_reserve":
                errors.append(migration_error("reserve_policy", lpar=lpar.name, device=disk.name,
                                              policy=disk.reserve_policy))
            remote = target_luns.get(disk.unique_id)
            if remote is None:
                errors.append(migration_error("lun_not_visible", lpar=lpar.name, device=disk.name,
                                              unique_id=disk.unique_id))
            elif remote.reserve_policy != "no_reserve":
                errors.append(migration_error("reserve_policy", lpar=lpar.name,
                                              device=f"{remote.name} on {target.ivm}", policy=remote.reserve_policy))
    for adapter in lpar.fc:
        port = next((p for p in source.vios.fc_ports if p.name == adapter.port), None)
        fabric = port.fabric if port else "unknown"
        if not any(p.npiv_capable and p.fabric == fabric for p in target.vios.fc_ports):
            errors.append(migration_error("npiv_port", lpar=lpar.name, slot=adapter.slot, fabric=fabric))
    return errors


def _network_errors(target: m.System, lpar: m.Partition) -> list[CommandError]:
    if not lpar.eth:
        return []
    if not target.vios.seas:
        return [migration_error("no_sea")]
    bridged = target.vios.bridged_vlans()
    vlans = sorted({v for a in lpar.eth for v in a.vlans()})
    return [migration_error("vlan_not_bridged", lpar=lpar.name, vlan=v) for v in vlans if v not in bridged]


def _mappings(target: m.System, lpar: m.Partition, inputs: dict[str, str], free_slots: list[int]):
    """Destination server slots for each client adapter: from -i mappings where given, else the next free."""
    errors: list[CommandError] = []
    wanted: dict[tuple[str, int], tuple[int | None, str | None]] = {}
    for attr, kind, adapters in (("virtual_scsi_mappings", "scsi", lpar.scsi), ("virtual_fc_mappings", "fc", lpar.fc)):
        if attr not in inputs:
            continue
        slots = {a.slot for a in adapters}
        for item in filter(None, inputs[attr].split(",")):
            parts = item.split("/")
            maxlen = 4 if kind == "scsi" else 5
            if not 3 <= len(parts) <= maxlen or not parts[0].isdigit():
                errors.append(migration_error("bad_mapping", attribute=attr, value=item,
                                              reason="expected client-slot/vios-name/vios-id[/slot"
                                                     + ("]" if kind == "scsi" else "[/fc-port]]")))
                continue
            client, vios_name, vios_id = int(parts[0]), parts[1], parts[2]
            server = parts[3] if len(parts) > 3 else ""
            port = parts[4] if len(parts) > 4 else ""
            reason = None
            if client not in slots:
                reason = f"partition {lpar.name} has no virtual {kind} client adapter in slot {client}"
            elif not vios_name and not vios_id:
                reason = "a VIOS name or ID is required"
            elif vios_name and vios_name != target.vios.name:
                reason = f"{vios_name} is not a Virtual I/O Server on the destination"
            elif vios_id and vios_id != str(ref.MANAGEMENT_LPAR_ID):
                reason = f"partition {vios_id} is not a Virtual I/O Server on the destination"
            elif server and (not server.isdigit() or int(server) not in free_slots):
                reason = f"virtual slot {server} is not available on the destination VIOS"
            elif port and not any(p.name == port and p.npiv_capable for p in target.vios.fc_ports):
                reason = f"{port} is not an NPIV-capable port on the destination VIOS"
            if reason:
                errors.append(migration_error("bad_mapping", attribute=attr, value=item, reason=reason))
            else:
                wanted[(kind, client)] = (int(server) if server else None, port or None)
    chosen = {s for s, _ in wanted.values() if s is not None}
    if len(chosen) != sum(1 for s, _ in wanted.values() if s is not None):
        errors.append(migration_error("bad_mapping", attribute="virtual_scsi_mappings", value="",
                                      reason="two adapters were mapped to the same server slot"))
    pool = [s for s in free_slots if s not in chosen]
    scsi_slots, fc_slots = {}, {}
    for a in lpar.scsi:
        slot, _ = wanted.get(("scsi", a.slot), (None, None))
        scsi_slots[a.slot] = slot if slot is not None else (pool.pop(0) if pool else 0)
    for a in lpar.fc:
        slot, port = wanted.get(("fc", a.slot), (None, None))
        fc_slots[a.slot] = (slot if slot is not None else (pool.pop(0) if pool else 0), port or _dest_port(target, a))
    return scsi_slots, fc_slots, errors


def _dest_port(target: m.System, adapter: m.FcAdapter) -> str:
    same = [p for p in target.vios.fc_ports if p.npiv_capable and p.name == adapter.port]
    any_npiv = [p for p in target.vios.fc_ports if p.npiv_capable]
    return (same or any_npiv or [m.FcPort(name=adapter.port)])[0].name
