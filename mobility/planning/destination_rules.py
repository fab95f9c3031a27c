"""Rules about a destination server for one partition (ivm-cli.md §2): capacity, names, compatibility, storage,
networks and slots."""

from __future__ import annotations

from .checks import (
    Check,
    Mode,
    PartitionProfile,
    _check_capability,
    _check_migration_limit,
    _error,
    _join,
    _ok,
    _units,
    format_mb,
    mode_for_state,
    profile_partition,
)
from .estate import (
    NO_RESERVE,
    ManagedSystem,
    Partition,
)
from .slots import free_slot_count


def _check_name_free(p: Partition, dest: ManagedSystem) -> Check:
    clash = dest.partition_named(p.name) or (
        dest.management_partition if dest.management_partition.name == p.name else None
    )
    if clash is not None:
        return _error(
            "name_free",
            f"{dest.name} already has a partition named {p.name} (ID {clash.lpar_id}).",
            f"Rename one of the two partitions, or pick another destination than {dest.name}.",
            name=p.name,
            clash_lpar_id=clash.lpar_id,
        )
    return _ok("name_free", f"No partition named {p.name} exists on {dest.name}.", name=p.name, clash_lpar_id=None)


def _check_compat_mode(p: Partition, dest: ManagedSystem, mode: Mode | None) -> Check:
    # The current mode matters while it runs; the preferred (desired) mode moves along and is used at the next
    # activation, so the destination must support it too (ivm-cli.md §1.6).
    wanted = {p.desired_compat_mode}
    if mode is Mode.ACTIVE and p.curr_compat_mode:
        wanted.add(p.curr_compat_mode)
    supported = {m.casefold() for m in dest.compat_modes}
    missing = sorted(m for m in wanted if m and m.casefold() not in supported)
    facts = {
        "curr_compat_mode": p.curr_compat_mode,
        "desired_compat_mode": p.desired_compat_mode,
        "dest_compat_modes": list(dest.compat_modes),
    }
    if missing:
        return _error(
            "compat_mode",
            f"{dest.name} does not support processor compatibility mode {_join(missing)} of {p.name} "
            f"(it supports {_join(list(dest.compat_modes))}).",
            f"Pick a destination that supports {_join(missing)}, or set {p.name}'s preferred mode to one "
            f"{dest.name} supports (takes effect at its next activation).",
            **facts,
        )
    return _ok("compat_mode", f"{dest.name} supports compatibility mode {_join(sorted(wanted))}.", **facts)


def _check_memory(p: Partition, dest: ManagedSystem) -> Check:
    after = dest.memory_available_mb - p.memory_mb
    facts = {"needed_mb": p.memory_mb, "available_mb": dest.memory_available_mb, "after_mb": after}
    if after < 0:
        return _error(
            "memory",
            f"{p.name} needs {format_mb(p.memory_mb)} of memory; {dest.name} has {format_mb(dest.memory_available_mb)} free "
            f"({format_mb(-after)} short).",
            f"Free memory on {dest.name}, reduce {p.name}'s memory, or pick another destination.",
            **facts,
        )
    return _ok("memory", f"{dest.name} has {format_mb(dest.memory_available_mb)} free, {format_mb(after)} left after the move.",
               **facts)


def _check_processors(p: Partition, dest: ManagedSystem) -> Check:
    after = _units(dest.proc_units_available - p.proc_units)
    facts = {"needed_units": p.proc_units, "available_units": dest.proc_units_available, "after_units": after}
    if after < 0:
        return _error(
            "processors",
            f"{p.name} needs {p.proc_units:.2f} processing units; {dest.name} has {dest.proc_units_available:.2f} "
            f"free ({-after:.2f} short).",
            f"Free processing units on {dest.name}, reduce {p.name}'s entitlement, or pick another destination.",
            **facts,
        )
    return _ok("processors", f"{dest.name} has {dest.proc_units_available:.2f} processing units free, "
                             f"{after:.2f} left after the move.", **facts)


