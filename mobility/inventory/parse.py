"""Parse what one IVM printed into typed records (``records.Inventory``), without touching the database.

Every output goes through ``mobility.ivm``'s parsers. A line that does not parse raises ``SyncFailed`` naming the
command and the line. A partition or adapter whose values parse but break IVM's rules (a name with ``'``, ``<`` or
``é``, a VLAN out of range) is quarantined instead: kept with ``quarantine_reason`` (the bad value as printed, or
empty when it is a value for commands), never planned; the rest of the IVM syncs.

The steps, one per kind of record: ``parse_system``, ``parse_partitions``, ``parse_adapters`` (then
``quarantine_partitions_of_broken_adapters``), ``parse_storage``, ``parse_seas``, ``parse_fc_ports``,
``parse_io_slots``; ``parse_inventory`` runs them in that order.
"""

from __future__ import annotations

import re
from decimal import Decimal

from mobility.choices import AdapterKind, AdapterRole, PartitionEnv
from mobility.inventory.errors import SyncFailed
from mobility.inventory.reads import Reads, disk_key, sea_key
from mobility.inventory.records import (
    MANAGEMENT_LPAR_ID,
    AdapterRecord,
    FcPortRecord,
    Inventory,
    IOSlotRecord,
    PartitionRecord,
    SeaRecord,
    StorageRecord,
    SystemRecord,
)
from mobility.ivm import Command, InvalidValue, OutputNotUnderstood, parse
from mobility.ivm import values as ivm_values
from mobility.models import StorageDevice

NOT_ACTIVATED = "Not Activated"
# The choices as plain values, looked up once (a TextChoices' ``values`` builds a new list on every access).
_PARTITION_ENVS = frozenset(PartitionEnv.values)
_ADAPTER_ROLES = frozenset(AdapterRole.values)
ETHERNET, SCSI, FC = AdapterKind.ETHERNET.value, AdapterKind.SCSI.value, AdapterKind.FC.value
SERVER = AdapterRole.SERVER.value
HDISK, VOPT, FILE, LOGICAL_VOLUME = (StorageDevice.Kind.HDISK.value, StorageDevice.Kind.VOPT.value,
                                     StorageDevice.Kind.FILE.value, StorageDevice.Kind.LV.value)

# Characters no IVM listing contains: control characters (other than tab and line ends) and the replacement
# character left by undecodable bytes. A line carrying one is garbled, whatever the parser would make of it.
_GARBLED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")
_WHOLE_NUMBER = re.compile(r"-?[0-9]+")
_UNSIGNED = re.compile(r"[0-9]+")
_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_FC_PORT_NAME = re.compile(r"fcs\d+")
_PHYSLOC_SLOT = re.compile(r"-V(\d+)-C(\d+)$")
_HUNDREDTHS = Decimal("0.01")
_NULL_VALUES = parse.NULL_VALUES


# --- guards and typed access ----------------------------------------------------------------------------------


def _refuse_garbled(command: Command, stdout: str) -> None:
    if garbled := _GARBLED.search(stdout):
        line_no = stdout.count("\n", 0, garbled.start()) + 1
        line = stdout.split("\n")[line_no - 1]
        raise SyncFailed(f"{command.redacted()}: IVM output not understood (line {line_no}): "
                         f"garbled characters: {line!r}")


def parsed_listing(command: Command, stdout: str):
    """``stdout`` through the command's own parser; garbled characters or unparsable lines raise SyncFailed."""
    _refuse_garbled(command, stdout)
    try:
        return command.parse_output(stdout)
    except OutputNotUnderstood as exc:
        raise SyncFailed(f"{command.redacted()}: {exc}") from exc


def attribute_table(command: Command, stdout: str) -> dict[str, str]:
    """``lsdev -dev X -attr`` (every attribute in one read, instead of one read per attribute), parsed by the IVM
    package's one parser of that table (``parse.parse_lsdev_attr_table``); a table it refuses names the command."""
    _refuse_garbled(command, stdout)
    try:
        return parse.parse_lsdev_attr_table(stdout)
    except OutputNotUnderstood as exc:
        raise SyncFailed(f"{command.redacted()}: IVM output not understood: {exc}") from exc


