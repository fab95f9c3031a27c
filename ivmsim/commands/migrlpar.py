"""``migrlpar -o v|m|s|r`` on the source (or, for recovery, either) IVM (ivm-cli.md §4.1)."""

from __future__ import annotations

import time

from ivmsim import args, migration, validation
from ivmsim import reference as ref
from ivmsim.commands import Ctx, check_managed_system, find_lpar, target
from ivmsim.errors import CommandError, Result, migration_error
from ivmsim.formatting import parse_pairs

SPEC = {"-o": "value", "-m": "value", "-t": "value", "--ip": "value", "-u": "value", "-p": "value",
        "--id": "value", "-n": "value", "-f": "value", "-i": "any", "-w": "value", "-d": "value",
        "--async": "flag", "-v": "flag", "--force": "flag", "--redundantpgvios": "value", "--help": "flag"}
ALLOWED = {
    "v": {"-o", "-m", "-t", "--ip", "-u", "-p", "--id", "-n", "-f", "-i", "-w", "-d"},
    "m": {"-o", "-m", "-t", "--ip", "-u", "-p", "--id", "-n", "-f", "-i", "-w", "-d", "--async", "-v",
          "--redundantpgvios"},
    "s": {"-o", "-m", "-p", "--id"},
    "r": {"-o", "-m", "--ip", "-u", "-p", "--id", "--force"},
}
INPUT_ATTRS = ("dest_lpar_id", "virtual_scsi_mappings", "virtual_fc_mappings", "source_msp_name", "source_msp_id",
               "dest_msp_name", "dest_msp_id", "source_msp_ipaddr", "dest_msp_ipaddr", "shared_proc_pool_id",
               "shared_proc_pool_name")
USAGE = """Usage: migrlpar -o v|m -t <managed system> --ip <target IVM> [-u <user>] -p <name> | --id <id>
                [-i "<input data>"] [-w <wait time>] [-d <detail level>] [--async]
       migrlpar -o s [-m <managed system>] -p <name> | --id <id>
       migrlpar -o r [-m <managed system>] [--ip <target IVM>] [-u <user>] -p <name> | --id <id> [--force]
"""


def run(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "migrlpar"
    opts = args.parse(cmd, argv, SPEC)
    if opts.get("--help"):
        return Result(stdout=USAGE)
    args.require(cmd, opts, "-o")
    op = args.choice(cmd, opts, "-o", ("v", "m", "s", "r"))
    extra = sorted(set(opts) - ALLOWED[op])
    if extra:
        raise CommandError(ref.E_USAGE, f"{cmd}: the {extra[0]} option is not valid with -o {op}.")
    args.one_of(cmd, opts, "-p", "--id")
    args.integer(cmd, opts, "-w", 1, 10080)
    args.integer(cmd, opts, "-d", 0, 5)
    args.choice(cmd, opts, "--redundantpgvios", ("0", "1", "2"))
    check_managed_system(ctx, opts)
    if "-f" in opts:
        raise CommandError(ref.E_BAD_VALUE, f"{cmd}: the input data file {opts['-f']} does not exist.")
    if op in ("v", "m"):
        return _validate_or_migrate(ctx, opts, op)
    lpar = find_lpar(ctx, opts)
    mig = ctx.world.migrations.get(lpar.migration_id) if lpar.migration_id else None
    if mig is None:
        raise migration_error("not_migrating", lpar=lpar.name)
    if op == "s":
        if mig.source_ivm != ctx.system.ivm:
            raise migration_error("not_source", lpar=lpar.name)
        if mig.phase not in ("starting", "precopy", "transfer"):
            raise migration_error("cannot_stop", lpar=lpar.name, migration_state=mig.migration_state)
        migration.rollback(ctx.world, mig, outcome="stopped")
    else:
        if "--ip" in opts:
            target.resolve(ctx, opts, need_trust=False)
        if mig.in_progress and not opts.get("--force"):
            raise migration_error("in_progress", lpar=lpar.name, migration_state=mig.migration_state)
        if mig.phase == "complete":
            raise migration_error("not_migrating", lpar=lpar.name)
        migration.rollback(ctx.world, mig, outcome="recovered")
    ctx.world.persist()
    return Result()


def _validate_or_migrate(ctx: Ctx, opts: dict, op: str) -> Result:
    args.require("migrlpar", opts, "-t", "--ip")
    dest = target.resolve(ctx, opts)
    lpar = find_lpar(ctx, opts, include_vios=True)
    inputs = parse_pairs(opts.get("-i", ""), INPUT_ATTRS, "-i")
    plan = validation.check(ctx.world, ctx.system, lpar, dest, inputs)
    if op == "v":
        return Result()
    world = ctx.world
    mig = migration.start(world, plan)
    world.persist()
    if opts.get("--async"):
        return Result()
    # Synchronous: wait (lock released) until the migration completes, fails or is stopped.
    limit = int(opts["-w"]) * 60 / world.time_scale if "-w" in opts else None
    started = time.monotonic()
    while True:
        outcome = world.outcomes.get(mig.id)
        if outcome == "complete":
            return Result()
        if outcome in ("stopped", "recovered"):
            raise migration_error("stopped", lpar=lpar.name)
        if mig.phase == "failed":
            raise migration_error("failed", lpar=lpar.name, reason=mig.reason)
        if limit is not None and time.monotonic() - started > limit:
            raise migration_error("wait_expired", lpar=lpar.name, migration_state=mig.migration_state)
        world.changed.wait(0.25)
