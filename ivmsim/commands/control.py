"""Simulator-only commands, NOT part of IVM: ``ivmsim-fault`` and ``ivmsim-log``.

    ivmsim-fault add KIND [key=value ...]   inject a fault on this IVM (kinds: see ivmsim/faults.py)
    ivmsim-fault list                       active faults on this IVM, one JSON object per line
    ivmsim-fault clear [ID|all]             remove one or all faults of this IVM
    ivmsim-log [--last N]                   this IVM's command log, JSON lines (time, user, command, exit_status)
"""

from __future__ import annotations

import json

from ivmsim import args
from ivmsim import reference as ref
from ivmsim.commands import Ctx
from ivmsim.errors import CommandError, Result


def fault(ctx: Ctx, argv: list[str]) -> Result:
    book, ivm = ctx.world.faults, ctx.system.ivm
    if not argv or argv[0] not in ("add", "list", "clear"):
        raise CommandError(ref.E_USAGE, "ivmsim-fault: usage: ivmsim-fault add KIND [key=value ...] | list | "
                                        "clear [ID|all]")
    if argv[0] == "add":
        if len(argv) < 2:
            raise CommandError(ref.E_USAGE, "ivmsim-fault: add needs a fault kind.")
        params = {}
        for item in argv[2:]:
            if "=" not in item:
                raise CommandError(ref.E_BAD_VALUE, f"ivmsim-fault: {item} is not key=value.")
            k, v = item.split("=", 1)
            params[k] = v
        f = book.add(ivm, argv[1], params)
        return Result(stdout=json.dumps(f.describe(), sort_keys=True) + "\n")
    if argv[0] == "list":
        if len(argv) > 1:
            raise CommandError(ref.E_USAGE, "ivmsim-fault: list takes no arguments.")
        return Result(stdout="".join(json.dumps(f.describe(), sort_keys=True) + "\n" for f in book.list(ivm)))
    if len(argv) > 2:
        raise CommandError(ref.E_USAGE, "ivmsim-fault: clear takes one fault id or all.")
    which = argv[1] if len(argv) == 2 else "all"
    if which != "all" and not which.isdigit():
        raise CommandError(ref.E_BAD_VALUE, f"ivmsim-fault: {which} is not a fault id.")
    n = book.clear(ivm, None if which == "all" else int(which))
    if which != "all" and n == 0:
        raise CommandError(ref.E_BAD_VALUE, f"ivmsim-fault: no fault {which} on {ivm}.")
    return Result(stdout=f"{n} fault(s) cleared\n")


def log(ctx: Ctx, argv: list[str]) -> Result:
    opts = args.parse("ivmsim-log", argv, {"--last": "value"})
    last = args.integer("ivmsim-log", opts, "--last", 1, 1_000_000)
    entries = ctx.world.state.read_jsonl(ctx.system.ivm, "commands.jsonl")
    if last is not None:
        entries = entries[-last:]
    return Result(stdout="".join(json.dumps(e, sort_keys=True) + "\n" for e in entries))
