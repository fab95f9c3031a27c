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


def assignable_range(vios: ManagementPartition) -> tuple[int, int]:
    """(lowest, highest) slot a moved partition's server adapter may take on this management partition; lowest >
    highest when it has none (its maximum is too small)."""
    return FIRST_ASSIGNABLE_SLOT, vios.max_virtual_slots - 1


def slot_problem(vios: ManagementPartition, slot: int) -> tuple[str, str] | None:
    """(code, reason) why `slot` cannot host a server adapter on this management partition; None when it can.
    The reason is a clause that names the slot and the VIOS ("virtual slot 11 on vios2 is already in use by …")."""
    low, high = assignable_range(vios)
    if slot < 0 or slot >= vios.max_virtual_slots:
        return SLOT_OUT_OF_RANGE, (f"virtual slot {slot} does not exist on {vios.name}: it has "
                                   f"{vios.max_virtual_slots} virtual slots (max_virtual_slots), so a server "
                                   f"adapter may use {low}–{high}")
    if slot <= RESERVED_SLOT_LIMIT:
        return SLOT_OUT_OF_RANGE, (f"virtual slot {slot} on {vios.name} is in the range 0–{RESERVED_SLOT_LIMIT} "
                                   f"that IVM keeps for itself; use {low}–{high}")
    if slot in vios.used_slots:
        who = vios.slot_user(slot)
        return SLOT_TAKEN, f"virtual slot {slot} on {vios.name} is already in use" + (f" by {who}" if who else "")
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
