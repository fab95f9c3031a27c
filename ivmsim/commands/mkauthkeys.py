"""``mkauthkeys --test|-g|-a``: SSH key trust between IVMs, needed before migrlpar (ivm-cli.md §4.8)."""

from __future__ import annotations

import base64
import binascii

from ivmsim import args
from ivmsim import reference as ref
from ivmsim.commands import Ctx, target
from ivmsim.errors import CommandError, Result

SPEC = {"--test": "flag", "--ip": "value", "-u": "value", "-g": "flag", "-a": "any"}
KEY_TYPES = ("ssh-ed25519", "ssh-rsa", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521")


def run(ctx: Ctx, argv: list[str]) -> Result:
    cmd = "mkauthkeys"
    opts = args.parse(cmd, argv, SPEC)
    modes = [f for f in ("--test", "-g", "-a") if f in opts]
    if len(modes) != 1:
        raise CommandError(ref.E_USAGE, f"{cmd}: exactly one of --test, -g or -a is required.")
    mode = modes[0]
    if mode == "--test":
        args.require(cmd, opts, "--ip")
        target.resolve(ctx, opts)  # raises the key-trust error when the keys are not exchanged
        return Result()
    if "--ip" in opts or "-u" in opts:
        raise CommandError(ref.E_USAGE, f"{cmd}: --ip and -u are only valid with --test.")
    if mode == "-g":
        return Result(stdout=ctx.world.ivm_public_key(ctx.system.ivm) + "\n")
    line = opts["-a"].strip()
    parts = line.split()
    try:
        valid = len(parts) >= 2 and parts[0] in KEY_TYPES and base64.b64decode(parts[1], validate=True)
    except (binascii.Error, ValueError):
        valid = False
    if not valid:
        raise CommandError(ref.E_BAD_VALUE, f"{cmd}: the public key is not valid.")
    ctx.world.state.add_authorized_key(ctx.system.ivm, line)
    return Result()
