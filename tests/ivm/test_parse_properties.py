"""Property tests: format -> parse round-trips, and arbitrary text never crashes a parser."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mobility.ivm import InvalidValue, OutputNotUnderstood, commands, values
from mobility.ivm.parse import (
    format_fields,
    format_list,
    format_record,
    parse_fields,
    parse_list,
    parse_lsdev_attr,
    parse_lsdev_table,
    parse_lsmap,
    parse_lsmap_fmt,
    parse_lsmap_npiv_fmt,
    parse_records,
    parse_slot_config,
)

SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

attr_names = st.from_regex(r"[a-z][a-z0-9_]{0,20}", fullmatch=True)
partition_names = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9_.+#-]{0,30}", fullmatch=True)
# any single-line text, including quotes, commas, '=', spaces and non-ASCII
line_text = st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"), max_size=40)
list_items = st.lists(line_text, min_size=1, max_size=5)


def _value():
    return st.one_of(line_text, partition_names, st.integers(0, 10**9).map(str),
                     list_items.map(format_list), st.sampled_from(["", "none", "null"]))


@SETTINGS
@given(st.dictionaries(attr_names, _value(), min_size=1, max_size=8))
def test_any_record_round_trips(record):
    line = format_record(record)
    assert parse_records(line + "\n") == [record]


@SETTINGS
@given(st.lists(st.dictionaries(attr_names, _value(), min_size=1, max_size=5), min_size=1, max_size=5))
def test_many_records_round_trip(records):
    text = "".join(format_record(r) + "\n" for r in records)
    if text.strip() in ("No results were found.",):
        return
    assert parse_records(text) == records


@SETTINGS
@given(list_items.filter(lambda items: items not in ([""], ["none"], ["null"])))
def test_nested_lists_round_trip_through_a_record(items):
    # a one-item list holding "", none or null is indistinguishable from IVM's empty markers by design
    (rec,) = parse_records(format_record({"virtual_eth_adapters": items}))
    assert parse_list(rec["virtual_eth_adapters"]) == items


@SETTINGS
@given(st.lists(attr_names, min_size=1, max_size=6, unique=True), st.data(),
       st.sampled_from(sorted(commands.DELIMITERS)), st.booleans())
def test_f_output_round_trips_with_any_delimiter(fields, data, delimiter, header):
    rows = data.draw(st.lists(st.fixed_dictionaries({f: line_text for f in fields}), max_size=5))
    if len(fields) > 1 and rows and all(v == "" for v in rows[-1].values()):
        rows = rows[:-1]  # an all-empty last row is a blank line, which -F output cannot express
    lines = ([format_fields(fields, delimiter)] if header else []) + [
        format_fields([r[f] for f in fields], delimiter) for r in rows]
    text = "".join(ln + "\n" for ln in lines)
    if not header and len(rows) == 1 and "No results were found" in text:
        return
    assert parse_fields(text, fields, delimiter, header=header) == rows


@SETTINGS
@given(partition_names, st.integers(1, 254), st.lists(st.integers(0, 65535), max_size=3))
def test_valid_names_and_ids_make_commands_that_quote_back_to_themselves(name, ident, slots):
    import shlex

    scsi = [f"{s}//{ident}" for s in slots]
    cmd = commands.migrlpar("m", target_system="8205-E6C*06ABCDE", target_ip="10.1.2.3", lpar_name=name,
                            scsi_mappings=scsi, dest_lpar_id=ident)
    assert shlex.split(cmd.render()) == list(cmd.argv)
    assert values.partition_name(name) == name


PARSERS = [
    parse_records,
    lambda t: parse_fields(t, ["a", "b"]),
    lambda t: parse_fields(t, ["a"], ":", header=True),
    parse_lsmap,
    lambda t: parse_lsmap_fmt(t, ["svsa", "clientid", "lun", "backing"]),
    parse_lsmap_npiv_fmt,
    parse_lsdev_attr,
    parse_lsdev_table,
    parse_slot_config,
]


@pytest.mark.parametrize("parser", PARSERS)
@settings(max_examples=150, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200).map(lambda b: b.decode("latin-1"))))
def test_random_text_is_parsed_or_refused_but_never_crashes(parser, text):
    try:
        parser(text)
    except OutputNotUnderstood:
        pass


@SETTINGS
@given(st.text(max_size=60))
def test_validators_raise_only_invalid_value(text):
    for check in (values.partition_name, values.system_name, values.device_name, values.host, values.wwpn,
                  values.vlan_id, values.lpar_id, values.slot, values.scsi_mapping, values.fc_mapping,
                  values.user_name, values.attribute_name):
        try:
            out = check(text)
        except InvalidValue:
            continue
        if isinstance(out, str):
            assert not set(out) & set(";&|$`<>\\\n\r'\"")
            assert not out.startswith("-")


@SETTINGS
@given(st.text(alphabet=string.printable, max_size=47))
def test_accepted_partition_names_are_a_single_safe_word_set(text):
    try:
        name = values.partition_name(text)
    except InvalidValue:
        return
    assert 1 <= len(name) <= 47 and name == name.strip()
    assert set(name) <= set(string.ascii_letters + string.digits + " _.+#-")