class Listing:
    """One command's parsed records, with typed access to their values; a bad value names the command and line."""

    __slots__ = ("command", "records")

    def __init__(self, command: Command, records):
        self.command = command
        self.records = records

    def fail(self, record, reason: str):
        line = (self.command.delimiter.join(map(str, record.values())) if isinstance(record, dict)
                else str(record))
        raise SyncFailed(f"{self.command.redacted()}: IVM output not understood: {reason}: {line!r}")

    def only_record(self) -> dict:
        if len(self.records) != 1:
            raise SyncFailed(f"{self.command.redacted()}: expected one line, got {len(self.records)}")
        return self.records[0]

    def by_lpar_id(self) -> dict[int, dict]:
        return {self.int(record, "lpar_id"): record for record in self.records}

    def int(self, record: dict, key: str, *, null_ok: bool = False) -> int | None:
        raw = record[key]
        if raw.isdigit() and raw.isascii():  # most values: no regex needed
            return int(raw)
        if raw in _NULL_VALUES:
            if not null_ok:
                self.fail(record, f"{key} is empty")
            return None
        if not _WHOLE_NUMBER.fullmatch(raw):
            self.fail(record, f"{key} is not a whole number")
        return int(raw)

    def decimal(self, record: dict, key: str) -> Decimal:
        raw = record[key]
        if not _DECIMAL.fullmatch(raw or ""):
            self.fail(record, f"{key} is not a number")
        return Decimal(raw).quantize(_HUNDREDTHS)

    def flag(self, record: dict, key: str) -> bool:
        raw = record[key]
        if raw not in ("0", "1"):
            self.fail(record, f"{key} is not 0 or 1")
        return raw == "1"

    def text(self, record: dict, key: str) -> str:
        raw = record[key]
        return "" if raw in _NULL_VALUES else raw

    def ints(self, record: dict, key: str) -> list[int]:
        items = parse.parse_list(record[key])
        if not all(_UNSIGNED.fullmatch(item) for item in items):
            self.fail(record, f"{key} is not a list of whole numbers")
        return [int(item) for item in items]


def _slot_of(physloc: str | None) -> int | None:
    """The VIOS slot of a server adapter's physical location code (``...-V1-C11`` is slot 11)."""
    found = _PHYSLOC_SLOT.search(physloc or "")
    return int(found.group(2)) if found else None


def _broken_rule(rule, value) -> str:
    """Why ``value`` breaks the IVM naming/value ``rule`` (a ``mobility.ivm.values`` validator), or ""."""
    try:
        rule(value)
    except InvalidValue as exc:
        return str(exc)
    return ""


# --- the device reads the listings name --------------------------------------------------------------------------


def parse_listings(listings: Reads) -> dict[str, Listing]:
    """Every listing through its command's parser (no record is built yet)."""
    return {key: Listing(command, parsed_listing(command, listings.stdout[key]))
            for key, command in listings.commands.items()}


def devices_to_read(listings: Reads) -> tuple[list[str], list[str]]:
    """The disks and SEAs whose attributes the sync reads next, from the two ``lsdev`` listings (parsed alone: the
    others wait until it is known whether the IVM printed anything new)."""
    disks = parsed_listing(listings.commands["disks"], listings.stdout["disks"])
    seas = parsed_listing(listings.commands["seas"], listings.stdout["seas"])
    return [disk.name for disk in disks], [sea.name for sea in seas]


def disk_attributes(devices: Reads, disk_names: list[str]) -> dict[str, tuple[str, str]]:
    """Each disk's (unique_id, reserve_policy), from its attribute table."""
    found = {}
    for name in disk_names:
        command = devices.commands[disk_key(name)]
        table = attribute_table(command, devices.stdout[disk_key(name)])
        for attribute in ("unique_id", "reserve_policy"):
            if attribute not in table:
                raise SyncFailed(f"{command.redacted()}: the IVM printed no {attribute} for {name}")
        found[name] = (table["unique_id"], table["reserve_policy"])
    return found


