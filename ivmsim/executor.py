"""Run one command line received over SSH: the padmin shell's idioms, faults, the command itself, the command log.

The line is parsed by ``ivmsim.shellwords`` and walked here: every simple command that names an IVM command is
run, logged and subject to faults on its own, exactly as the padmin shell would run the commands of a script
one after the other; ``echo`` and the text filters of ``ivmsim.filters`` are done in Python.
"""

from __future__ import annotations

import shlex
import time
from dataclasses import dataclass, field

from ivmsim import reference as ref
from ivmsim.commands import Ctx, dispatch
from ivmsim.errors import Result
from ivmsim.faults import corrupt
from ivmsim.filters import FILTERS, FilterError
from ivmsim.shellwords import AndOr, For, Pipeline, Script, ShellSyntaxError, Simple, Word, parse


@dataclass
class Outcome:
    result: Result | None  # None when the connection must drop before the command runs
    drop_after: bool = False  # run, then drop the connection instead of answering
    gone: bool = False  # the client went away: nobody to answer, nothing to drop


class _Stop(Exception):
    """A fault or a vanished client ends the whole line here."""

    def __init__(self, outcome: Outcome):
        self.outcome = outcome


@dataclass
class _Run:
    world: object
    ivm: str
    user: str
    peer: str
    alive: object
    out: Result = field(default_factory=Result)
    env: dict = field(default_factory=dict)
    drop_after: bool = False


def execute(world, ivm: str, user: str, line: str, peer: str = "", alive=lambda: True) -> Outcome:
    """Execute ``line`` on ``ivm`` as ``user``. ``alive()`` tells whether the client is still connected.

    The exit status is the last command's, as in sh.
    """
    try:
        script = parse(line)
    except ShellSyntaxError as exc:
        world.log_command(ivm, user, line, ref.ERROR_EXIT, peer, note="refused by the shell")
        return Outcome(Result(stderr=f"rksh: {exc}\n", status=ref.ERROR_EXIT))
    run = _Run(world, ivm, user, peer, alive)
    try:
        stdout, _ = _script(run, script, capture=False)
    except _Stop as stop:
        if stop.outcome.result is not None:  # drop after: what ran so far, then the connection goes
            return Outcome(run.out, drop_after=True)
        return stop.outcome
    return Outcome(run.out, drop_after=run.drop_after)


def _script(run: _Run, script: Script, capture: bool) -> tuple[str, int]:
    text = ""
    for item in script.items:
        text += _and_or(run, item, capture)
    return text, run.out.status


def _and_or(run: _Run, node: AndOr, capture: bool) -> str:
    text = _pipeline(run, node.first, capture)
    for op, pipe in node.rest:
        if (run.out.status == 0) == (op == "&&"):
            text += _pipeline(run, pipe, capture)
    return text


def _pipeline(run: _Run, pipe: Pipeline, capture: bool) -> str:
    first, filters = pipe.commands[0], pipe.commands[1:]
    if isinstance(first, For):
        if filters:
            raise_refusal(run, "a loop cannot be piped here")
            return ""
        text = ""
        for item in [w for word in first.items for w in _expand(run, word)]:
            run.env[first.var] = item
            text += _script(run, first.body, capture)[0]
        return text
    argv = _argv(run, first)
    if argv is None:
        return ""
    text, status = _simple(run, first, argv)
    for f in filters:
        if isinstance(f, For):
            raise_refusal(run, "a loop cannot read a pipe here")
            return ""
        fargv = _argv(run, f)
        if fargv is None:
            return ""
        if fargv[0] not in FILTERS:
            raise_refusal(run, f"{fargv[0]}: only the filters {', '.join(ref.PIPE_FILTERS)} can read a pipe")
            return ""
        try:
            text, status = FILTERS[fargv[0]](fargv[1:], text)
        except FilterError as exc:
            run.out.stderr += f"{exc}\n"
            text, status = "", 2
    run.out.status = status
    if not capture:
        run.out.stdout += text
        return ""
    return text


def raise_refusal(run: _Run, why: str) -> None:
    run.out.stderr += f"rksh: {why}\n"
    run.out.status = ref.ERROR_EXIT


def _argv(run: _Run, cmd: Simple) -> list[str] | None:
    argv = [w for word in cmd.words for w in _expand(run, word)]
    return argv or None  # an empty command keeps the status its substitutions left, as in sh


def _expand(run: _Run, word: Word) -> list[str]:
    """The fields a word gives: unquoted expansions are split on blanks, quoted ones stay whole."""
    fields: list[str] = []
    cur, has = "", False
    for kind, value, quoted in word.parts:
        if kind == "lit":
            cur, has = cur + value, True
            continue
        if kind == "var":
            text = str(run.out.status) if value == "?" else run.env.get(value, "")
        else:
            text, _ = _script(run, value, capture=True)
            text = text.rstrip("\n")
        if quoted:
            cur, has = cur + text, True
            continue
        pieces = text.split()
        if not pieces:
            continue
        if text[:1].isspace() and has:
            fields.append(cur)
            cur, has = "", False
        cur += pieces[0]
        has = True
        for piece in pieces[1:]:
            fields.append(cur)
            cur = piece
        if text[-1:].isspace():
            fields.append(cur)
            cur, has = "", False
    if has:
        fields.append(cur)
    return fields


def _simple(run: _Run, cmd: Simple, argv: list[str]) -> tuple[str, int]:
    if argv[0] == "echo":
        return " ".join(argv[1:]) + "\n", 0
    if argv[0] in FILTERS:
        run.out.stderr += f"rksh: {argv[0]}: there is no input to read here\n"
        return "", ref.ERROR_EXIT
    expanded = any(kind != "lit" for word in cmd.words for kind, _, _ in word.parts)
    text = shlex.join(argv) if expanded else cmd.text
    outcome = _run_one(run.world, run.ivm, run.user, argv, text, run.peer, run.alive)
    if outcome.result is None:
        raise _Stop(outcome)
    run.out.stderr += outcome.result.stderr
    if outcome.drop_after:
        run.out.stdout += outcome.result.stdout
        raise _Stop(outcome)
    return outcome.result.stdout, outcome.result.status


def _run_one(world, ivm: str, user: str, argv: list[str], text: str, peer: str, alive) -> Outcome:
    actions = world.faults.on_command(ivm, text)
    if actions.get("drop") == "before":
        world.log_command(ivm, user, text, None, peer, note="connection dropped by fault before running")
        return Outcome(None)
    if "hang" in actions:
        seconds, released = actions["hang"]
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline and alive() and not released.is_set():
            time.sleep(0.05)
        if not alive():
            world.log_command(ivm, user, text, None, peer, note="client went away while the command hung")
            return Outcome(None, gone=True)
    with world.lock:
        ctx = Ctx(world=world, system=world.systems[ivm], user=user)
        result = dispatch(ctx, argv)
    if "corrupt_line" in actions and result.stdout:
        result.stdout = corrupt(result.stdout, actions["corrupt_line"])
    note = "answer lost: connection dropped by fault" if actions.get("drop") == "after" else ""
    world.log_command(ivm, user, text, result.status, peer, note=note)
    return Outcome(result, drop_after=actions.get("drop") == "after")
