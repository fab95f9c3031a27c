"""Apply one IVM's parsed inventory to the database, in ONE transaction (the caller's).

Compare with the stored rows and write only what differs: new rows in one insert per table, changed ones in one
``bulk_update`` over the columns that changed, missing ones deleted. A re-sync with nothing changed writes no
inventory row at all, and when the inventory has the digest of the last one applied even the comparison is
skipped. Vanished partitions are marked (``vanished_at``), never deleted; partition ownership (``team``) is never
touched.

Rows are compared as tuples of column values read with ``values_list`` (no model instance per stored row); the
steps, one per table: ``_apply_system``, ``_apply_partitions``, ``_apply_adapters``, ``_apply_storage``,
``_apply_named`` (SEAs, FC ports) and ``_apply_io_slots``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import models

from mobility.bulk import insert_rows
from mobility.inventory.errors import SyncFailed
from mobility.inventory.records import (
    ADAPTER_FIELDS,
    FC_PORT_FIELDS,
    IO_SLOT_FIELDS,
    MANAGEMENT_LPAR_ID,
    PARTITION_FIELDS,
    SEA_FIELDS,
    STORAGE_FIELDS,
    SYSTEM_FIELDS,
    AdapterRecord,
    Inventory,
    IOSlotRecord,
    PartitionRecord,
    StorageRecord,
    SystemRecord,
    values,
)
from mobility.models import (
    FCPort,
    IOSlot,
    IVMConsole,
    ManagedSystem,
    Partition,
    SharedEthernetAdapter,
    StorageDevice,
    VirtualAdapter,
)


@dataclass
class Tally:
    """How many inventory rows one apply created, updated, deleted, marked vanished or left as they were."""

    created: int = 0
    updated: int = 0
    deleted: int = 0
    vanished: int = 0
    unchanged: int = 0

    @property
    def rows_written(self) -> int:
        return self.created + self.updated + self.deleted + self.vanished


@dataclass(frozen=True)
class _Table:
    """How one kind of record is stored: its model, the columns compared and written (attnames, the key's
    first), how many leading columns make the key, and whether other rows point at these (then the apply needs
    the pks of the new ones)."""

    model: type[models.Model]
    columns: tuple[str, ...]
    key_width: int = 1
    referenced: bool = False

    def key_of(self, row: tuple):
        return row[0] if self.key_width == 1 else row[:self.key_width]


_PARTITIONS = _Table(Partition, ("name",) + tuple(f for f in PARTITION_FIELDS if f != "name"), referenced=True)
_ADAPTERS = _Table(VirtualAdapter, ("partition_id", "slot") + tuple(f for f in ADAPTER_FIELDS if f != "slot"),
                   key_width=2, referenced=True)
_STORAGE = _Table(StorageDevice, STORAGE_FIELDS + ("server_adapter_id", "client_partition_id"))
_SEAS = _Table(SharedEthernetAdapter, SEA_FIELDS)
_FC_PORTS = _Table(FCPort, FC_PORT_FIELDS)
_IO_SLOTS = _Table(IOSlot, IO_SLOT_FIELDS + ("partition_id",))


@dataclass(frozen=True)
class _System:
    """The managed system's row, and whether this apply created it (then nothing hangs on it yet)."""

    pk: int
    new: bool


def _stored_rows(table: _Table, system: _System, **lookup) -> dict:
    """The stored rows matching ``lookup`` by key: (pk, column values). None (and no query) when this apply created
    the managed system: nothing hangs on it yet."""
    if system.new:
        return {}
    found = {}
    for pk, *row in table.model.objects.filter(**lookup).values_list("pk", *table.columns):
        row = tuple(row)
        found[table.key_of(row)] = (pk, row)
    return found


