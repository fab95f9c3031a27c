"""A fresh planning view of one partition (and destination): the estate read now, and every requirement check.

Reads the inventory through ``mobility.inventory.estate``; the rules themselves are ``mobility.planning``'s.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.db.models import OuterRef, Subquery

from mobility import planning
from mobility.choices import MigrationStatus
from mobility.inventory.estate import load_systems, partition_of
from mobility.models import AdapterMapping, PlanVersion
from mobility.models.migrations import content_hash
from mobility.planning import Check, Mode, Status


@dataclass(frozen=True)
class PlanContext:
    """The estate of one partition (its server, and a destination) and every requirement check, read now. ``source``
    and ``destination`` hold, of their partitions, only the management partition and the partition's namesakes: what
    the checks, the mappings and the ranking read of them."""

    partition: planning.Partition
    source: planning.ManagedSystem
    destination: planning.ManagedSystem | None
    mode: Mode | None
    checks: tuple[Check, ...]

    @property
    def errors(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.ERROR)

    @property
    def digest(self) -> str:
        """A short hash of every fact the checks and mappings depend on: a form carries it, so that a submit
        made from a page built on an older inventory is recognised and refused."""
        data = {"partition": self.partition.to_dict(), "mode": self.mode,
                "checks": [[c.key, c.status.value, c.facts] for c in self.checks]}
        if self.destination is not None:
            dest = self.destination
            data["dest"] = {"vios": dest.management_partition.to_dict(),
                            "fc_ports": [f.to_dict() for f in dest.fc_ports], "vlans": list(dest.bridged_vlans)}
        return content_hash(data)[:20]


def plan_context(partition, destination=None, mode: str | None = None) -> PlanContext:
    """Load the partition, its server and (optionally) a destination server from the inventory, and run the
    checks. `mode` None follows the partition's state (Running: active, Not Activated: inactive)."""
    # Both servers in one read, with only the partitions the checks read (``load_systems(named=)``): the estate of an
    # evacuated server was most of a batch member's drift check.
    source, *others = load_systems([partition.system_id, *([destination.pk] if destination else [])],
                                   named=partition.name)
    part = partition_of(source, partition)
    dest = with_planned_slots(others[0], destination, partition) if destination else None
    # Always pass the mode explicitly: the state check records it among its facts, and the digest of a page
    # built without a mode must equal the digest the submit (which names the mode) computes.
    mode = mode or mode_of(partition)
    wanted = Mode(mode) if mode else None
    assessment = planning.check_partition(part, source, dest, wanted)
    return PlanContext(part, source, dest, assessment.mode, assessment.checks)


def planned_slots(destination, partition=None) -> set[int]:
    """Destination VIOS slots named by the plans in force of unfinished migrations to ``destination`` (other
    than ``partition``'s own): not in its inventory yet, but taken as soon as those migrations start."""
    latest = (PlanVersion.objects.filter(migration=OuterRef("plan__migration")).order_by("-version")
              .values("pk")[:1])
    rows = (AdapterMapping.objects.filter(plan__migration__destination=destination,
                                          plan__migration__status__in=MigrationStatus.unfinished(),
                                          plan__migration__finished_at__isnull=True, dest_slot__isnull=False)
            .exclude(kind="eth").filter(plan=Subquery(latest)))
    if partition is not None:
        rows = rows.exclude(plan__migration__partition=partition)
    return set(rows.values_list("dest_slot", flat=True))


def with_planned_slots(dest: planning.ManagedSystem, destination, partition=None) -> planning.ManagedSystem:
    """``dest`` (the destination's snapshot) with the slots of ``planned_slots`` counted as used, each named."""
    taken = planned_slots(destination, partition)
    if not taken:
        return dest
    mp = dest.management_partition
    planned = tuple((slot, "the plan of another migration to this server") for slot in sorted(taken)
                    if slot not in mp.used_slots)
    return dataclasses.replace(dest, management_partition=dataclasses.replace(
        mp, used_slots=tuple(sorted(set(mp.used_slots) | taken)), slot_users=mp.slot_users + planned))


def mode_of(partition) -> str | None:
    """The mobility type IVM will use for the partition in its current state (None: it cannot move now)."""
    found = planning.mode_for_state(partition.state)
    return found.value if found else None


def modes_for(partition) -> tuple[str, ...]:
    """The moves that may be planned for the partition now: its state's own mode, and for a Running one also
    an inactive move that shuts it down first (step 2)."""
    natural = mode_of(partition)
    if natural == Mode.ACTIVE:
        return (Mode.ACTIVE.value, Mode.INACTIVE.value)
    return (natural,) if natural else ()
