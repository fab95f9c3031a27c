"""The vocabulary of the requirement checks of ivm-cli.md §2: `Check`, `Assessment`, modes and statuses, and the
helpers the rules are written with. The rules live in `partition_rules.py` (the partition and its source system)
and `destination_rules.py` (a destination); `assessment.check_partition` runs them all.

Each rule gives one `Check` with a stable `key`; the message names the objects involved, the remedy says what
to do, and `facts` records the inventory values the rule looked at, so that a stored plan can show later that the
inventory has drifted. Checks only read the estate; they never contact an IVM. `migrlpar -o v` remains the
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

from .estate import (
    HDISK,
    NOT_ACTIVATED,
    RUNNING,
    BackingDevice,
    ManagedSystem,
    Partition,
)
from .serialize import JsonData


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


# The system-level rules asked of both servers (keys capability/migration_limit and dest_*).


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
