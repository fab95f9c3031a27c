"""The synced inventory (``mobility.models.inventory``) as an ivmsim fleet file (``ivmsim/FLEET.md``).

One ``[[system]]`` per managed system, with what the last sync read: the management partition (its SEAs and
the VLANs they bridge, FC ports, hdisks with their LUN ids and reserve policies, logical volumes), every
partition (state, memory, processors, compatibility modes, MAC base), its adapters in their slots (VLANs and
MACs, vSCSI disks and VTD names, vFC ports and WWPNs), physical I/O slots, the migration limits. ivmsim started
on it answers the inventory reads as those IVMs did at the last sync; what the inventory does not hold
(workloads, MSP bandwidth, partitions' memory minimum and maximum) takes ivmsim's defaults.

No secret of a real IVM goes into the file: each twin IVM gets a fresh random padmin password, and key trust
is declared between the twins only. ivmweb never imports ivmsim: the fleet file is the only contract.
"""

from __future__ import annotations

import json
import re
import secrets
from decimal import Decimal

from mobility.choices import AdapterKind, AdapterRole, PartitionEnv
from mobility.models import IOSlot, IVMConsole, ManagedSystem, Partition, StorageDevice, VirtualAdapter

MANAGEMENT_LPAR_ID = 1
# The partition states a fleet file may declare; a partition caught mid-migration or mid-boot is declared as
# the state it will settle in.
_FLEET_STATE = {"Running": "Running", "Not Activated": "Not Activated", "Open Firmware": "Open Firmware",
                "Error": "Error", "Starting": "Running", "Shutting Down": "Not Activated",
                "Migrating - Running": "Running", "Migrating - Not Activated": "Not Activated"}
_GENERATED_VTD = re.compile(r"vtscsi\d+")


class ExportError(ValueError):
    """The inventory cannot be written as a fleet (nothing synced, or a value ivmsim cannot hold)."""


def fleet_for(consoles=None) -> dict:
    """The fleet (a TOML-ready dict) of the given consoles' synced systems, or of every synced one."""
    qs = ManagedSystem.objects.select_related("console").order_by("console__name")
    if consoles is not None:
        qs = qs.filter(console__in=list(consoles))
    systems = [_system(s) for s in qs]
    if not systems:
        raise ExportError("no synced managed system to export")
    return {"trust": "all", "system": systems}


def _dec(value) -> float:
    return float(Decimal(value))


def _system(s: ManagedSystem) -> dict:
    parts = list(Partition.objects.filter(system=s, vanished_at__isnull=True).order_by("lpar_id"))
    vios = next((p for p in parts if p.lpar_id == MANAGEMENT_LPAR_ID), None)
    if vios is None:
        raise ExportError(f"{s.console.name}: the inventory holds no management partition")
    adapters = {}
    for a in VirtualAdapter.objects.filter(partition__in=parts).order_by("slot"):
        adapters.setdefault(a.partition_id, []).append(a)
    storage = sorted(StorageDevice.objects.filter(system=s), key=lambda d: _natural(d.name))
    clients = [p for p in parts if p.lpar_id != MANAGEMENT_LPAR_ID]
    running = [p for p in clients if _FLEET_STATE.get(p.state) == "Running"]
    used_mb = vios.memory_mb + sum(p.memory_mb for p in running)
    firmware_mb = s.memory_configurable_mb - s.memory_available_mb - used_mb
    if firmware_mb < 0:
        raise ExportError(f"{s.console.name}: memory figures do not add up (available > configurable - used)")
    system = {
        "name": s.name, "ivm": s.console.name, "type_model": s.type_model, "serial": s.serial,
        "memory_mb": s.memory_configurable_mb, "proc_units": _dec(s.proc_units_configurable),
        "mem_region_size": s.mem_region_size_mb, "firmware_memory_mb": firmware_mb,
        "compat_modes": list(s.compat_modes), "capabilities": list(s.capabilities),
        "max_active_migrations": s.active_migrations_supported,
        "max_inactive_migrations": s.inactive_migrations_supported,
        "password": secrets.token_urlsafe(18),
        "io_slot": [_io_slot(x) for x in IOSlot.objects.filter(system=s, partition__isnull=True).order_by("drc_name")],
        "vios": _vios(s, vios, adapters.get(vios.pk, []), storage),
        "lpar": [_lpar(p, adapters.get(p.pk, []), storage, vios) for p in clients],
    }
    if not system["io_slot"]:
        del system["io_slot"]
    return system


def _natural(name: str) -> list:
    return [int(x) if x.isdigit() else x for x in re.split(r"(\d+)", name)]


def _io_slot(slot: IOSlot) -> dict:
    return {"drc_name": slot.drc_name, "description": slot.description or "PCI-E Adapter"}


