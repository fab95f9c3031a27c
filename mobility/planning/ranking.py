"""Rank the managed systems a partition could move to, with the reasons a person can check.

A destination is *eligible* when none of its destination checks (checks.destination_checks) is an error.
Eligible systems get a score out of 100 from what is left after the move:

  memory headroom      up to 30 points  free memory after the move / configurable memory
  processor headroom   up to 30 points  free processing units after the move / configurable units
  virtual slots        up to 15 points  free server slots after the move, full marks at SLOT_COMFORT or more
  migration capacity   up to 15 points  share of the mode's migration limit not already in use
  NPIV headroom        up to 10 points  spare NPIV ports after the move (full marks for a partition without vFC)
  each warning         -5 points

Every requirement that passes is also listed as a positive reason (0 points) with its figures, so the wizard can
show why a server qualifies, not only how it scored. Ineligible systems stay in the list after the eligible ones,
score 0, with their blocking reasons first; they are ordered by how many blockers they have, then by name.
Partition-wide problems (physical I/O, RMC, ...) do not depend on the destination: see checks.partition_checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from .checks import (
    Check,
    Mode,
    PartitionProfile,
    Status,
    format_mb,
    mode_for_state,
    profile_partition,
)
from .destination_rules import destination_checks
from .estate import ManagedSystem, Partition
from .serialize import JsonData

MEMORY_POINTS = 30.0
PROCESSOR_POINTS = 30.0
SLOT_POINTS = 15.0
MIGRATION_POINTS = 15.0
NPIV_POINTS = 10.0
WARNING_PENALTY = 5.0
SLOT_COMFORT = 32  # free slots after the move that count as "plenty"
TIGHT_SHARE = 0.10  # less than 10 % left after the move is called out as a negative reason


class Effect(StrEnum):
    POSITIVE = "positive"
    NEGATIVE = "negative"
    BLOCKING = "blocking"


@dataclass(frozen=True, slots=True)
class Reason(JsonData):
    """One line of "why": what it is about (a check key or a score component), its effect, the points it added
    and the figures behind it."""

    key: str
    effect: Effect
    text: str
    points: float = 0.0
    figures: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Candidate(JsonData):
    """A possible destination for the partition, as the wizard lists it."""

    system: str
    target_name: str
    ivm_address: str
    eligible: bool
    score: float
    reasons: tuple[Reason, ...]
    blocking: tuple[Check, ...]
    checks: tuple[Check, ...]


def _share(part: float, whole: float) -> float:
    return max(0.0, min(1.0, part / whole)) if whole > 0 else 0.0


def _pct(share: float) -> str:
    return f"{share * 100:.0f}%"


def _score_reasons(partition: Partition, dest: ManagedSystem, mode: Mode | None, free_slots: int) -> list[Reason]:
    reasons = []

    mem_after = dest.memory_available_mb - partition.memory_mb
    share = _share(mem_after, dest.memory_installed_mb)
    figures = {"after_mb": mem_after, "installed_mb": dest.memory_installed_mb, "needed_mb": partition.memory_mb}
    text = (f"memory: {format_mb(mem_after)} of {format_mb(dest.memory_installed_mb)} free after the move "
            f"({_pct(share)})")
    tight = share < TIGHT_SHARE
    reasons.append(Reason("memory_headroom", Effect.NEGATIVE if tight else Effect.POSITIVE,
                          text + (" — tight" if tight else ""), round(MEMORY_POINTS * share, 2), figures))

    proc_after = round(dest.proc_units_available - partition.proc_units, 2)
    share = _share(proc_after, dest.proc_units_installed)
    figures = {"after_units": proc_after, "installed_units": dest.proc_units_installed,
               "needed_units": partition.proc_units}
    text = f"processors: {proc_after:.2f} of {dest.proc_units_installed:.2f} units free after the move ({_pct(share)})"
    tight = share < TIGHT_SHARE
    reasons.append(Reason("processor_headroom", Effect.NEGATIVE if tight else Effect.POSITIVE,
                          text + (" — tight" if tight else ""), round(PROCESSOR_POINTS * share, 2), figures))

    slots_after = free_slots - partition.client_slot_count
    share = _share(slots_after, SLOT_COMFORT)
    figures = {"free_after": slots_after, "needed": partition.client_slot_count}
    reasons.append(Reason("slot_headroom", Effect.POSITIVE if share >= 0.5 else Effect.NEGATIVE,
                          f"virtual slots: {slots_after} free on {dest.management_partition.name} after the move",
                          round(SLOT_POINTS * share, 2), figures))

    if mode is not None:
        if mode is Mode.ACTIVE:
            running, limit = dest.active_migrations_in_progress, dest.active_migrations_supported
        else:
            running, limit = dest.inactive_migrations_in_progress, dest.inactive_migrations_supported
        share = _share(limit - running, limit)
        figures = {"in_progress": running, "supported": limit}
        reasons.append(Reason("migration_capacity", Effect.NEGATIVE if running else Effect.POSITIVE,
                              f"migrations: {running} of {limit} {mode.value} migrations already running",
                              round(MIGRATION_POINTS * share, 2), figures))

    needed = len(partition.fc_adapters)
    spare = sum(f.available_ports for f in dest.fc_ports if f.npiv_capable) - needed
    if needed:
        share = _share(spare, needed)
        figures = {"needed": needed, "spare_after": spare}
        reasons.append(Reason("npiv_headroom", Effect.POSITIVE if spare >= needed else Effect.NEGATIVE,
                              f"NPIV: {spare} ports spare after the move ({needed} needed)",
                              round(NPIV_POINTS * share, 2), figures))
    else:
        reasons.append(Reason("npiv_headroom", Effect.POSITIVE, "NPIV: no virtual Fibre Channel adapter to host",
                              NPIV_POINTS, {"needed": 0}))
    return reasons


def evaluate_destination(partition: Partition, source: ManagedSystem, dest: ManagedSystem,
                         mode: Mode | None = None, profile: PartitionProfile | None = None) -> Candidate:
    """Checks, reasons and score for one destination."""
    checks = tuple(destination_checks(partition, source, dest, mode, profile))
    blocking = tuple(c for c in checks if c.status is Status.ERROR)
    reasons = [Reason(c.key, Effect.BLOCKING, c.message, 0.0, c.facts) for c in blocking]
    reasons += [Reason(c.key, Effect.NEGATIVE, c.message, -WARNING_PENALTY, c.facts)
                for c in checks if c.status is Status.WARNING]
    free_slots = next(c.facts["free"] for c in checks if c.key == "virtual_slots")
    reasons += _score_reasons(partition, dest, mode or mode_for_state(partition.state), free_slots)
    reasons += [Reason(c.key, Effect.POSITIVE, c.message, 0.0, c.facts) for c in checks if c.status is Status.OK]
    eligible = not blocking
    if not eligible:  # the figures stay for a person to read; the points would mean nothing
        reasons = [replace(r, points=0.0) for r in reasons]
    score = max(0.0, round(sum(r.points for r in reasons), 2))
    return Candidate(
        system=dest.name,
        target_name=dest.target_name,
        ivm_address=dest.ivm_address,
        eligible=eligible,
        score=score,
        reasons=tuple(reasons),
        blocking=blocking,
        checks=checks,
    )


def rank_destinations(partition: Partition, source: ManagedSystem, candidates: Iterable[ManagedSystem],
                      mode: Mode | None = None) -> list[Candidate]:
    """Every candidate except the source, best first: eligible by score (high to low) then name, then the
    ineligible ones by number of blocking reasons then name. `mode` None follows the partition's state."""
    profile = profile_partition(partition)
    evaluated = [evaluate_destination(partition, source, dest, mode, profile)
                 for dest in candidates if dest.name != source.name]
    return sorted(evaluated, key=lambda c: (not c.eligible, -c.score, len(c.blocking), c.system))


