"""Placement of a whole batch (a server's evacuation, or partitions picked together): each member, in the batch's
order, gets the best destination that still has room once the members placed before it are counted.

The order is the start order the requester sees: largest memory first (then name) unless given. For every member
the destinations are the ones ``rank_destinations`` ranks for a single move, over copies of the servers from which
the earlier members' memory, processing units, virtual slots and NPIV ports are already taken, with the reasons the
wizard shows. Migration limits do not exclude a destination whose slots are busy now (the batch waits for a free
slot: the engine's admission keeps every IVM's limit); a destination that supports no migration of the mode is
excluded, and members already placed on a destination count against it (a "batch load" reason), so the batch spreads
over the destinations and runs more members at once. A member that cannot move is listed with every reason and its
fix; it does not stop the others.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .checks import Check, Mode, Status, mode_for_state, profile_partition
from .estate import ManagedSystem, Partition
from .mappings import FC, AdapterMapping, check_mappings, recommend_mappings
from .partition_rules import partition_checks
from .ranking import MIGRATION_POINTS, Candidate, Effect, Reason, evaluate_destination
from .serialize import JsonData

MEMORY, GIVEN = "memory", "given"


@dataclass(frozen=True, slots=True)
class Placement(JsonData):
    """One member: where it goes (``destination`` None: it cannot move) and why."""

    partition: str
    mode: Mode | None
    destination: str | None
    score: float
    reasons: tuple[Reason, ...]  # the chosen destination's, as the wizard shows them
    mappings: tuple[AdapterMapping, ...]
    blockers: tuple[Check, ...] = ()  # why it cannot move: each with its remedy
    alternatives: tuple[str, ...] = ()  # other eligible destinations, best first

    @property
    def movable(self) -> bool:
        return self.destination is not None

    def why_not(self) -> list[dict]:
        """The blockers as a person reads them: what is wrong and the fix."""
        return [{"key": c.key, "why": c.message, "fix": c.remedy, "where": c.facts.get("destination", "")}
                for c in self.blockers]


@dataclass(frozen=True, slots=True)
class BatchPlacement(JsonData):
    placed: tuple[Placement, ...]
    immovable: tuple[Placement, ...]


def batch_order(partitions: Sequence[Partition], order: str = MEMORY) -> list[Partition]:
    """Largest memory first, then by name (``MEMORY``); ``GIVEN`` keeps the caller's order."""
    if order == GIVEN:
        return list(partitions)
    return sorted(partitions, key=lambda p: (-p.memory_mb, p.name))


def _idle(system: ManagedSystem) -> ManagedSystem:
    """The server as a batch member sees it: the batch waits for a migration slot rather than giving up."""
    return dataclasses.replace(system, active_migrations_in_progress=0, inactive_migrations_in_progress=0)


def _after(dest: ManagedSystem, p: Partition, rows: Sequence[AdapterMapping]) -> ManagedSystem:
    """``dest`` once ``p`` has moved in with ``rows``: its memory, units, slots and NPIV ports taken."""
    mp = dest.management_partition
    slots = {r.vios_slot for r in rows if r.vios_slot is not None}
    ports = Counter(r.fc_port for r in rows if r.kind == FC and r.fc_port)
    return dataclasses.replace(
        dest,
        memory_available_mb=dest.memory_available_mb - p.memory_mb,
        proc_units_available=round(dest.proc_units_available - p.proc_units, 2),
        management_partition=dataclasses.replace(mp, used_slots=tuple(sorted(set(mp.used_slots) | slots))),
        fc_ports=tuple(dataclasses.replace(f, available_ports=f.available_ports - ports[f.name]) for f in dest.fc_ports),
        partitions=(*dest.partitions, p),
    )


def _load_reason(dest: ManagedSystem, mode: Mode | None, placed: int) -> Reason:
    limit = (dest.active_migrations_supported if mode is Mode.ACTIVE else dest.inactive_migrations_supported) or 1
    share = min(1.0, placed / limit)
    return Reason("batch_load", Effect.NEGATIVE if placed else Effect.POSITIVE,
                  f"batch: {placed} member(s) already go to {dest.name}, which runs at most {limit} "
                  f"{mode.value if mode else ''} migrations at once".replace("  ", " "),
                  round(-MIGRATION_POINTS * share, 2), {"placed": placed, "supported": limit})


def _with_load(c: Candidate, reason: Reason) -> Candidate:
    if not c.eligible:
        return c
    return dataclasses.replace(c, score=max(0.0, round(c.score + reason.points, 2)), reasons=(*c.reasons, reason))


def place_batch(partitions: Sequence[Partition], source: ManagedSystem, destinations: Sequence[ManagedSystem], *,
                modes: Mapping[str, Mode] | None = None, order: str = MEMORY,
                pinned: Mapping[str, tuple[str, Sequence[AdapterMapping] | None]] | None = None) -> BatchPlacement:
    """Place every partition, in the batch's order, on the best destination with room left after the earlier ones.

    ``modes``: a partition's mode when not its state's own (an inactive move of a running one); ``pinned``: a
    partition's destination chosen already (the move back: its original server), with its mappings (None: the
    recommended ones).
    """
    modes, pinned = modes or {}, pinned or {}
    src = _idle(source)
    servers = {d.name: _idle(d) for d in destinations if d.name != source.name}
    load: Counter[str] = Counter()
    placed, immovable = [], []
    for p in batch_order(partitions, order):
        mode = modes.get(p.name) or mode_for_state(p.state)
        own = [c for c in partition_checks(p, src, mode) if c.status is Status.ERROR]
        if own:
            immovable.append(Placement(p.name, mode, None, 0.0, (), (), tuple(own)))
            continue
        profile = profile_partition(p)
        names = [pinned[p.name][0]] if p.name in pinned else sorted(servers)
        ranked = []
        for name in names:
            if name not in servers:
                continue
            c = evaluate_destination(p, src, servers[name], mode, profile)
            ranked.append(_with_load(c, _load_reason(servers[name], mode, load[name])))
        ranked.sort(key=lambda c: (not c.eligible, -c.score, len(c.blocking), c.system))
        best = next((c for c in ranked if c.eligible), None)
        rows = None
        if best is not None:
            dest = servers[best.system]
            given = pinned.get(p.name, (None, None))[1]
            rows = tuple(given) if given is not None else recommend_mappings(p, dest).rows
            problems = check_mappings(p, dest, rows)
            if problems and given is not None:  # the given slots are taken now: the recommended ones instead
                rows = recommend_mappings(p, dest).rows
                problems = check_mappings(p, dest, rows)
            if problems:
                best, blockers = None, tuple(Check("mappings", Status.ERROR, f"{dest.name}: {x.message}",
                                                   "Change the mappings or pick another destination.",
                                                   {"destination": dest.name}) for x in problems)
        else:
            blockers = tuple(dataclasses.replace(b, facts={**b.facts, "destination": c.system},
                                                 message=f"{c.system}: {b.message}")
                             for c in ranked for b in c.blocking)
            if not ranked:
                blockers = (Check("dest_is_source", Status.ERROR, "No destination server to choose from.",
                                  "Register and sync another IVM."),)
        if best is None:
            immovable.append(Placement(p.name, mode, None, 0.0, (), (), blockers))
            continue
        servers[best.system] = _after(servers[best.system], p, rows)
        load[best.system] += 1
        placed.append(Placement(p.name, mode, best.system, best.score, best.reasons, rows, (),
                                tuple(c.system for c in ranked if c.eligible and c.system != best.system)))
    return BatchPlacement(tuple(placed), tuple(immovable))
