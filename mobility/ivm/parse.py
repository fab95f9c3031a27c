"""Parsers for IVM command output (ivm-cli.md §3.2, §4), and their inverses for round-trip tests.

Every parser either returns exactly what the text says or raises ``OutputNotUnderstood`` naming the
offending line: no positional guessing, no silently skipped lines. Values stay strings; the helpers
``nullable``, ``parse_list`` and ``parse_int`` turn them into Python values where a caller needs it.

Quoting (IBM's CSV-like rule): a field that contains the delimiter is wrapped in double quotes, and a
literal ``"`` inside a quoted field is doubled. Nested lists use the same rule one level down, which is
why ``virtual_eth_adapters`` items with commas appear as ``""2/1/1/3,4,5/0/1""`` inside the quoted pair.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from .errors import InvalidValue, OutputNotUnderstood

NULL_VALUES = frozenset({"", "null", "none"})

_ATTR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_VIOS_MSG = re.compile(r"^\[(VIOS([EIW])[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4})\]\s*(.*?)\s*$")
_HSCL_MSG = re.compile(r"^(HSCL[0-9A-Fa-f]{4})(?:\s+(.*?))?\s*$")
_AIX_MSG = re.compile(r"^(\d{4}-\d{3})\s+(.*?)\s*$")
# "No results" is known by its message id, whatever language the text after it is in; the HMC prints the
# English sentence without an id.
NO_RESULTS_ID = "VIOSI01040010-0003"
# A move that failed after ``migrlpar -o m --async`` returned: ``lslparmigr -r lpar`` lists the partition as
# "Migration Failed" and prints this message (the synchronous form's) beside the listing; known by its id alone.
MIGRATION_FAILED_ID = "VIOSE0104A00B-0005"
_NO_RESULTS = re.compile(r"^(?:\[" + NO_RESULTS_ID + r"\](?:\s.*)?|No results were found\.?)$")
# A line parse_message_line could recognise starts (after blanks) like one of the three patterns above: data lines,
# almost all of them, are told apart with this one match instead of three.
_MAYBE_MESSAGE = re.compile(r"\s*(?:\[|HSCL|\d{4}-\d{3}\s)")


# --- IVM / HMC messages ---------------------------------------------------------------------------


@dataclass(frozen=True)
class IVMMessage:
    """One IVM/VIOS/HMC message line: ``code`` (e.g. ``VIOSE010401A1-0042``, ``HSCLA319``,
    ``0514-516``), ``severity`` (``error``/``info``/``warning``) and the ``text`` after the code."""

    code: str
    severity: str
    text: str


def parse_message_line(line: str) -> IVMMessage | None:
    """Recognise one message line, or return None if the line is not a message."""
    line = line.strip()
    if m := _VIOS_MSG.match(line):
        severity = {"E": "error", "I": "info", "W": "warning"}[m.group(2).upper()]
        return IVMMessage(m.group(1), severity, m.group(3))
    if m := _HSCL_MSG.match(line):
        return IVMMessage(m.group(1), "error", m.group(2) or "")
    if m := _AIX_MSG.match(line):
        return IVMMessage(m.group(1), "error", m.group(2))
    return None


def parse_ivm_message(text: str) -> IVMMessage | None:
    """The first message line in ``text`` (stderr or stdout of a failed command), if any."""
    for line in text.splitlines():
        msg = parse_message_line(line)
        if msg is not None:
            return msg
    return None


def is_no_results(text: str) -> bool:
    """True when the whole output is the informational "No results were found." (exit 0)."""
    if NO_RESULTS_ID not in text and "No results were found" not in text:  # a listing, the usual answer
        return False
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return len(lines) == 1 and bool(_NO_RESULTS.match(lines[0]))


def _data_lines(text: str) -> list[tuple[int, str]] | None:
    """Lines of ``text`` with 1-based numbers, CR stripped; None for the "No results" answer.

    Refuses an IVM error message found where data was expected (some commands print errors on stdout).
    """
    if not isinstance(text, str):
        raise OutputNotUnderstood(repr(text), "output is not text")
    if is_no_results(text):
        return None
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None  # a record whose quoted value is still open
    for no, line in enumerate(text.split("\n"), start=1):
        line = line.removesuffix("\r")
        if pending is not None:
            # A quoted value that spans lines (a version banner): the newline belongs to the value.
            pending = (pending[0], pending[1] + "\n" + line)
            if not _open_quote(pending[1]):
                lines.append(pending)
                pending = None
            continue
        msg = parse_message_line(line) if _MAYBE_MESSAGE.match(line) else None
        if msg is not None and msg.severity != "info":
            raise OutputNotUnderstood(line, f"IVM message {msg.code} where data was expected", line_no=no)
        if _open_quote(line):
            pending = (no, line)
        else:
            lines.append((no, line))
    if pending is not None:
        raise OutputNotUnderstood(pending[1].rstrip("\n"), "unterminated quoted value", line_no=pending[0])
    return lines


def _open_quote(line: str) -> bool:
    """True when ``line`` ends inside a double-quoted value (a doubled quote inside one is a literal quote)."""
    return line.count('"') % 2 == 1


# --- fields, records, lists -----------------------------------------------------------------------


def split_fields(line: str, delimiter: str = ",", *, line_no: int | None = None) -> list[str]:
    """Split one line on ``delimiter`` honouring IBM quoting; quotes are removed, ``""`` becomes ``"``."""
    if '"' not in line:  # no quoting at all (most lines): what the loop below would do, in C
        return line.split(delimiter)
    fields: list[str] = []
    i, n = 0, len(line)
    while True:
        if i < n and line[i] == '"':
            i += 1
            buf: list[str] = []
            while True:
                if i >= n:
                    raise OutputNotUnderstood(line, "unterminated quoted value", line_no=line_no)
                ch = line[i]
                if ch == '"':
                    if i + 1 < n and line[i + 1] == '"':
                        buf.append('"')
                        i += 2
                        continue
                    i += 1
                    break
                buf.append(ch)
                i += 1
            fields.append("".join(buf))
            if i == n:
                return fields
            if line[i] != delimiter:
                raise OutputNotUnderstood(
                    line, f"unexpected {line[i]!r} after a closing quote at column {i + 1}", line_no=line_no
                )
            i += 1
        else:
            j = line.find(delimiter, i)
            end = n if j < 0 else j
            token = line[i:end]
            if '"' in token:
                raise OutputNotUnderstood(line, "double quote inside an unquoted value", line_no=line_no)
            fields.append(token)
            if j < 0:
                return fields
            i = j + 1


