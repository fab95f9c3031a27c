"""Inventory sync: read one IVM over SSH and make the database say exactly what it printed.

Three phases per IVM, so that a failure never leaves half an inventory:

1. fetch (no database): the independent listings go in two batched shell lines run concurrently on the
   pooled client (``IVMClient.run_batch``), then the per-device reads (``lsdev -dev X -attr``) that need the
   device lists, batched the same way. Every read is retry-safe: a connection dropped mid-sync is
   reconnected and the batch re-run by ``IVMClient``.
2. parse (no database): every output goes through ``mobility.ivm``'s parsers into plain dicts. A line that
   does not parse raises ``SyncFailed`` naming the command and the line. A partition or adapter whose values
   parse but break IVM's rules (a name with ``'``, ``<`` or ``é``, a VLAN out of range) is quarantined instead:
   stored with ``quarantine_reason`` (the bad value as printed, or empty when it is a value for commands), never
   planned; the rest of the IVM syncs.
3. apply, in ONE transaction: compare with the stored rows and write only what differs (bulk_create /
   bulk_update / delete), so that a re-sync with nothing changed writes no inventory row at all. Vanished
   partitions are marked (``vanished_at``), never deleted; partition ownership (``team``) is never touched.
   When the parsed inventory has the digest of the last one applied, even the comparison is skipped.

The console's ``last_sync_*`` fields and the ``ivm.command`` audit events are written afterwards, in their
own short transactions, whether the sync worked or not.
"""

from __future__ import annotations

import contextvars
import hashlib
import logging
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connections, transaction
from django.db.models import Q
from django.utils import timezone

from mobility.choices import AdapterKind, AdapterRole, PartitionEnv
from mobility.connections import (
    client_for,
    collect_commands,
    discard_client,
    write_command_events,
)
from mobility.ivm import (
    AuthenticationFailed,
    Command,
    ConnectionFailed,
    HostKeyMismatch,
    HostKeyUnknown,
    InvalidValue,
    IVMError,
    OutputNotUnderstood,
    commands,
    parse,
)
from mobility.ivm import values as ivm_values
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

logger = logging.getLogger("mobility.inventory")

MANAGEMENT_LPAR_ID = 1
NOT_ACTIVATED = "Not Activated"

# --- the reads -----------------------------------------------------------------------------------------

SYS_FIELDS = ("name", "type_model", "serial_num", "state", "capabilities", "lpar_proc_compat_modes")
MEM_SYS_FIELDS = ("configurable_sys_mem", "curr_avail_sys_mem", "installed_sys_mem", "mem_region_size")
PROC_SYS_FIELDS = ("configurable_sys_proc_units", "curr_avail_sys_proc_units", "installed_sys_proc_units")
MIGR_SYS_FIELDS = ("num_active_migrations_supported", "num_active_migrations_in_progress",
                   "num_inactive_migrations_supported", "num_inactive_migrations_in_progress")
LPAR_FIELDS = ("name", "lpar_id", "lpar_env", "state", "rmc_state", "os_version", "dlpar_mem_capable",
               "dlpar_proc_capable", "curr_lpar_proc_compat_mode", "desired_lpar_proc_compat_mode",
               "virtual_eth_mac_base_value")
MEM_LPAR_FIELDS = ("lpar_id", "curr_mem", "pend_mem")
PROC_LPAR_FIELDS = ("lpar_id", "curr_proc_mode", "curr_proc_units", "curr_procs", "pend_proc_units", "pend_procs")
MIGR_LPAR_FIELDS = ("lpar_id", "migration_state")
ETH_FIELDS = ("lpar_id", "slot_num", "is_required", "is_trunk", "port_vlan_id", "addl_vlan_ids", "mac_addr")
SCSI_FIELDS = ("lpar_id", "slot_num", "is_required", "adapter_type", "remote_lpar_id", "remote_lpar_name",
               "remote_slot_num")
FC_FIELDS = SCSI_FIELDS + ("wwpns",)
SLOT_LPAR_FIELDS = ("lpar_id", "curr_max_virtual_slots")
IO_FIELDS = ("drc_name", "description", "lpar_id")


