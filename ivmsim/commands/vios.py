"""VIOS commands (bare or through ``ioscli``): ``lsmap``, ``lsdev``, ``chdev`` (ivm-cli.md §4.6)."""

from __future__ import annotations

import zlib

from ivmsim import args
from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim.commands import Ctx
from ivmsim.errors import CommandError, Result

# lsmap prints fields in its own order whatever order -field lists them in (§4.6, paxes fixture).
VSCSI_FIELDS = ("svsa", "physloc", "clientid", "vtd", "status", "lun", "backing", "bdphysloc")
NPIV_FIELDS = ("name", "physloc", "clntid", "clntname", "clntos", "status", "fc", "fcphysloc", "ports", "flags",
               "vfcclient", "vfcclientdrc")
_VTD_FIELDS = ("vtd", "status", "lun", "backing", "bdphysloc")


def _physloc(s: m.System, lpar_id: int, slot: int) -> str:
    return f"U{s.type_model.replace('-', '.')}.{s.serial_num}-V{lpar_id}-C{slot}"


def _disk_physloc(s: m.System, device: str) -> str:
    disk = s.vios.hdisk(device)
    if disk is None:
        return ""
    return f"U78A0.001.{s.serial_num}-P1-C3-T1-W50050763{zlib.crc32(disk.unique_id.encode()):08X}-L0"


def _vhosts(s: m.System):
    pairs = [(p, a) for p in s.partitions for a in p.scsi]
    return sorted(pairs, key=lambda x: int(x[1].vhost[5:]))


def _vfchosts(s: m.System):
    pairs = [(p, a) for p in s.partitions for a in p.fc]
    return sorted(pairs, key=lambda x: int(x[1].vfchost[7:]))


