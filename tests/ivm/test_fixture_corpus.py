"""Every output in tests/ivm/fixtures/ (IBM's documented formats, several firmware levels) parses, and says what
its source says. Each fixture names its source, firmware level and parser in its header comment."""

from __future__ import annotations

from pathlib import Path

import pytest

from mobility.ivm import commands, parse, values
from mobility.ivm.errors import InvalidValue

FIXTURES = Path(__file__).parent / "fixtures"


def load(name: str) -> tuple[dict[str, str], str]:
    """(header fields, output) of one fixture: ``# key: value`` lines, ``# ---``, then the output verbatim."""
    head, _, body = (FIXTURES / name).read_text().partition("# ---\n")
    meta: dict[str, str] = {}
    key = None
    for line in head.splitlines():
        text = line.removeprefix("#").strip()
        if ":" in text and text.split(":", 1)[0].isidentifier():
            key, value = text.split(":", 1)
            meta[key] = value.strip()
        elif key:
            meta[key] += " " + text
    return meta, body


def run_parser(meta: dict[str, str], body: str):
    name, *args = meta["parser"].split()
    if name == "parse_fields":
        return parse.parse_fields(body, args[0].split(","))
    return getattr(parse, name)(body)


@pytest.mark.parametrize("name", sorted(p.name for p in FIXTURES.glob("*.txt")))
def test_every_fixture_names_its_source_and_parses(name):
    meta, body = load(name)
    assert {"source", "firmware", "parser"} <= set(meta), name
    assert run_parser(meta, body) is not None


def test_older_firmware_lacks_attributes_and_they_are_named_not_a_crash():
    old = parse.parse_records(load("lssyscfg_lpar_hmc_power5.txt")[1])
    wanted = ("name", "lpar_id", "state")
    optional = ("desired_lpar_proc_compat_mode", "curr_lpar_proc_compat_mode", "virtual_eth_mac_base_value")
    rows = parse.pick(old, wanted, optional)
    assert rows[0]["name"] == "nim1" and rows[0]["curr_lpar_proc_compat_mode"] is None
    with pytest.raises(parse.FieldsMissing) as exc:
        parse.pick(old, (*wanted, "curr_lpar_proc_compat_mode"))
    assert exc.value.missing == ("curr_lpar_proc_compat_mode",) and exc.value.line_no == 1


def test_ethernet_fields_differ_by_firmware_level():
    old = parse.parse_records(load("lshwres_eth_hmc_power5.txt")[1])
    new = parse.parse_records(load("lshwres_eth_power7.txt")[1])
    assert "vswitch" not in old[0] and new[0]["vswitch"] == "ETHERNET0"
    assert "trunk_priority" not in old[1] and "trunk_priority" not in new[1]  # client adapters omit it
    assert parse.parse_list(new[0]["addl_vlan_ids"]) == ["100", "200"]
    for rec in old + new:  # real MACs are 12 hex digits
        assert values.mac_address(rec["mac_addr"]) == rec["mac_addr"]


def test_a_quoted_version_banner_spanning_lines_is_one_value():
    meta, body = load("lssyscfg_lpar_ivm_power7.txt")
    rows = run_parser(meta, body)
    assert [r["name"] for r in rows] == ["vios1", "app01", "web01"]
    assert rows[0]["os_version"] == "VIOS 2.2.6.10\nIVM level 2.2.6.10"
    assert (rows[1]["desired_lpar_proc_compat_mode"], rows[1]["curr_lpar_proc_compat_mode"]) == ("default", "POWER7")


def test_localized_no_results_is_known_by_its_message_id():
    body = load("no_results_localized.txt")[1]
    assert parse.is_no_results(body)
    assert parse.parse_records(body) == [] and parse.parse_fields(body, ["name"]) == []


def test_an_ivm_error_is_known_by_its_id_in_any_language():
    msg = parse.parse_ivm_message(load("migrlpar_error_ivm.txt")[1])
    assert (msg.code, msg.severity) == ("VIOSE010401A1-0042", "error")


def test_profiles_and_their_adapter_items():
    [prof] = parse.parse_records(load("lssyscfg_prof_hmc_power5.txt")[1])
    scsi = parse.parse_profile_adapters("virtual_scsi_adapters", prof["virtual_scsi_adapters"])
    assert [(a["slot"], a["remote_lpar_name"], a["remote_slot"]) for a in scsi] == [("2", "vios1", "2"),
                                                                                    ("3", "vios2", "2")]
    eth = parse.parse_profile_adapters("virtual_eth_adapters", prof["virtual_eth_adapters"])
    assert [(a["slot"], a["port_vlan_id"], a["extra"]) for a in eth] == [("6", "6", ""), ("7", "7", "")]


def test_lsmap_layouts_of_two_vios_levels():
    old = parse.parse_lsmap(load("lsmap_all_vios1.txt")[1])
    new = parse.parse_lsmap(load("lsmap_all_vios22.txt")[1])
    assert [v.name for v in old[0].vtds] == ["c5_vtscsi1", "c5_vtscsi2"] and old[0].vtds[0].mirrored is None
    assert new[0].vtds[0].mirrored == "false" and new[0].client_id == 4
    [net] = parse.parse_lsmap_net(load("lsmap_net_vios.txt")[1])
    assert (net.svea, net.sea, net.backing, net.status) == ("ent2", "ent4", "ent0", "Available")


def test_the_whole_attribute_table_and_one_attribute():
    table = parse.parse_lsdev_attr_table(load("lsdev_attr_vioslpm0.txt")[1])
    assert table["cfg_msp_lpm_ops"] == "8" and table["tcp_port_low"] == "0" and len(table) == 7
    assert parse.parse_lsdev_attr(load("lsdev_attr_reserve_policy.txt")[1]) == "no_reserve"
    touching = "attribute value description user_settable\n\nmax_vasi_ops 8 Max concurrent(comma separated)True\n"
    with pytest.raises(parse.OutputNotUnderstood):
        parse.parse_lsdev_attr_table(touching)


def test_bytes_remaining_is_bounded_by_the_partition_memory():
    [row] = run_parser(*load("lslparmigr_lpar_in_progress.txt"))
    sent, left = int(row["bytes_transmitted"]), int(row["bytes_remaining"])
    assert sent + left <= 4 * 1024 ** 3 + 1


def test_filters_with_several_values_are_quoted_pairs():
    assert commands.lssyscfg("lpar", lpar_names=["app01", "db01"]).argv[3:5] == ("--filter",
                                                                                  '"lpar_names=app01,db01"')
    both = commands.lssyscfg("lpar", lpar_names=["app01", "db01"], lpar_ids=2).argv[4]
    assert both == '"lpar_names=app01,db01",lpar_ids=2'


@pytest.mark.parametrize("mac", ["26E6B000200", "26E6B00020071", "", "26E6B000200G"])
def test_mac_addresses_are_exactly_twelve_hex_digits(mac):
    with pytest.raises(InvalidValue):
        values.mac_address(mac)