def inventory_commands() -> dict[str, Command]:
    """The reads that do not depend on each other (ivm-cli.md §4), by a short key."""
    c = commands
    return {
        "sys": c.lssyscfg("sys", fields=SYS_FIELDS),
        "mem_sys": c.lshwres("mem", level="sys", fields=MEM_SYS_FIELDS),
        "proc_sys": c.lshwres("proc", level="sys", fields=PROC_SYS_FIELDS),
        "migr_sys": c.lslparmigr("sys", fields=MIGR_SYS_FIELDS),
        "lpar": c.lssyscfg("lpar", fields=LPAR_FIELDS),
        "mem_lpar": c.lshwres("mem", level="lpar", fields=MEM_LPAR_FIELDS),
        "proc_lpar": c.lshwres("proc", level="lpar", fields=PROC_LPAR_FIELDS),
        "migr_lpar": c.lslparmigr("lpar", fields=MIGR_LPAR_FIELDS),
        "eth": c.lshwres("virtualio", rsubtype="eth", level="lpar", fields=ETH_FIELDS),
        "scsi": c.lshwres("virtualio", rsubtype="scsi", level="lpar", fields=SCSI_FIELDS),
        "fc": c.lshwres("virtualio", rsubtype="fc", level="lpar", fields=FC_FIELDS),
        "slot_lpar": c.lshwres("virtualio", rsubtype="slot", level="lpar", fields=SLOT_LPAR_FIELDS),
        "slot_vios": c.lshwres("virtualio", rsubtype="slot", level="slot", lpar_ids=MANAGEMENT_LPAR_ID,
                               fields=("slot_num", "config")),
        "io": c.lshwres("io", rsubtype="slot", fields=IO_FIELDS),
        "lsmap": c.lsmap_all(fields=("svsa", "physloc", "clientid", "vtd", "backing")),
        "npiv": c.lsmap_all(npiv=True, fields=("name", "physloc", "clntid", "fc")),
        "disks": Command(("ioscli", "lsdev", "-type", "disk"), kind="lsdev_table"),  # constant argv
        "adapters": Command(("ioscli", "lsdev", "-type", "adapter"), kind="lsdev_table"),
        "seas": c.lsdev_sea(),
        "nports": c.lsnports(),
    }


class SyncFailed(Exception):
    """The sync of one IVM could not complete; the message is what the console's last_sync_error shows."""


@dataclass
class SyncResult:
    """What one IVM's sync did. ``rows_written`` counts inventory rows only (not the console's status)."""

    console: IVMConsole
    ok: bool
    error: str = ""
    created: int = 0
    updated: int = 0
    deleted: int = 0
    vanished: int = 0
    unchanged: int = 0
    rows_written: int = 0
    duration_s: float = 0.0
    commands: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    shared: bool = False  # sync_since found a sync that began late enough and ran none of its own
    quarantined: dict[str, str] = field(default_factory=dict)  # partition name -> why its values break IVM's rules

    def summary(self) -> str:
        if not self.ok:
            return f"{self.console.name}: FAILED in {self.duration_s:.2f}s: {self.error}"
        seen = ", ".join(f"{v} {k}" for k, v in self.counts.items())
        return (f"{self.console.name}: ok in {self.duration_s:.2f}s ({self.commands} commands); {seen}; "
                f"created {self.created}, updated {self.updated}, deleted {self.deleted}, "
                f"vanished {self.vanished}, unchanged {self.unchanged}"
                + "".join(f"; QUARANTINED {name!r}: {why}" for name, why in self.quarantined.items()))


# --- phase 1: fetch ---------------------------------------------------------------------------------------


def run_reads(client, cmds: dict[str, Command], batches: int = 2) -> dict[str, str]:
    """Run independent read-only commands; stdout by key.

    They go in ``batches`` shell lines (``IVMClient.run_batch``: one exec channel each) run concurrently,
    instead of one channel per command: the SSH round trip per channel is most of what a listing costs.
    """
    if not cmds:
        return {}
    keys = list(cmds)
    groups = [keys[i::batches] for i in range(min(batches, len(keys)))]
    if len(groups) == 1:
        return {k: r.stdout for k, r in zip(keys, client.run_batch([cmds[k] for k in keys]), strict=True)}
    with ThreadPoolExecutor(max_workers=len(groups), thread_name_prefix="ivm-read") as pool:
        # copy_context: the worker threads must append to the caller's command collector.
        futures = [pool.submit(contextvars.copy_context().run, client.run_batch, [cmds[k] for k in group])
                   for group in groups]
        return {k: r.stdout for group, f in zip(groups, futures, strict=True)
                for k, r in zip(group, f.result(), strict=True)}


# Characters no IVM listing contains: control characters (other than tab and line ends) and the replacement
# character left by undecodable bytes. A line carrying one is garbled, whatever the parser would make of it.
_GARBLED = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


def _parsed(cmd: Command, stdout: str):
    for no, line in enumerate(stdout.split("\n"), start=1):
        if _GARBLED.search(line):
            raise SyncFailed(f"{cmd.redacted()}: IVM output not understood (line {no}): "
                             f"garbled characters: {line!r}")
    try:
        return cmd.parse_output(stdout)
    except OutputNotUnderstood as exc:
        raise SyncFailed(f"{cmd.redacted()}: {exc}") from exc