def sea_pvids(devices: Reads, sea_names: list[str]) -> dict[str, int]:
    """Each SEA's port VLAN id."""
    found = {}
    for name in sea_names:
        command = devices.commands[sea_key(name)]
        pvid = parsed_listing(command, devices.stdout[sea_key(name)])
        if not (pvid.isascii() and pvid.isdigit()):
            raise SyncFailed(f"{command.redacted()}: pvid {pvid!r} is not a number")
        found[name] = int(pvid)
    return found


# --- one step per kind of record ---------------------------------------------------------------------------------


def parse_system(listings: dict[str, Listing]) -> SystemRecord:
    """The managed system, from its four one-line listings and the management partition's used slots."""
    system, memory, processors, migrations = (listings[key] for key in ("sys", "mem_sys", "proc_sys", "migr_sys"))
    system_line, memory_line = system.only_record(), memory.only_record()
    processors_line, migrations_line = processors.only_record(), migrations.only_record()
    vios_slots = listings["slot_vios"]
    return SystemRecord(
        name=system_line["name"], type_model=system_line["type_model"], serial=system_line["serial_num"],
        state=system.text(system_line, "state"),
        capabilities=parse.parse_list(system_line["capabilities"]),
        compat_modes=parse.parse_list(system_line["lpar_proc_compat_modes"]),
        mem_region_size_mb=memory.int(memory_line, "mem_region_size"),
        memory_installed_mb=memory.int(memory_line, "installed_sys_mem"),
        memory_configurable_mb=memory.int(memory_line, "configurable_sys_mem"),
        memory_available_mb=memory.int(memory_line, "curr_avail_sys_mem"),
        proc_units_installed=processors.decimal(processors_line, "installed_sys_proc_units"),
        proc_units_configurable=processors.decimal(processors_line, "configurable_sys_proc_units"),
        proc_units_available=processors.decimal(processors_line, "curr_avail_sys_proc_units"),
        active_migrations_supported=migrations.int(migrations_line, "num_active_migrations_supported"),
        active_migrations_in_progress=migrations.int(migrations_line, "num_active_migrations_in_progress"),
        inactive_migrations_supported=migrations.int(migrations_line, "num_inactive_migrations_supported"),
        inactive_migrations_in_progress=migrations.int(migrations_line, "num_inactive_migrations_in_progress"),
        vios_used_slots=sorted(vios_slots.int(line, "slot_num") for line in vios_slots.records
                               if parse.nullable(line["config"])),
    )


