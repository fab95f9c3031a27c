"""Rules about the partition itself and its source system (ivm-cli.md §2): the checks that need no destination."""

from __future__ import annotations

from .checks import (
    Check,
    Mode,
    _check_capability,
    _check_migration_limit,
    _error,
    _join,
    _ok,
    _warn,
    mode_for_state,
)
from .estate import (
    FILE_BACKED,
    HDISK,
    LOGICAL_VOLUME,
    NO_RESERVE,
    NOT_MIGRATING,
    VIOSERVER,
    VIRTUAL_OPTICAL,
    ManagedSystem,
    Partition,
)


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


def _check_quarantine(p: Partition) -> Check:
    return _error(
        "quarantine",
        f"{p.name} is quarantined by the inventory sync: {p.quarantine_reason}. Nothing of it goes into an IVM "
        "command.",
        "Correct it on the IVM (rename the partition, or fix the adapter) so that it follows IVM's rules; the next "
        "sync releases it.",
        reason=p.quarantine_reason,
    )


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
    # Only when it applies: a rule every plan passed would make each stored plan's facts drift.
    if partition.quarantine_reason:
        checks.insert(0, _check_quarantine(partition))
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
