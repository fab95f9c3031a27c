"""``lssyscfg -r sys|lpar|prof [-m sys] [--filter ...] [-F attrs [--header]]`` (ivm-cli.md §4.3)."""

from __future__ import annotations

from ivmsim import args, records
from ivmsim import reference as ref
from ivmsim.commands import Ctx, check_managed_system
from ivmsim.errors import CommandError, Result
from ivmsim.formatting import lpar_filter, parse_filter, parse_selection, render

SPEC = {"-r": "value", "-m": "value", "--filter": "any", "-F": "fields", "--header": "flag"}


def parse_common(command: str, argv: list[str], spec: dict) -> dict:
    """-F may be given without a value (all attributes): handle it before the strict parser."""
    argv = list(argv)
    fields = None
    if "-F" in argv:
        i = argv.index("-F")
        if i + 1 < len(argv) and not argv[i + 1].startswith("-"):
            fields = argv[i + 1]
            del argv[i:i + 2]
        else:
            fields = ""
            del argv[i]
        if "-F" in argv:
            raise CommandError(ref.E_USAGE, f"{command}: the -F option was given more than once.")
    opts = args.parse(command, argv, {k: v for k, v in spec.items() if k != "-F"})
    opts["-F"] = fields
    return opts


def run(ctx: Ctx, argv: list[str]) -> Result:
    opts = parse_common("lssyscfg", argv, SPEC)
    args.require("lssyscfg", opts, "-r")
    resource = args.choice("lssyscfg", opts, "-r", ("sys", "lpar", "prof"))
    check_managed_system(ctx, opts)
    system = ctx.system
    if resource == "prof":
        sel = parse_selection(opts["-F"], opts.get("--header", False), ref.PROF_ATTRS)
        filters = parse_filter(opts.get("--filter"), ("lpar_names", "lpar_ids", "profile_names"))
        parts = lpar_filter(system.all_partitions(), filters)
        profiles = set(filters.get("profile_names", []))  # IVM's one profile per partition bears its name
        return Result(stdout=render([records.prof_record(system, p) for p in parts
                                     if not profiles or p.name in profiles], sel))
    if resource == "sys":
        if "--filter" in opts:
            raise CommandError(ref.E_USAGE, "lssyscfg: --filter is not valid with -r sys.")
        sel = parse_selection(opts["-F"], opts.get("--header", False), ref.SYS_ATTRS)
        return Result(stdout=render([records.system_record(system)], sel))
    sel = parse_selection(opts["-F"], opts.get("--header", False), ref.LPAR_ATTRS)
    filters = parse_filter(opts.get("--filter"), ("lpar_names", "lpar_ids", "work_groups"))
    parts = lpar_filter(system.all_partitions(), filters)
    return Result(stdout=render([records.lpar_record(system, p, ctx.world.sim_time) for p in parts], sel))
