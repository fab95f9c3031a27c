"""Requirement checks of ivm-cli.md §2 for one partition, its source system and (optionally) a destination.

Each rule gives one `Check` with a stable `key`; the message names the objects involved, the remedy says what
to do, and `facts` records the inventory values the rule looked at, so that a stored plan can show later that the
inventory has drifted. Checks only read the snapshot; they never contact an IVM. `migrlpar -o v` remains the
final word, run by the engine before the move.

Keys and where they apply (A = active, I = inactive, - = both, dest = needs a destination):
  state, not_vios, physical_io, migration_state, rmc (A), dlpar (A), vopt, disk_backing, reserve_policy,
  capability, migration_limit                                   — partition and source system
  dest_is_source, dest_capability, dest_migration_limit, name_free, compat_mode, memory, processors,
  lmb_size, vlans_bridged, lun_visible, dest_reserve_policy, npiv_ports, virtual_slots   — dest
When the state allows no move at all, the mode-specific rules (rmc, dlpar, capabilities, limits) are left out:
the `state` error already blocks, and their answer would depend on a mode nobody can pick.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from .serialize import JsonData
from .slots import free_slot_count
from .snapshot import (
    FILE_BACKED,
    HDISK,
    LOGICAL_VOLUME,
    NO_RESERVE,
    NOT_ACTIVATED,
    NOT_MIGRATING,
    RUNNING,
    VIOSERVER,
    VIRTUAL_OPTICAL,
    BackingDevice,
    ManagedSystem,
    Partition,
)


class Status(StrEnum):
    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


class Mode(StrEnum):
    """The migration type. On IVM it follows from the partition's state (ivm-cli.md §1.1)."""

    ACTIVE = "active"
    INACTIVE = "inactive"


CAPABILITY_FOR_MODE = {
    Mode.ACTIVE: "active_lpar_mobility_capable",
    Mode.INACTIVE: "inactive_lpar_mobility_capable",
}


@dataclass(frozen=True, slots=True)
class Check(JsonData):
    """The outcome of one requirement rule."""

    key: str
    status: Status
    message: str
    remedy: str = ""
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def is_error(self) -> bool:
        return self.status is Status.ERROR


@dataclass(frozen=True, slots=True)
class Assessment(JsonData):
    """All checks for one partition (and one destination, if given), in a fixed order."""

    partition: str
    source: str
    destination: str | None
    mode: Mode | None
    checks: tuple[Check, ...]

    @property
    def errors(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.ERROR)

    @property
    def warnings(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.WARNING)

    @property
    def movable(self) -> bool:
        """True when no check is an error (warnings are for a person to read, not blockers)."""
        return not self.errors

    def by_key(self, key: str) -> Check | None:
        return next((c for c in self.checks if c.key == key), None)


@dataclass(frozen=True, slots=True)
class PartitionProfile:
    """What the destination rules need from a partition, worked out once (ranking reuses it for every candidate)."""

    hdisks: tuple[BackingDevice, ...]
    unique_ids: frozenset[str]
    vlans: tuple[int, ...]
    adapter_vlans: tuple[tuple[int, tuple[int, ...]], ...]
    client_slot_count: int
    fc_count: int
    inactive_wwpns: tuple[str, ...]


def profile_partition(p: Partition) -> PartitionProfile:
    hdisks = tuple(d for d in p.backing_devices if d.kind == HDISK)
    adapter_vlans = tuple((a.slot, a.vlans) for a in p.ethernet_adapters)
    return PartitionProfile(
        hdisks=hdisks,
        unique_ids=frozenset(d.unique_id for d in hdisks if d.unique_id),
        vlans=tuple(sorted({v for _, vlans in adapter_vlans for v in vlans})),
        adapter_vlans=adapter_vlans,
        client_slot_count=p.client_slot_count,
        fc_count=len(p.fc_adapters),
        inactive_wwpns=tuple(a.wwpns[1] for a in p.fc_adapters),
    )


def mode_for_state(state: str) -> Mode | None:
    """Active for `Running`, inactive for `Not Activated`, None for every other state (no move possible)."""
    if state == RUNNING:
        return Mode.ACTIVE
    if state == NOT_ACTIVATED:
        return Mode.INACTIVE
    return None


def _ok(key: str, message: str, **facts: Any) -> Check:
    return Check(key, Status.OK, message, "", facts)


def _warn(key: str, message: str, remedy: str, **facts: Any) -> Check:
    return Check(key, Status.WARNING, message, remedy, facts)


def _error(key: str, message: str, remedy: str, **facts: Any) -> Check:
    return Check(key, Status.ERROR, message, remedy, facts)


def _join(items: list[str]) -> str:
    return ", ".join(items)


def format_mb(mb: float) -> str:
    """`512 MB`, `16.0 GB`: memory figures as a person reads them (IVM's GB are 1024 MB)."""
    return f"{mb / 1024:.1f} GB" if abs(mb) >= 1024 else f"{mb:.0f} MB"


def _units(value: float) -> float:
    """Processing units have a granularity of 0.01; compare them as such to avoid float noise."""
    return round(value, 2)