def lsmap(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "lsmap"
    opts = args.parse(cmd, argv, {"-all": "flag", "-vadapter": "value", "-npiv": "flag", "-field": "multi",
                                  "-fmt": "value", "-net": "flag", "-type": "multi"})
    args.one_of(cmd, opts, "-all", "-vadapter")
    if opts.get("-net"):
        if opts.get("-npiv") or "-type" in opts:
            raise CommandError(ref.E_USAGE, "lsmap: -net cannot be combined with -npiv or -type.")
        return _lsmap_net(ctx.system, opts)
    s = ctx.system
    npiv = bool(opts.get("-npiv"))
    if "-type" in opts:
        if npiv:
            raise CommandError(ref.E_USAGE, "lsmap: -type cannot be combined with -npiv.")
        bad = sorted(set(opts["-type"]) - set(BACKING_TYPES))
        if bad:
            raise CommandError(ref.E_BAD_VALUE, f"lsmap: {bad[0]} is not a valid backing device type.")
    known = NPIV_FIELDS if npiv else VSCSI_FIELDS
    fields = None
    if "-field" in opts:
        wanted = {f.lower() for f in opts["-field"]}
        bad = sorted(wanted - set(known))
        if bad:
            raise CommandError(ref.E_BAD_ATTRIBUTE, f"lsmap: {bad[0]} is not a valid field name.")
        fields = [f for f in known if f in wanted]
    pairs = _vfchosts(s) if npiv else _vhosts(s)
    types = set(opts.get("-type", ()))
    if types:  # only the VTDs whose backing device is of these types, and only the vhosts that have one
        pairs = [(p, _only(a, s, types)) for p, a in pairs]
        pairs = [(p, a) for p, a in pairs if a.vtds]
    if "-vadapter" in opts:
        name = opts["-vadapter"]
        pairs = [(p, a) for p, a in pairs if (a.vfchost if npiv else a.vhost) == name]
        if not pairs:
            raise CommandError(ref.E_DEVICE_NOT_FOUND, f'Device "{name}" is not a '
                                                       f'{"Virtual Fibre Channel" if npiv else "Server Virtual SCSI"}'
                                                       f' Adapter (SVSA).')
    fmt = opts.get("-fmt")
    if fmt is not None and len(fmt) != 1:
        raise CommandError(ref.E_BAD_VALUE, "lsmap: -fmt needs a single delimiter character.")
    if npiv:
        rows = [_npiv_row(s, p, a) for p, a in pairs]
        if fmt is not None:
            return Result(stdout="".join(fmt.join(v for k, v in r if fields is None or k in fields) + "\n"
                                         for r in rows))
        return Result(stdout=_npiv_text(rows, fields))
    if fmt is not None:
        return Result(stdout="".join(_vscsi_fmt(s, p, a, fmt, fields) + "\n" for p, a in pairs))
    return Result(stdout=_vscsi_text(s, pairs, fields))


# lsmap -type: the backing device types of the VIOS lsmap command (disk, logical volume, optical, file) [R subset].
BACKING_TYPES = ("disk", "lv", "optical", "file_disk", "file_opt")


def _backing_type(s: m.System, device: str) -> str:
    if s.vios.hdisk(device) is not None:
        return "disk"
    if device in s.vios.logical_volumes:
        return "lv"
    if device.startswith("/"):
        return "file_opt" if device.endswith(".iso") else "file_disk"
    return "optical"


def _only(a: m.ScsiAdapter, s: m.System, types: set[str]) -> m.ScsiAdapter:
    return m.ScsiAdapter(slot=a.slot, server_slot=a.server_slot, vhost=a.vhost,
                         vtds=[v for v in a.vtds if _backing_type(s, v.backing) in types])


# --- lsmap -net -----------------------------------------------------------------------------------------------
NET_FIELDS = ("svea", "physloc", "sea", "backing", "status", "bdphysloc")


def _lsmap_net(s: m.System, opts: dict) -> Result:
    """``lsmap -all -net``: each virtual Ethernet trunk adapter (SVEA) of the management partition and the SEA
    that bridges it (VIOS lsmap; layout of the standard VIOS output [R])."""
    fields = None
    if "-field" in opts:
        wanted = {f.lower() for f in opts["-field"]}
        bad = sorted(wanted - set(NET_FIELDS))
        if bad:
            raise CommandError(ref.E_BAD_ATTRIBUTE, f"lsmap: {bad[0]} is not a valid field name.")
        fields = [f for f in NET_FIELDS if f in wanted]
    rows = []
    for i, sea in enumerate(s.vios.seas):
        svea = f"ent{2 + i}"
        if "-vadapter" in opts and opts["-vadapter"] != svea:
            continue
        port = next((k for k, x in enumerate(s.vios.seas) if x is sea), 0)
        rows.append({"svea": svea, "physloc": _physloc(s, ref.MANAGEMENT_LPAR_ID, sea.trunk_slot) + "-T1",
                     "sea": sea.name, "backing": sea.real_adapter, "status": "Available",
                     "bdphysloc": f"U78A0.001.{s.serial_num}-P1-T{port + 1}"})
    if "-vadapter" in opts and not rows:
        raise CommandError(ref.E_DEVICE_NOT_FOUND, f'Device "{opts["-vadapter"]}" is not a Shared Virtual '
                                                   'Ethernet Adapter (SVEA).')
    fmt = opts.get("-fmt")
    if fmt is not None:
        if len(fmt) != 1:
            raise CommandError(ref.E_BAD_VALUE, "lsmap: -fmt needs a single delimiter character.")
        return Result(stdout="".join(fmt.join(r[f] for f in (fields or NET_FIELDS)) + "\n" for r in rows))
    blocks = []
    for r in rows:
        lines = [f"{'SVEA':<6} {'Physloc'}", f"{'-' * 6} {'-' * 44}", f"{r['svea']:<6} {r['physloc']}", "",
                 f"{'SEA':<22}{r['sea']}", f"{'Backing device':<22}{r['backing']}", f"{'Status':<22}{r['status']}",
                 f"{'Physloc':<22}{r['bdphysloc']}"]
        blocks.append("\n".join(lines))
    return Result(stdout="\n\n".join(blocks) + ("\n" if blocks else ""))


def _vtd_values(s: m.System, p: m.Partition, a: m.ScsiAdapter) -> list[dict[str, str]]:
    return [{"vtd": v.name, "status": "Available", "lun": f"0x{0x81 + i:02x}00000000000000",
             "backing": v.backing, "bdphysloc": _disk_physloc(s, v.backing)} for i, v in enumerate(a.vtds)]


def _vscsi_fmt(s, p, a, fmt, fields) -> str:
    head = {"svsa": a.vhost, "physloc": _physloc(s, ref.MANAGEMENT_LPAR_ID, a.server_slot),
            "clientid": f"{p.lpar_id:#010x}"}
    out = [head[f] for f in ("svsa", "physloc", "clientid") if fields is None or f in fields]
    for vtd in _vtd_values(s, p, a):
        out += [vtd[f] for f in _VTD_FIELDS if fields is None or f in fields]
    return fmt.join(out)


def _vscsi_text(s, pairs, fields) -> str:
    if fields is not None:
        labels = {"svsa": "SVSA", "physloc": "Physloc", "clientid": "Client Partition ID", "vtd": "VTD",
                  "status": "Status", "lun": "LUN", "backing": "Backing device", "bdphysloc": "Physloc"}
        blocks = []
        for p, a in pairs:
            head = {"svsa": a.vhost, "physloc": _physloc(s, ref.MANAGEMENT_LPAR_ID, a.server_slot),
                    "clientid": f"{p.lpar_id:#010x}"}
            lines = [f"{labels[f]:<22}{head[f]}" for f in ("svsa", "physloc", "clientid") if f in fields]
            for vtd in _vtd_values(s, p, a):
                lines += [f"{labels[f]:<22}{vtd[f]}".rstrip() for f in _VTD_FIELDS if f in fields]
            blocks.append("\n".join(lines))
        return "\n\n".join(blocks) + ("\n" if blocks else "")
    blocks = []
    for p, a in pairs:
        lines = [f"{'SVSA':<21}{'Physloc':<34}Client Partition ID",
                 f"{'-' * 13:<21}{'-' * 33:<34}{'-' * 18}",
                 f"{a.vhost:<21}{_physloc(s, ref.MANAGEMENT_LPAR_ID, a.server_slot):<34}{p.lpar_id:#010x}", ""]
        vtds = _vtd_values(s, p, a)
        if not vtds:
            lines.append(f"{'VTD':<22}NO VIRTUAL TARGET DEVICE FOUND")
        for vtd in vtds:
            lines += [f"{'VTD':<22}{vtd['vtd']}", f"{'Status':<22}{vtd['status']}", f"{'LUN':<22}{vtd['lun']}",
                      f"{'Backing device':<22}{vtd['backing']}", f"{'Physloc':<22}{vtd['bdphysloc']}".rstrip(), ""]
        blocks.append("\n".join(lines).rstrip("\n"))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def _npiv_row(s: m.System, p: m.Partition, a: m.FcAdapter) -> list[tuple[str, str]]:
    logged_in = p.state in (ref.RUNNING, ref.MIGRATING_RUNNING)
    port_index = next((i for i, fp in enumerate(s.vios.fc_ports) if fp.name == a.port), 0)
    return [("name", a.vfchost), ("physloc", _physloc(s, ref.MANAGEMENT_LPAR_ID, a.server_slot)),
            ("clntid", str(p.lpar_id)), ("clntname", p.name if logged_in else ""),
            ("clntos", "AIX" if logged_in else ""), ("status", "LOGGED_IN" if logged_in else "NOT_LOGGED_IN"),
            ("fc", a.port), ("fcphysloc", f"U78A0.001.{s.serial_num}-P1-C{5 + port_index}-T1"),
            ("ports", "1" if logged_in else "0"), ("flags", "a" if logged_in else "4"),
            ("vfcclient", "fcs0" if logged_in else ""),
            ("vfcclientdrc", _physloc(s, p.lpar_id, a.slot) if logged_in else "")]


def _npiv_text(rows, fields) -> str:
    blocks = []
    for r in rows:
        d = dict(r)
        if fields is not None:
            blocks.append("\n".join(f"{k}:{d[k]}" for k in fields))
            continue
        blocks.append("\n".join([
            f"{'Name':<14}{'Physloc':<35}{'ClntID':<7}{'ClntName':<15}ClntOS",
            f"{'-' * 13:<14}{'-' * 34:<35}{'-' * 6:<7}{'-' * 14:<15}{'-' * 7}",
            f"{d['name']:<14}{d['physloc']:<35}{d['clntid']:>6} {d['clntname']:<15}{d['clntos']}".rstrip(),
            "",
            f"Status:{d['status']}",
            f"{'FC name:' + d['fc']:<32}FC loc code:{d['fcphysloc']}",
            f"Ports logged in:{d['ports']}",
            f"Flags:{d['flags']}",
            f"{'VFC client name:' + d['vfcclient']:<32}VFC client DRC:{d['vfcclientdrc']}",
        ]))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


# --- lsnports ---------------------------------------------------------------------------------------------
def lsnports(ctx: Ctx, argv: list[str]) -> Result:
    """Physical FC ports that can carry NPIV, with their free virtual ports (reference.LSNPORTS_HEADER)."""
    args.parse("lsnports", argv, {})
    s = ctx.system
    bound = [a.port for _p, a in _vfchosts(s)]
    lines = [f"{'name':<17}{'physloc':<31}{'fabric':>6} {'tports':>6} {'aports':>6} {'swwpns':>6} {'awwpns':>6}"]
    for i, fp in enumerate(s.vios.fc_ports):
        used = bound.count(fp.name)
        physloc = f"U78A0.001.{s.serial_num}-P1-C{5 + i}-T1"
        lines.append(f"{fp.name:<17}{physloc:<31}{int(fp.npiv_capable):>6} {ref.NPIV_PORTS_PER_FC_PORT:>6} "
                     f"{ref.NPIV_PORTS_PER_FC_PORT - used:>6} {ref.NPIV_WWPNS_PER_FC_PORT:>6} "
                     f"{ref.NPIV_WWPNS_PER_FC_PORT - 2 * used:>6}")
    return Result(stdout="\n".join(lines) + "\n")


# --- lsdev / chdev ---------------------------------------------------------------------------------------
def _device_attrs(s: m.System, name: str) -> list[tuple[str, str, str, str]] | None:
    """(attribute, value, description, user_settable) for a device, or None if it does not exist."""
    disk = s.vios.hdisk(name)
    if disk is not None:
        return [("PCM", "PCM/friend/fcpother", "Path Control Module", "False"),
                ("algorithm", "fail_over", "Algorithm", "True"),
                ("hcheck_interval", "0", "Health Check Interval", "True"),
                ("pvid", disk.pvid, "Physical volume identifier", "False"),
                ("queue_depth", "8", "Queue DEPTH", "True"),
                ("reserve_policy", disk.reserve_policy, "Reserve Policy", "True"),
                ("size_in_mb", str(disk.size_mb), "Size in Megabytes", "False"),
                ("unique_id", disk.unique_id, "Unique device identifier", "False")]
    sea = next((x for x in s.vios.seas if x.name == name), None)
    if sea is not None:
        return [("ha_mode", "disabled", "High Availability Mode", "True"),
                ("pvid", str(sea.pvid), "PVID to use for the SEA device", "True"),
                ("pvid_adapter", f"ent{2 + s.vios.seas.index(sea)}", "Default virtual adapter to use for "
                                                                       "non-VLAN-tagged packets", "True"),
                ("real_adapter", sea.real_adapter, "Physical adapter associated with the SEA", "True"),
                ("virt_adapters", f"ent{2 + s.vios.seas.index(sea)}", "List of virtual adapters associated "
                                                                        "with the SEA (comma separated)", "True")]
    if name == "vioslpm0":
        return [("cfg_msp_lpm_ops", "8", "Number of concurrent LPM operations for this MSP", "True"),
                ("concurrency_lvl", "3", "Concurrency level", "True"),
                ("lpm_msnap_succ", "1", "Create mini-snap for successful migrations", "True"),
                ("max_lpm_vasi", "1", "Maximum number of VASI adapters used for LPM", "True"),
                ("max_vasi_ops", "8", "Max concurrent VASI operations", "True"),
                ("tcp_port_high", "0", "TCP highest ephemeral port", "True"),
                ("tcp_port_low", "0", "TCP lowest ephemeral port", "True")]
    return None


def _not_found(name: str) -> CommandError:
    return CommandError(ref.E_DEVICE_NOT_FOUND, f'Device "{name}" is not in AVAILABLE state.')


def lsdev(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "lsdev"
    opts = args.parse(cmd, argv, {"-dev": "value", "-attr": "optional", "-type": "value"})
    s = ctx.system
    if "-type" in opts:
        if "-dev" in opts or "-attr" in opts:
            raise CommandError(ref.E_USAGE, "lsdev: -type cannot be combined with -dev or -attr.")
        kind = args.choice(cmd, opts, "-type", ("sea", "disk", "adapter"))
        rows = {"sea": [(x.name, "Shared Ethernet Adapter") for x in s.vios.seas],
                "disk": [(d.name, "MPIO Other FC SCSI Disk Drive") for d in s.vios.hdisks],
                "adapter": [(f.name, "8Gb PCI Express Dual Port FC Adapter (df1000f114108a03)")
                            for f in s.vios.fc_ports] + [(x.name, "Shared Ethernet Adapter") for x in s.vios.seas]}[kind]
        return Result(stdout=_device_table(rows))
    args.require(cmd, opts, "-dev")
    name = opts["-dev"]
    attrs = _device_attrs(s, name)
    if attrs is None:
        raise _not_found(name)
    if "-attr" not in opts:
        desc = {"hdisk": "MPIO Other FC SCSI Disk Drive", "ent": "Shared Ethernet Adapter"}
        kind = next((v for k, v in desc.items() if name.startswith(k)), "LPM pseudo device")
        return Result(stdout=_device_table([(name, kind)]))
    wanted = opts["-attr"]
    if wanted is True:
        return Result(stdout=_attr_table(attrs))
    match = next((v for a, v, _, _ in attrs if a == wanted), None)
    if match is None:
        raise CommandError(ref.E_BAD_ATTRIBUTE, f'"{wanted}" is not a valid attribute of device {name}.')
    return Result(stdout=f"value\n\n{match}\n")


def _attr_table(attrs: list[tuple[str, str, str, str]]) -> str:
    """``lsdev -dev X -attr`` (lsattr -El layout): the header, a blank line, then one row per attribute, each
    column as wide as its longest entry plus one space, so that no two columns ever touch (the captured
    ``lsattr -HEl vioslpm0`` on sites.google.com/site/rhdisk0/unix/aix/lpm has this shape)."""
    head = ("attribute", "value", "description", "user_settable")
    widths = [max(len(head[i]), *(len(row[i]) for row in attrs)) + 1 for i in range(3)]

    def line(row) -> str:
        return "".join(f"{row[i]:<{widths[i]}}" for i in range(3)) + row[3]

    return "\n".join([line(head), "", *(line(r) for r in attrs)]) + "\n"


def _device_table(rows: list[tuple[str, str]]) -> str:
    lines = [f"{'name':<17}{'status':<12}description"]
    lines += [f"{n:<17}{'Available':<12}{d}" for n, d in rows]
    return "\n".join(lines) + "\n"


def chdev(ctx: Ctx, argv: list[str]) -> Result:
    """Only ``chdev -dev hdiskN -attr reserve_policy=... [-perm]`` is modelled (fixing bad-reserve)."""
    cmd = "chdev"
    opts = args.parse(cmd, argv, {"-dev": "value", "-attr": "value", "-perm": "flag"})
    args.require(cmd, opts, "-dev", "-attr")
    disk = ctx.system.vios.hdisk(opts["-dev"])
    if disk is None:
        raise _not_found(opts["-dev"])
    key, _, val = opts["-attr"].partition("=")
    known = [a for a, *_ in _device_attrs(ctx.system, disk.name)]
    if key not in known:
        raise CommandError(ref.E_BAD_ATTRIBUTE, f'"{key}" is not a valid attribute of device {disk.name}.')
    if key != "reserve_policy":  # the other hdisk attributes are read-only here, as pvid and unique_id are on AIX
        raise CommandError(ref.E_BAD_VALUE, f'chdev: the attribute "{key}" of {disk.name} cannot be changed.')
    if val not in ("no_reserve", "single_path", "PR_exclusive", "PR_shared"):
        raise CommandError(ref.E_BAD_VALUE, f'chdev: "{val}" is not a valid value for reserve_policy.')
    disk.reserve_policy = val
    ctx.world.persist()
    return Result(stdout=f"{disk.name} changed\n")