def parse_partitions(listings: dict[str, Listing]) -> dict[str, PartitionRecord]:
    """Every partition by name, with its memory, processors, virtual slots and migration state."""
    lpars, memory, processors = listings["lpar"], listings["mem_lpar"], listings["proc_lpar"]
    slots, migrations = listings["slot_lpar"], listings["migr_lpar"]
    memory_of, processors_of = memory.by_lpar_id(), processors.by_lpar_id()
    slots_of, migration_of = slots.by_lpar_id(), migrations.by_lpar_id()
    partitions: dict[str, PartitionRecord] = {}
    seen_ids: set[int] = set()
    for line in lpars.records:
        lpar_id, name = lpars.int(line, "lpar_id"), line["name"]
        if not 1 <= lpar_id <= 254:
            lpars.fail(line, "lpar_id is not between 1 and 254")
        if name in partitions or lpar_id in seen_ids:
            lpars.fail(line, "partition listed twice")
        seen_ids.add(lpar_id)
        if line["lpar_env"] not in _PARTITION_ENVS:
            lpars.fail(line, f"unknown lpar_env {line['lpar_env']!r}")
        memory_line, processors_line = memory_of.get(lpar_id), processors_of.get(lpar_id)
        if memory_line is None or processors_line is None:
            lpars.fail(line, "no memory or processor line for this partition")
        # IVM shows 0 for curr_* of a Not Activated partition; pend_* is what it will need (and move with).
        now_or_pending = "pend" if line["state"] == NOT_ACTIVATED else "curr"
        partitions[name] = PartitionRecord(
            lpar_id=lpar_id, name=name, env=line["lpar_env"], state=line["state"],
            rmc_state=lpars.text(line, "rmc_state"), os_version=lpars.text(line, "os_version"),
            dlpar_mem_capable=lpars.flag(line, "dlpar_mem_capable"),
            dlpar_proc_capable=lpars.flag(line, "dlpar_proc_capable"),
            curr_compat_mode=lpars.text(line, "curr_lpar_proc_compat_mode"),
            desired_compat_mode=lpars.text(line, "desired_lpar_proc_compat_mode"),
            memory_mb=memory.int(memory_line, f"{now_or_pending}_mem"),
            proc_mode=processors.text(processors_line, "curr_proc_mode"),
            proc_units=processors.decimal(processors_line, f"{now_or_pending}_proc_units"),
            procs=processors.int(processors_line, f"{now_or_pending}_procs"),
            max_virtual_slots=(slots.int(slots_of[lpar_id], "curr_max_virtual_slots")
                               if lpar_id in slots_of else 0),
            migration_state=migrations.text(migration_of[lpar_id], "migration_state")
            if lpar_id in migration_of else "",
            mac_base=lpars.text(line, "virtual_eth_mac_base_value"),
            # A name that breaks IVM's rules quarantines this partition only: the rest of the IVM still syncs.
            quarantine_reason=_broken_rule(ivm_values.partition_name, name),
        )
    return partitions


class _AdapterCollector:
    """Adapters by (lpar_id, slot), each of a listed partition and listed once."""

    def __init__(self, partition_ids: set[int]):
        self.partition_ids = partition_ids
        self.adapters: dict[tuple[int, int], AdapterRecord] = {}

    def add(self, listing: Listing, line: dict, broken: list[str], **values) -> None:
        lpar_id, slot = listing.int(line, "lpar_id"), listing.int(line, "slot_num")
        if lpar_id not in self.partition_ids:
            listing.fail(line, f"adapter of partition {lpar_id}, which lssyscfg does not list")
        if (lpar_id, slot) in self.adapters:
            listing.fail(line, f"slot {slot} of partition {lpar_id} listed twice")
        self.adapters[(lpar_id, slot)] = AdapterRecord(
            lpar_id=lpar_id, slot=slot, is_required=listing.flag(line, "is_required"),
            quarantine_reason="; ".join(broken), **values)


def _add_ethernet_adapters(listing: Listing, collector: _AdapterCollector) -> None:
    for line in listing.records:
        # A value that breaks IVM's rules is not stored; the reason names it.
        port_vlan = listing.int(line, "port_vlan_id")
        extra_vlans = listing.ints(line, "addl_vlan_ids")
        mac = listing.text(line, "mac_addr")
        vlan_broken = [reason for vlan in [port_vlan, *extra_vlans]
                       if (reason := _broken_rule(ivm_values.vlan_id, vlan))]
        mac_broken = [reason] if mac and (reason := _broken_rule(ivm_values.mac_address, mac)) else []
        collector.add(
            listing, line, vlan_broken + mac_broken, kind=ETHERNET, role="",
            remote_lpar_id=None, remote_lpar_name="", remote_slot=None,
            port_vlan_id=None if vlan_broken else port_vlan, addl_vlan_ids=[] if vlan_broken else extra_vlans,
            is_trunk=listing.flag(line, "is_trunk"), mac_addr="" if mac_broken else mac,
            wwpns=[], device_name="", fc_port="")


