"""The digest of a parsed inventory: when an IVM prints what the stored rows were made from, a sync compares nothing.

The apply step stores the digest of the inventory it applied (``IVMConsole.inventory_digest``) in its transaction;
the next sync whose parsed inventory has the same digest skips the comparison with the stored rows. Whatever
writes synced rows outside a sync (the engine's rehome) calls ``forget_digests``, so that a digest never vouches
for rows something else changed.
"""

from __future__ import annotations

import hashlib

from mobility.inventory.records import ALL_FIELDS, Inventory, values
from mobility.models import IVMConsole

# Part of every digest: change it when the apply step maps the same parsed inventory onto different rows, so that
# the next sync of every IVM compares with the stored rows again. (A change in parsing changes the digest anyway.)
APPLY_VERSION = "2"


def _rows(records: dict) -> list[tuple]:
    return [values(record, ALL_FIELDS[type(record)]) for record in records.values()]


def inventory_digest(inventory: Inventory) -> str:
    """sha256 of a parsed inventory: of the ``repr`` of every record's values (exact for their plain values: str, int,
    Decimal, bool, None, lists), kind by kind in the IVM's own output order; the same IVM output always gives the
    same digest. (Tuples, not the dataclasses' own repr: a third of the time.)"""
    content = (values(inventory.system, ALL_FIELDS[type(inventory.system)]),
               *map(_rows, (inventory.partitions, inventory.adapters, inventory.storage, inventory.seas,
                            inventory.fc_ports, inventory.io_slots)))
    return hashlib.sha256(f"{APPLY_VERSION}\n{content!r}".encode()).hexdigest()


def forget_digests(console_ids) -> None:
    """Make the next sync of these IVMs compare with the stored rows: call after writing their inventory rows
    anywhere but in a sync (the engine's rehome does)."""
    IVMConsole.objects.filter(pk__in=list(console_ids)).update(inventory_digest="")
