"""Build the attribute records that lssyscfg / lshwres / lslparmigr print (orders in reference.py)."""

from __future__ import annotations

import time

from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim.formatting import Record, value

_OMIT = object()  # an attribute this record does not print at all (not even empty)


def _rec(attrs: tuple[str, ...], values: dict) -> Record:
    missing = [a for a in attrs if a not in values]
    assert not missing, missing
    return [(a, value(values[a])) for a in attrs if values[a] is not _OMIT]


def system_record(s: m.System) -> Record:
    return _rec(ref.SYS_ATTRS, {
        "name": s.name, "type_model": s.type_model, "serial_num": s.serial_num, "ipaddr": s.address,
        "state": ref.SYSTEM_STATE, "sys_time": time.strftime("%m/%d/%Y %H:%M:%S"), "power_off_policy": 1,
        "active_lpar_mobility_capable": "active_lpar_mobility_capable" in s.capabilities,
        "inactive_lpar_mobility_capable": "inactive_lpar_mobility_capable" in s.capabilities,
        "capabilities": s.capabilities, "lpar_proc_compat_modes": s.compat_modes, "max_lpars": ref.MAX_LPARS,
        "max_power_ctrl_lpars": 1, "service_lpar_id": ref.MANAGEMENT_LPAR_ID, "service_lpar_name": s.vios.name,
        "mfg_default_config": 0,
    })


def _active(p: m.Partition) -> bool:
    return p.consumes_resources and p.state != ref.NOT_ACTIVATED


def current_compat_mode(s: m.System, p: m.Partition) -> str:
    """The mode the partition runs in: its desired mode, or for ``default`` the newest mode the system has
    (desired=default, curr=POWER7 on a POWER7 server); a partition that is not running has ``default``."""
    if p.curr_compat_mode:
        return p.curr_compat_mode
    if not _active(p):
        return "default"
    if p.compat_mode != "default":
        return p.compat_mode
    power = [c for c in s.compat_modes if c.startswith("POWER") and not c.endswith("+")]
    return power[-1] if power else "default"


def lpar_record(s: m.System, p: m.Partition, sim_time: float) -> Record:
    running = p.state in (ref.RUNNING, ref.MIGRATING_RUNNING)
    return _rec(ref.LPAR_ATTRS, {
        "name": p.name, "lpar_id": p.lpar_id, "lpar_env": p.lpar_env, "state": p.state, "resource_config": 1,
        "os_version": p.os_version if running or p.is_vios else "Unknown",
        "logical_serial_num": f"{s.serial_num}{p.lpar_id}", "default_profile": p.name, "curr_profile": p.name,
        "work_group_id": "none", "shared_proc_pool_util_auth": 0, "allow_perf_collection": 0,
        "power_ctrl_lpar_ids": "none", "boot_mode": "norm", "lpar_keylock": "norm", "auto_start": 0,
        "redundant_err_path_reporting": 0, "rmc_state": p.rmc_state,
        "rmc_ipaddr": p.rmc_ipaddr if p.rmc_state == "active" else "",
        "uptime": max(0, int(sim_time - p.started_at)) if (running and p.started_at is not None) else 0,
        "dlpar_mem_capable": p.dlpar_mem_capable and p.rmc_state == "active",
        "dlpar_proc_capable": p.dlpar_proc_capable and p.rmc_state == "active",
        "desired_lpar_proc_compat_mode": p.compat_mode, "curr_lpar_proc_compat_mode": current_compat_mode(s, p),
        "virtual_eth_mac_base_value": p.mac_base, "msp": 1 if p.is_vios else 0,
    })


def mem_sys_record(s: m.System) -> Record:
    free = s.free_memory_mb()
    return _rec(ref.MEM_SYS_ATTRS, {
        "configurable_sys_mem": s.memory_mb, "curr_avail_sys_mem": free, "pend_avail_sys_mem": free,
        "installed_sys_mem": s.memory_mb, "deconfig_sys_mem": 0, "sys_firmware_mem": s.firmware_mem_mb,
        "mem_region_size": s.mem_region_size, "configurable_num_sys_huge_pages": 0,
        "curr_avail_num_sys_huge_pages": 0, "pend_avail_num_sys_huge_pages": 0, "max_num_sys_huge_pages": 0,
        "requested_num_sys_huge_pages": 0, "huge_page_size": 16384, "max_mem_pools": 0,
        "default_hpt_ratios": "1:64", "possible_hpt_ratios": ["1:32", "1:64", "1:128", "1:256", "1:512"],
    })


