"""What one IVM printed, as typed records: the rows the inventory tables should hold, before any database.

Each record's fields are named like the model fields they fill (``mobility.models.inventory``), so that applying a
record is reading its fields in order (``values``). A few fields name another record instead of a row (a partition
by its ``lpar_id``, a server adapter by its ``server_slot``): the apply step turns them into foreign keys.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass, fields
from decimal import Decimal

# The management partition (the VIOS that hosts IVM) is always partition 1 (ivm-cli.md §1).
MANAGEMENT_LPAR_ID = 1


def _stored(record_class, *, but: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The record's fields that are model fields of the same name, in declaration order."""
    return tuple(f.name for f in fields(record_class) if f.name not in but)


@dataclass(slots=True)
class SystemRecord:
    """The managed system (``lssyscfg -r sys``, ``lshwres -r mem|proc --level sys``, ``lslparmigr -r sys``)."""

    name: str
    type_model: str
    serial: str
    state: str
    capabilities: list[str]
    compat_modes: list[str]
    mem_region_size_mb: int
    memory_installed_mb: int
    memory_configurable_mb: int
    memory_available_mb: int
    proc_units_installed: Decimal
    proc_units_configurable: Decimal
    proc_units_available: Decimal
    active_migrations_supported: int
    active_migrations_in_progress: int
    inactive_migrations_supported: int
    inactive_migrations_in_progress: int
    vios_used_slots: list[int]  # every used slot of the management partition (serial, reserved, adapters)


@dataclass(slots=True)
class PartitionRecord:
    """One partition (``lssyscfg -r lpar`` with its memory, processor, slot and migration lines)."""

    lpar_id: int
    name: str
    env: str
    state: str
    rmc_state: str
    os_version: str
    dlpar_mem_capable: bool
    dlpar_proc_capable: bool
    curr_compat_mode: str
    desired_compat_mode: str
    memory_mb: int
    proc_mode: str
    proc_units: Decimal
    procs: int
    max_virtual_slots: int
    migration_state: str
    mac_base: str
    quarantine_reason: str  # why a value breaks IVM's rules ("" when none does): stored, never planned


@dataclass(slots=True)
class AdapterRecord:
    """One virtual adapter (``lshwres -r virtualio --rsubtype eth|scsi|fc``) of partition ``lpar_id``."""

    lpar_id: int  # the partition, by id: a foreign key once applied
    slot: int
    kind: str
    role: str
    is_required: bool
    remote_lpar_id: int | None
    remote_lpar_name: str
    remote_slot: int | None
    port_vlan_id: int | None
    addl_vlan_ids: list[int]
    is_trunk: bool
    mac_addr: str
    wwpns: list[str]
    device_name: str  # the server adapter's device on the VIOS (vhostN, vfchostN)
    fc_port: str  # the physical FC port an NPIV adapter is bound to
    quarantine_reason: str


@dataclass(slots=True)
class StorageRecord:
    """A device the VIOS sees or serves: every hdisk, and whatever else backs a virtual target device."""

    name: str
    kind: str
    unique_id: str = ""
    reserve_policy: str = ""
    vtd_name: str = ""
    server_slot: int | None = None  # the VIOS's server adapter, by slot: a foreign key once applied
    client_lpar_id: int | None = None  # the client partition, by id: a foreign key once applied


@dataclass(slots=True)
class SeaRecord:
    """A shared Ethernet adapter and the VLANs it bridges."""

    name: str
    pvid: int
    vlans: list[int]


@dataclass(slots=True)
class FcPortRecord:
    """A physical FC port of the VIOS and its NPIV capacity (``lsnports``)."""

    name: str
    npiv_capable: bool
    available_ports: int


@dataclass(slots=True)
class IOSlotRecord:
    """A physical I/O slot and the partition that owns it (``lshwres -r io --rsubtype slot``)."""

    drc_name: str
    description: str
    lpar_id: int | None  # the owner, by id: a foreign key once applied


@dataclass(slots=True)
class Inventory:
    """Everything one IVM printed, by kind; each mapping is keyed as the rows are."""

    system: SystemRecord
    partitions: dict[str, PartitionRecord]  # by name
    adapters: dict[tuple[int, int], AdapterRecord]  # by (lpar_id, slot)
    storage: dict[str, StorageRecord]  # by device name
    seas: dict[str, SeaRecord]
    fc_ports: dict[str, FcPortRecord]
    io_slots: dict[str, IOSlotRecord]  # by DRC name

    def row_count(self) -> int:
        """How many inventory rows this is (the system included)."""
        return 1 + sum(map(len, (self.partitions, self.adapters, self.storage, self.seas, self.fc_ports,
                                 self.io_slots)))

    def quarantined(self) -> dict[str, str]:
        """Partition name -> why its values break IVM's rules."""
        return {name: p.quarantine_reason for name, p in self.partitions.items() if p.quarantine_reason}


# Every field of each record, in declaration order (what the digest covers).
ALL_FIELDS = {cls: _stored(cls) for cls in (SystemRecord, PartitionRecord, AdapterRecord, StorageRecord, SeaRecord,
                                             FcPortRecord, IOSlotRecord)}
# The model fields each record fills by itself (the apply step adds the foreign keys).
SYSTEM_FIELDS = _stored(SystemRecord)
PARTITION_FIELDS = _stored(PartitionRecord)
ADAPTER_FIELDS = _stored(AdapterRecord, but=("lpar_id",))
STORAGE_FIELDS = _stored(StorageRecord, but=("server_slot", "client_lpar_id"))
SEA_FIELDS = _stored(SeaRecord)
FC_PORT_FIELDS = _stored(FcPortRecord)
IO_SLOT_FIELDS = _stored(IOSlotRecord, but=("lpar_id",))


@functools.cache
def _getter(names: tuple[str, ...]):
    read = operator.attrgetter(*names)
    return read if len(names) > 1 else lambda record: (read(record),)


def values(record, names: tuple[str, ...]) -> tuple:
    """The record's ``names`` fields, in that order."""
    return _getter(names)(record)