# ---------------------------------------------------------------------------------------------------------------
# Partition and source system
# ---------------------------------------------------------------------------------------------------------------


def _check_state(p: Partition, requested: Mode | None) -> Check:
    natural = mode_for_state(p.state)
    facts = {"state": p.state, "mode": requested.value if requested else None}
    if natural is None:
        return _error(
            "state",
            f"{p.name} is '{p.state}'. IVM moves only a partition that is Running (active move) "
            f"or Not Activated (inactive move).",
            "Wait until the partition is Running, or shut it down completely (Not Activated), then check again.",
            **facts,
        )
    if requested is None or requested is natural:
        return _ok("state", f"{p.name} is '{p.state}': {natural.value} move.", **facts)
    if requested is Mode.INACTIVE:  # planned ahead: it runs now and will be shut down at step 2
        return _warn(
            "state",
            f"{p.name} is Running; an inactive move needs it shut down first.",
            f"Shut down {p.name} (chsysstate -r lpar -o osshutdown -n {p.name}) before the migration starts.",
            **facts,
        )
    return _error(
        "state",
        f"{p.name} is Not Activated; an active move needs a running partition.",
        f"Plan an inactive move, or activate {p.name} first (chsysstate -r lpar -o on -n {p.name}).",
        **facts,
    )


def _check_not_vios(p: Partition) -> Check:
    if p.env == VIOSERVER:
        return _error(
            "not_vios",
            f"{p.name} is a Virtual I/O Server (lpar_env=vioserver); a management partition cannot be moved.",
            "Pick a client partition (AIX or Linux).",
            env=p.env,
        )
    return _ok("not_vios", f"{p.name} is a client partition ({p.env}).", env=p.env)


def _check_physical_io(p: Partition) -> Check:
    slots = list(p.physical_io_slots)
    if slots:
        return _error(
            "physical_io",
            f"{p.name} owns physical I/O adapters: {_join(slots)}. Every adapter must be virtual to move.",
            f"Remove the physical adapters ({_join(slots)}) from {p.name} with a dynamic LPAR operation; "
            "add them back after the move if the destination has them (step 11).",
            physical_io_slots=slots,
        )
    return _ok("physical_io", f"{p.name} has no physical I/O adapters.", physical_io_slots=slots)


def _check_migration_state(p: Partition) -> Check:
    if p.migration_state != NOT_MIGRATING:
        return _error(
            "migration_state",
            f"{p.name} has migration_state '{p.migration_state}'; it must be 'Not Migrating'.",
            f"Wait for the migration in progress to end, or recover it (migrlpar -o r -p {p.name}).",
            migration_state=p.migration_state,
        )
    return _ok("migration_state", f"{p.name} is not migrating.", migration_state=p.migration_state)


def _check_rmc(p: Partition) -> Check:
    if p.rmc_state != "active":
        return _error(
            "rmc",
            f"The RMC connection of {p.name} is '{p.rmc_state}'; an active move needs it 'active'.",
            f"Start RMC in {p.name} (AIX: /usr/sbin/rsct/bin/rmcctrl -s; Linux: install and start rsct), "
            "check the network path to the management partition, or plan an inactive move.",
            rmc_state=p.rmc_state,
        )
    return _ok("rmc", f"RMC connection of {p.name} is active.", rmc_state=p.rmc_state)


def _check_dlpar(p: Partition) -> Check:
    missing = [name for name, ok in (("memory", p.dlpar_mem_capable), ("processor", p.dlpar_proc_capable)) if not ok]
    facts = {"dlpar_mem_capable": p.dlpar_mem_capable, "dlpar_proc_capable": p.dlpar_proc_capable}
    if missing:
        return _error(
            "dlpar",
            f"{p.name} is not DLPAR capable for {' and '.join(missing)}; an active move needs both.",
            "Make sure RMC is active and the operating system supports dynamic LPAR, or plan an inactive move.",
            **facts,
        )
    return _ok("dlpar", f"{p.name} is DLPAR capable for memory and processors.", **facts)


def _check_vopt(p: Partition) -> Check:
    vopts = [d for d in p.backing_devices if d.kind == VIRTUAL_OPTICAL]
    facts = {"vopt": [{"vtd": d.vtd_name, "media": d.device} for d in vopts]}
    loaded = [d for d in vopts if d.device]
    if loaded:
        names = _join([f"{d.vtd_name} (media {d.device})" for d in loaded])
        return _error(
            "vopt",
            f"{p.name} has virtual optical media loaded: {names}.",
            "; ".join(f"unloadopt -vtd {d.vtd_name}; rmvdev -vtd {d.vtd_name}" for d in loaded),
            **facts,
        )
    if vopts:
        return _warn(
            "vopt",
            f"{p.name} has empty virtual optical devices: {_join([d.vtd_name for d in vopts])}.",
            "; ".join(f"rmvdev -vtd {d.vtd_name}" for d in vopts) + " (they are not carried over).",
            **facts,
        )
    return _ok("vopt", f"{p.name} has no virtual optical device.", **facts)