def mem_lpar_record(p: m.Partition) -> Record:
    on = _active(p)
    return _rec(ref.MEM_LPAR_ATTRS, {
        "lpar_name": p.name, "lpar_id": p.lpar_id,
        "curr_min_mem": p.min_memory_mb if on else 0, "curr_mem": p.memory_mb if on else 0,
        "curr_max_mem": p.max_memory_mb if on else 0, "pend_min_mem": p.min_memory_mb, "pend_mem": p.memory_mb,
        "pend_max_mem": p.max_memory_mb, "run_min_mem": p.min_memory_mb if on else 0,
        "run_mem": p.memory_mb if on else 0, "mem_mode": "ded", "curr_hpt_ratio": "1:64",
    })


def proc_sys_record(s: m.System) -> Record:
    free = s.free_proc_units()
    return _rec(ref.PROC_SYS_ATTRS, {
        "configurable_sys_proc_units": s.proc_units, "curr_avail_sys_proc_units": free,
        "pend_avail_sys_proc_units": free, "installed_sys_proc_units": s.proc_units, "deconfig_sys_proc_units": 0,
        "min_proc_units_per_virtual_proc": 0.05, "max_virtual_procs_per_lpar": 64,
        "max_procs_per_lpar": int(s.proc_units), "max_curr_virtual_procs_per_aixlinux_lpar": 64,
        "max_curr_virtual_procs_per_vios_lpar": 64, "max_curr_procs_per_aixlinux_lpar": int(s.proc_units),
        "max_curr_procs_per_vios_lpar": int(s.proc_units), "max_shared_proc_pools": 1,
    })


def proc_lpar_record(p: m.Partition) -> Record:
    on = _active(p)
    return _rec(ref.PROC_LPAR_ATTRS, {
        "lpar_name": p.name, "lpar_id": p.lpar_id, "curr_shared_proc_pool_id": 0, "curr_proc_mode": "shared",
        "curr_min_proc_units": p.min_proc_units if on else 0, "curr_proc_units": p.proc_units if on else 0,
        "curr_max_proc_units": (p.max_proc_units or p.proc_units) if on else 0,
        "curr_min_procs": 1 if on else 0, "curr_procs": p.procs if on else 0,
        "curr_max_procs": max(p.procs, 2) if on else 0, "curr_sharing_mode": "uncap" if on else "cap",
        "curr_uncap_weight": 128 if on else 0, "pend_proc_units": p.proc_units, "pend_procs": p.procs,
        "run_proc_units": p.proc_units if on else 0, "run_procs": p.procs if on else 0,
        "run_uncap_weight": 128 if on else 0,
    })


def eth_records(s: m.System, p: m.Partition) -> list[Record]:
    out = []
    if p.is_vios:
        for sea in s.vios.seas:
            out.append(_rec(ref.ETH_ATTRS, {
                "lpar_name": p.name, "lpar_id": p.lpar_id, "slot_num": sea.trunk_slot, "state": 1, "is_required": 0,
                "is_trunk": 1, "trunk_priority": 1, "ieee_virtual_eth": 1, "port_vlan_id": sea.pvid,
                "vswitch": ref.DEFAULT_VSWITCH, "addl_vlan_ids": [v for v in sea.vlans if v != sea.pvid],
                "mac_addr": f"{p.mac_base[:-3]}{sea.trunk_slot:03X}", "allowed_os_mac_addrs": "all",
                "qos_priority": "none"}))
        return out
    for a in p.eth:
        out.append(_rec(ref.ETH_ATTRS, {
            "lpar_name": p.name, "lpar_id": p.lpar_id, "slot_num": a.slot, "state": 1 if _active(p) else 0,
            "is_required": 0, "is_trunk": 0, "trunk_priority": _OMIT, "ieee_virtual_eth": a.ieee_virtual_eth,
            "port_vlan_id": a.port_vlan_id, "vswitch": ref.DEFAULT_VSWITCH, "addl_vlan_ids": a.addl_vlan_ids,
            "mac_addr": a.mac_addr, "allowed_os_mac_addrs": "all", "qos_priority": "none"}))
    return out