def _attribute_table(cmd: Command, stdout: str) -> dict[str, str]:
    """Parse ``lsdev -dev X -attr`` (every attribute in one read, instead of one read per attribute).

    The table's columns are aligned under the header ``attribute value description user_settable``, so
    values are cut at the header's column positions (a value may be empty; a description has spaces).
    Not in ivm-cli.md beyond "lists the attributes" [R]: anything else is refused, naming the line.
    """
    _parsed(cmd, stdout)  # the garbled-character guard
    lines = stdout.splitlines()
    head_no = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    head = lines[head_no] if head_no is not None else ""
    if head.split() != ["attribute", "value", "description", "user_settable"]:
        raise SyncFailed(f"{cmd.redacted()}: IVM output not understood (line {(head_no or 0) + 1}): "
                         f"expected the header 'attribute value description user_settable': {head!r}")
    value_col, desc_col = head.index("value"), head.index("description")
    table = {}
    for no, line in enumerate(lines[head_no + 1:], start=head_no + 2):
        if not line.strip():
            continue
        name, value, rest = line[:value_col].strip(), line[value_col:desc_col].strip(), line[desc_col:].split()
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) or not rest or rest[-1] not in ("True", "False") \
                or line[value_col - 1] != " " or (line[desc_col - 1:desc_col] not in (" ", "")):
            raise SyncFailed(f"{cmd.redacted()}: IVM output not understood (line {no}): "
                             f"expected 'attribute value description True|False' in the header's columns: {line!r}")
        table[name] = value
    return table


# --- phase 2: parse into plain data -------------------------------------------------------------------------


class _Reader:
    """Typed access to one command's records; a bad value names the command and the line."""

    def __init__(self, cmd: Command):
        self.cmd = cmd

    def fail(self, rec: dict, reason: str):
        line = self.cmd.delimiter.join(map(str, rec.values())) if isinstance(rec, dict) else str(rec)
        raise SyncFailed(f"{self.cmd.redacted()}: IVM output not understood: {reason}: {line!r}")

    def int(self, rec: dict, key: str, *, null_ok: bool = False) -> int | None:
        try:
            value = parse.parse_int(rec[key], key)
        except OutputNotUnderstood:
            self.fail(rec, f"{key} is not a whole number")
        if value is None and not null_ok:
            self.fail(rec, f"{key} is empty")
        return value

    def dec(self, rec: dict, key: str) -> Decimal:
        raw = rec[key]
        if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", raw or ""):
            self.fail(rec, f"{key} is not a number")
        return Decimal(raw).quantize(Decimal("0.01"))

    def flag(self, rec: dict, key: str) -> bool:
        if rec[key] not in ("0", "1"):
            self.fail(rec, f"{key} is not 0 or 1")
        return rec[key] == "1"

    def text(self, rec: dict, key: str) -> str:
        return parse.nullable(rec[key]) or ""

    def ints(self, rec: dict, key: str) -> list[int]:
        items = parse.parse_list(rec[key])
        if not all(re.fullmatch(r"[0-9]+", i) for i in items):
            self.fail(rec, f"{key} is not a list of whole numbers")
        return [int(i) for i in items]


_PHYSLOC_SLOT = re.compile(r"-V(\d+)-C(\d+)$")


def _slot_of(physloc: str | None) -> int | None:
    m = _PHYSLOC_SLOT.search(physloc or "")
    return int(m.group(2)) if m else None


def _broken_rule(rule, value) -> str:
    """Why ``value`` breaks the IVM naming/value ``rule`` (a ``mobility.ivm.values`` validator), or ""."""
    try:
        rule(value)
    except InvalidValue as exc:
        return str(exc)
    return ""