def _reconcile(table: _Table, stored: dict, wanted: dict, tally: Tally, *, new_rows_have: dict,
               delete: bool = True, stamp: tuple[str, datetime] | None = None) -> dict:
    """Bring ``stored`` (key -> (pk, row)) to ``wanted`` (key -> row); return key -> pk of the result (of the kept
    rows only, unless the table is ``referenced``).

    Only rows that differ are written: new ones in one insert (with ``new_rows_have``'s columns too), changed ones
    with one bulk_update over the columns that changed (and ``stamp``'s), missing ones deleted (``delete``) or left
    to the caller.
    """
    pks, changed_rows, changed_columns = {}, [], set()
    for key, row in wanted.items():
        current = stored.get(key)
        if current is None:
            continue
        pk, current_row = current
        pks[key] = pk
        if current_row == row:
            tally.unchanged += 1
            continue
        changed_columns.update(name for name, old, new in zip(table.columns, current_row, row, strict=True)
                               if old != new)
        changed_rows.append((pk, row))
    gone = [pk for key, (pk, _) in stored.items() if key not in wanted]
    if delete and gone:
        table.model.objects.filter(pk__in=gone).delete()
        tally.deleted += len(gone)
    if changed_rows:
        stamped = {stamp[0]: stamp[1]} if stamp else {}
        table.model.objects.bulk_update(
            [table.model(pk=pk, **dict(zip(table.columns, row, strict=True)), **stamped) for pk, row in changed_rows],
            sorted(changed_columns | stamped.keys()), batch_size=500)
        tally.updated += len(changed_rows)
    new_keys = [key for key in wanted if key not in stored]
    if new_keys:
        new_pks = insert_rows(table.model, table.columns, [wanted[key] for key in new_keys], new_rows_have,
                              returning=table.referenced)
        if table.referenced:
            pks.update(zip(new_keys, new_pks, strict=True))
        tally.created += len(new_keys)
    return pks


def _lock_console(console: IVMConsole) -> tuple[str | None, int | None]:
    """Lock the console row (two syncs of one IVM, a scheduled one and a manual one, apply one after the other);
    return the digest of the inventory applied last and the pk of its managed system (None: none yet)."""
    stored = (IVMConsole.objects.select_for_update(no_key=True, of=("self",)).filter(pk=console.pk)
              .values_list("inventory_digest", "system__pk"))
    return stored[0] if stored else (None, None)


def _apply_system(console: IVMConsole, system: ManagedSystem | None, record: SystemRecord, now: datetime,
                  tally: Tally) -> _System:
    clash = ManagedSystem.objects.filter(type_model=record.type_model, serial=record.serial)
    if system is not None:
        clash = clash.exclude(pk=system.pk)
    if other := clash.select_related("console").first():
        raise SyncFailed(f"managed system {record.type_model}*{record.serial} is already registered "
                         f"under another IVM ({other.console.name})")
    wanted = dict(zip(SYSTEM_FIELDS, values(record, SYSTEM_FIELDS), strict=True))
    if system is None:
        tally.created += 1
        return _System(ManagedSystem.objects.create(console=console, synced_at=now, **wanted).pk, new=True)
    changed = [name for name, value in wanted.items() if getattr(system, name) != value]
    if changed:
        for name in changed:
            setattr(system, name, wanted[name])
        system.synced_at = now
        system.save(update_fields=[*changed, "synced_at"])
        tally.updated += 1
    else:
        tally.unchanged += 1
    return _System(system.pk, new=False)


def _apply_partitions(system: _System, partitions: dict[str, PartitionRecord], now: datetime,
                      tally: Tally) -> dict[int, int]:
    """Partitions by name; return lpar_id -> pk of the live ones. Those the IVM no longer lists are marked vanished
    first, so that a new partition may take a freed name or id in the same transaction."""
    live = _stored_rows(_PARTITIONS, system, system_id=system.pk, vanished_at__isnull=True)
    vanished = [pk for name, (pk, _) in live.items() if name not in partitions]
    if vanished:
        Partition.objects.filter(pk__in=vanished).update(vanished_at=now)
        tally.vanished += len(vanished)
    wanted = {name: values(record, _PARTITIONS.columns) for name, record in partitions.items()}
    pks = _reconcile(_PARTITIONS, {name: row for name, row in live.items() if name in partitions}, wanted, tally,
                     new_rows_have={"system_id": system.pk, "synced_at": now}, delete=False,
                     stamp=("synced_at", now))
    return {record.lpar_id: pks[name] for name, record in partitions.items()}


