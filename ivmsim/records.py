"""Build the attribute records that lssyscfg / lshwres / lslparmigr print (orders in reference.py)."""

from __future__ import annotations

import time

from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim.formatting import Record, value


def _rec(attrs: tuple[str, ...], values: dict) -> Record:
    missing = [a for a in attrs if a not in values]
    assert not missing, missing
    return [(a, value(values[a])) for a in attrs]


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
        "uptime": int(sim_time - p.started_at) if (running and p.started_at is not None) else 0,
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
                "addl_vlan_ids": [v for v in sea.vlans if v != sea.pvid],
                "mac_addr": f"{p.mac_base[:-3]}{sea.trunk_slot:03X}"}))
        return out
    for a in p.eth:
        out.append(_rec(ref.ETH_ATTRS, {
            "lpar_name": p.name, "lpar_id": p.lpar_id, "slot_num": a.slot, "state": 1 if _active(p) else 0,
            "is_required": 0, "is_trunk": 0, "trunk_priority": None, "ieee_virtual_eth": a.ieee_virtual_eth,
            "port_vlan_id": a.port_vlan_id, "addl_vlan_ids": a.addl_vlan_ids, "mac_addr": a.mac_addr}))
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


def io_slot_records(s: m.System, p: m.Partition) -> list[Record]:
    unit = f"U78A0.001.{s.serial_num}"
    return [_rec(ref.IO_SLOT_ATTRS, {
        "unit_phys_loc": unit, "bus_id": 2 + i, "phys_loc": f"C{i + 1}", "drc_index": slot.drc_index,
        "drc_name": slot.drc_name, "lpar_name": p.name, "lpar_id": p.lpar_id, "slot_io_pool_id": "none",
        "description": slot.description, "feature_codes": "none", "pci_vendor_id": "1014", "pci_device_id": "034A"})
        for i, slot in enumerate(p.io_slots)]


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