def _check_delimiter(delimiter: str) -> None:
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '"\r\n':
        raise InvalidValue("delimiter", delimiter, "must be one character other than a quote or newline")


def format_fields(values: Iterable[object], delimiter: str = ",") -> str:
    """Inverse of ``split_fields``: join values, quoting those that contain the delimiter or a quote."""
    _check_delimiter(delimiter)
    out = []
    for value in values:
        text = str(value)
        if "\r" in text:
            raise InvalidValue("field value", value, "cannot contain a carriage return")
        if delimiter in text or '"' in text or "\n" in text:
            text = '"' + text.replace('"', '""') + '"'
        out.append(text)
    return delimiter.join(out)


def format_list(items: Iterable[object]) -> str:
    """Format a list attribute value (``a,b,"c,d"``); the inverse of ``parse_list``."""
    return format_fields(items, ",")


def format_record(record: Mapping[str, object]) -> str:
    """Format one ``attr=value,...`` record; the inverse of ``parse_record``.

    List and tuple values are formatted with ``format_list`` first (the nested quoting rule).
    """
    pairs = []
    for name, value in record.items():
        if not _ATTR_NAME.fullmatch(name):
            raise InvalidValue("attribute name", name, "must be letters, digits and '_'")
        if isinstance(value, (list, tuple)):
            value = format_list(value)
        elif value is None:
            value = ""
        pairs.append(f"{name}={value}")
    return format_fields(pairs, ",")


