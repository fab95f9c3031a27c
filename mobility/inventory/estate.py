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


def _build(systems: list[ManagedSystem]) -> list[planning.ManagedSystem]:
    ids = [s.pk for s in systems]
    parts = list(Partition.objects.filter(system_id__in=ids, vanished_at__isnull=True).order_by("lpar_id"))
    adapters = defaultdict(list)
    for a in VirtualAdapter.objects.filter(partition__in=parts).order_by("slot"):
        adapters[a.partition_id].append(a)
    storage, seas, fcs, io = defaultdict(list), defaultdict(list), defaultdict(list), defaultdict(list)
    for d in StorageDevice.objects.filter(system_id__in=ids).order_by("name"):
        storage[d.system_id].append(d)
    for s in SharedEthernetAdapter.objects.filter(system_id__in=ids):
        seas[s.system_id].append(s)
    for f in FCPort.objects.filter(system_id__in=ids).order_by("name"):
        fcs[f.system_id].append(f)
    for slot in IOSlot.objects.filter(system_id__in=ids, partition__isnull=False).order_by("drc_name"):
        io[slot.partition_id].append(slot.drc_name)
    parts_of = defaultdict(list)
    for p in parts:
        parts_of[p.system_id].append(p)
    return [_system(s, parts_of[s.pk], adapters, storage[s.pk], seas[s.pk], fcs[s.pk], io) for s in systems]


def _system(s, parts, adapters, storage, seas, fcs, io) -> planning.ManagedSystem:
    vios = next((p for p in parts if p.env == PartitionEnv.VIOSERVER), None)
    vios_adapters = adapters[vios.pk] if vios else []
    slot_of_adapter = {a.pk: a.slot for a in vios_adapters}
    # Backing devices by the server adapter's slot: a client's vSCSI adapter points there (remote_slot).
    backing = defaultdict(list)
    for d in storage:
        slot = slot_of_adapter.get(d.server_adapter_id)
        if slot is not None and d.vtd_name:
            device = "" if d.kind == StorageDevice.Kind.VOPT and d.name == d.vtd_name else d.name
            backing[slot].append(planning.BackingDevice(d.kind, device, d.vtd_name, d.unique_id, d.reserve_policy))
    mp = planning.ManagementPartition(
        lpar_id=vios.lpar_id if vios else MANAGEMENT_LPAR_ID, name=vios.name if vios else "",
        max_virtual_slots=vios.max_virtual_slots if vios else 0,
        used_slots=tuple(sorted({a.slot for a in vios_adapters} | set(s.vios_used_slots))),
        vtd_names=tuple(sorted(d.vtd_name for d in storage if d.vtd_name)),
    )
    return planning.ManagedSystem(
        name=s.name, type_model=s.type_model, serial=s.serial, ivm_address=s.console.host,
        capabilities=tuple(s.capabilities), compat_modes=tuple(s.compat_modes),
        mem_region_size_mb=s.mem_region_size_mb, memory_installed_mb=s.memory_configurable_mb,
        memory_available_mb=s.memory_available_mb, proc_units_installed=float(s.proc_units_configurable),
        proc_units_available=float(s.proc_units_available),
        active_migrations_supported=s.active_migrations_supported,
        active_migrations_in_progress=s.active_migrations_in_progress,
        inactive_migrations_supported=s.inactive_migrations_supported,
        inactive_migrations_in_progress=s.inactive_migrations_in_progress,
        management_partition=mp,
        bridged_vlans=tuple(sorted({v for sea in seas for v in sea.vlans})),
        hdisks=tuple(planning.Hdisk(d.name, d.unique_id, d.reserve_policy)
                     for d in storage if d.kind == StorageDevice.Kind.HDISK),
        fc_ports=tuple(planning.FcPort(f.name, f.npiv_capable, f.available_ports) for f in fcs),
        partitions=tuple(_partition(p, adapters[p.pk], backing, io[p.pk]) for p in parts),
    )


def _partition(p: Partition, adapters, backing, io_slots) -> planning.Partition:
    clients = [a for a in adapters if a.role == AdapterRole.CLIENT]
    return planning.Partition(
        lpar_id=p.lpar_id, name=p.name, env=p.env, state=p.state, rmc_state=p.rmc_state,
        dlpar_mem_capable=p.dlpar_mem_capable, dlpar_proc_capable=p.dlpar_proc_capable,
        migration_state=p.migration_state, curr_compat_mode=p.curr_compat_mode,
        desired_compat_mode=p.desired_compat_mode, memory_mb=p.memory_mb, proc_units=float(p.proc_units),
        virtual_procs=p.procs, physical_io_slots=tuple(io_slots),
        ethernet_adapters=tuple(planning.EthernetAdapter(a.slot, a.port_vlan_id or 0, tuple(a.addl_vlan_ids))
                                for a in adapters if a.kind == AdapterKind.ETHERNET),
        scsi_adapters=tuple(planning.ScsiClientAdapter(a.slot, a.remote_slot or 0,
                                                       tuple(backing.get(a.remote_slot, ())))
                            for a in clients if a.kind == AdapterKind.SCSI),
        fc_adapters=tuple(planning.FcClientAdapter(a.slot, a.remote_slot or 0,
                                                   tuple((list(a.wwpns) + ["", ""])[:2]), a.fc_port)
                          for a in clients if a.kind == AdapterKind.FC),
        quarantine_reason=p.quarantine_reason,
    )


def load_system(system: ManagedSystem) -> planning.ManagedSystem:
    """One server with its non-vanished partitions."""
    system = ManagedSystem.objects.select_related("console").get(pk=system.pk)
    return _build([system])[0]


def load_partition(partition: Partition) -> planning.Partition:
    """One partition as planning sees it (its system is read with it, for the backing devices)."""
    snap = load_system(partition.system).partition_named(partition.name)
    if snap is None:
        raise Partition.DoesNotExist(f"{partition.name} is not a live partition of {partition.system.name}")
    return snap


def load_estate() -> list[planning.ManagedSystem]:
    """Every known server (of an enabled IVM) with its non-vanished partitions, in name order."""
    return _build(list(ManagedSystem.objects.filter(console__enabled=True).select_related("console")
                       .order_by("name")))
