"""The `migrlpar -i` mapping grammar: writing, reading back, and refusing what does not follow it."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mobility.planning import (
    AdapterMapping,
    MappingSyntaxError,
    format_mapping,
    format_mappings,
    parse_mapping,
    parse_mappings,
)

NAME_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-"
names = st.text(alphabet=NAME_CHARS, min_size=1, max_size=47)
fc_ports = st.integers(min_value=0, max_value=999).map(lambda n: f"fcs{n}")
slots = st.integers(min_value=0, max_value=65535)


@st.composite
def mappings(draw, kind=None):
    kind = kind or draw(st.sampled_from(["scsi", "fc"]))
    by_name = draw(st.booleans())
    return AdapterMapping(
        kind=kind,
        client_slot=draw(slots),
        vios_name=draw(names) if by_name else "",
        vios_id=None if by_name else draw(st.integers(min_value=1, max_value=254)),
        vios_slot=draw(st.none() | slots),
        fc_port=draw(st.just("") | fc_ports) if kind == "fc" else "",
    )


@given(st.lists(mappings(), max_size=12))
def test_format_mappings_then_parse_round_trips(rows):
    strings = format_mappings(rows)
    parsed = [m for attr, value in strings.items() for m in parse_mappings(f"{attr}={value}")]
    expected = [m for m in rows if m.kind == "scsi"] + [m for m in rows if m.kind == "fc"]
    assert parsed == expected


@given(mappings())
def test_one_row_round_trips(row):
    assert parse_mapping(format_mapping(row), row.kind) == row


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("12//1/16", "scsi", AdapterMapping("scsi", 12, "", 1, 16)),
    ("12/vios1//16", "scsi", AdapterMapping("scsi", 12, "vios1", None, 16)),
    ("12//1", "scsi", AdapterMapping("scsi", 12, "", 1, None)),
    ("4//1/14/fcs0", "fc", AdapterMapping("fc", 4, "", 1, 14, "fcs0")),
    ("4//1//fcs0", "fc", AdapterMapping("fc", 4, "", 1, None, "fcs0")),
    ("  4//1/14  ", "fc", AdapterMapping("fc", 4, "", 1, 14, "")),
])
def test_it_reads_the_forms_of_the_reference(text, kind, expected):
    assert parse_mapping(text, kind) == expected


@pytest.mark.parametrize(("text", "kind", "message"), [
    ("12/vios1/1/16", "scsi", "not both"),
    ("12///16", "scsi", "give the VIOS name or its ID"),
    ("x//1/16", "scsi", "client slot must be a whole number"),
    ("12//1/sixteen", "scsi", "VIOS slot must be a whole number"),
    ("12//0/16", "scsi", "IDs start at 1"),
    ("12//1/16/fcs0", "scsi", "expected client_slot/vios_name/vios_id"),
    ("12//1/", "scsi", "empty"),
    ("4//1/14/eth0", "fc", "not a Fibre Channel port"),
    ("4//1/14/fcs0/extra", "fc", "expected"),
    ("4/vios 1//14", "fc", "not a valid partition name"),
    ("12", "scsi", "expected"),
])
def test_it_refuses_rows_that_do_not_follow_the_grammar(text, kind, message):
    with pytest.raises(MappingSyntaxError, match=message):
        parse_mapping(text, kind)


def test_it_reads_a_quoted_attribute_pair_and_checks_the_kind():
    rows = parse_mappings('"virtual_fc_mappings=3//1/14/fcs0,4//1/15/fcs1"')
    assert [m.client_slot for m in rows] == [3, 4] and all(m.kind == "fc" for m in rows)
    with pytest.raises(MappingSyntaxError, match="holds fc mappings, not scsi"):
        parse_mappings("virtual_fc_mappings=3//1/14", "scsi")
    with pytest.raises(MappingSyntaxError, match="say which kind"):
        parse_mappings("3//1/14")
    assert parse_mappings("", "scsi") == ()