def parse_record(line: str, *, line_no: int | None = None) -> dict[str, str]:
    """Parse one ``attr=value,attr="...",...`` line into an ordered dict of strings."""
    record: dict[str, str] = {}
    for pair in split_fields(line, ",", line_no=line_no):
        name, eq, value = pair.partition("=")
        if not eq:
            raise OutputNotUnderstood(line, f"field {pair!r} is not attr=value", line_no=line_no)
        if not _ATTR_NAME.fullmatch(name):
            raise OutputNotUnderstood(line, f"{name!r} is not an attribute name", line_no=line_no)
        if name in record:
            raise OutputNotUnderstood(line, f"attribute {name!r} appears twice", line_no=line_no)
        record[name] = value
    return record


def parse_records(text: str) -> list[dict[str, str]]:
    """Parse the output of an IVM ``ls*`` command run without ``-F``: one record per non-blank line."""
    lines = _data_lines(text)
    if lines is None:
        return []
    return [parse_record(line, line_no=no) for no, line in lines if line.strip()]


def parse_fields(
    text: str, fields: Sequence[str], delimiter: str = ",", *, header: bool = False
) -> list[dict[str, str]]:
    """Parse ``-F f1<d>f2...`` output: each line holds exactly ``len(fields)`` values in that order.

    With ``header=True`` the first line must repeat the field names (``--header``). For a single field a
    blank line is an empty value, so only the final newline is dropped; otherwise blank lines at the end
    are ignored and blank lines in between are refused.
    """
    _check_delimiter(delimiter)
    fields = tuple(fields)
    if not fields:
        raise InvalidValue("fields", fields, "at least one field is required")
    lines = _data_lines(text)
    if lines is None:
        return []
    if lines and lines[-1][1] == "":
        lines.pop()
    if len(fields) > 1:
        while lines and not lines[-1][1].strip():
            lines.pop()
    if header:
        if not lines:
            raise OutputNotUnderstood(text, "expected a header line")
        no, first = lines.pop(0)
        got = split_fields(first, delimiter, line_no=no)
        if tuple(got) != fields:
            raise OutputNotUnderstood(first, f"header does not name the fields {list(fields)}", line_no=no)
    records = []
    for no, line in lines:
        values = split_fields(line, delimiter, line_no=no)
        if len(values) != len(fields):
            raise OutputNotUnderstood(
                line, f"expected {len(fields)} values separated by {delimiter!r}, got {len(values)}", line_no=no
            )
        records.append(dict(zip(fields, values, strict=True)))
    return records


class FieldsMissing(OutputNotUnderstood):
    """A record lacks attributes the caller needs: older firmware does not print them. ``missing`` names them."""

    def __init__(self, line: str, missing: Sequence[str], *, line_no: int | None = None):
        self.missing = tuple(missing)
        super().__init__(line, "attributes not printed by this IVM (older firmware?): " + ", ".join(missing),
                         line_no=line_no)


def pick(records: Sequence[Mapping[str, str]], required: Sequence[str],
         optional: Sequence[str] = ()) -> list[dict[str, str | None]]:
    """Each record reduced to ``required`` + ``optional`` attributes, in that order. An optional attribute the
    record lacks (a firmware level that does not know it) is None; a required one raises ``FieldsMissing``."""
    out = []
    for no, rec in enumerate(records, start=1):
        missing = [f for f in required if f not in rec]
        if missing:
            raise FieldsMissing(format_record(dict(rec)), missing, line_no=no)
        out.append({f: rec.get(f) for f in (*required, *optional)})
    return out


def nullable(value: str | None) -> str | None:
    """None for IVM's empty markers (empty, ``null``, ``none``), else the value unchanged."""
    return None if value is None or value in NULL_VALUES else value


def parse_list(value: str | None) -> list[str]:
    """Split a list attribute (``capabilities``, ``virtual_eth_adapters``...); empty markers give []."""
    if nullable(value) is None:
        return []
    return split_fields(value, ",")


def parse_int(value: str | None, field: str = "value") -> int | None:
    """An integer attribute; None for the empty markers; refuses anything else that is not a number."""
    v = nullable(value)
    if v is None:
        return None
    if not re.fullmatch(r"-?[0-9]+", v):
        raise OutputNotUnderstood(value, f"{field} is not a whole number")
    return int(v)


