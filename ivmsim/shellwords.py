"""Turn what an SSH client sends into argv lists without ever running a shell.

Quoting follows POSIX sh (single quotes, double quotes with backslash escapes, backslash outside quotes).
Only two shell idioms that IVM automation really uses are understood: ``<cmd> | tail -1`` and
``<cmd>;echo $?`` (paxes appends the latter to read the exit code). Every other operator, redirection,
substitution or variable is refused with a clear message.
"""

from __future__ import annotations

from dataclasses import dataclass

OPERATORS = set("|;&<>()`")


class ShellSyntaxError(ValueError):
    """The command line uses shell features the simulator refuses to interpret."""


@dataclass
class Pipeline:
    argv: list[str]
    tail: int | None = None  # "| tail -N"
    echo_status: bool = False  # "; echo $?"


def tokenize(line: str) -> list[tuple[str, bool]]:
    """Split into (token, is_operator) pairs. ``$?`` outside single quotes is returned as the word ``$?``."""
    tokens: list[tuple[str, bool]] = []
    cur: list[str] = []
    has_word = False
    i, n = 0, len(line)

    def flush():
        nonlocal cur, has_word
        if has_word:
            tokens.append(("".join(cur), False))
        cur, has_word = [], False

    while i < n:
        c = line[i]
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
            op = c
            if c in "|&" and line[i + 1:i + 2] == c:
                op = c + c
                i += 1
            tokens.append((op, True))
        else:
            cur.append(c)
            has_word = True
        i += 1
    flush()
    return tokens


def parse(line: str) -> Pipeline:
    """Parse a command line into one command plus the supported idioms."""
    tokens = tokenize(line)
    # split into segments on ';'
    segments: list[list[tuple[str, bool]]] = [[]]
    for tok in tokens:
        if tok == (";", True):
            segments.append([])
        else:
            segments[-1].append(tok)
    segments = [s for s in segments if s] if len(segments) > 1 else segments
    echo = False
    if len(segments) == 2 and [t for t, _ in segments[1]] == ["echo", "$?"]:
        echo = True
        segments = segments[:1]
    if len(segments) != 1:
        raise ShellSyntaxError("only one command per line is supported (plus ';echo $?')")
    seg = segments[0]
    pipes = [i for i, (t, op) in enumerate(seg) if op and t == "|"]
    tail = None
    if pipes:
        after = [t for t, _ in seg[pipes[0] + 1:]]
        if len(pipes) > 1 or len(after) != 2 or after[0] != "tail" or not _tail_count(after[1]):
            raise ShellSyntaxError("pipes are not supported except '| tail -N'")
        tail = _tail_count(after[1])
        seg = seg[:pipes[0]]
    for t, op in seg:
        if op:
            raise ShellSyntaxError(f"the shell operator {t!r} is not supported")
        if t == "$?":
            raise ShellSyntaxError("variables and command substitution are not supported")
    argv = [t for t, _ in seg]
    if not argv:
        raise ShellSyntaxError("empty command")
    return Pipeline(argv=argv, tail=tail, echo_status=echo)


def _tail_count(arg: str) -> int | None:
    if arg.startswith("-") and arg[1:].isdigit() and int(arg[1:]) > 0:
        return int(arg[1:])
    return None