def _vios(s: ManagedSystem, vios: Partition, adapters: list[VirtualAdapter], storage: list[StorageDevice]) -> dict:
    trunks = [a for a in adapters if a.kind == AdapterKind.ETHERNET and a.is_trunk]
    seas = []
    for sea in s.seas.order_by("name"):
        trunk = next((t for t in trunks if t.port_vlan_id == sea.pvid), None)
        entry = {"name": sea.name, "pvid": sea.pvid, "vlans": list(sea.vlans)}
        if trunk is not None:
            entry["trunk_slot"] = trunk.slot
        seas.append(entry)
    return {
        "name": vios.name, "memory_mb": vios.memory_mb, "proc_units": _dec(vios.proc_units), "procs": vios.procs,
        "max_virtual_slots": vios.max_virtual_slots, "rmc_state": vios.rmc_state or "active",
        "os_version": vios.os_version,
        "logical_volumes": [d.name for d in storage if d.kind == StorageDevice.Kind.LV],
        "sea": seas,
        "fc_port": [{"name": f.name, "npiv": f.npiv_capable} for f in sorted(s.fc_ports.all(),
                                                                              key=lambda f: _natural(f.name))],
        "hdisk": [{"name": d.name, "unique_id": d.unique_id, "reserve_policy": d.reserve_policy}
                  for d in storage if d.kind == StorageDevice.Kind.HDISK],
    }


def _lpar(p: Partition, adapters: list[VirtualAdapter], storage: list[StorageDevice], vios: Partition) -> dict:
    state = _FLEET_STATE.get(p.state)
    if state is None:
        raise ExportError(f"{p}: state {p.state!r} cannot be declared in a fleet file")
    out = {"name": p.name, "id": p.lpar_id, "state": state, "env": p.env if p.env != PartitionEnv.VIOSERVER
           else "aixlinux", "memory_mb": p.memory_mb, "proc_units": _dec(p.proc_units), "procs": p.procs,
           "compat_mode": p.desired_compat_mode or "default", "dlpar_mem_capable": p.dlpar_mem_capable,
           "dlpar_proc_capable": p.dlpar_proc_capable, "max_virtual_slots": p.max_virtual_slots}
    if state == "Running":
        out["rmc_state"] = p.rmc_state or "none"
        out["os_version"] = p.os_version
        if p.curr_compat_mode:
            out["curr_compat_mode"] = p.curr_compat_mode
    if p.mac_base:
        out["mac_base"] = p.mac_base
    eth, scsi, fc = [], [], []
    vios_adapters = {a.slot: a for a in VirtualAdapter.objects.filter(partition=vios)}
    for a in adapters:
        if a.kind == AdapterKind.ETHERNET:
            item = {"slot": a.slot, "vlan": a.port_vlan_id, "addl_vlans": list(a.addl_vlan_ids)}
            if a.mac_addr:
                item["mac"] = a.mac_addr
            eth.append(item)
        elif a.kind == AdapterKind.SCSI and a.role == AdapterRole.CLIENT:
            server = vios_adapters.get(a.remote_slot)
            disks = [{"device": d.name, "vtd": d.vtd_name} if d.vtd_name and not _GENERATED_VTD.fullmatch(d.vtd_name)
                     else d.name for d in storage if server is not None and d.server_adapter_id == server.pk]
            item = {"slot": a.slot, "disks": disks}
            if a.remote_slot:
                item["server_slot"] = a.remote_slot
            if server is not None and server.device_name:
                item["vhost"] = server.device_name
            scsi.append(item)
        elif a.kind == AdapterKind.FC and a.role == AdapterRole.CLIENT:
            server = vios_adapters.get(a.remote_slot)
            item = {"slot": a.slot, "port": a.fc_port, "wwpns": list(a.wwpns)}
            if a.remote_slot:
                item["server_slot"] = a.remote_slot
            if server is not None and server.device_name:
                item["vfchost"] = server.device_name
            fc.append(item)
    for key, items in (("eth", eth), ("scsi", scsi), ("fc", fc)):
        if items:
            out[key] = items
    slots = [_io_slot(x) for x in p.io_slots.order_by("drc_name")]
    if slots:
        out["io_slot"] = slots
    return out


# --- TOML -----------------------------------------------------------------------------------------------------


def to_toml(fleet: dict) -> str:
    """Write the fleet dict as TOML (the subset fleet files use: tables, arrays of tables, inline tables)."""
    lines = ["# ivmsim fleet: a twin of the synced inventory, written by manage.py export_fleet", ""]
    for key, value in fleet.items():
        if key != "system":
            lines.append(f"{key} = {_value(value)}")
    for system in fleet["system"]:
        lines += ["", "[[system]]"]
        lines += [f"{k} = {_value(v)}" for k, v in system.items() if k not in ("vios", "lpar")]
        lines += ["", "[system.vios]"]
        lines += [f"{k} = {_value(v)}" for k, v in system["vios"].items()]
        for lpar in system["lpar"]:
            lines += ["", "[[system.lpar]]"]
            lines += [f"{k} = {_value(v)}" for k, v in lpar.items()]
    return "\n".join(lines) + "\n"


def _value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_value(x)}" for k, x in v.items()) + " }"
    raise ExportError(f"cannot write {type(v).__name__} into a fleet file")


def consoles_named(names) -> list[IVMConsole]:
    """The consoles of these names; an unknown name is an error naming it."""
    found = {c.name: c for c in IVMConsole.objects.filter(name__in=list(names))}
    missing = [n for n in names if n not in found]
    if missing:
        raise ExportError(f"no IVM console named {', '.join(missing)}")
    return [found[n] for n in names]