# --- lsmap ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class VTD:
    """A virtual target device under a vhost; fields not requested/printed are None."""

    name: str | None = None
    status: str | None = None
    lun: str | None = None
    backing: str | None = None
    physloc: str | None = None
    mirrored: str | None = None


@dataclass(frozen=True)
class VHostMapping:
    """One virtual SCSI server adapter and its VTDs. ``client_id`` 0 means no client partition."""

    svsa: str
    physloc: str | None
    client_id: int | None
    vtds: tuple[VTD, ...] = ()


_VHOST = re.compile(r"vhost[0-9]+")
_VFCHOST = re.compile(r"vfchost[0-9]+")
_CLIENT_ID_HEX = re.compile(r"0x[0-9A-Fa-f]{8}")
_DASHES = re.compile(r"-+(?:\s+-+)*\s*")
_VTD_KEYS = {
    "VTD": "name",
    "Status": "status",
    "LUN": "lun",
    "Backing device": "backing",
    "Physloc": "physloc",
    "Mirrored": "mirrored",
}
_VTD_LINE = re.compile(r"(VTD|Status|LUN|Backing device|Physloc|Mirrored)(?:\s+(\S.*?))?\s*")


def parse_lsmap(text: str) -> list[VHostMapping]:
    """Parse plain ``lsmap -all`` output (header, dashes, adapter row, then VTD blocks) per vhost."""
    lines = _data_lines(text)
    if lines is None:
        return []
    result: list[VHostMapping] = []
    current: dict | None = None
    vtd: dict | None = None

    def finish() -> None:
        if current is not None:
            if vtd is not None:
                current["vtds"].append(VTD(**vtd))
            result.append(VHostMapping(current["svsa"], current["physloc"], current["client_id"], tuple(current["vtds"])))

    i = 0
    while i < len(lines):
        no, line = lines[i]
        i += 1
        if not line.strip():
            continue
        if line.split()[:1] == ["SVSA"]:
            finish()
            current, vtd = None, None
            if i >= len(lines) or not _DASHES.fullmatch(lines[i][1]):
                raise OutputNotUnderstood(line, "lsmap header not followed by a dashed rule", line_no=no)
            if i + 1 >= len(lines):
                raise OutputNotUnderstood(line, "lsmap header without an adapter row", line_no=no)
            row_no, row = lines[i + 1]
            i += 2
            tokens = row.split()
            if not 2 <= len(tokens) <= 3 or not _VHOST.fullmatch(tokens[0]):
                raise OutputNotUnderstood(row, "expected 'vhostN [physloc] 0xCLIENTID'", line_no=row_no)
            if not re.fullmatch(r"0x[0-9A-Fa-f]+", tokens[-1]):
                raise OutputNotUnderstood(row, "client partition id is not 0x-hex", line_no=row_no)
            current = {
                "svsa": tokens[0],
                "physloc": tokens[1] if len(tokens) == 3 else None,
                "client_id": int(tokens[-1], 16),
                "vtds": [],
            }
            continue
        if current is None:
            raise OutputNotUnderstood(line, "line outside any vhost section", line_no=no)
        if line.strip() == "NO VIRTUAL TARGET DEVICE FOUND":
            if current["vtds"] or vtd is not None:
                raise OutputNotUnderstood(line, "'no VTD' after VTDs", line_no=no)
            continue
        m = _VTD_LINE.fullmatch(line)
        if not m:
            raise OutputNotUnderstood(line, "unknown lsmap line", line_no=no)
        key, value = _VTD_KEYS[m.group(1)], m.group(2)
        if key == "name":
            if not value:
                raise OutputNotUnderstood(line, "VTD line without a name", line_no=no)
            if vtd is not None:
                current["vtds"].append(VTD(**vtd))
            vtd = {"name": value}
            continue
        if vtd is None:
            raise OutputNotUnderstood(line, f"{m.group(1)} line before any VTD line", line_no=no)
        if key in vtd:
            raise OutputNotUnderstood(line, f"{m.group(1)} given twice for one VTD", line_no=no)
        vtd[key] = value
    finish()
    return result