def scsi_fc_records(s: m.System, p: m.Partition, kind: str) -> list[Record]:
    """Client adapters for a client partition; server adapters (one per client adapter) for the VIOS."""
    attrs = ref.SCSI_ATTRS if kind == "scsi" else ref.FC_ATTRS
    out = []
    if p.is_vios:
        pairs = [(c, a) for c in s.partitions for a in (c.scsi if kind == "scsi" else c.fc)]
        for c, a in sorted(pairs, key=lambda x: x[1].server_slot):
            values = {"lpar_name": p.name, "lpar_id": p.lpar_id, "slot_num": a.server_slot, "state": 1,
                      "is_required": 0, "adapter_type": "server", "remote_lpar_id": c.lpar_id,
                      "remote_lpar_name": c.name, "remote_slot_num": a.slot}
            if kind == "fc":
                values["wwpns"] = None
            out.append(_rec(attrs, values))
        return out
    for a in p.scsi if kind == "scsi" else p.fc:
        values = {"lpar_name": p.name, "lpar_id": p.lpar_id, "slot_num": a.slot, "state": 1 if _active(p) else 0,
                  "is_required": 0, "adapter_type": "client", "remote_lpar_id": ref.MANAGEMENT_LPAR_ID,
                  "remote_lpar_name": s.vios.name, "remote_slot_num": a.server_slot}
        if kind == "fc":
            values["wwpns"] = a.wwpns
        out.append(_rec(attrs, values))
    return out


def slot_lpar_record(s: m.System, p: m.Partition) -> Record:
    used = slot_usage(s, p)
    free = next(i for i in range(2, p.max_virtual_slots + 1) if i not in used)
    return _rec(ref.SLOT_LPAR_ATTRS, {"lpar_name": p.name, "lpar_id": p.lpar_id,
                                      "curr_max_virtual_slots": p.max_virtual_slots,
                                      "pend_max_virtual_slots": p.max_virtual_slots,
                                      "next_avail_virtual_slot": free})


def slot_usage(s: m.System, p: m.Partition) -> dict[int, str]:
    """Virtual slot -> config (serial, scsi, eth, fc, reserved) as ``--level slot`` lists them."""
    used = {0: "serial", 1: "serial"}
    if p.is_vios:
        for i in range(2, ref.RESERVED_VIOS_SLOTS):
            used[i] = "reserved"
        for sea in s.vios.seas:
            used[sea.trunk_slot] = "eth"
        for c in s.partitions:
            used.update({a.server_slot: "scsi" for a in c.scsi})
            used.update({a.server_slot: "fc" for a in c.fc})
    else:
        used.update({a.slot: "eth" for a in p.eth})
        used.update({a.slot: "scsi" for a in p.scsi})
        used.update({a.slot: "fc" for a in p.fc})
    return dict(sorted(used.items()))


def slot_slot_records(s: m.System, p: m.Partition) -> list[Record]:
    return [_rec(ref.SLOT_SLOT_ATTRS, {"slot_num": n, "config": c, "state": 1, "lpar_name": p.name,
                                       "lpar_id": p.lpar_id})
            for n, c in slot_usage(s, p).items()]


def io_slot_records(s: m.System, partitions: list[m.Partition], with_free: bool) -> list[Record]:
    """Every physical slot of the system, in location order: those of ``partitions``, and the free ones
    (``lpar_name``/``lpar_id`` none) when ``with_free`` (real output lists all slots, HMC lshwres man page).
    ``unit_phys_loc`` and ``phys_loc`` are the two halves of ``drc_name`` (``U78A0.001.X`` + ``-P1-C3``)."""
    rows = [(slot, p) for p in partitions for slot in p.io_slots]
    if with_free:
        rows += [(slot, None) for slot in s.free_io_slots]
    out = []
    for i, (slot, p) in enumerate(sorted(rows, key=lambda r: r[0].drc_name)):
        unit, _, loc = slot.drc_name.partition("-")
        out.append(_rec(ref.IO_SLOT_ATTRS, {
            "unit_phys_loc": unit, "bus_id": 2 + i, "phys_loc": loc, "drc_index": slot.drc_index,
            "drc_name": slot.drc_name, "lpar_name": p.name if p else "none", "lpar_id": p.lpar_id if p else "none",
            "slot_io_pool_id": "none", "description": slot.description, "feature_codes": "none",
            "pci_vendor_id": "1014", "pci_device_id": "034A"}))
    return out


