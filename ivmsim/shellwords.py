"""Turn what an SSH client sends into argv lists without ever running a shell.

Quoting follows POSIX sh (single quotes, double quotes with backslash escapes, backslash outside quotes).
Only the shell idioms that IVM automation really uses against the padmin shell are understood
(ivm-cli.md §3.1): a list of commands separated by ``;``, each optionally piped into ``tail -N``, and the
``echo`` builtin with ``$?`` (paxes appends ``;echo $?`` to read an exit status; ivmweb batches read-only
listings as ``cmd ; echo <marker> $? ; cmd ; echo <marker> $?``). Every other operator, redirection,
substitution or variable is refused with a clear message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPERATORS = set("|;&<>()`")


class ShellSyntaxError(ValueError):
    """The command line uses shell features the simulator refuses to interpret."""


@dataclass
class Pipeline:
    argv: list[str]
    tail: int | None = None  # "| tail -N"
    text: str = ""  # the command as sent (without the pipe), for the command log and fault matching


@dataclass
class Echo:
    """The ``echo`` builtin; the word ``$?`` prints the previous command's exit status."""

    words: list[str]

    def render(self, last_status: int) -> str:
        return " ".join(str(last_status) if w == "$?" else w for w in self.words) + "\n"


_ECHO_WORD = re.compile(r"\$\?|[A-Za-z0-9_:.,=+@%/-]+")


def tokenize(line: str, positions: bool = False):
    """Split into (token, is_operator) pairs. ``$?`` outside single quotes is returned as the word ``$?``.

    With ``positions`` also return where each token starts in ``line``.
    """
    tokens: list[tuple[str, bool]] = []
    starts: list[int] = []
    cur: list[str] = []
    has_word = False
    word_start = 0
    i, n = 0, len(line)

    def flush():
        nonlocal cur, has_word
        if has_word:
            tokens.append(("".join(cur), False))
            starts.append(word_start)
        cur, has_word = [], False

    while i < n:
        c = line[i]
        if not has_word and c not in " \t\n" and c not in OPERATORS:
            word_start = i
        if c in " \t\n":
            flush()
        elif c == "'":
            end = line.find("'", i + 1)
            if end < 0:
                raise ShellSyntaxError("unterminated single quote")
            cur.append(line[i + 1:end])
            has_word = True
            i = end
        elif c == '"':
            i += 1
            has_word = True
            while i < n and line[i] != '"':
                if line[i] == "\\" and i + 1 < n and line[i + 1] in '"\\$`\n':
                    cur.append(line[i + 1])
                    i += 2
                    continue
                if line[i] in "$`":
                    raise ShellSyntaxError("variables and command substitution are not supported")
                cur.append(line[i])
                i += 1
            if i >= n:
                raise ShellSyntaxError("unterminated double quote")
        elif c == "\\":
            if i + 1 < n:
                cur.append(line[i + 1])
                has_word = True
            i += 1
        elif c == "$":
            if line[i:i + 2] == "$?" and not has_word:
                cur.append("$?")
                has_word = True
                i += 1
            else:
                raise ShellSyntaxError("variables and command substitution are not supported")
        elif c in OPERATORS:
            flush()
            op, op_start = c, i
            if c in "|&" and line[i + 1:i + 2] == c:
                op = c + c
                i += 1
            tokens.append((op, True))
            starts.append(op_start)
        else:
            cur.append(c)
            has_word = True
        i += 1
    flush()
    return (tokens, starts) if positions else tokens


def parse(line: str) -> list[Pipeline | Echo]:
    """Parse a command line into the list of simple commands (and ``echo`` builtins) it runs, in order."""
    tokens, starts = tokenize(line, positions=True)
    steps: list[Pipeline | Echo] = []
    seg: list[tuple[str, bool]] = []
    seg_start = 0
    for (tok, start) in zip(tokens + [(";", True)], starts + [len(line)], strict=True):
        if tok == (";", True):
            if seg:
                steps.append(_step(seg, line[seg_start:start].strip()))
            elif start < len(line):
                raise ShellSyntaxError("empty command before ';'")
            seg, seg_start = [], start + 1
        else:
            seg.append(tok)
    if not steps:
        raise ShellSyntaxError("empty command")
    if isinstance(steps[0], Echo) and len(steps) == 1:
        raise ShellSyntaxError("echo alone is not a command the IVM is asked for")
    return steps


def _step(seg: list[tuple[str, bool]], text: str) -> Pipeline | Echo:
    if seg[0] == ("echo", False):
        words = [t for t, _ in seg[1:]]
        if any(op for _, op in seg) or not all(_ECHO_WORD.fullmatch(w) for w in words):
            raise ShellSyntaxError("echo takes plain words and $? only")
        return Echo(words)
    pipes = [i for i, (t, op) in enumerate(seg) if op and t == "|"]
    tail = None
    if pipes:
        after = [t for t, _ in seg[pipes[0] + 1:]]
        if len(pipes) > 1 or len(after) != 2 or after[0] != "tail" or not _tail_count(after[1]):
            raise ShellSyntaxError("pipes are not supported except '| tail -N'")
        tail = _tail_count(after[1])
        seg = seg[:pipes[0]]
        text = text[:text.rindex("|")].strip()
    for t, op in seg:
        if op:
            raise ShellSyntaxError(f"the shell operator {t!r} is not supported")
        if t == "$?":
            raise ShellSyntaxError("variables and command substitution are not supported")
    argv = [t for t, _ in seg]
    if not argv:
        raise ShellSyntaxError("empty command")
    return Pipeline(argv=argv, tail=tail, text=text)


def _tail_count(arg: str) -> int | None:
    if arg.startswith("-") and arg[1:].isdigit() and int(arg[1:]) > 0:
        return int(arg[1:])
    return None
