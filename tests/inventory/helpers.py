"""Helpers shared by the inventory tests."""

from django.db import connection
from django.test.utils import CaptureQueriesContext

from mobility.models import (
    FCPort,
    IOSlot,
    ManagedSystem,
    Partition,
    SharedEthernetAdapter,
    StorageDevice,
    VirtualAdapter,
)

INVENTORY_TABLES = tuple(m._meta.db_table for m in (ManagedSystem, Partition, VirtualAdapter, StorageDevice,
                                                       SharedEthernetAdapter, FCPort, IOSlot))


def inventory_state() -> dict:
    """Every inventory row as plain values, to compare before/after a sync."""
    return {m.__name__: sorted(map(repr, m.objects.values_list()))
            for m in (ManagedSystem, Partition, VirtualAdapter, StorageDevice, SharedEthernetAdapter, FCPort, IOSlot)}


def writes(queries) -> list[str]:
    """The INSERT/UPDATE/DELETE/COPY statements among captured queries."""
    return [q["sql"] for q in queries if q["sql"].lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "COPY")]


def inventory_writes(queries) -> list[str]:
    return [sql for sql in writes(queries) if any(f'"{t}"' in sql for t in INVENTORY_TABLES)]


class Capture(CaptureQueriesContext):
    def __init__(self):
        super().__init__(connection)