LSMAP_FIELDS = ("svsa", "physloc", "clientid", "vtd", "status", "lun", "backing", "bdphysloc", "mirrored")
_LSMAP_ADAPTER_FIELDS = ("svsa", "physloc", "clientid")
_LSMAP_VTD_ATTR = {"vtd": "name", "status": "status", "lun": "lun", "backing": "backing",
                   "bdphysloc": "physloc", "mirrored": "mirrored"}


def lsmap_field_order(fields: Iterable[str]) -> tuple[str, ...]:
    """The order lsmap prints ``-field`` values in: its own, not the requested one (ivm-cli.md §4.6)."""
    wanted = {f.lower() for f in fields}
    unknown = wanted - set(LSMAP_FIELDS)
    if unknown:
        raise InvalidValue("lsmap field", sorted(unknown)[0], f"must be one of {', '.join(LSMAP_FIELDS)}")
    if "svsa" not in wanted:
        raise InvalidValue("lsmap fields", sorted(wanted), "must include svsa so each line names its vhost")
    return tuple(f for f in LSMAP_FIELDS if f in wanted)


def parse_lsmap_fmt(text: str, fields: Iterable[str], delimiter: str = ":") -> list[VHostMapping]:
    """Parse ``lsmap -all -field ... -fmt :``: one line per vhost.

    The adapter values (svsa, physloc, clientid) come first, in whatever order; within them the vhost is
    found by its ``vhostN`` token and the client id by its ``0x`` + 8 hex digits form, never by
    position. The rest are per-VTD groups in lsmap's own field order.
    """
    order = lsmap_field_order(fields)
    head = [f for f in order if f in _LSMAP_ADAPTER_FIELDS]
    per_vtd = [f for f in order if f not in _LSMAP_ADAPTER_FIELDS]
    lines = _data_lines(text)
    if lines is None:
        return []
    result = []
    for no, line in lines:
        if not line.strip():
            continue
        tokens = line.split(delimiter)
        if len(tokens) < len(head):
            raise OutputNotUnderstood(line, f"expected at least {len(head)} values", line_no=no)
        adapter, rest = tokens[: len(head)], tokens[len(head):]
        vhosts = [t for t in adapter if _VHOST.fullmatch(t)]
        if len(vhosts) != 1:
            raise OutputNotUnderstood(line, "no single vhostN token among the adapter values", line_no=no)
        remaining = [t for t in adapter if t != vhosts[0]]
        client_id = None
        if "clientid" in head:
            ids = [t for t in remaining if _CLIENT_ID_HEX.fullmatch(t)]
            if len(ids) != 1:
                raise OutputNotUnderstood(line, "no single 0xNNNNNNNN client id", line_no=no)
            client_id = int(ids[0], 16)
            remaining.remove(ids[0])
        physloc = remaining[0] if "physloc" in head else None
        if per_vtd:
            if len(rest) % len(per_vtd) and rest != [""]:
                raise OutputNotUnderstood(
                    line, f"VTD values do not come in groups of {len(per_vtd)} ({', '.join(per_vtd)})", line_no=no
                )
            groups = [] if rest in ([], [""]) else [rest[k:k + len(per_vtd)] for k in range(0, len(rest), len(per_vtd))]
            vtds = tuple(VTD(**{_LSMAP_VTD_ATTR[f]: (v or None) for f, v in zip(per_vtd, g, strict=True)}) for g in groups)
        else:
            if rest and rest != [""]:
                raise OutputNotUnderstood(line, "more values than the requested fields", line_no=no)
            vtds = ()
        result.append(VHostMapping(vhosts[0], physloc or None, client_id, vtds))
    return result


NPIV_FIELDS = ("name", "physloc", "clntid", "clntname", "clntos", "status", "fc", "fcphysloc",
               "ports", "flags", "vfcclient", "vfcclientdrc")