def _add_storage_adapters(listing: Listing, kind: str, server_devices: dict, npiv_by_slot: dict,
                          collector: _AdapterCollector) -> None:
    """vSCSI (``kind`` scsi) or virtual FC (fc) adapters, with the VIOS device a server adapter is."""
    for line in listing.records:
        role = line["adapter_type"]
        if role not in _ADAPTER_ROLES:
            listing.fail(line, f"unknown adapter_type {role!r}")
        remote_lpar_id = listing.int(line, "remote_lpar_id", null_ok=True)
        remote_lpar_name = listing.text(line, "remote_lpar_name")
        remote_slot = listing.int(line, "remote_slot_num", null_ok=True)
        slot = listing.int(line, "slot_num")
        broken: list[str] = []
        wwpns: list[str] = []
        if kind == FC:
            wwpns = parse.parse_list(line["wwpns"])
            if reasons := [why for wwpn in wwpns if (why := _broken_rule(ivm_values.wwpn, wwpn))]:
                broken += reasons
                wwpns = []
        device_name = fc_port = ""
        if role == SERVER:
            device = server_devices.get(slot)
            if device is not None:
                device_name = device.svsa if kind == SCSI else device.name
                if kind == FC:
                    fc_port = device.fc or ""
        elif kind == FC:
            # The client's port is the one its server adapter (vfchost) is bound to.
            server = npiv_by_slot.get(remote_slot)
            fc_port = (server.fc or "") if server is not None else ""
        # Device names go back out in commands (mappings, lsdev): one that breaks the rules is not stored.
        if device_name and (reason := _broken_rule(ivm_values.device_name, device_name)):
            broken.append(reason)
            device_name = ""
        if fc_port and (reason := _broken_rule(ivm_values.device_name, fc_port)):
            broken.append(reason)
            fc_port = ""
        collector.add(
            listing, line, broken, kind=kind, role=role,
            remote_lpar_id=remote_lpar_id, remote_lpar_name=remote_lpar_name, remote_slot=remote_slot,
            port_vlan_id=None, addl_vlan_ids=[], is_trunk=False, mac_addr="",
            wwpns=wwpns, device_name=device_name, fc_port=fc_port)


def parse_adapters(listings: dict[str, Listing], partitions: dict[str, PartitionRecord]
                   ) -> dict[tuple[int, int], AdapterRecord]:
    """Every virtual adapter by (lpar_id, slot): Ethernet, then vSCSI, then virtual FC."""
    collector = _AdapterCollector({partition.lpar_id for partition in partitions.values()})
    # Server-side device names (vhostN / vfchostN) by the management partition's slot.
    vhost_by_slot = {_slot_of(mapping.physloc): mapping for mapping in listings["lsmap"].records}
    npiv_by_slot = {_slot_of(mapping.physloc): mapping for mapping in listings["npiv"].records}
    _add_ethernet_adapters(listings["eth"], collector)
    _add_storage_adapters(listings["scsi"], SCSI, vhost_by_slot, npiv_by_slot, collector)
    _add_storage_adapters(listings["fc"], FC, npiv_by_slot, npiv_by_slot, collector)
    return collector.adapters


def quarantine_partitions_of_broken_adapters(partitions: dict[str, PartitionRecord],
                                             adapters: dict[tuple[int, int], AdapterRecord]) -> None:
    """A partition with a quarantined adapter is quarantined too: its plan would be made of that adapter."""
    by_id = {partition.lpar_id: partition for partition in partitions.values()}
    for (lpar_id, slot), adapter in sorted(adapters.items()):
        if adapter.quarantine_reason:
            partition = by_id[lpar_id]
            partition.quarantine_reason = "; ".join(filter(None, [
                partition.quarantine_reason, f"virtual adapter in slot {slot}: {adapter.quarantine_reason}"]))


def _backing_kind(vtd_name: str, device: str) -> str:
    if vtd_name.startswith("vtopt"):
        return VOPT
    return FILE if device.startswith("/") else LOGICAL_VOLUME


