"""Resolving the destination of a migration from ``-t``, ``--ip`` and ``-u``, with key trust (§1.1, §4.8)."""

from __future__ import annotations

from ivmsim import model as m
from ivmsim.commands import Ctx
from ivmsim.errors import migration_error

REMOTE_USER = "padmin"


def resolve(ctx: Ctx, opts: dict, *, need_trust: bool = True) -> m.System:
    """The target system, after checking that the IVM at --ip manages -t and trusts this IVM's key."""
    ip, user = opts["--ip"], opts.get("-u", REMOTE_USER)
    target = ctx.world.system_at(ip)
    if target is None:
        raise migration_error("unknown_target_ip", ip=ip)
    if user != REMOTE_USER:
        raise migration_error("bad_remote_user", user=user, ip=ip)
    if need_trust and not ctx.world.trusted(ctx.system.ivm, target.ivm):
        raise migration_error("no_key_trust", user=user, ip=ip)
    if "-t" in opts and not target.names_me(opts["-t"]):
        raise migration_error("target_system_mismatch", target=opts["-t"], ip=ip, actual=target.name)
    if target is ctx.system:
        raise migration_error("same_system", system=target.name)
    return target