@dataclass(frozen=True)
class NpivMapping:
    """One ``lsmap -npiv`` line: a vfchost and the physical port / client it is bound to."""

    name: str
    physloc: str | None = None
    clntid: int | None = None
    clntname: str | None = None
    clntos: str | None = None
    status: str | None = None
    fc: str | None = None
    fcphysloc: str | None = None
    ports: str | None = None
    flags: str | None = None
    vfcclient: str | None = None
    vfcclientdrc: str | None = None


def npiv_field_order(fields: Iterable[str] | None) -> tuple[str, ...]:
    if fields is None:
        return NPIV_FIELDS
    wanted = {f.lower() for f in fields}
    unknown = wanted - set(NPIV_FIELDS)
    if unknown:
        raise InvalidValue("lsmap -npiv field", sorted(unknown)[0], f"must be one of {', '.join(NPIV_FIELDS)}")
    if "name" not in wanted:
        raise InvalidValue("lsmap -npiv fields", sorted(wanted), "must include name so each line names its vfchost")
    return tuple(f for f in NPIV_FIELDS if f in wanted)


def parse_lsmap_npiv_fmt(text: str, fields: Iterable[str] | None = None, delimiter: str = ":") -> list[NpivMapping]:
    """Parse ``lsmap -all -npiv -fmt :`` (all fields) or with ``-field ...`` (lsmap's own order)."""
    order = npiv_field_order(fields)
    lines = _data_lines(text)
    if lines is None:
        return []
    result = []
    for no, line in lines:
        if not line.strip():
            continue
        tokens = line.split(delimiter)
        hosts = [k for k, t in enumerate(tokens) if _VFCHOST.fullmatch(t)]
        if len(hosts) != 1:
            raise OutputNotUnderstood(line, "no single vfchostN token", line_no=no)
        if len(tokens) != len(order) or hosts[0] != order.index("name"):
            raise OutputNotUnderstood(line, f"expected {len(order)} values ({', '.join(order)})", line_no=no)
        values = dict(zip(order, tokens, strict=True))
        clntid = None
        if values.get("clntid"):
            if not (values["clntid"].isascii() and values["clntid"].isdigit()):
                raise OutputNotUnderstood(line, "client partition id is not a number", line_no=no)
            clntid = int(values["clntid"])
        values = {k: (v or None) for k, v in values.items() if k != "clntid"}
        result.append(NpivMapping(clntid=clntid, **values))
    return result


# --- lsdev --------------------------------------------------------------------------------------------


def parse_lsdev_attr(text: str) -> str:
    """Parse ``lsdev -dev X -attr Y``: the line ``value``, a blank line, then the value itself."""
    lines = _data_lines(text)
    if lines is None:
        raise OutputNotUnderstood(text.strip(), "no value printed")
    while lines and not lines[-1][1].strip():
        lines.pop()
    if len(lines) != 3:
        raise OutputNotUnderstood(text, f"expected 3 lines (header, blank, value), got {len(lines)}")
    (n1, head), (n2, blank), (_, value) = lines
    if head.strip() != "value":
        raise OutputNotUnderstood(head, "expected the header 'value'", line_no=n1)
    if blank.strip():
        raise OutputNotUnderstood(blank, "expected a blank line after the header", line_no=n2)
    return value.strip()


@dataclass(frozen=True)
class Device:
    """One row of ``lsdev`` table output."""

    name: str
    status: str
    description: str


def parse_lsdev_table(text: str) -> list[Device]:
    """Parse ``lsdev -type sea`` (or any ``lsdev -type``) table: header ``name status description``."""
    lines = _data_lines(text)
    if lines is None:
        return []
    lines = [(no, ln) for no, ln in lines if ln.strip()]
    if not lines:
        return []
    no, head = lines[0]
    if head.split() != ["name", "status", "description"]:
        raise OutputNotUnderstood(head, "expected the header 'name status description'", line_no=no)
    devices = []
    for no, line in lines[1:]:
        m = re.fullmatch(r"(\S+)\s+(\S+)(?:\s+(\S.*?))?\s*", line)
        if not m or not re.fullmatch(r"[A-Za-z][A-Za-z0-9_.-]*", m.group(1)):
            raise OutputNotUnderstood(line, "expected 'name status description'", line_no=no)
        devices.append(Device(m.group(1), m.group(2), m.group(3) or ""))
    return devices


