"""``chsysstate -r lpar -o on|shutdown|osshutdown|dumprestart|chkey`` (ivm-cli.md §4.5)."""

from __future__ import annotations

from ivmsim import args
from ivmsim import reference as ref
from ivmsim.commands import Ctx, check_managed_system, find_lpar
from ivmsim.errors import CommandError, Result

SPEC = {"-r": "value", "-o": "value", "-n": "value", "--id": "value", "-m": "value", "--immed": "flag",
        "--restart": "flag", "-k": "value", "-b": "value"}


def _refuse(p, op):
    return CommandError(ref.E_BAD_STATE, f"The operation {op} is not allowed for partition {p.name} "
                                         f"in state {p.state}.")


def run(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "chsysstate"
    opts = args.parse(cmd, argv, SPEC)
    args.require(cmd, opts, "-r", "-o")
    args.choice(cmd, opts, "-r", ("lpar",))
    op = args.choice(cmd, opts, "-o", ("on", "shutdown", "osshutdown", "dumprestart", "chkey"))
    args.one_of(cmd, opts, "-n", "--id")
    args.choice(cmd, opts, "-k", ("norm", "manual"))
    args.choice(cmd, opts, "-b", ("norm", "sms", "of", "ds", "dd"))
    if ("--immed" in opts or "--restart" in opts) and op != "shutdown":
        raise CommandError(ref.E_USAGE, f"{cmd}: --immed and --restart are only valid with -o shutdown.")
    if "--restart" in opts and "--immed" not in opts:
        raise CommandError(ref.E_USAGE, f"{cmd}: --restart needs --immed.")
    if ("-b" in opts and op != "on") or ("-k" in opts and op not in ("on", "chkey")):
        raise CommandError(ref.E_USAGE, f"{cmd}: -b and -k are not valid with -o {op}.")
    if op == "chkey" and "-k" not in opts:
        raise CommandError(ref.E_USAGE, f"{cmd}: -o chkey needs -k.")
    check_managed_system(ctx, opts)
    world, system = ctx.world, ctx.system
    p = find_lpar(ctx, opts, name_flag="-n", include_vios=True)
    if p.is_vios:
        raise CommandError(ref.E_BAD_STATE, f"The management partition {p.name} cannot be changed with chsysstate.")
    if p.migration_id is not None:
        raise _refuse(p, op)
    if op == "chkey":
        return Result()
    if op == "on":
        if p.state != ref.NOT_ACTIVATED:
            raise _refuse(p, op)
        if system.free_memory_mb() < p.memory_mb or system.free_proc_units() + 1e-9 < p.proc_units:
            raise CommandError(ref.E_BAD_STATE, f"There are not enough resources available to activate {p.name}.")
        _boot(world, system, p)
    elif op == "dumprestart":
        if p.state != ref.RUNNING:
            raise _refuse(p, op)
        _boot(world, system, p)
    elif op == "shutdown" and "--immed" in opts:
        if p.state == ref.NOT_ACTIVATED:
            raise _refuse(p, op)
        p.state, p.rmc_state, p.started_at = ref.NOT_ACTIVATED, "inactive", None
        if "--restart" in opts:
            _boot(world, system, p)
    else:
        if p.state != ref.RUNNING:
            raise _refuse(p, op)
        if op == "osshutdown" and p.rmc_state != "active":
            raise CommandError(ref.E_BAD_STATE, f"The RMC connection to partition {p.name} is not active; "
                                                f"use -o shutdown.")
        p.state = ref.SHUTTING_DOWN
        world.schedule(ref.SHUTDOWN_S, "halted", system.ivm, p.name)
    world.persist()
    return Result()


def _boot(world, system, p) -> None:
    p.state, p.rmc_state, p.started_at = ref.STARTING, "inactive", world.sim_time
    world.schedule(ref.BOOT_S, "booted", system.ivm, p.name)