# A passing requirement check and the score component that measures the same thing: the wizard shows one line for
# both (the score's, which carries the figures and the points), not the same fact twice in other words.
SCORE_TWIN = {"memory": "memory_headroom", "processors": "processor_headroom", "virtual_slots": "slot_headroom",
              "dest_migration_limit": "migration_capacity", "npiv_ports": "npiv_headroom"}


def distinct_reasons(candidate: Candidate) -> tuple[Reason, ...]:
    """The reasons a person reads for one destination, without repeats: a passing check is dropped when its score
    component says the same; a score line is dropped when its check blocks (the server scores nothing: the
    blocker says it); a line whose text already appeared is not shown again. Blocking reasons, and the lines that
    explain a score, all stay."""
    keys = {r.key for r in candidate.reasons}
    blocked_twins = {SCORE_TWIN.get(r.key) for r in candidate.reasons if r.effect is Effect.BLOCKING}
    seen: set[str] = set()
    out = []
    for r in candidate.reasons:
        if r.effect is Effect.POSITIVE and r.points == 0.0 and SCORE_TWIN.get(r.key) in keys:
            continue
        if r.effect is not Effect.BLOCKING and r.key in blocked_twins:
            continue
        if r.text in seen:
            continue
        seen.add(r.text)
        out.append(r)
    return tuple(out)


@dataclass(frozen=True, slots=True)
class CommonBlocker(JsonData):
    """One reason that stops servers from taking the partition, and which servers it stops."""

    key: str
    systems: tuple[str, ...]
    example: str


def common_blockers(candidates: Iterable[Candidate]) -> tuple[CommonBlocker, ...]:
    """What keeps every server from taking the partition, most widespread first: one entry per blocking check,
    with the servers it blocks and one server's message as the example (when no server is eligible, this is the
    summary a person reads instead of a ranking)."""
    by_key: dict[str, list[tuple[str, str]]] = {}
    for c in candidates:
        for b in c.blocking:
            by_key.setdefault(b.key, []).append((c.system, b.message))
    found = [CommonBlocker(key, tuple(sorted({s for s, _ in hits})), hits[0][1]) for key, hits in by_key.items()]
    return tuple(sorted(found, key=lambda b: (-len(b.systems), b.key)))