@dataclass(frozen=True)
class NPort:
    """One ``lsnports`` line: an NPIV-capable physical FC port. ``fabric`` 1 = its switch supports NPIV;
    ``aports`` = virtual ports still free of ``tports``; ``awwpns`` = WWPNs still free of ``swwpns``."""

    name: str
    physloc: str
    fabric: int
    tports: int
    aports: int
    swwpns: int
    awwpns: int


LSNPORTS_HEADER = ["name", "physloc", "fabric", "tports", "aports", "swwpns", "awwpns"]


def parse_lsnports(text: str) -> list[NPort]:
    """Parse ``ioscli lsnports``: the header above, then one port per line, the five counts whole numbers
    (a free count above its total is refused). [R]: not in ivm-cli.md; the standard VIOS command's columns."""
    lines = _data_lines(text)
    lines = [(no, ln) for no, ln in (lines or []) if ln.strip()]
    if not lines:
        return []
    no, head = lines[0]
    if head.split() != LSNPORTS_HEADER:
        raise OutputNotUnderstood(head, "expected the header '" + " ".join(LSNPORTS_HEADER) + "'", line_no=no)
    ports = []
    for no, line in lines[1:]:
        parts = line.split()
        if (len(parts) != 7 or not re.fullmatch(r"fcs[0-9]+", parts[0])
                or not all(p.isascii() and p.isdigit() for p in parts[2:]) or parts[2] not in ("0", "1")):
            raise OutputNotUnderstood(line, "expected 'fcsN physloc fabric(0|1) tports aports swwpns awwpns'",
                                      line_no=no)
        port = NPort(parts[0], parts[1], *(int(p) for p in parts[2:]))
        if port.aports > port.tports or port.awwpns > port.swwpns:
            raise OutputNotUnderstood(line, "more ports or WWPNs free than the port has", line_no=no)
        ports.append(port)
    return ports


def parse_slot_config(text: str, delimiter: str = ",") -> list[tuple[int, str]]:
    """Parse ``lshwres -r virtualio --rsubtype slot --level slot -F slot_num,config``."""
    out = []
    for rec in parse_fields(text, ("slot_num", "config"), delimiter):
        slot = parse_int(rec["slot_num"], "slot_num")
        if slot is None or slot < 0:
            # The fields as received (not re-quoted: the offending text may hold what quoting refuses).
            raise OutputNotUnderstood(delimiter.join(rec.values()), "slot_num is not a slot number")
        out.append((slot, rec["config"]))
    return out


# --- lsmap -net, lsdev -attr (the whole table) -------------------------------------------------------------------


@dataclass(frozen=True)
class NetMapping:
    """One ``lsmap -all -net`` block: a virtual Ethernet trunk adapter (SVEA) and the SEA bridging it."""

    svea: str
    physloc: str | None
    sea: str | None = None
    backing: str | None = None
    status: str | None = None
    bdphysloc: str | None = None


_NET_KEYS = {"SEA": "sea", "Backing device": "backing", "Status": "status", "Physloc": "bdphysloc"}
_NET_LINE = re.compile(r"(SEA|Backing device|Status|Physloc)(?:\s+(\S.*?))?\s*")


