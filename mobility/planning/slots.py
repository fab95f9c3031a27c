"""Which virtual slots of a management partition may host a moved partition's server adapters.

Slot numbers run from 0 to `max_virtual_slots - 1`. The low slots belong to IVM itself: 0 and 1 hold the virtual
serial adapters, and IVM puts its own virtual Ethernet trunk adapters and `reserved` entries in the next few
(ivm-cli.md §4.4 shows `0,serial`, `1,serial`, `3,reserved`). This project never proposes a slot at or below
`RESERVED_SLOT_LIMIT` for a client's server adapter, even when it looks free, so that IVM's own layout cannot
collide with a migrated partition. It is a project rule [R], kept in this one constant.
"""

from __future__ import annotations

from .estate import ManagementPartition

RESERVED_SLOT_LIMIT = 10
FIRST_ASSIGNABLE_SLOT = RESERVED_SLOT_LIMIT + 1

SLOT_OUT_OF_RANGE = "slot_out_of_range"
SLOT_TAKEN = "slot_taken"


def slot_problem(vios: ManagementPartition, slot: int) -> tuple[str, str] | None:
    """(code, reason) why `slot` cannot host a server adapter on this management partition; None when it can."""
    if slot < 0 or slot >= vios.max_virtual_slots:
        return SLOT_OUT_OF_RANGE, (f"slot {slot} is outside 0–{vios.max_virtual_slots - 1} "
                                   f"(max_virtual_slots={vios.max_virtual_slots} on {vios.name})")
    if slot <= RESERVED_SLOT_LIMIT:
        return SLOT_OUT_OF_RANGE, f"slot {slot} is in the range 0–{RESERVED_SLOT_LIMIT} that IVM keeps for itself"
    if slot in vios.used_slots:
        return SLOT_TAKEN, f"slot {slot} is already in use on {vios.name}"
    return None


def free_slots(vios: ManagementPartition) -> list[int]:
    """Assignable, unused slots in ascending order."""
    used = set(vios.used_slots)
    return [s for s in range(FIRST_ASSIGNABLE_SLOT, vios.max_virtual_slots) if s not in used]


def free_slot_count(vios: ManagementPartition) -> int:
    """len(free_slots(vios)) without building the list (ranking calls it for every candidate)."""
    top = vios.max_virtual_slots
    span = max(0, top - FIRST_ASSIGNABLE_SLOT)
    return span - len({s for s in vios.used_slots if FIRST_ASSIGNABLE_SLOT <= s < top})