def _check_disk_backing(p: Partition) -> Check:
    local = [d for d in p.backing_devices if d.kind in (LOGICAL_VOLUME, FILE_BACKED)]
    facts = {"backing": [{"vtd": d.vtd_name, "kind": d.kind, "device": d.device} for d in p.backing_devices]}
    if local:
        kinds = {LOGICAL_VOLUME: "logical volume", FILE_BACKED: "file"}
        names = _join([f"{d.vtd_name} ({kinds[d.kind]} {d.device})" for d in local])
        return _error(
            "disk_backing",
            f"{p.name} has disks backed by storage local to the source VIOS: {names}. "
            "Only SAN LUNs (hdisks) seen by both servers can move.",
            "Copy the data to a shared SAN LUN mapped to both management partitions (e.g. migratepv / "
            "mirror inside the partition), then remove the local backing device.",
            **facts,
        )
    return _ok("disk_backing", f"Every disk of {p.name} is a physical volume (SAN LUN).", **facts)


def _check_reserve_policy(p: Partition, source: ManagedSystem) -> Check:
    hdisks = [d for d in p.backing_devices if d.kind == HDISK]
    facts = {"source_disks": [{"hdisk": d.device, "reserve_policy": d.reserve_policy} for d in hdisks]}
    bad = [d for d in hdisks if d.reserve_policy != NO_RESERVE]
    if bad:
        names = _join([f"{d.device} (reserve_policy={d.reserve_policy or 'unknown'})" for d in bad])
        commands = "; ".join(f"chdev -dev {d.device} -attr reserve_policy=no_reserve" for d in bad)
        return _error(
            "reserve_policy",
            f"On {source.name}, disks of {p.name} are not set to no_reserve: {names}.",
            f"On {source.management_partition.name}: {commands} (add -perm if the disk is open; it then "
            "takes effect at the next VIOS restart).",
            **facts,
        )
    return _ok("reserve_policy", f"Every disk of {p.name} has reserve_policy=no_reserve on {source.name}.", **facts)


def _check_capability(key: str, system: ManagedSystem, mode: Mode) -> Check:
    needed = CAPABILITY_FOR_MODE[mode]
    facts = {"system": system.name, "capability": needed, "present": needed in system.capabilities}
    if needed not in system.capabilities:
        return _error(
            key,
            f"{system.name} does not report {needed}; it cannot take part in an {mode.value} move.",
            f"Activate PowerVM Enterprise Edition (partition mobility) on {system.name} and re-sync the inventory.",
            **facts,
        )
    return _ok(key, f"{system.name} is {mode.value}-mobility capable.", **facts)


def _check_migration_limit(key: str, system: ManagedSystem, mode: Mode) -> Check:
    if mode is Mode.ACTIVE:
        running, limit = system.active_migrations_in_progress, system.active_migrations_supported
    else:
        running, limit = system.inactive_migrations_in_progress, system.inactive_migrations_supported
    facts = {"system": system.name, "in_progress": running, "supported": limit}
    if running >= limit:
        return _error(
            key,
            f"{system.name} already runs {running} {mode.value} migrations, its limit is {limit}.",
            "Wait until one of the running migrations finishes.",
            **facts,
        )
    return _ok(key, f"{system.name} runs {running} of at most {limit} {mode.value} migrations.", **facts)


def partition_checks(partition: Partition, source: ManagedSystem, mode: Mode | None = None) -> list[Check]:
    """Rules that depend only on the partition and its source system.

    mode: None to follow the state (Running → active, Not Activated → inactive); give a mode to plan ahead,
    e.g. an inactive move of a partition that will be shut down at step 2.
    """
    effective = mode or mode_for_state(partition.state)
    checks = [
        _check_state(partition, mode),
        _check_not_vios(partition),
        _check_physical_io(partition),
        _check_migration_state(partition),
    ]
    # A Not Activated partition has no RMC or DLPAR to check; the state rule already refuses an active move of it.
    if effective is Mode.ACTIVE and mode_for_state(partition.state) is not Mode.INACTIVE:
        checks += [_check_rmc(partition), _check_dlpar(partition)]
    checks += [_check_vopt(partition), _check_disk_backing(partition), _check_reserve_policy(partition, source)]
    if effective is not None:
        checks += [
            _check_capability("capability", source, effective),
            _check_migration_limit("migration_limit", source, effective),
        ]
    return checks


# ---------------------------------------------------------------------------------------------------------------
# Destination
# ---------------------------------------------------------------------------------------------------------------


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


def check_partition(partition: Partition, source: ManagedSystem, destination: ManagedSystem | None = None,
                    mode: Mode | None = None) -> Assessment:
    """Every requirement check for moving `partition` off `source` (to `destination`, when given)."""
    effective = mode or mode_for_state(partition.state)
    checks = partition_checks(partition, source, mode)
    if destination is not None:
        checks += destination_checks(partition, source, destination, mode)
    return Assessment(
        partition=partition.name,
        source=source.name,
        destination=destination.name if destination else None,
        mode=effective,
        checks=tuple(checks),
    )
