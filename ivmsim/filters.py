"""The text filters a padmin script may pipe IVM output into, done in Python (no program is ever run).

``grep [-v] [-i] [-c] [-w] [-x] [-E|-F] PATTERN``, ``tail -N|-n N``, ``head -N|-n N``, ``wc -l``, ``sort [-r] [-n] [-u]``,
``uniq [-c]`` and ``cut -d C -f N[,M]``. Each takes the text and returns (output, exit status); anything else
(another option, a file argument) is refused with the usage message and exit 2, as those programs do.
"""

from __future__ import annotations

import re


class FilterError(ValueError):
    """A filter invocation the simulator does not understand."""


def _lines(text: str) -> list[str]:
    return text.splitlines()


def _out(lines: list[str]) -> str:
    return "".join(x + "\n" for x in lines)


def _count(argv: list[str], name: str) -> int:
    if len(argv) == 1 and re.fullmatch(r"-[0-9]+", argv[0]):
        return int(argv[0][1:])
    if len(argv) == 2 and argv[0] == "-n" and argv[1].isdigit():
        return int(argv[1])
    if not argv:
        return 10
    raise FilterError(f"Usage: {name} [-n number]")


def grep(argv: list[str], text: str) -> tuple[str, int]:
    flags, pattern, fixed = set(), None, False
    for a in argv:
        if pattern is None and a.startswith("-") and len(a) > 1:
            for f in a[1:]:
                if f not in "vicwxEFe":
                    raise FilterError("Usage: grep [-E|-F] [-c|-l|-q] [-insvxbhwy] [-p[parasep]] -e pattern_list...")
                flags.add(f)
            continue
        if pattern is not None:
            raise FilterError("grep: reading files is not possible from this shell")
        pattern = a
    if pattern is None:
        raise FilterError("Usage: grep [-E|-F] [-c|-l|-q] [-insvxbhwy] [-p[parasep]] -e pattern_list...")
    fixed = "F" in flags
    body = re.escape(pattern) if fixed else (pattern if "E" in flags else _basic_to_python(pattern))
    if "w" in flags:
        body = rf"\b(?:{body})\b"
    if "x" in flags:
        body = rf"(?:{body})\Z"
        match = lambda rx, line: rx.match(line) is not None  # noqa: E731
    else:
        match = lambda rx, line: rx.search(line) is not None  # noqa: E731
    try:
        rx = re.compile(body, re.IGNORECASE if "i" in flags else 0)
    except re.error as exc:
        raise FilterError(f"grep: bad pattern: {exc}") from None
    hits = [ln for ln in _lines(text) if match(rx, ln) != ("v" in flags)]
    if "c" in flags:
        return f"{len(hits)}\n", 0 if hits else 1
    return _out(hits), 0 if hits else 1


def _basic_to_python(pattern: str) -> str:
    """A POSIX basic regular expression: ``+ ? | ( ) { }`` are literal unless escaped."""
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            out.append(n if n in "+?|(){}" else "\\" + n)
            i += 2
            continue
        out.append("\\" + c if c in "+?|(){}" else c)
        i += 1
    return "".join(out)


def tail(argv: list[str], text: str) -> tuple[str, int]:
    n = _count(argv, "tail")
    return _out(_lines(text)[-n:] if n else []), 0


def head(argv: list[str], text: str) -> tuple[str, int]:
    return _out(_lines(text)[:_count(argv, "head")]), 0


def wc(argv: list[str], text: str) -> tuple[str, int]:
    if argv != ["-l"]:
        raise FilterError("Usage: wc -l")
    return f"{text.count(chr(10)):>8}\n", 0


def sort(argv: list[str], text: str) -> tuple[str, int]:
    flags = set("".join(a[1:] for a in argv if a.startswith("-")))
    if any(not a.startswith("-") for a in argv) or flags - set("rnu"):
        raise FilterError("Usage: sort [-r] [-n] [-u]")
    lines = _lines(text)
    if "u" in flags:
        lines = list(dict.fromkeys(lines))
    key = (lambda s: float(m.group(0)) if (m := re.match(r"\s*-?[0-9.]+", s)) else 0.0) if "n" in flags else None
    return _out(sorted(lines, key=key, reverse="r" in flags)), 0


def uniq(argv: list[str], text: str) -> tuple[str, int]:
    if argv not in ([], ["-c"]):
        raise FilterError("Usage: uniq [-c]")
    groups: list[list] = []
    for ln in _lines(text):
        if groups and groups[-1][0] == ln:
            groups[-1][1] += 1
        else:
            groups.append([ln, 1])
    return _out([f"{n:>7} {ln}" if argv else ln for ln, n in groups]), 0


def cut(argv: list[str], text: str) -> tuple[str, int]:
    opts, i = {}, 0
    while i < len(argv):
        a = argv[i]
        if a in ("-d", "-f") and i + 1 < len(argv):
            opts[a], i = argv[i + 1], i + 2
        elif a[:2] in ("-d", "-f") and len(a) > 2:
            opts[a[:2]], i = a[2:], i + 1
        else:
            raise FilterError("Usage: cut -d character -f list")
    delim = opts.get("-d", "\t")
    if len(delim) != 1 or "-f" not in opts or not re.fullmatch(r"[0-9]+(,[0-9]+)*", opts["-f"]):
        raise FilterError("Usage: cut -d character -f list")
    wanted = [int(x) for x in opts["-f"].split(",")]
    rows = []
    for ln in _lines(text):
        parts = ln.split(delim)
        rows.append(ln if len(parts) == 1 else delim.join(parts[k - 1] for k in wanted if 0 < k <= len(parts)))
    return _out(rows), 0


FILTERS = {"grep": grep, "tail": tail, "head": head, "wc": wc, "sort": sort, "uniq": uniq, "cut": cut}