def _apply_adapters(system: _System, partition_pks: dict[int, int],
                    adapters: dict[tuple[int, int], AdapterRecord], tally: Tally) -> dict[int, int]:
    """Adapters of the live partitions, keyed by (partition row, slot): a renumbered partition keeps its row.
    Return slot -> pk of the management partition's adapters (the server adapters that storage hangs on)."""
    stored = _stored_rows(_ADAPTERS, system, partition_id__in=list(partition_pks.values()))
    own_columns = _ADAPTERS.columns[1:]
    wanted = {(partition_pks[lpar_id], slot): (partition_pks[lpar_id], *values(record, own_columns))
              for (lpar_id, slot), record in adapters.items()}
    pks = _reconcile(_ADAPTERS, stored, wanted, tally, new_rows_have={})
    vios = partition_pks.get(MANAGEMENT_LPAR_ID)
    return {slot: pk for (partition_pk, slot), pk in pks.items() if partition_pk == vios}


def _apply_storage(system: _System, storage: dict[str, StorageRecord], partition_pks: dict[int, int],
                   vios_adapter_pks: dict[int, int], tally: Tally) -> None:
    wanted = {name: (*values(device, STORAGE_FIELDS), vios_adapter_pks.get(device.server_slot),
                     partition_pks.get(device.client_lpar_id))
              for name, device in storage.items()}
    _reconcile(_STORAGE, _stored_rows(_STORAGE, system, system_id=system.pk), wanted, tally,
               new_rows_have={"system_id": system.pk})


def _apply_named(table: _Table, system: _System, records: dict, tally: Tally) -> None:
    """Rows of the system keyed by name whose columns are all the record's own (SEAs, FC ports)."""
    wanted = {name: values(record, table.columns) for name, record in records.items()}
    _reconcile(table, _stored_rows(table, system, system_id=system.pk), wanted, tally,
               new_rows_have={"system_id": system.pk})


def _apply_io_slots(system: _System, io_slots: dict[str, IOSlotRecord], partition_pks: dict[int, int],
                    tally: Tally) -> None:
    wanted = {drc: (*values(slot, IO_SLOT_FIELDS), partition_pks.get(slot.lpar_id))
              for drc, slot in io_slots.items()}
    _reconcile(_IO_SLOTS, _stored_rows(_IO_SLOTS, system, system_id=system.pk), wanted, tally,
               new_rows_have={"system_id": system.pk})


def apply_inventory(console: IVMConsole, inventory: Inventory, digest: str, now: datetime) -> Tally:
    """Make the inventory tables say what ``inventory`` (whose ``inventory_digest`` is ``digest``) says for
    ``console``; call inside a transaction."""
    tally = Tally()
    applied_digest, system_pk = _lock_console(console)
    if system_pk is not None and applied_digest == digest:
        # The IVM printed what the stored rows were made from, and nothing else wrote them since (the digest
        # is cleared when something does): nothing to compare, nothing to write.
        tally.unchanged = inventory.row_count()
        return tally
    stored_system = ManagedSystem.objects.get(pk=system_pk) if system_pk is not None else None
    system = _apply_system(console, stored_system, inventory.system, now, tally)
    partition_pks = _apply_partitions(system, inventory.partitions, now, tally)
    vios_adapter_pks = _apply_adapters(system, partition_pks, inventory.adapters, tally)
    _apply_storage(system, inventory.storage, partition_pks, vios_adapter_pks, tally)
    _apply_named(_SEAS, system, inventory.seas, tally)
    _apply_named(_FC_PORTS, system, inventory.fc_ports, tally)
    _apply_io_slots(system, inventory.io_slots, partition_pks, tally)
    IVMConsole.objects.filter(pk=console.pk).update(inventory_digest=digest)  # not an inventory row
    return tally
