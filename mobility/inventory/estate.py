"""The estate as planning sees it, loaded from the inventory tables: the frozen ``mobility.planning`` dataclasses
(``mobility/planning/estate.py``), built with a fixed number of queries (seven) whatever the size of the estate,
so that ranking can read every server.

Mapping notes (see ``mobility/planning/estate.py`` for where each value comes from on the IVM):
* memory_installed_mb / proc_units_installed are the *configurable* amounts (``configurable_sys_mem``,
  ``configurable_sys_proc_units``), as the planning docstring defines them.
* the management partition's ``used_slots`` are the slots the IVM lists as used (``vios_used_slots``: serial,
  reserved and adapters) plus those of its stored virtual adapters (the same, unless a sync is under way).
"""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Q

from mobility import planning
from mobility.choices import AdapterKind, AdapterRole, PartitionEnv
from mobility.inventory.records import MANAGEMENT_LPAR_ID
from mobility.models import (
    FCPort,
    IOSlot,
    ManagedSystem,
    Partition,
    SharedEthernetAdapter,
    StorageDevice,
    VirtualAdapter,
)


def _build(systems: list[ManagedSystem], named: str | None = None) -> list[planning.ManagedSystem]:
    system_ids = [system.pk for system in systems]
    live = Partition.objects.filter(system_id__in=system_ids, vanished_at__isnull=True)
    if named is not None:
        live = live.filter(Q(name=named) | Q(env=PartitionEnv.VIOSERVER))
    partitions = list(live.order_by("lpar_id"))
    adapters_of = defaultdict(list)  # by partition pk
    for adapter in VirtualAdapter.objects.filter(partition__in=partitions).order_by("slot"):
        adapters_of[adapter.partition_id].append(adapter)
    storage_of, seas_of, fc_ports_of = defaultdict(list), defaultdict(list), defaultdict(list)  # by system pk
    io_slots_of = defaultdict(list)  # by partition pk
    for device in StorageDevice.objects.filter(system_id__in=system_ids).order_by("name"):
        storage_of[device.system_id].append(device)
    for sea in SharedEthernetAdapter.objects.filter(system_id__in=system_ids):
        seas_of[sea.system_id].append(sea)
    for port in FCPort.objects.filter(system_id__in=system_ids).order_by("name"):
        fc_ports_of[port.system_id].append(port)
    for io_slot in IOSlot.objects.filter(system_id__in=system_ids, partition__isnull=False).order_by("drc_name"):
        io_slots_of[io_slot.partition_id].append(io_slot.drc_name)
    partitions_of = defaultdict(list)
    for partition in partitions:
        partitions_of[partition.system_id].append(partition)
    return [_system(system, partitions_of[system.pk], adapters_of, storage_of[system.pk], seas_of[system.pk],
                    fc_ports_of[system.pk], io_slots_of) for system in systems]


def _backing_by_server_slot(storage, vios_adapters) -> dict[int, list[planning.BackingDevice]]:
    """Backing devices by the server adapter's slot: a client's vSCSI adapter points there (remote_slot)."""
    slot_of_adapter = {adapter.pk: adapter.slot for adapter in vios_adapters}
    backing = defaultdict(list)
    for device in storage:
        slot = slot_of_adapter.get(device.server_adapter_id)
        if slot is not None and device.vtd_name:
            name = "" if device.kind == StorageDevice.Kind.VOPT and device.name == device.vtd_name else device.name
            backing[slot].append(planning.BackingDevice(device.kind, name, device.vtd_name, device.unique_id,
                                                        device.reserve_policy))
    return backing


def _system(system: ManagedSystem, partitions, adapters_of, storage, seas, fc_ports,
            io_slots_of) -> planning.ManagedSystem:
    vios = next((partition for partition in partitions if partition.env == PartitionEnv.VIOSERVER), None)
    vios_adapters = adapters_of[vios.pk] if vios else []
    backing = _backing_by_server_slot(storage, vios_adapters)
    management_partition = planning.ManagementPartition(
        lpar_id=vios.lpar_id if vios else MANAGEMENT_LPAR_ID, name=vios.name if vios else "",
        max_virtual_slots=vios.max_virtual_slots if vios else 0,
        used_slots=tuple(sorted({adapter.slot for adapter in vios_adapters} | set(system.vios_used_slots))),
        vtd_names=tuple(sorted(device.vtd_name for device in storage if device.vtd_name)),
        slot_users=tuple((adapter.slot, _slot_user(adapter)) for adapter in vios_adapters),
    )
    return planning.ManagedSystem(
        name=system.name, type_model=system.type_model, serial=system.serial, ivm_address=system.console.host,
        capabilities=tuple(system.capabilities), compat_modes=tuple(system.compat_modes),
        mem_region_size_mb=system.mem_region_size_mb, memory_installed_mb=system.memory_configurable_mb,
        memory_available_mb=system.memory_available_mb, proc_units_installed=float(system.proc_units_configurable),
        proc_units_available=float(system.proc_units_available),
        active_migrations_supported=system.active_migrations_supported,
        active_migrations_in_progress=system.active_migrations_in_progress,
        inactive_migrations_supported=system.inactive_migrations_supported,
        inactive_migrations_in_progress=system.inactive_migrations_in_progress,
        management_partition=management_partition,
        bridged_vlans=tuple(sorted({vlan for sea in seas for vlan in sea.vlans})),
        hdisks=tuple(planning.Hdisk(device.name, device.unique_id, device.reserve_policy)
                     for device in storage if device.kind == StorageDevice.Kind.HDISK),
        fc_ports=tuple(planning.FcPort(port.name, port.npiv_capable, port.available_ports) for port in fc_ports),
        partitions=tuple(_partition(partition, adapters_of[partition.pk], backing, io_slots_of[partition.pk])
                         for partition in partitions),
    )