def _check_lmb(source: ManagedSystem, dest: ManagedSystem) -> Check:
    facts = {"source_mb": source.mem_region_size_mb, "dest_mb": dest.mem_region_size_mb}
    if source.mem_region_size_mb != dest.mem_region_size_mb:
        return _error(
            "lmb_size",
            f"The memory block size (LMB) of {dest.name} is {dest.mem_region_size_mb} MB, "
            f"{source.name} uses {source.mem_region_size_mb} MB; they must be equal.",
            "Pick a destination with the same LMB size (changing it needs a server restart from the ASMI).",
            **facts,
        )
    return _ok("lmb_size", f"Both servers use a {dest.mem_region_size_mb} MB memory block size.", **facts)


def _check_vlans(p: Partition, prof: PartitionProfile, dest: ManagedSystem) -> Check:
    bridged = set(dest.bridged_vlans)
    facts = {"vlans": list(prof.vlans), "dest_bridged_vlans": list(dest.bridged_vlans)}
    missing = [f"VLAN {vlan} (adapter in slot {slot})"
               for slot, vlans in prof.adapter_vlans for vlan in vlans if vlan not in bridged]
    if missing:
        return _error(
            "vlans_bridged",
            f"{dest.name} does not bridge {_join(missing)} of {p.name}"
            + (" (it has no Shared Ethernet Adapter)." if not bridged else "."),
            f"Add the VLANs to a Shared Ethernet Adapter trunk adapter on {dest.management_partition.name}, "
            "or pick another destination.",
            **facts,
        )
    if not prof.adapter_vlans:
        return _ok("vlans_bridged", f"{p.name} has no virtual Ethernet adapter.", **facts)
    return _ok("vlans_bridged", f"{dest.name} bridges every VLAN of {p.name}: "
                                f"{_join([str(v) for v in prof.vlans])}.", **facts)


def _check_lun_visible(p: Partition, prof: PartitionProfile, dest: ManagedSystem) -> tuple[Check, Check]:
    """lun_visible and dest_reserve_policy: both need the destination hdisk matched by unique_id, so one pass
    matches them and both record the same per-disk facts."""
    wanted = prof.unique_ids
    by_uid = {h.unique_id: h for h in dest.hdisks if h.unique_id in wanted}
    missing, bad, disks = [], [], []
    for d in prof.hdisks:
        target = by_uid.get(d.unique_id)  # an empty unique_id is never in by_uid
        if target is None:
            missing.append(d)
            disks.append({"hdisk": d.device, "unique_id": d.unique_id, "dest_hdisk": None,
                          "dest_reserve_policy": None})
        else:
            if target.reserve_policy != NO_RESERVE:
                bad.append((d, target))
            disks.append({"hdisk": d.device, "unique_id": d.unique_id, "dest_hdisk": target.name,
                          "dest_reserve_policy": target.reserve_policy})
    visible_facts = policy_facts = {"disks": disks}
    if missing:
        names = _join([f"{d.device} (unique_id {d.unique_id or 'unknown'})" for d in missing])
        visible = _error(
            "lun_visible",
            f"{dest.management_partition.name} on {dest.name} does not see these disks of {p.name}: {names}.",
            f"Zone and map the LUNs to {dest.name}'s management partition, run cfgdev there, then re-sync the "
            "inventory.",
            **visible_facts,
        )
    else:
        visible = _ok("lun_visible", f"{dest.name} sees every disk of {p.name}.", **visible_facts)

    if bad:
        names = _join([f"{t.name} (same LUN as {d.device}, reserve_policy={t.reserve_policy})" for d, t in bad])
        commands = "; ".join(f"chdev -dev {t.name} -attr reserve_policy=no_reserve" for _, t in bad)
        policy = _error(
            "dest_reserve_policy",
            f"On {dest.name}, disks of {p.name} are not set to no_reserve: {names}.",
            f"On {dest.management_partition.name}: {commands}.",
            **policy_facts,
        )
    else:
        policy = _ok("dest_reserve_policy", f"The disks {dest.name} sees have reserve_policy=no_reserve.",
                     **policy_facts)
    return visible, policy


