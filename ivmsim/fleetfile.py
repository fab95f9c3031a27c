"""Read and validate a fleet file (TOML, see FLEET.md) into :mod:`ivmsim.model` objects.

Every error names the offending key by its path, e.g. ``system[1].lpar[3].memory_mb: expected an integer``.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim.faults import KINDS

_REQUIRED = object()
FAULT_KINDS = tuple(KINDS)  # one list: a kind added to faults.py can be declared in a fleet file too


class FleetError(ValueError):
    """The fleet file is not valid; the message names the key."""


@dataclass
class Fleet:
    systems: list[m.System]
    trust: list[tuple[str, str]] = field(default_factory=list)  # (from_ivm, to_ivm) key trust in place
    faults: list[dict] = field(default_factory=list)  # {"ivm": ..., "kind": ..., params}


class _Table:
    """A TOML table being consumed key by key, so leftovers can be reported as unknown."""

    def __init__(self, data, path: str):
        if not isinstance(data, dict):
            raise FleetError(f"{path}: expected a table")
        self.data, self.path, self.seen = data, path, set()

    def get(self, key, kind, default=_REQUIRED):
        where = f"{self.path}.{key}" if self.path else key
        self.seen.add(key)
        if key not in self.data:
            if default is _REQUIRED:
                raise FleetError(f"{where}: required key is missing")
            return default
        value = self.data[key]
        return _check(value, kind, where)

    def table(self, key, default=_REQUIRED):
        value = self.get(key, dict, default)
        return None if value is None else _Table(value, f"{self.path}.{key}" if self.path else key)

    def tables(self, key) -> list[_Table]:
        items = self.get(key, list, [])
        base = f"{self.path}.{key}" if self.path else key
        return [_Table(item, f"{base}[{i}]") for i, item in enumerate(items)]

    def done(self):
        extra = sorted(set(self.data) - self.seen)
        if extra:
            where = f"{self.path}.{extra[0]}" if self.path else extra[0]
            raise FleetError(f"{where}: unknown key")


def _check(value, kind, where):
    names = {int: "an integer", float: "a number", str: "a string", bool: "true or false", list: "an array",
             dict: "a table"}
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, bool):
        raise FleetError(f"{where}: expected {names[int]}")
    if isinstance(kind, tuple) and kind[0] == "list":
        if not isinstance(value, list):
            raise FleetError(f"{where}: expected an array")
        return [_check(v, kind[1], f"{where}[{i}]") for i, v in enumerate(value)]
    if isinstance(kind, tuple) and kind[0] == "choice":
        if value not in kind[1]:
            raise FleetError(f"{where}: {value!r} is not one of {', '.join(map(str, kind[1]))}")
        return value
    if not isinstance(value, kind):
        raise FleetError(f"{where}: expected {names.get(kind, kind)}")
    return value


def _positive(value, where):
    if value <= 0:
        raise FleetError(f"{where}: must be greater than zero")
    return value


def load_fleet(path: str | Path) -> Fleet:
    """Parse and validate a fleet file. Raises :class:`FleetError` naming the key at fault."""
    try:
        with open(path, "rb") as fh:
            raw = tomllib.load(fh)
    except OSError as exc:
        raise FleetError(f"cannot read fleet file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise FleetError(f"{path}: not valid TOML: {exc}") from None
    return parse_fleet(raw)


def parse_fleet(raw: dict) -> Fleet:
    top = _Table(raw, "")
    systems = [_system(t) for t in top.tables("system")]
    if not systems:
        raise FleetError("system: at least one [[system]] is required")
    _unique([s.name for s in systems], "system", "name")
    _unique([s.ivm for s in systems], "system", "ivm")
    ivms = [s.ivm for s in systems]
    trust_raw = top.get("trust", object, "none")
    trust = _trust(trust_raw, ivms)
    faults = []
    for ft in top.tables("fault"):
        faults.append(_fault(ft, ivms))
    top.done()
    return Fleet(systems=systems, trust=trust, faults=faults)


def _unique(values, path, key):
    seen = set()
    for i, v in enumerate(values):
        if v in seen:
            raise FleetError(f"{path}[{i}].{key}: duplicate value {v!r}")
        seen.add(v)


def _trust(value, ivms):
    if value == "all":
        return [(a, b) for a in ivms for b in ivms if a != b]
    if value == "none":
        return []
    if not isinstance(value, list):
        raise FleetError('trust: expected "all", "none" or an array of ["from-ivm", "to-ivm"] pairs')
    pairs = []
    for i, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(p in ivms for p in pair)):
            raise FleetError(f"trust[{i}]: expected a pair of IVM names from {', '.join(ivms)}")
        pairs.append((pair[0], pair[1]))
    return pairs


def _fault(t: _Table, ivms) -> dict:
    fault = {"ivm": t.get("ivm", ("choice", tuple(ivms))), "kind": t.get("kind", ("choice", FAULT_KINDS))}
    for key in list(t.data):
        if key not in ("ivm", "kind"):
            value = t.get(key, object)
            if not isinstance(value, str | int | float):
                raise FleetError(f"{t.path}.{key}: expected a string or a number")
            fault[key] = str(value)
    t.done()
    return fault


def _system(t: _Table) -> m.System:
    name = t.get("name", str)
    ivm = t.get("ivm", str)
    vt = t.table("vios", None) or _Table({}, f"{t.path}.vios")
    vios = _vios(vt, ivm)
    system = m.System(
        name=name, ivm=ivm,
        type_model=t.get("type_model", str), serial_num=t.get("serial", str),
        memory_mb=_positive(t.get("memory_mb", int), f"{t.path}.memory_mb"),
        proc_units=_positive(t.get("proc_units", float), f"{t.path}.proc_units"),
        firmware_mem_mb=t.get("firmware_memory_mb", int, 1024),
        mem_region_size=t.get("mem_region_size", ("choice", (16, 32, 64, 128, 256))),
        compat_modes=t.get("compat_modes", ("list", str), ["default", "POWER6", "POWER6+", "POWER7"]),
        capabilities=t.get("capabilities", ("list", str), list(ref.DEFAULT_CAPABILITIES)),
        max_active_migrations=t.get("max_active_migrations", int, ref.DEFAULT_MAX_ACTIVE_MIGRATIONS),
        max_inactive_migrations=t.get("max_inactive_migrations", int, ref.DEFAULT_MAX_INACTIVE_MIGRATIONS),
        msp_bandwidth_mb_s=_positive(t.get("msp_bandwidth_mb_s", float, ref.DEFAULT_MSP_BANDWIDTH_MB_S),
                                     f"{t.path}.msp_bandwidth_mb_s"),
        downtime_target_s=t.get("downtime_target_s", float, ref.DOWNTIME_TARGET_S),
        password=t.get("password", str, ""),
        authorized_keys=t.get("authorized_keys", ("list", str), []),
        vios=vios,
    )
    if "-" not in system.type_model:
        raise FleetError(f"{t.path}.type_model: expected tttt-mmm, e.g. 8205-E6C")
    for it in t.tables("io_slot"):  # physical slots no partition owns (lshwres -r io lists them as lpar_id=none)
        system.free_io_slots.append(_io_slot(it))
    for i, lt in enumerate(t.tables("lpar")):
        system.partitions.append(_lpar(lt, system))
        del i
    t.done()
    _unique([p.name for p in system.partitions] + [vios.name], f"{t.path}.lpar", "name")
    _unique([p.lpar_id for p in system.partitions], f"{t.path}.lpar", "id")
    _place_server_adapters(system, t.path)
    if system.free_memory_mb() < 0:
        raise FleetError(f"{t.path}.memory_mb: running partitions need more memory than the system has")
    return system


def _vios(t: _Table, ivm: str) -> m.Vios:
    vios = m.Vios(
        name=t.get("name", str, ivm),
        memory_mb=t.get("memory_mb", int, 4096),
        proc_units=t.get("proc_units", float, 0.5),
        procs=t.get("procs", int, 2),
        max_virtual_slots=t.get("max_virtual_slots", int, 200),
        rmc_state=t.get("rmc_state", ("choice", ref.RMC_STATES), "active"),
        logical_volumes=t.get("logical_volumes", ("list", str), []),
        os_version=t.get("os_version", str, "VIOS 2.2.6.10"),
    )
    for i, st in enumerate(t.tables("sea")):
        vlans = st.get("vlans", ("list", int), [])
        pvid = st.get("pvid", int, vlans[0] if vlans else 1)
        vios.seas.append(m.Sea(name=st.get("name", str), pvid=pvid, vlans=sorted(set([pvid, *vlans])),
                               real_adapter=st.get("real_adapter", str, "ent0"),
                               # trunk adapters sit in the reserved range unless the fleet says where
                               trunk_slot=st.get("trunk_slot", int, ref.RESERVED_VIOS_SLOTS - 1 - i)))
        st.done()
    _unique([sea.trunk_slot for sea in vios.seas], f"{t.path}.sea", "trunk_slot")
    for ht in t.tables("hdisk"):
        vios.hdisks.append(m.Hdisk(
            name=ht.get("name", str), unique_id=ht.get("unique_id", str),
            reserve_policy=ht.get("reserve_policy", ("choice", ("no_reserve", "single_path", "PR_exclusive",
                                                                   "PR_shared")), "no_reserve"),
            size_mb=ht.get("size_mb", int, 51200), pvid=ht.get("pvid", str, "none")))
        ht.done()
    for ft in t.tables("fc_port"):
        vios.fc_ports.append(m.FcPort(name=ft.get("name", str), fabric=ft.get("fabric", str, "A"),
                                      npiv_capable=ft.get("npiv", bool, True), wwpn=ft.get("wwpn", str, "")))
        ft.done()
    t.done()
    _unique([h.name for h in vios.hdisks], f"{t.path}.hdisk", "name")
    # Devices are listed in name order (hdisk2 before hdisk10), as lsdev does, whatever order the file has.
    vios.hdisks.sort(key=lambda d: m.natural_key(d.name))
    vios.fc_ports.sort(key=lambda f: m.natural_key(f.name))
    return vios


def _lpar(t: _Table, system: m.System) -> m.Partition:
    memory = _positive(t.get("memory_mb", int), f"{t.path}.memory_mb")
    units = _positive(t.get("proc_units", float, 0.5), f"{t.path}.proc_units")
    lpar_id = t.get("id", int)
    if not 2 <= lpar_id <= ref.MAX_LPARS:
        raise FleetError(f"{t.path}.id: must be between 2 and {ref.MAX_LPARS} (1 is the management partition)")
    state = t.get("state", ("choice", ref.FLEET_LPAR_STATES), ref.NOT_ACTIVATED)
    rmc = t.get("rmc_state", ("choice", ref.RMC_STATES), "active")
    p = m.Partition(
        name=t.get("name", str), lpar_id=lpar_id, state=state,
        rmc_state=rmc if state == ref.RUNNING else "inactive", rmc_when_running=rmc,
        lpar_env=t.get("env", ("choice", ("aixlinux", "os400")), "aixlinux"),
        os_version=t.get("os_version", str, "AIX 7.1 7100-05-06-2028"),
        memory_mb=memory, min_memory_mb=t.get("min_memory_mb", int, min(512, memory)),
        max_memory_mb=t.get("max_memory_mb", int, memory * 2),
        proc_units=units, min_proc_units=t.get("min_proc_units", float, 0.1),
        max_proc_units=t.get("max_proc_units", float, units * 2), procs=t.get("procs", int, 1),
        compat_mode=t.get("compat_mode", str, "default"),
        dlpar_mem_capable=t.get("dlpar_mem_capable", bool, True),
        dlpar_proc_capable=t.get("dlpar_proc_capable", bool, True),
        vopt_media=t.get("vopt_media", str, ""),
        max_virtual_slots=t.get("max_virtual_slots", int, 10),
        rmc_ipaddr=t.get("rmc_ipaddr", str, f"10.{lpar_id}.0.{len(system.partitions) + 10}"),
        curr_compat_mode=t.get("curr_compat_mode", str, ""),
    )
    if p.compat_mode not in system.compat_modes:
        raise FleetError(f"{t.path}.compat_mode: {p.compat_mode!r} is not in the system's compat_modes")
    if p.curr_compat_mode and p.curr_compat_mode not in system.compat_modes:
        raise FleetError(f"{t.path}.curr_compat_mode: {p.curr_compat_mode!r} is not in the system's compat_modes")
    if state == ref.RUNNING:  # a running partition has been up for a while (lssyscfg uptime, seconds)
        p.started_at = -float(t.get("uptime_s", int, ref.DEFAULT_UPTIME_S))
    else:
        t.get("uptime_s", int, 0)
    p.mac_base = _hex(t.get("mac_base", str, m.mac_base(system, lpar_id)), 12, f"{t.path}.mac_base")
    for et in t.tables("eth"):
        slot = et.get("slot", int)
        p.eth.append(m.EthAdapter(slot=slot, port_vlan_id=et.get("vlan", int),
                                  addl_vlan_ids=et.get("addl_vlans", ("list", int), []),
                                  ieee_virtual_eth=bool(et.get("addl_vlans", ("list", int), [])),
                                  mac_addr=_hex(et.get("mac", str, f"{p.mac_base[:-3]}{slot:03X}"), 12,
                                                f"{et.path}.mac")))
        et.done()
    for st in t.tables("scsi"):
        adapter = m.ScsiAdapter(slot=st.get("slot", int), server_slot=st.get("server_slot", int, 0),
                                vhost=st.get("vhost", str, ""))
        for i, disk in enumerate(st.get("disks", list)):
            where = f"{st.path}.disks[{i}]"
            if isinstance(disk, str):
                device, vtd = disk, ""
            elif isinstance(disk, dict):
                dt = _Table(disk, where)
                device, vtd = dt.get("device", str), dt.get("vtd", str, "")
                dt.done()
            else:
                raise FleetError(f"{where}: expected a device name or {{ device = ..., vtd = ... }}")
            if system.vios.hdisk(device) is None and device not in system.vios.logical_volumes:
                raise FleetError(f"{where}: {device!r} is neither an hdisk nor a logical volume of {system.ivm}")
            adapter.vtds.append(m.Vtd(name=vtd, backing=device, custom=bool(vtd)))
        p.scsi.append(adapter)
        st.done()
    for ft in t.tables("fc"):
        port = ft.get("port", str)
        if not any(fp.name == port for fp in system.vios.fc_ports):
            raise FleetError(f"{ft.path}.port: {port!r} is not an FC port of {system.ivm}")
        slot = ft.get("slot", int)
        base = f"c05076{system.serial_num[-4:].lower()}{lpar_id:02x}{slot:02x}"
        p.fc.append(m.FcAdapter(slot=slot, port=port, server_slot=ft.get("server_slot", int, 0),
                                wwpns=ft.get("wwpns", ("list", str), [base + "00", base + "01"]),
                                vfchost=ft.get("vfchost", str, "")))
        ft.done()
    for it in t.tables("io_slot"):
        p.io_slots.append(_io_slot(it))
    w = t.table("workload", None)
    if w is not None:
        p.workload = m.Workload(touched_mb=w.get("touched_mb", float), dirty_mb_s=w.get("dirty_mb_s", float, 0.0),
                                working_set_mb=w.get("working_set_mb", float, 0.0))
        w.done()
        if p.workload.touched_mb > memory:
            raise FleetError(f"{t.path}.workload.touched_mb: larger than the partition's memory_mb")
    else:
        p.workload = m.Workload(touched_mb=memory * 0.6, dirty_mb_s=10.0, working_set_mb=min(256.0, memory * 0.1))
    for adapters in (p.eth, p.scsi, p.fc):  # listed in slot order, as lshwres does
        adapters.sort(key=lambda a: a.slot)
    slots = [a.slot for a in p.eth] + [a.slot for a in p.scsi] + [a.slot for a in p.fc]
    if len(set(slots)) != len(slots):
        raise FleetError(f"{t.path}: two virtual adapters use the same client slot")
    t.done()
    return p


def _io_slot(t: _Table) -> m.IoSlot:
    slot = m.IoSlot(drc_name=t.get("drc_name", str), description=t.get("description", str, "PCI-E Adapter"),
                    drc_index=t.get("drc_index", str, "21010200"))
    if not re.fullmatch(r"U[0-9A-Za-z.]+-P\d+(-C\d+)+(-T\d+)?", slot.drc_name):
        raise FleetError(f"{t.path}.drc_name: expected a location code such as U78A0.001.06A1001-P1-C3")
    t.done()
    return slot


def _hex(value: str, digits: int, where: str) -> str:
    if not re.fullmatch(rf"[0-9A-Fa-f]{{{digits}}}", value):
        raise FleetError(f"{where}: expected {digits} hexadecimal digits")
    return value.upper()


def _place_server_adapters(system: m.System, path: str) -> None:
    """Give every client vSCSI/vFC adapter its vhost/vfchost, server slot and VTD names."""
    for p in system.partitions:
        for a in p.scsi + p.fc:
            if a.server_slot:
                if a.server_slot in _taken_slots(system, a) or a.server_slot >= system.vios.max_virtual_slots:
                    raise FleetError(f"{path}.lpar {p.name}: server_slot {a.server_slot} is not free")
    for p in system.partitions:
        for a in p.scsi:
            if not a.server_slot:
                a.server_slot = system.free_vios_slots()[0]
            a.vhost = a.vhost or f"vhost{system.next_device_index('vhost')}"  # a twin keeps the IVM's names
            for vtd in a.vtds:
                if not vtd.name:
                    vtd.name = f"vtscsi{system.next_device_index('vtscsi')}"
        for a in p.fc:
            if not a.server_slot:
                a.server_slot = system.free_vios_slots()[0]
            a.vfchost = a.vfchost or f"vfchost{system.next_device_index('vfchost')}"


def _taken_slots(system: m.System, adapter) -> set[int]:
    taken = set(range(ref.RESERVED_VIOS_SLOTS))
    for p in system.partitions:
        for a in p.scsi + p.fc:
            if a is not adapter and a.server_slot:
                taken.add(a.server_slot)
    return taken