def _slot_user(adapter: VirtualAdapter) -> str:
    """What a management partition's adapter is, in words, for a message about its slot."""
    kind = adapter.get_kind_display()
    what = f"a {kind[:1].lower()}{kind[1:]} adapter"
    if adapter.remote_lpar_name:
        return f"{what} serving {adapter.remote_lpar_name}"
    return what


def _partition(partition: Partition, adapters, backing, io_slots) -> planning.Partition:
    clients = [adapter for adapter in adapters if adapter.role == AdapterRole.CLIENT]
    return planning.Partition(
        lpar_id=partition.lpar_id, name=partition.name, env=partition.env, state=partition.state,
        rmc_state=partition.rmc_state, dlpar_mem_capable=partition.dlpar_mem_capable,
        dlpar_proc_capable=partition.dlpar_proc_capable, migration_state=partition.migration_state,
        curr_compat_mode=partition.curr_compat_mode, desired_compat_mode=partition.desired_compat_mode,
        memory_mb=partition.memory_mb, proc_units=float(partition.proc_units), virtual_procs=partition.procs,
        physical_io_slots=tuple(io_slots),
        ethernet_adapters=tuple(planning.EthernetAdapter(adapter.slot, adapter.port_vlan_id or 0,
                                                         tuple(adapter.addl_vlan_ids))
                                for adapter in adapters if adapter.kind == AdapterKind.ETHERNET),
        scsi_adapters=tuple(planning.ScsiClientAdapter(adapter.slot, adapter.remote_slot or 0,
                                                       tuple(backing.get(adapter.remote_slot, ())))
                            for adapter in clients if adapter.kind == AdapterKind.SCSI),
        fc_adapters=tuple(planning.FcClientAdapter(adapter.slot, adapter.remote_slot or 0,
                                                   tuple((list(adapter.wwpns) + ["", ""])[:2]), adapter.fc_port)
                          for adapter in clients if adapter.kind == AdapterKind.FC),
        quarantine_reason=partition.quarantine_reason,
    )


def load_system(system: ManagedSystem) -> planning.ManagedSystem:
    """One server with its non-vanished partitions."""
    return load_systems([system.pk])[0]


def load_systems(system_ids: list[int], *, named: str | None = None) -> list[planning.ManagedSystem]:
    """The servers of these ids with their non-vanished partitions, in the same order: read together (seven queries
    for all).

    ``named``: of their partitions, only the management partition and those of that name, i.e. what the requirement
    checks of moving one partition read (``mobility.plans.plan_context``): the partition itself on its server, a
    namesake on the destination (``name_free``), and each server's management partition. Every other partition of an
    evacuated server, with its adapters, was read and built for nothing (most of a batch's drift checks)."""
    found = ManagedSystem.objects.select_related("console").in_bulk(system_ids)
    missing = [pk for pk in system_ids if pk not in found]
    if missing:
        raise ManagedSystem.DoesNotExist(f"no managed system with id {missing[0]}")
    return _build([found[pk] for pk in system_ids], named)


def partition_of(loaded: planning.ManagedSystem, partition: Partition) -> planning.Partition:
    """``partition`` as planning sees it, out of its server ``loaded`` (``load_system``); raises when it is not a live
    partition there."""
    found = loaded.partition_named(partition.name)
    if found is None:
        raise Partition.DoesNotExist(f"{partition.name} is not a live partition of {partition.system.name}")
    return found


def load_partition(partition: Partition) -> planning.Partition:
    """One partition as planning sees it (its system is read with it, for the backing devices)."""
    return partition_of(load_system(partition.system), partition)


def load_estate() -> list[planning.ManagedSystem]:
    """Every known server (of an enabled IVM) with its non-vanished partitions, in name order."""
    return _build(list(ManagedSystem.objects.filter(console__enabled=True).select_related("console")
                       .order_by("name")))