def _parse(cmds: dict[str, Command], out: dict[str, str], attrs: dict[str, str], attr_cmds: dict) -> dict:
    """Turn the outputs into the desired rows: system, partitions, adapters, storage, SEAs, FC ports, slots."""
    p = {k: _parsed(cmds[k], out[k]) for k in cmds}
    r = {k: _Reader(cmds[k]) for k in cmds}

    def one(key: str) -> dict:
        if len(p[key]) != 1:
            raise SyncFailed(f"{cmds[key].redacted()}: expected one line, got {len(p[key])}")
        return p[key][0]

    sys_rec, mem, proc, migr = one("sys"), one("mem_sys"), one("proc_sys"), one("migr_sys")
    rm, rp, rg = r["mem_sys"], r["proc_sys"], r["migr_sys"]
    serial = sys_rec["serial_num"]
    system = {
        "name": sys_rec["name"], "type_model": sys_rec["type_model"], "serial": serial,
        "state": r["sys"].text(sys_rec, "state"),
        "capabilities": parse.parse_list(sys_rec["capabilities"]),
        "compat_modes": parse.parse_list(sys_rec["lpar_proc_compat_modes"]),
        "mem_region_size_mb": rm.int(mem, "mem_region_size"),
        "memory_installed_mb": rm.int(mem, "installed_sys_mem"),
        "memory_configurable_mb": rm.int(mem, "configurable_sys_mem"),
        "memory_available_mb": rm.int(mem, "curr_avail_sys_mem"),
        "proc_units_installed": rp.dec(proc, "installed_sys_proc_units"),
        "proc_units_configurable": rp.dec(proc, "configurable_sys_proc_units"),
        "proc_units_available": rp.dec(proc, "curr_avail_sys_proc_units"),
        "active_migrations_supported": rg.int(migr, "num_active_migrations_supported"),
        "active_migrations_in_progress": rg.int(migr, "num_active_migrations_in_progress"),
        "inactive_migrations_supported": rg.int(migr, "num_inactive_migrations_supported"),
        "inactive_migrations_in_progress": rg.int(migr, "num_inactive_migrations_in_progress"),
    }

    def by_id(key: str) -> dict[int, dict]:
        return {r[key].int(rec, "lpar_id"): rec for rec in p[key]}

    mem_l, proc_l, migr_l, slot_l = by_id("mem_lpar"), by_id("proc_lpar"), by_id("migr_lpar"), by_id("slot_lpar")
    partitions: dict[str, dict] = {}
    names_by_id: dict[int, str] = {}
    rl = r["lpar"]
    for rec in p["lpar"]:
        lpar_id = rl.int(rec, "lpar_id")
        if not 1 <= lpar_id <= 254:
            rl.fail(rec, "lpar_id is not between 1 and 254")
        if rec["name"] in partitions or lpar_id in names_by_id:
            rl.fail(rec, "partition listed twice")
        # A name that breaks IVM's rules quarantines this partition only: the rest of the IVM still syncs.
        quarantine = _broken_rule(ivm_values.partition_name, rec["name"])
        if rec["lpar_env"] not in PartitionEnv.values:
            rl.fail(rec, f"unknown lpar_env {rec['lpar_env']!r}")
        m, pr = mem_l.get(lpar_id), proc_l.get(lpar_id)
        if m is None or pr is None:
            rl.fail(rec, "no memory or processor line for this partition")
        # IVM shows 0 for curr_* of a Not Activated partition; pend_* is what it will need (and move with).
        pending = rec["state"] == NOT_ACTIVATED
        partitions[rec["name"]] = {
            "lpar_id": lpar_id, "name": rec["name"], "env": rec["lpar_env"], "state": rec["state"],
            "rmc_state": rl.text(rec, "rmc_state"), "os_version": rl.text(rec, "os_version"),
            "dlpar_mem_capable": rl.flag(rec, "dlpar_mem_capable"),
            "dlpar_proc_capable": rl.flag(rec, "dlpar_proc_capable"),
            "curr_compat_mode": rl.text(rec, "curr_lpar_proc_compat_mode"),
            "desired_compat_mode": rl.text(rec, "desired_lpar_proc_compat_mode"),
            "memory_mb": r["mem_lpar"].int(m, "pend_mem" if pending else "curr_mem"),
            "proc_mode": r["proc_lpar"].text(pr, "curr_proc_mode"),
            "proc_units": r["proc_lpar"].dec(pr, "pend_proc_units" if pending else "curr_proc_units"),
            "procs": r["proc_lpar"].int(pr, "pend_procs" if pending else "curr_procs"),
            "max_virtual_slots": r["slot_lpar"].int(slot_l[lpar_id], "curr_max_virtual_slots")
            if lpar_id in slot_l else 0,
            "migration_state": rl.text(migr_l[lpar_id], "migration_state") if lpar_id in migr_l else "",
            "mac_base": rl.text(rec, "virtual_eth_mac_base_value"),
            "quarantine_reason": quarantine,
        }
        names_by_id[lpar_id] = rec["name"]

    # Server-side device names (vhostN / vfchostN) by the management partition's slot.
    vhosts = {_slot_of(v.physloc): v for v in p["lsmap"]}
    npiv = {_slot_of(n.physloc): n for n in p["npiv"]}
    adapters: dict[tuple[int, int], dict] = {}

    def add_adapter(reader: _Reader, rec: dict, values: dict, broken: list[str]) -> None:
        lpar_id, slot = reader.int(rec, "lpar_id"), reader.int(rec, "slot_num")
        if lpar_id not in names_by_id:
            reader.fail(rec, f"adapter of partition {lpar_id}, which lssyscfg does not list")
        if (lpar_id, slot) in adapters:
            reader.fail(rec, f"slot {slot} of partition {lpar_id} listed twice")
        base = {"kind": "", "role": "", "is_required": reader.flag(rec, "is_required"), "remote_lpar_id": None,
                "remote_lpar_name": "", "remote_slot": None, "port_vlan_id": None, "addl_vlan_ids": [],
                "is_trunk": False, "mac_addr": "", "wwpns": [], "device_name": "", "fc_port": ""}
        adapters[(lpar_id, slot)] = {**base, **values, "slot": slot, "quarantine_reason": "; ".join(broken)}

    re_ = r["eth"]
    for rec in p["eth"]:
        # A value that breaks IVM's rules is not stored; the reason names it.
        pvid, addl, mac = re_.int(rec, "port_vlan_id"), re_.ints(rec, "addl_vlan_ids"), re_.text(rec, "mac_addr")
        vlan_broken = [reason for v in [pvid, *addl] if (reason := _broken_rule(ivm_values.vlan_id, v))]
        mac_broken = ([f"MAC address {mac!r} is not 1-12 hexadecimal digits"]
                      if mac and not re.fullmatch(r"[0-9A-Fa-f]{1,12}", mac) else [])
        add_adapter(re_, rec, {"kind": AdapterKind.ETHERNET, "port_vlan_id": None if vlan_broken else pvid,
                               "addl_vlan_ids": [] if vlan_broken else addl, "is_trunk": re_.flag(rec, "is_trunk"),
                               "mac_addr": "" if mac_broken else mac}, vlan_broken + mac_broken)
    for kind in ("scsi", "fc"):
        rd = r[kind]
        for rec in p[kind]:
            role = rec["adapter_type"]
            if role not in AdapterRole.values:
                rd.fail(rec, f"unknown adapter_type {role!r}")
            values = {"kind": kind, "role": role, "remote_lpar_id": rd.int(rec, "remote_lpar_id", null_ok=True),
                      "remote_lpar_name": rd.text(rec, "remote_lpar_name"),
                      "remote_slot": rd.int(rec, "remote_slot_num", null_ok=True)}
            slot = rd.int(rec, "slot_num")
            broken = []
            if kind == "fc":
                values["wwpns"] = parse.parse_list(rec["wwpns"])
                if reasons := [why for w in values["wwpns"] if (why := _broken_rule(ivm_values.wwpn, w))]:
                    broken += reasons
                    values["wwpns"] = []
            if role == AdapterRole.SERVER:
                dev = (vhosts if kind == "scsi" else npiv).get(slot)
                values["device_name"] = (dev.svsa if kind == "scsi" else dev.name) if dev else ""
                if kind == "fc" and dev is not None:
                    values["fc_port"] = dev.fc or ""
            elif kind == "fc":
                # The client's port is the one its server adapter (vfchost) is bound to.
                dev = npiv.get(values["remote_slot"])
                values["fc_port"] = (dev.fc or "") if dev else ""
            # Device names go back out in commands (mappings, lsdev): one that breaks the rules is not stored.
            for key in ("device_name", "fc_port"):
                if values.get(key) and (reason := _broken_rule(ivm_values.device_name, values[key])):
                    broken.append(reason)
                    values[key] = ""
            add_adapter(rd, rec, values, broken)

    # A partition with a quarantined adapter is quarantined too: its plan would be made of that adapter.
    for (lpar_id, slot), adapter in sorted(adapters.items()):
        if adapter["quarantine_reason"]:
            part = partitions[names_by_id[lpar_id]]
            part["quarantine_reason"] = "; ".join(filter(None, [
                part["quarantine_reason"], f"virtual adapter in slot {slot}: {adapter['quarantine_reason']}"]))

    # Storage: every hdisk the VIOS sees (with its LUN identity and reserve policy), plus whatever else
    # backs a VTD (logical volumes, files, optical media), and which server adapter/client it backs.
    disk_names = [d.name for d in p["disks"]]
    storage: dict[str, dict] = {}
    for name in disk_names:
        storage[name] = {"kind": StorageDevice.Kind.HDISK, "unique_id": attrs[f"{name}.unique_id"],
                         "reserve_policy": attrs[f"{name}.reserve_policy"], "vtd_name": "",
                         "server_slot": None, "client_lpar_id": None}
    for v in p["lsmap"]:
        server_slot = _slot_of(v.physloc)
        for vtd in v.vtds:
            dev = vtd.backing or vtd.name or ""
            if dev in storage and storage[dev]["vtd_name"]:
                raise SyncFailed(f"{cmds['lsmap'].redacted()}: device {dev} backs two VTDs")
            if dev not in storage:
                kind = (StorageDevice.Kind.VOPT if (vtd.name or "").startswith("vtopt")
                        else StorageDevice.Kind.FILE if dev.startswith("/") else StorageDevice.Kind.LV)
                storage[dev] = {"kind": kind, "unique_id": "", "reserve_policy": "", "vtd_name": ""}
            storage[dev].update(vtd_name=vtd.name or "", server_slot=server_slot,
                                client_lpar_id=v.client_id if v.client_id in names_by_id else None)
    for dev in storage.values():
        dev.setdefault("server_slot", None)
        dev.setdefault("client_lpar_id", None)

    # SEAs: the trunk adapter whose port VLAN is the SEA's pvid carries the VLANs the SEA bridges.
    trunks = [a for (lpar_id, _), a in adapters.items() if lpar_id == MANAGEMENT_LPAR_ID and a["is_trunk"]]
    seas = {}
    for sea in p["seas"]:
        pvid_raw = attrs[f"{sea.name}.pvid"]
        if not (pvid_raw.isascii() and pvid_raw.isdigit()):
            raise SyncFailed(f"{attr_cmds[f'{sea.name}.pvid'].redacted()}: pvid {pvid_raw!r} is not a number")
        pvid = int(pvid_raw)
        mine = [t for t in trunks if t["port_vlan_id"] == pvid] or (trunks if len(p["seas"]) == 1 else [])
        seas[sea.name] = {"pvid": pvid, "vlans": sorted({v for t in mine for v in [t["port_vlan_id"],
                                                                                     *t["addl_vlan_ids"]]})}

    # Every FC port the VIOS has; lsnports says which carry NPIV (fabric 1) and how many virtual ports are free.
    nports = {n.name: n for n in p["nports"]}
    fc_ports = {d.name: {"npiv_capable": d.name in nports and nports[d.name].fabric == 1,
                         "available_ports": nports[d.name].aports if d.name in nports else 0}
                for d in p["adapters"] if re.fullmatch(r"fcs\d+", d.name)}

    io_slots = {}
    ri = r["io"]
    for rec in p["io"]:
        lpar_id = ri.int(rec, "lpar_id", null_ok=True)
        io_slots[rec["drc_name"]] = {"description": ri.text(rec, "description"),
                                     "lpar_id": lpar_id if lpar_id in names_by_id else None}

    # Every used slot of the management partition (serial, reserved, adapters).
    system["vios_used_slots"] = sorted(r["slot_vios"].int(rec, "slot_num") for rec in p["slot_vios"]
                                       if parse.nullable(rec["config"]))
    return {"system": system, "partitions": partitions, "adapters": adapters, "storage": storage,
            "seas": seas, "fc_ports": fc_ports, "io_slots": io_slots}