def parse_storage(listings: dict[str, Listing], attributes: dict[str, tuple[str, str]],
                  partition_ids: set[int]) -> dict[str, StorageRecord]:
    """Every hdisk the VIOS sees (with its LUN identity and reserve policy), plus whatever else backs a VTD
    (logical volumes, files, optical media), and which server adapter and client it backs."""
    storage = {name: StorageRecord(name=name, kind=HDISK, unique_id=unique_id,
                                   reserve_policy=reserve_policy)
               for name, (unique_id, reserve_policy) in attributes.items()}
    mappings = listings["lsmap"]
    for mapping in mappings.records:
        server_slot = _slot_of(mapping.physloc)
        for vtd in mapping.vtds:
            name = vtd.backing or vtd.name or ""
            device = storage.get(name)
            if device is not None and device.vtd_name:
                raise SyncFailed(f"{mappings.command.redacted()}: device {name} backs two VTDs")
            if device is None:
                device = storage[name] = StorageRecord(name=name, kind=_backing_kind(vtd.name or "", name))
            device.vtd_name = vtd.name or ""
            device.server_slot = server_slot
            device.client_lpar_id = mapping.client_id if mapping.client_id in partition_ids else None
    return storage


def parse_seas(pvids: dict[str, int], adapters: dict[tuple[int, int], AdapterRecord]) -> dict[str, SeaRecord]:
    """Each SEA and the VLANs it bridges: those of the trunk adapter whose port VLAN is the SEA's pvid."""
    trunks = [adapter for (lpar_id, _), adapter in adapters.items()
              if lpar_id == MANAGEMENT_LPAR_ID and adapter.is_trunk]
    seas = {}
    for name, pvid in pvids.items():
        bridging = [trunk for trunk in trunks if trunk.port_vlan_id == pvid] or (trunks if len(pvids) == 1 else [])
        vlans = sorted({vlan for trunk in bridging for vlan in [trunk.port_vlan_id, *trunk.addl_vlan_ids]})
        seas[name] = SeaRecord(name=name, pvid=pvid, vlans=vlans)
    return seas


def parse_fc_ports(listings: dict[str, Listing]) -> dict[str, FcPortRecord]:
    """Every FC port the VIOS has; lsnports says which carry NPIV (fabric 1) and how many virtual ports are free."""
    nports = {nport.name: nport for nport in listings["nports"].records}
    ports = {}
    for adapter in listings["adapters"].records:
        if _FC_PORT_NAME.fullmatch(adapter.name):
            nport = nports.get(adapter.name)
            ports[adapter.name] = FcPortRecord(name=adapter.name,
                                               npiv_capable=nport is not None and nport.fabric == 1,
                                               available_ports=nport.aports if nport is not None else 0)
    return ports


def parse_io_slots(listings: dict[str, Listing], partition_ids: set[int]) -> dict[str, IOSlotRecord]:
    """Every physical I/O slot and its owner (none when the owner is not a listed partition)."""
    slots = listings["io"]
    found = {}
    for line in slots.records:
        lpar_id = slots.int(line, "lpar_id", null_ok=True)
        found[line["drc_name"]] = IOSlotRecord(drc_name=line["drc_name"], description=slots.text(line, "description"),
                                               lpar_id=lpar_id if lpar_id in partition_ids else None)
    return found


def parse_inventory(listings: Reads, devices: Reads) -> Inventory:
    """Every record of one IVM, from its listings and the device reads they named."""
    parsed = parse_listings(listings)
    disk_names = [disk.name for disk in parsed["disks"].records]
    sea_names = [sea.name for sea in parsed["seas"].records]
    pvids = sea_pvids(devices, sea_names)
    attributes = disk_attributes(devices, disk_names)
    system = parse_system(parsed)
    partitions = parse_partitions(parsed)
    partition_ids = {partition.lpar_id for partition in partitions.values()}
    adapters = parse_adapters(parsed, partitions)
    quarantine_partitions_of_broken_adapters(partitions, adapters)
    return Inventory(
        system=system, partitions=partitions, adapters=adapters,
        storage=parse_storage(parsed, attributes, partition_ids), seas=parse_seas(pvids, adapters),
        fc_ports=parse_fc_ports(parsed), io_slots=parse_io_slots(parsed, partition_ids))
