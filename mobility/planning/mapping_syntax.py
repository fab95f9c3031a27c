"""The `migrlpar -i` mapping grammar (ivm-cli.md §4.1), written and read back.

    virtual_scsi_mappings = client_slot/vios_name/vios_id[/vios_slot]            e.g. 12//1/16
    virtual_fc_mappings   = client_slot/vios_name/vios_id[/[vios_slot][/[fc_port]]]  e.g. 4//1/14/fcs0

§4.1 says to give the VIOS name *or* its ID, not both. ivmweb writes the **ID**: on IVM the management
partition is always partition 1, an ID needs no quoting or character rules, and a renamed VIOS cannot make a
stored plan wrong. `parse_mapping` accepts either form (a person may type the name) but refuses both at once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .serialize import JsonData

SCSI = "scsi"
FC = "fc"
KINDS = (SCSI, FC)
ATTRIBUTE = {SCSI: "virtual_scsi_mappings", FC: "virtual_fc_mappings"}
KIND_OF_ATTRIBUTE = {v: k for k, v in ATTRIBUTE.items()}

# Partition names as ivmweb accepts them in a mapping: no separators (/ , "), no spaces, at most 47 characters.
_VIOS_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,47}$")
_FC_PORT = re.compile(r"^fcs\d{1,4}$")
_NUMBER = re.compile(r"^\d{1,5}$")


class MappingSyntaxError(ValueError):
    """A mapping a person typed does not follow the grammar; the message says what is wrong."""


@dataclass(frozen=True, slots=True)
class AdapterMapping(JsonData):
    """One row: the client adapter in `client_slot` goes to server slot `vios_slot` (None = let IVM choose) of
    the destination management partition, and for Fibre Channel to physical port `fc_port` ("" = IVM chooses)."""

    kind: str
    client_slot: int
    vios_name: str = ""
    vios_id: int | None = None
    vios_slot: int | None = None
    fc_port: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown mapping kind {self.kind!r}")
        if self.kind == SCSI and self.fc_port:
            raise ValueError("a virtual SCSI mapping has no Fibre Channel port")

    @property
    def attribute(self) -> str:
        return ATTRIBUTE[self.kind]


def format_mapping(m: AdapterMapping) -> str:
    """The row in `migrlpar -i` syntax."""
    head = f"{m.client_slot}/{m.vios_name}/{'' if m.vios_id is None else m.vios_id}"
    slot = "" if m.vios_slot is None else str(m.vios_slot)
    if m.kind == SCSI:
        return f"{head}/{slot}" if slot else head
    if m.fc_port:
        return f"{head}/{slot}/{m.fc_port}"
    return f"{head}/{slot}" if slot else head


def format_mappings(rows: Iterable[AdapterMapping]) -> dict[str, str]:
    """`{"virtual_scsi_mappings": "12//1/16,13//1/17", "virtual_fc_mappings": "4//1/14/fcs0"}`, rows in the given
    order; a kind without rows is left out."""
    grouped: dict[str, list[str]] = {}
    for m in rows:
        grouped.setdefault(m.attribute, []).append(format_mapping(m))
    return {attr: ",".join(grouped[attr]) for attr in (ATTRIBUTE[SCSI], ATTRIBUTE[FC]) if attr in grouped}


def migrlpar_input(rows: Iterable[AdapterMapping]) -> str:
    """The mapping part of `migrlpar -i`: each pair whose value holds a comma is double-quoted (ivm-cli.md §3.3),
    e.g. `"virtual_scsi_mappings=12//1/16,13//1/17",virtual_fc_mappings=4//1/14/fcs0`. Quoting this for the remote
    shell is the IVM client's job."""
    pairs = []
    for attr, value in format_mappings(rows).items():
        pair = f"{attr}={value}"
        pairs.append(f'"{pair}"' if "," in value else pair)
    return ",".join(pairs)


def _number(text: str, what: str, row: str) -> int:
    if not _NUMBER.match(text):
        raise MappingSyntaxError(f"{row!r}: {what} must be a whole number, not {text!r}")
    return int(text)


def parse_mapping(text: str, kind: str) -> AdapterMapping:
    """Read one row (`12//1/16`, `4/vios1//14/fcs0`) of the given kind (`scsi` or `fc`)."""
    if kind not in KINDS:
        raise ValueError(f"unknown mapping kind {kind!r}")
    row = text.strip()
    parts = row.split("/")
    most = 4 if kind == SCSI else 5
    if len(parts) < 3 or len(parts) > most:
        shape = "client_slot/vios_name/vios_id[/vios_slot]" if kind == SCSI else \
            "client_slot/vios_name/vios_id[/vios_slot[/fc_port]]"
        raise MappingSyntaxError(f"{row!r}: expected {shape}")
    client, name, vios_id, *rest = parts
    client_slot = _number(client, "the client slot", row)
    if name and vios_id:
        raise MappingSyntaxError(f"{row!r}: give the VIOS name or its ID, not both")
    if not name and not vios_id:
        raise MappingSyntaxError(f"{row!r}: give the VIOS name or its ID")
    if name and not _VIOS_NAME.match(name):
        raise MappingSyntaxError(f"{row!r}: {name!r} is not a valid partition name")
    if vios_id and _number(vios_id, "the VIOS ID", row) < 1:
        raise MappingSyntaxError(f"{row!r}: partition IDs start at 1")
    slot_text = rest[0] if rest else ""
    port = rest[1] if len(rest) > 1 else ""
    if port and not _FC_PORT.match(port):
        raise MappingSyntaxError(f"{row!r}: {port!r} is not a Fibre Channel port name (fcsN)")
    if kind == SCSI and len(rest) == 1 and not slot_text:
        raise MappingSyntaxError(f"{row!r}: the VIOS slot after the last '/' is empty")
    return AdapterMapping(
        kind=kind,
        client_slot=client_slot,
        vios_name=name,
        vios_id=_number(vios_id, "the VIOS ID", row) if vios_id else None,
        vios_slot=_number(slot_text, "the VIOS slot", row) if slot_text else None,
        fc_port=port,
    )


def parse_mappings(text: str, kind: str | None = None) -> tuple[AdapterMapping, ...]:
    """Read a comma list of rows; `virtual_scsi_mappings=...` / `virtual_fc_mappings=...` prefixes name the kind,
    otherwise `kind` must be given. An empty string gives no rows."""
    value = text.strip().strip('"')
    if "=" in value:
        attr, value = value.split("=", 1)
        attr = attr.strip()
        if attr not in KIND_OF_ATTRIBUTE:
            raise MappingSyntaxError(f"unknown mapping attribute {attr!r}")
        if kind is not None and KIND_OF_ATTRIBUTE[attr] != kind:
            raise MappingSyntaxError(f"{attr} holds {KIND_OF_ATTRIBUTE[attr]} mappings, not {kind}")
        kind = KIND_OF_ATTRIBUTE[attr]
    if kind is None:
        raise MappingSyntaxError("say which kind of mappings these are (virtual_scsi_mappings=… or virtual_fc_mappings=…)")
    return tuple(parse_mapping(part, kind) for part in value.split(",") if part.strip())