def fetch_inventory(client) -> dict:
    """Read and parse one IVM (no database access); the desired rows, by kind."""
    cmds = inventory_commands()
    out = run_reads(client, cmds)
    disks = _parsed(cmds["disks"], out["disks"])
    seas = _parsed(cmds["seas"], out["seas"])
    try:
        # Device names come from the IVM; they are validated before they go back out in a command.
        disk_cmds = {d.name: Command(("ioscli", "lsdev", "-dev", ivm_values.device_name(d.name), "-attr"))
                     for d in disks}
        attr_cmds = {f"{s.name}.pvid": commands.lsdev_attr(s.name, "pvid") for s in seas}
    except InvalidValue as exc:
        raise SyncFailed(f"the IVM listed a device name that is refused: {exc}") from exc
    attr_out = run_reads(client, {**disk_cmds, **attr_cmds})
    attrs = {k: _parsed(attr_cmds[k], attr_out[k]) for k in attr_cmds}
    for name, cmd in disk_cmds.items():
        table = _attribute_table(cmd, attr_out[name])
        for attr in ("unique_id", "reserve_policy"):
            if attr not in table:
                raise SyncFailed(f"{cmd.redacted()}: the IVM printed no {attr} for {name}")
            attrs[f"{name}.{attr}"] = table[attr]
    attr_cmds.update(disk_cmds)
    return _parse(cmds, out, attrs, attr_cmds)