def parse_lsmap_net(text: str) -> list[NetMapping]:
    """Parse ``lsmap -all -net``: per SVEA a header ``SVEA Physloc``, a dashed rule, the adapter row, then
    ``SEA``, ``Backing device``, ``Status`` and ``Physloc`` lines (``NO SHARED ETHERNET ADAPTER FOUND`` when none)."""
    lines = _data_lines(text)
    if lines is None:
        return []
    result: list[NetMapping] = []
    current: dict | None = None
    i = 0
    while i < len(lines):
        no, line = lines[i]
        i += 1
        if not line.strip():
            continue
        if line.split()[:2] == ["SVEA", "Physloc"]:
            if current is not None:
                result.append(NetMapping(**current))
            if i + 1 >= len(lines) or not _DASHES.fullmatch(lines[i][1]):
                raise OutputNotUnderstood(line, "lsmap -net header not followed by a dashed rule", line_no=no)
            row_no, row = lines[i + 1]
            i += 2
            tokens = row.split()
            if not 1 <= len(tokens) <= 2 or not re.fullmatch(r"ent[0-9]+", tokens[0]):
                raise OutputNotUnderstood(row, "expected 'entN [physloc]'", line_no=row_no)
            current = {"svea": tokens[0], "physloc": tokens[1] if len(tokens) == 2 else None}
            continue
        if current is None:
            raise OutputNotUnderstood(line, "line outside any SVEA section", line_no=no)
        if line.strip() == "NO SHARED ETHERNET ADAPTER FOUND":
            continue
        m = _NET_LINE.fullmatch(line)
        if not m:
            raise OutputNotUnderstood(line, "unknown lsmap -net line", line_no=no)
        key = _NET_KEYS[m.group(1)]
        if key in current:
            raise OutputNotUnderstood(line, f"{m.group(1)} given twice", line_no=no)
        current[key] = m.group(2)
    if current is not None:
        result.append(NetMapping(**current))
    return result


LSDEV_ATTR_HEADER = ("attribute", "value", "description", "user_settable")


def parse_lsdev_attr_table(text: str) -> dict[str, str]:
    """Parse ``lsdev -dev X -attr`` (every attribute): attribute -> value.

    The columns are cut at the header's positions, and each cut must fall on a space: a table whose columns
    touch (``valuedescription``) is refused rather than guessed. A value may be empty; a description has spaces;
    the last column is True or False.
    """
    lines = _data_lines(text)
    if lines is None:
        raise OutputNotUnderstood(text.strip(), "no attributes printed")
    lines = [(no, ln) for no, ln in lines if ln.strip()]
    if not lines:
        raise OutputNotUnderstood(text, "no attributes printed")
    no, head = lines[0]
    if tuple(head.split()) != LSDEV_ATTR_HEADER:
        raise OutputNotUnderstood(head, "expected the header 'attribute value description user_settable'",
                                  line_no=no)
    value_col, desc_col, user_col = (head.index(c) for c in LSDEV_ATTR_HEADER[1:])
    table: dict[str, str] = {}
    for no, line in lines[1:]:
        name, value = line[:value_col].strip(), line[value_col:desc_col].strip()
        settable = line[user_col:].strip()
        if (not _ATTR_NAME.fullmatch(name) or settable not in ("True", "False") or line[value_col - 1] != " "
                or line[desc_col - 1] != " " or line[user_col - 1] != " "):
            raise OutputNotUnderstood(line, "expected 'attribute value description True|False' in the header's "
                                            "columns", line_no=no)
        if name in table:
            raise OutputNotUnderstood(line, f"attribute {name!r} appears twice", line_no=no)
        table[name] = value
    return table


# --- lssyscfg -r prof: adapter list items -------------------------------------------------------------------------


PROFILE_ITEM_FIELDS = {
    # ivm-cli.md §4.3 (the captured profile sample and the ziutus parser of real output)
    "virtual_scsi_adapters": ("slot", "adapter_type", "remote_lpar_id", "remote_lpar_name", "remote_slot",
                              "is_required"),
    "virtual_eth_adapters": ("slot", "ieee_virtual_eth", "port_vlan_id", "addl_vlan_ids", "is_trunk",
                             "is_required"),
}


def parse_profile_adapters(attribute: str, value: str | None) -> list[dict[str, str]]:
    """Split a profile adapter list (``virtual_scsi_adapters``, ``virtual_eth_adapters``) into its items' fields.

    Items have at least the documented fields; later firmware appends more (an Ethernet item's vswitch, MAC…),
    which are kept as ``extra``.
    """
    names = PROFILE_ITEM_FIELDS[attribute]
    out = []
    for item in parse_list(value):
        parts = item.split("/")
        if len(parts) < len(names):
            raise OutputNotUnderstood(item, f"a {attribute} item has {len(names)} '/'-separated fields")
        row = dict(zip(names, parts, strict=False))
        row["extra"] = "/".join(parts[len(names):])
        out.append(row)
    return out