def migration_lpar_record(world, s: m.System, p: m.Partition) -> Record:
    mig = world.migrations.get(p.migration_id) if p.migration_id else None
    if mig is None:
        values = dict.fromkeys(ref.MIGR_LPAR_ATTRS)
        values.update(name=p.name, lpar_id=p.lpar_id, migration_state=ref.NOT_MIGRATING)
        return _rec(ref.MIGR_LPAR_ATTRS, values)
    src, dst = world.systems[mig.source_ivm], world.systems[mig.dest_ivm]
    return _rec(ref.MIGR_LPAR_ATTRS, {
        "name": p.name, "lpar_id": p.lpar_id, "migration_state": mig.migration_state,
        "migration_type": mig.migration_type, "source_sys_name": src.name, "dest_sys_name": dst.name,
        "dest_lpar_id": mig.dest_lpar_id, "source_msp_name": src.vios.name,
        "source_msp_id": ref.MANAGEMENT_LPAR_ID, "dest_msp_name": dst.vios.name,
        "dest_msp_id": ref.MANAGEMENT_LPAR_ID, "bytes_transmitted": mig.bytes_transmitted,
        "bytes_remaining": mig.bytes_remaining, "remaining_time": mig.remaining_time})


def migration_sys_record(world, s: m.System) -> Record:
    return _rec(ref.MIGR_SYS_ATTRS, {
        "inactive_lpar_mobility_capable": "inactive_lpar_mobility_capable" in s.capabilities,
        "num_inactive_migrations_supported": s.max_inactive_migrations,
        "num_inactive_migrations_in_progress": world.migrations_in_progress(s.ivm, "inactive"),
        "active_lpar_mobility_capable": "active_lpar_mobility_capable" in s.capabilities,
        "num_active_migrations_supported": s.max_active_migrations,
        "num_active_migrations_in_progress": world.migrations_in_progress(s.ivm, "active"),
    })


def prof_record(s: m.System, p: m.Partition) -> Record:
    """The partition's profile (IVM keeps one per partition, named after it): ``lssyscfg -r prof``.

    Adapter lists use the profile item grammars of ivm-cli.md §4.3: vSCSI
    ``slot/client|server/remote_lpar_id/remote_lpar_name/remote_slot/is_required``, Ethernet
    ``slot/ieee_virtual_eth/port_vlan_id/addl_vlan_ids/is_trunk/is_required`` (VLAN list items with commas are
    written with doubled quotes by ``value``), vFC ``slot/client|server/remote_lpar_id/remote_lpar_name/remote_slot/
    wwpns/is_required`` [R vFC order].
    """
    vios = s.vios.name
    if p.is_vios:
        scsi = [f"{a.server_slot}/server/{c.lpar_id}/{c.name}/{a.slot}/0"
                for c in s.partitions for a in c.scsi]
        fc = [f"{a.server_slot}/server/{c.lpar_id}/{c.name}/{a.slot}//0" for c in s.partitions for a in c.fc]
        eth = [f"{sea.trunk_slot}/1/{sea.pvid}/{','.join(str(v) for v in sea.vlans if v != sea.pvid)}/1/0"
               for sea in s.vios.seas]
    else:
        scsi = [f"{a.slot}/client/{ref.MANAGEMENT_LPAR_ID}/{vios}/{a.server_slot}/1" for a in p.scsi]
        fc = [f"{a.slot}/client/{ref.MANAGEMENT_LPAR_ID}/{vios}/{a.server_slot}/{','.join(a.wwpns)}/1" for a in p.fc]
        eth = [f"{a.slot}/{int(a.ieee_virtual_eth)}/{a.port_vlan_id}/{','.join(map(str, a.addl_vlan_ids))}/0/0"
               for a in p.eth]
    return _rec(ref.PROF_ATTRS, {
        "name": p.name, "lpar_name": p.name, "lpar_id": p.lpar_id, "lpar_env": p.lpar_env, "all_resources": 0,
        "min_mem": p.min_memory_mb, "desired_mem": p.memory_mb, "max_mem": p.max_memory_mb or p.memory_mb,
        "proc_mode": "shared", "min_proc_units": p.min_proc_units, "desired_proc_units": p.proc_units,
        "max_proc_units": p.max_proc_units or p.proc_units, "min_procs": 1, "desired_procs": p.procs,
        "max_procs": max(p.procs, 2), "sharing_mode": "uncap", "uncap_weight": 128,
        "io_slots": [f"{x.drc_index}//1" for x in p.io_slots] or "none", "lpar_io_pool_ids": "none",
        "max_virtual_slots": p.max_virtual_slots, "virtual_serial_adapters": ["0/server/1/any//any/1",
                                                                              "1/server/1/any//any/1"],
        "virtual_scsi_adapters": scsi or "none", "virtual_eth_adapters": eth or "none",
        "virtual_fc_adapters": fc or "none", "hca_adapters": "none", "boot_mode": "norm", "conn_monitoring": 0,
        "auto_start": 0, "power_ctrl_lpar_ids": "none", "work_group_id": "none", "redundant_err_path_reporting": 0,
    })
