"""``lshwres -r virtualio|mem|proc|io ...`` (ivm-cli.md §4.4)."""

from __future__ import annotations

from ivmsim import args, records
from ivmsim import reference as ref
from ivmsim.commands import Ctx, check_managed_system
from ivmsim.commands.lssyscfg import parse_common
from ivmsim.errors import CommandError, Result
from ivmsim.formatting import lpar_filter, parse_filter, parse_selection, render

SPEC = {"-r": "value", "--rsubtype": "value", "--level": "value", "-m": "value", "--filter": "any",
        "-F": "fields", "--header": "flag"}
VIRTUALIO = {"eth": ref.ETH_ATTRS, "scsi": ref.SCSI_ATTRS, "fc": ref.FC_ATTRS}


def run(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "lshwres"
    opts = parse_common(cmd, argv, SPEC)
    args.require(cmd, opts, "-r")
    resource = args.choice(cmd, opts, "-r", ("virtualio", "mem", "proc", "io"))
    check_managed_system(ctx, opts)
    s, header, fields = ctx.system, opts.get("--header", False), opts["-F"]
    level, subtype = opts.get("--level"), opts.get("--rsubtype")
    filters = parse_filter(opts.get("--filter"), ("lpar_names", "lpar_ids"))
    parts = lpar_filter(s.all_partitions(), filters)

    if resource in ("mem", "proc"):
        if subtype is not None:
            raise CommandError(ref.E_USAGE, f"{cmd}: --rsubtype is not valid with -r {resource}.")
        args.require(cmd, opts, "--level")
        args.choice(cmd, opts, "--level", ("sys", "lpar"))
        if level == "sys":
            if filters:
                raise CommandError(ref.E_USAGE, f"{cmd}: --filter is not valid with --level sys.")
            attrs = ref.MEM_SYS_ATTRS if resource == "mem" else ref.PROC_SYS_ATTRS
            rec = records.mem_sys_record(s) if resource == "mem" else records.proc_sys_record(s)
            return Result(stdout=render([rec], parse_selection(fields, header, attrs)))
        attrs = ref.MEM_LPAR_ATTRS if resource == "mem" else ref.PROC_LPAR_ATTRS
        build = records.mem_lpar_record if resource == "mem" else records.proc_lpar_record
        return Result(stdout=render([build(p) for p in parts], parse_selection(fields, header, attrs)))

    if resource == "io":
        args.require(cmd, opts, "--rsubtype")
        args.choice(cmd, opts, "--rsubtype", ("slot",))
        if level is not None:
            raise CommandError(ref.E_USAGE, f"{cmd}: --level is not valid with -r io --rsubtype slot.")
        sel = parse_selection(fields, header, ref.IO_SLOT_ATTRS)
        return Result(stdout=render(records.io_slot_records(s, parts, with_free=not filters), sel))

    args.require(cmd, opts, "--rsubtype", "--level")
    args.choice(cmd, opts, "--rsubtype", ("eth", "scsi", "fc", "slot"))
    if subtype == "slot":
        args.choice(cmd, opts, "--level", ("lpar", "slot"))
        if level == "lpar":
            sel = parse_selection(fields, header, ref.SLOT_LPAR_ATTRS)
            return Result(stdout=render([records.slot_lpar_record(s, p) for p in parts], sel))
        sel = parse_selection(fields, header, ref.SLOT_SLOT_ATTRS)
        return Result(stdout=render([r for p in parts for r in records.slot_slot_records(s, p)], sel))
    args.choice(cmd, opts, "--level", ("lpar",))
    sel = parse_selection(fields, header, VIRTUALIO[subtype])
    if subtype == "eth":
        recs = [r for p in parts for r in records.eth_records(s, p)]
    else:
        recs = [r for p in parts for r in records.scsi_fc_records(s, p, subtype)]
    return Result(stdout=render(recs, sel))