# --- phase 3: apply ------------------------------------------------------------------------------------------


@dataclass
class _Tally:
    created: int = 0
    updated: int = 0
    deleted: int = 0
    vanished: int = 0
    unchanged: int = 0


def _same(current, wanted) -> bool:
    if isinstance(current, Decimal) or isinstance(wanted, Decimal):
        return current is not None and wanted is not None and Decimal(current) == Decimal(wanted)
    return current == wanted


def _diff(obj, wanted: dict) -> list[str]:
    """Set the fields of ``obj`` that differ from ``wanted``; return their names."""
    changed = []
    for name, value in wanted.items():
        if not _same(getattr(obj, name), value):
            setattr(obj, name, value)
            changed.append(name)
    return changed


def _reconcile(model, existing: dict, wanted: dict, build, tally: _Tally, *, now, delete=True,
               stamp: str | None = None) -> dict:
    """Bring ``existing`` (key -> row) to ``wanted`` (key -> field values); return key -> row of the result.

    Only rows that differ are written: new ones with one bulk_create, changed ones with one bulk_update over
    the fields that changed, missing ones deleted (``delete``) or left to the caller.
    """
    to_update, fields = [], set()
    for key, values in wanted.items():
        obj = existing.get(key)
        if obj is None:
            continue
        changed = _diff(obj, values)
        if changed:
            if stamp:
                setattr(obj, stamp, now)
                changed.append(stamp)
            to_update.append(obj)
            fields.update(changed)
        else:
            tally.unchanged += 1
    gone = [obj for key, obj in existing.items() if key not in wanted]
    if delete and gone:
        model.objects.filter(pk__in=[o.pk for o in gone]).delete()
        tally.deleted += len(gone)
    if to_update:
        model.objects.bulk_update(to_update, sorted(fields), batch_size=500)
        tally.updated += len(to_update)
    new = [build(key, values) for key, values in wanted.items() if key not in existing]
    if new:
        model.objects.bulk_create(new, batch_size=500)
        tally.created += len(new)
    result = {key: obj for key, obj in existing.items() if key in wanted}
    result.update({key: obj for key, obj in zip([k for k in wanted if k not in existing], new, strict=True)})
    return result


# Part of every digest: change it when _apply maps the same parsed inventory onto different rows, so that the
# next sync of every IVM compares with the stored rows again. (A change in parsing changes the digest anyway.)
APPLY_VERSION = "1"


def inventory_digest(inv: dict) -> str:
    """sha256 of a parsed inventory. ``repr`` is exact for its plain values (str, int, Decimal, lists, dicts
    in the IVM's own output order); the same IVM output always gives the same digest."""
    return hashlib.sha256(f"{APPLY_VERSION}\n{inv!r}".encode()).hexdigest()


