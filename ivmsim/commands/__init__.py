"""The IVM command line: one module per command family, dispatched by name.

Every command is ``run(ctx, argv) -> Result`` and raises CommandError to refuse its input. They run under
the world lock (migrlpar releases it while it waits for a synchronous migration).
"""

from __future__ import annotations

from dataclasses import dataclass

from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim.errors import CommandError, Result, migration_error


@dataclass
class Ctx:
    world: object
    system: m.System
    user: str


def check_managed_system(ctx: Ctx, opts: dict) -> None:
    """``-m`` is optional on IVM; when given it must name this system (name or tttt-mmm*ssssssss)."""
    if "-m" in opts and not ctx.system.names_me(opts["-m"]):
        raise CommandError(ref.E_BAD_SYSTEM, f"The managed system {opts['-m']} was not found.")


def find_lpar(ctx: Ctx, opts: dict, name_flag: str = "-p", id_flag: str = "--id",
              include_vios: bool = False) -> m.Partition:
    """The partition named by ``-p``/``-n`` or ``--id``; IVM's not-found error otherwise."""
    system = ctx.system
    if name_flag in opts:
        key, p = opts[name_flag], system.lpar(name=opts[name_flag])
        if p is None and include_vios and key == system.vios.name:
            p = system.vios_partition_view()
    else:
        key = opts[id_flag]
        if not key.isdigit():
            raise CommandError(ref.E_BAD_VALUE, f"The partition ID {key} is not valid.")
        p = system.lpar(lpar_id=int(key))
        if p is None and include_vios and int(key) == ref.MANAGEMENT_LPAR_ID:
            p = system.vios_partition_view()
    if p is None:
        raise migration_error("not_found", lpar=key)
    return p


def _table() -> dict:
    from ivmsim.commands import chsysstate, control, lshwres, lslparmigr, lssyscfg, migrlpar, mkauthkeys, vios
    return {
        "lssyscfg": lssyscfg.run,
        "lshwres": lshwres.run,
        "lslparmigr": lslparmigr.run,
        "migrlpar": migrlpar.run,
        "chsysstate": chsysstate.run,
        "mkauthkeys": mkauthkeys.run,
        "lsmap": vios.lsmap,
        "lsdev": vios.lsdev,
        "chdev": vios.chdev,
        "lsnports": vios.lsnports,
        "ivmsim-fault": control.fault,
        "ivmsim-log": control.log,
    }


IOSCLI_COMMANDS = ("lsmap", "lsdev", "chdev", "lsnports")


def dispatch(ctx: Ctx, argv: list[str]) -> Result:
    """Run one command. Unknown names get the restricted shell's "not found" and exit 127."""
    if argv[0] == "ioscli":
        if len(argv) < 2:
            return Result(stderr="Usage: ioscli <command> [arguments]\n", status=ref.ERROR_EXIT)
        if argv[1] not in IOSCLI_COMMANDS:
            return Result(stderr=f"ioscli: {argv[1]}: command not found\n", status=ref.NOT_FOUND_EXIT)
        argv = argv[1:]
    handler = _table().get(argv[0])
    if handler is None:
        return Result(stderr=ref.SHELL_NOT_FOUND.format(command=argv[0]) + "\n", status=ref.NOT_FOUND_EXIT)
    try:
        return handler(ctx, argv[1:])
    except CommandError as exc:
        return exc.result()
