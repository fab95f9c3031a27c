"""Run one command line received over SSH: shell idioms, faults, the command itself, the command log."""

from __future__ import annotations

import time
from dataclasses import dataclass

from ivmsim import reference as ref
from ivmsim.commands import Ctx, dispatch
from ivmsim.errors import Result
from ivmsim.faults import corrupt
from ivmsim.shellwords import Echo, Pipeline, ShellSyntaxError, parse


@dataclass
class Outcome:
    result: Result | None  # None when the connection must drop before the command runs
    drop_after: bool = False  # run, then drop the connection instead of answering
    gone: bool = False  # the client went away: nobody to answer, nothing to drop


def execute(world, ivm: str, user: str, line: str, peer: str = "", alive=lambda: True) -> Outcome:
    """Execute ``line`` on ``ivm`` as ``user``. ``alive()`` tells whether the client is still connected.

    A line may list several commands (``a ; echo x $? ; b``): each is run, logged and subject to faults on
    its own, as the padmin shell would run them one after the other; the exit status is the last one's.
    """
    try:
        steps = parse(line)
    except ShellSyntaxError as exc:
        world.log_command(ivm, user, line, ref.ERROR_EXIT, peer, note="refused by the shell")
        return Outcome(Result(stderr=f"rksh: {exc}\n", status=ref.ERROR_EXIT))
    out = Result()
    for step in steps:
        if isinstance(step, Echo):
            out.stdout += step.render(out.status)
            out.status = 0
            continue
        outcome = _run_one(world, ivm, user, step, peer, alive)
        if outcome.result is None:
            return outcome
        out.stdout += outcome.result.stdout
        out.stderr += outcome.result.stderr
        out.status = outcome.result.status
        if outcome.drop_after:
            return Outcome(out, drop_after=True)
    return Outcome(out)


def _run_one(world, ivm: str, user: str, step: Pipeline, peer: str, alive) -> Outcome:
    actions = world.faults.on_command(ivm, step.text)
    if actions.get("drop") == "before":
        world.log_command(ivm, user, step.text, None, peer, note="connection dropped by fault before running")
        return Outcome(None)
    if "hang" in actions:
        seconds, released = actions["hang"]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and alive() and not released.is_set():
            time.sleep(0.05)
        if not alive():
            world.log_command(ivm, user, step.text, None, peer, note="client went away while the command hung")
            return Outcome(None, gone=True)
    with world.lock:
        ctx = Ctx(world=world, system=world.systems[ivm], user=user)
        result = dispatch(ctx, step.argv)
    if step.tail is not None:
        lines = result.stdout.splitlines()
        result.stdout = "".join(x + "\n" for x in lines[-step.tail:])
        result.status = 0  # the exit status of a pipeline is the last command's (tail)
    if "corrupt_line" in actions and result.stdout:
        result.stdout = corrupt(result.stdout, actions["corrupt_line"])
    note = "answer lost: connection dropped by fault" if actions.get("drop") == "after" else ""
    world.log_command(ivm, user, step.text, result.status, peer, note=note)
    return Outcome(result, drop_after=actions.get("drop") == "after")