def forget_digests(console_ids) -> None:
    """Make the next sync of these IVMs compare with the stored rows: call after writing their inventory rows
    anywhere but in a sync (the engine's rehome does)."""
    IVMConsole.objects.filter(pk__in=list(console_ids)).update(inventory_digest="")


def _apply(console: IVMConsole, inv: dict, now: datetime) -> _Tally:
    tally = _Tally()
    sysvals = inv["system"]
    digest = inventory_digest(inv)
    # Lock the console row: two syncs of one IVM (a scheduled one and a manual one) apply one after the other.
    stored = (IVMConsole.objects.select_for_update(no_key=True).filter(pk=console.pk)
              .values_list("inventory_digest", flat=True))
    system = ManagedSystem.objects.filter(console=console).first()
    if system is not None and stored and stored[0] == digest:
        # The IVM printed what the stored rows were made from, and nothing else wrote them since (the digest
        # is cleared when something does): nothing to compare, nothing to write.
        tally.unchanged = 1 + sum(len(inv[k]) for k in ("partitions", "adapters", "storage", "seas", "fc_ports",
                                                        "io_slots"))
        return tally
    clash = ManagedSystem.objects.filter(type_model=sysvals["type_model"], serial=sysvals["serial"])
    if system is not None:
        clash = clash.exclude(pk=system.pk)
    if clash.exists():
        raise SyncFailed(f"managed system {sysvals['type_model']}*{sysvals['serial']} is already registered "
                         f"under another IVM ({clash.first().console.name})")
    if system is None:
        system = ManagedSystem.objects.create(console=console, synced_at=now, **sysvals)
        tally.created += 1
    elif changed := _diff(system, sysvals):
        system.synced_at = now
        system.save(update_fields=[*changed, "synced_at"])
        tally.updated += 1
    else:
        tally.unchanged += 1

    # Partitions by name; the ones the IVM no longer lists are marked vanished first, so that a new
    # partition may take a freed name or id in the same transaction.
    live = {p.name: p for p in Partition.objects.filter(system=system, vanished_at__isnull=True)}
    gone = [p for name, p in live.items() if name not in inv["partitions"]]
    if gone:
        Partition.objects.filter(pk__in=[p.pk for p in gone]).update(vanished_at=now)
        tally.vanished += len(gone)
    live = {name: p for name, p in live.items() if name in inv["partitions"]}
    parts = _reconcile(Partition, live, inv["partitions"],
                       lambda key, v: Partition(system=system, synced_at=now, **v), tally,
                       now=now, delete=False, stamp="synced_at")
    part_by_id = {p.lpar_id: p for p in parts.values()}

    # Adapters of the live partitions, keyed by (partition row, slot): a renumbered partition keeps its row.
    existing = {(a.partition_id, a.slot): a for a in VirtualAdapter.objects.filter(partition__in=list(parts.values()))}
    wanted = {(part_by_id[lpar_id].pk, slot): v for (lpar_id, slot), v in inv["adapters"].items()}
    adapters = _reconcile(VirtualAdapter, existing, wanted,
                          lambda key, v: VirtualAdapter(partition_id=key[0], **v), tally, now=now)
    vios = part_by_id.get(MANAGEMENT_LPAR_ID)
    vios_adapters = {slot: a for (pk, slot), a in adapters.items() if vios is not None and pk == vios.pk}

    wanted_storage = {}
    for name, dev in inv["storage"].items():
        server = vios_adapters.get(dev["server_slot"])
        client = part_by_id.get(dev["client_lpar_id"])
        wanted_storage[name] = {"kind": dev["kind"], "unique_id": dev["unique_id"],
                                "reserve_policy": dev["reserve_policy"], "vtd_name": dev["vtd_name"],
                                "server_adapter_id": server.pk if server else None,
                                "client_partition_id": client.pk if client else None}
    _reconcile(StorageDevice, {d.name: d for d in StorageDevice.objects.filter(system=system)}, wanted_storage,
               lambda key, v: StorageDevice(system=system, name=key, **v), tally, now=now)
    _reconcile(SharedEthernetAdapter, {s.name: s for s in SharedEthernetAdapter.objects.filter(system=system)},
               inv["seas"], lambda key, v: SharedEthernetAdapter(system=system, name=key, **v), tally, now=now)
    _reconcile(FCPort, {f.name: f for f in FCPort.objects.filter(system=system)}, inv["fc_ports"],
               lambda key, v: FCPort(system=system, name=key, **v), tally, now=now)
    wanted_io = {drc: {"description": s["description"],
                       "partition_id": part_by_id[s["lpar_id"]].pk if s["lpar_id"] in part_by_id else None}
                 for drc, s in inv["io_slots"].items()}
    _reconcile(IOSlot, {s.drc_name: s for s in IOSlot.objects.filter(system=system)}, wanted_io,
               lambda key, v: IOSlot(system=system, drc_name=key, **v), tally, now=now)
    IVMConsole.objects.filter(pk=console.pk).update(inventory_digest=digest)  # not an inventory row
    return tally


