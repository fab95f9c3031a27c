"""IVM/HMC output and input conventions (ivm-cli.md §3.2, §3.3).

Records are ordered ``(attribute, value)`` pairs. Without ``-F`` a record prints as ``attr=value,...`` with a
pair wrapped in double quotes when its value holds a comma; with ``-F a:b`` only the values print, joined by
the delimiter used in ``-F``, a value holding a comma or the delimiter wrapped in quotes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ivmsim import reference as ref
from ivmsim.errors import CommandError

Record = list[tuple[str, str]]
_ATTR = re.compile(r"[a-z0-9_]+")


def value(v) -> str:
    """Render a Python value the way IVM prints it."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, float):
        text = f"{v:.2f}".rstrip("0")
        return text + "0" if text.endswith(".") else text
    if isinstance(v, list | tuple):
        return ",".join(_list_item(str(x)) for x in v)
    return str(v)


def _list_item(item: str) -> str:
    # An item that itself contains commas is wrapped in doubled quotes inside the outer quotes (§3.2).
    return f'""{item}""' if "," in item else item


@dataclass
class Selection:
    """What ``-F`` / ``--header`` asked for."""

    attrs: list[str] | None  # None = whole records
    delimiter: str = ","
    header: bool = False


def parse_selection(fields: str | None, header: bool, known: tuple[str, ...]) -> Selection:
    """Parse ``-F`` (``None`` when absent, ``""`` for ``-F`` without names) against the known attributes."""
    if fields is None:
        if header:
            raise CommandError(ref.E_USAGE, "The --header flag is only valid with -F.")
        return Selection(None)
    if fields == "":
        return Selection(list(known), ",", header)
    names = _ATTR.findall(fields)
    separators = set(_ATTR.sub(" ", fields).split())
    if len(separators) > 1 or any(len(s) != 1 for s in separators):
        raise CommandError(ref.E_BAD_VALUE, f"The -F value {fields} must use a single delimiter character.")
    delimiter = separators.pop() if separators else ","
    for name in names:
        if name not in known:
            raise CommandError(ref.E_BAD_ATTRIBUTE, f"The attribute {name} is not valid for this command.")
    return Selection(names, delimiter, header)


def render(records: list[Record], sel: Selection) -> str:
    """Render records; an empty list is the informational "No results" message."""
    if not records:
        return ref.NO_RESULTS + "\n"
    lines = []
    if sel.attrs is None:
        for rec in records:
            lines.append(",".join(_pair(k, v) for k, v in rec))
    else:
        if sel.header:
            lines.append(sel.delimiter.join(sel.attrs))
        for rec in records:
            d = dict(rec)
            lines.append(sel.delimiter.join(_field(d.get(a, "null"), sel.delimiter) for a in sel.attrs))
    return "\n".join(lines) + "\n"


def _pair(k: str, v: str) -> str:
    return f'"{k}={v}"' if "," in v else f"{k}={v}"


def _field(v: str, delimiter: str) -> str:
    return f'"{v}"' if ("," in v or delimiter in v) else v


def split_quoted(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside double quotes; one layer of quotes is removed, ``""`` keeps one quote layer."""
    items, cur, quoted, i = [], [], False, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            if quoted and text[i + 1:i + 2] == '"':
                # doubled quote inside a quoted region: keep a literal quote layer
                cur.append('"')
                i += 2
                continue
            quoted = not quoted
        elif c == sep and not quoted:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(c)
        i += 1
    if quoted:
        raise CommandError(ref.E_BAD_VALUE, f"Unbalanced quotes in {text}.")
    items.append("".join(cur))
    return items


def parse_pairs(text: str, known: tuple[str, ...], what: str) -> dict[str, str]:
    """Parse ``-i`` input data: ``attr=value`` pairs; a value with commas comes as a quoted pair."""
    result: dict[str, str] = {}
    for item in split_quoted(text):
        if not item:
            continue
        if "=" not in item:
            raise CommandError(ref.E_BAD_VALUE, f"The {what} data {item} is not in attribute=value form.")
        k, v = item.split("=", 1)
        if k not in known:
            raise CommandError(ref.E_BAD_ATTRIBUTE, f"The attribute {k} is not valid in {what}.")
        if k in result:
            raise CommandError(ref.E_BAD_VALUE, f"The attribute {k} was given more than once.")
        result[k] = v.replace('"', "")
    return result


def parse_filter(text: str | None, known: tuple[str, ...]) -> dict[str, list[str]]:
    """``--filter "lpar_names=a,b,lpar_ids=3"``: a bare item continues the previous filter's value list."""
    if text is None:
        return {}
    filters: dict[str, list[str]] = {}
    last = None
    for item in split_quoted(text):
        item = item.replace('"', "")
        if "=" in item:
            k, v = item.split("=", 1)
            if k not in known:
                raise CommandError(ref.E_BAD_ATTRIBUTE, f"The filter {k} is not valid for this command.")
            # IBM's quoted pair ("lpar_names=a,b") carries several values for one filter in one item.
            filters.setdefault(k, []).extend(x for x in v.split(",") if x)
            last = k
        elif last is not None and item:
            filters[last].append(item)
        else:
            raise CommandError(ref.E_BAD_VALUE, f"The filter data {text} is not valid.")
    if "lpar_ids" in filters:
        for v in filters["lpar_ids"]:
            if not v.isdigit():
                raise CommandError(ref.E_BAD_VALUE, f"The partition ID {v} in the filter is not valid.")
    return filters


def lpar_filter(partitions, filters: dict[str, list[str]]):
    """Apply lpar_names / lpar_ids filters to partition-like objects with .name and .lpar_id."""
    names = set(filters.get("lpar_names", []))
    ids = {int(i) for i in filters.get("lpar_ids", [])}
    out = []
    for p in partitions:
        if names and p.name not in names:
            continue
        if ids and p.lpar_id not in ids:
            continue
        out.append(p)
    return out
