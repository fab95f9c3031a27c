"""Run one command line received over SSH: shell idioms, faults, the command itself, the command log."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ivmsim import reference as ref
from ivmsim.commands import Ctx, dispatch
from ivmsim.errors import Result
from ivmsim.faults import corrupt
from ivmsim.shellwords import ShellSyntaxError, parse


@dataclass
class Outcome:
    result: Result | None  # None when the connection must drop before the command runs
    drop_after: bool = False  # run, then drop the connection instead of answering


def execute(world, ivm: str, user: str, line: str, peer: str = "", alive=lambda: True) -> Outcome:
    """Execute ``line`` on ``ivm`` as ``user``. ``alive()`` tells whether the client is still connected."""
    actions = world.faults.on_command(ivm, line)
    if actions.get("drop") == "before":
        world.log_command(ivm, user, line, None, peer, note="connection dropped by fault before running")
        return Outcome(None)
    if "hang" in actions:
        deadline = time.monotonic() + actions["hang"]
        while time.monotonic() < deadline and alive():
            time.sleep(0.05)
        if not alive():
            world.log_command(ivm, user, line, None, peer, note="client went away while the command hung")
            return Outcome(None)
    try:
        pipeline = parse(line)
    except ShellSyntaxError as exc:
        result = Result(stderr=f"rksh: {exc}\n", status=ref.ERROR_EXIT)
    else:
        with world.lock:
            ctx = Ctx(world=world, system=world.systems[ivm], user=user)
            result = dispatch(ctx, pipeline.argv)
        if pipeline.tail is not None:
            lines = result.stdout.splitlines()
            result.stdout = "".join(x + "\n" for x in lines[-pipeline.tail:])
            result.status = 0  # the exit status of a pipeline is the last command's (tail)
        if pipeline.echo_status:
            result.stdout += f"{result.status}\n"
            result.status = 0
    if "corrupt_line" in actions and result.stdout:
        result.stdout = corrupt(result.stdout, actions["corrupt_line"])
    note = "answer lost: connection dropped by fault" if actions.get("drop") == "after" else ""
    world.log_command(ivm, user, line, result.status, peer, note=note)
    return Outcome(result, drop_after=actions.get("drop") == "after")