def _check_npiv(p: Partition, prof: PartitionProfile, dest: ManagedSystem) -> Check:
    needed = prof.fc_count
    usable = [f for f in dest.fc_ports if f.npiv_capable and f.available_ports > 0]
    free = sum(f.available_ports for f in usable)
    facts = {
        "needed": needed,
        "virtual_fc_capable": "virtual_fc_capable" in dest.capabilities,
        "dest_ports": [{"name": f.name, "npiv": f.npiv_capable, "available": f.available_ports}
                       for f in dest.fc_ports],
    }
    if needed == 0:
        return _ok("npiv_ports", f"{p.name} has no virtual Fibre Channel adapter.", **facts)
    if "virtual_fc_capable" not in dest.capabilities:
        return _error(
            "npiv_ports",
            f"{p.name} has {needed} virtual Fibre Channel adapters but {dest.name} is not virtual_fc_capable.",
            "Pick a destination that supports NPIV.",
            **facts,
        )
    if free < needed:
        return _error(
            "npiv_ports",
            f"{p.name} needs {needed} NPIV ports; {dest.name} has {free} free on "
            f"{_join([f.name for f in usable]) or 'no NPIV-capable port'}.",
            f"Free virtual ports on {dest.name}'s NPIV Fibre Channel ports, or pick another destination.",
            **facts,
        )
    inactive = _join(list(prof.inactive_wwpns))
    return _ok(
        "npiv_ports",
        f"{dest.name} has {free} free NPIV ports for {needed} adapters. The inactive WWPNs ({inactive}) must be "
        "zoned to the same LUNs: the destination logs in with them.",
        **facts,
    )


def _check_virtual_slots(p: Partition, prof: PartitionProfile, dest: ManagedSystem) -> Check:
    needed = prof.client_slot_count
    free = free_slot_count(dest.management_partition)
    facts = {"needed": needed, "free": free, "max_virtual_slots": dest.management_partition.max_virtual_slots}
    if free < needed:
        return _error(
            "virtual_slots",
            f"{p.name} needs {needed} virtual server slots on {dest.management_partition.name}; "
            f"{dest.name} has {free} free.",
            f"Raise max_virtual_slots of {dest.management_partition.name} (takes effect at its restart) or "
            "remove unused virtual adapters there.",
            **facts,
        )
    return _ok("virtual_slots", f"{dest.management_partition.name} has {free} free virtual slots, {needed} needed.",
               **facts)


def destination_checks(partition: Partition, source: ManagedSystem, dest: ManagedSystem,
                       mode: Mode | None = None, profile: PartitionProfile | None = None) -> list[Check]:
    """Rules that depend on the destination system (ivm-cli.md §2.1, §2.2, §2.4, §2.5).

    profile: `profile_partition(partition)`, when the caller checks many destinations for the same partition.
    """
    effective = mode or mode_for_state(partition.state)
    prof = profile or profile_partition(partition)
    checks: list[Check] = []
    if dest.name == source.name:
        checks.append(_error("dest_is_source", f"{dest.name} is the partition's own server.",
                             "Pick another managed system.", destination=dest.name))
    if effective is not None:
        checks += [
            _check_capability("dest_capability", dest, effective),
            _check_migration_limit("dest_migration_limit", dest, effective),
        ]
    visible, dest_policy = _check_lun_visible(partition, prof, dest)
    checks += [
        _check_name_free(partition, dest),
        _check_compat_mode(partition, dest, effective),
        _check_memory(partition, dest),
        _check_processors(partition, dest),
        _check_lmb(source, dest),
        _check_vlans(partition, prof, dest),
        visible,
        dest_policy,
        _check_npiv(partition, prof, dest),
        _check_virtual_slots(partition, prof, dest),
    ]
    return checks