# --- one IVM, all IVMs -------------------------------------------------------------------------------------


def _explain(exc: Exception) -> str:
    if isinstance(exc, HostKeyMismatch):
        return (f"host key changed, sync refused and inventory left as it was: pinned {exc.expected.type} "
                f"{exc.old_fingerprint}, the IVM now offers {exc.offered.type} {exc.new_fingerprint}. "
                "Check the IVM out of band, then pin the new key.")
    if isinstance(exc, HostKeyUnknown):
        return f"no host key pinned; the IVM offers {exc.key.type} {exc.fingerprint}. Confirm and pin it first."
    if isinstance(exc, AuthenticationFailed):
        return f"wrong credentials: {exc}"
    return str(exc)


def sync_console(console: IVMConsole) -> SyncResult:
    """Sync one IVM: fetch, parse, then write the differences in one transaction."""
    started = time.monotonic()
    result = SyncResult(console=console, ok=False)
    with collect_commands() as gathered:
        try:
            if not console.has_credentials:
                raise SyncFailed("no password or private key stored for this IVM")
            client = client_for(console)
            inv = fetch_inventory(client)
            now = timezone.now()
            with transaction.atomic():
                tally = _apply(console, inv, now)
            result.ok = True
            result.created, result.updated, result.deleted = tally.created, tally.updated, tally.deleted
            result.vanished, result.unchanged = tally.vanished, tally.unchanged
            result.rows_written = tally.created + tally.updated + tally.deleted + tally.vanished
            result.counts = {"partitions": len(inv["partitions"]), "adapters": len(inv["adapters"]),
                             "devices": len(inv["storage"])}
            result.quarantined = {name: p["quarantine_reason"] for name, p in inv["partitions"].items()
                                  if p["quarantine_reason"]}
        except (IVMError, SyncFailed) as exc:
            result.error = _explain(exc)
            if isinstance(exc, (HostKeyMismatch, HostKeyUnknown, AuthenticationFailed, ConnectionFailed)):
                discard_client(console)
        except Exception as exc:  # a bug or a database error must still leave the console marked
            logger.exception("inventory sync of %s failed", console.name)
            result.error = f"internal error: {type(exc).__name__}: {exc}"
    result.commands = len(gathered)
    result.duration_s = time.monotonic() - started
    finished = timezone.now()
    status = {"last_sync_at": finished, "last_sync_duration_s": round(result.duration_s, 3),
              "last_sync_error": result.error}
    if result.ok:
        status["last_sync_ok_at"] = finished
    IVMConsole.objects.filter(pk=console.pk).update(**status)
    for name, value in status.items():
        setattr(console, name, value)
    write_command_events(gathered)
    (logger.info if result.ok and not result.quarantined else logger.warning)("inventory sync %s", result.summary())
    return result


_flights: dict[int, threading.Lock] = {}
_flights_lock = threading.Lock()


def sync_since(console: IVMConsole, since: datetime) -> SyncResult:
    """An inventory of ``console`` read at ``since`` or later: a successful sync that began then (another thread's or
    process's), or a new one. When many migrations start or finish on the same IVMs at once, each needs the IVM read
    after it asked, not a sync of its own: they share one instead of ten. The threads of this process asking for the
    same IVM go one at a time, so the later ones find the sync the first one ran."""
    with _flights_lock:
        flight = _flights.setdefault(console.pk, threading.Lock())
    with flight:
        last = IVMConsole.objects.filter(pk=console.pk).values_list(
            "last_sync_at", "last_sync_ok_at", "last_sync_duration_s").first()
        if last and last[1] is not None and last[0] == last[1] and last[2] is not None:
            began = last[1] - timedelta(seconds=last[2])  # the duration is counted from before the first command
            if began >= since:
                return SyncResult(console=console, ok=True, shared=True)
        return sync_console(console)


def _sync_in_thread(console: IVMConsole) -> SyncResult:
    try:
        return sync_console(console)
    finally:
        connections.close_all()  # this thread's connections only


def sync_all(consoles=None) -> list[SyncResult]:
    """Sync every enabled IVM (or the given ones) on a bounded thread pool; results in console order."""
    consoles = list(IVMConsole.objects.filter(enabled=True) if consoles is None else consoles)
    if not consoles:
        return []
    workers = min(settings.IVMWEB_SYNC_WORKERS, len(consoles))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ivm-sync") as pool:
        return list(pool.map(_sync_in_thread, consoles))


def sync_due(now: datetime | None = None) -> list[SyncResult]:
    """Sync the enabled IVMs whose last sync is older than IVMWEB_SYNC_INTERVAL_S (or that never synced)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.IVMWEB_SYNC_INTERVAL_S)
    due = IVMConsole.objects.filter(enabled=True).filter(Q(last_sync_at__isnull=True) | Q(last_sync_at__lt=cutoff))
    return sync_all(list(due))
