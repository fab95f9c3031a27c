"""Parsers against the real output lines quoted in ivm-cli.md §3.2 and §4."""

from __future__ import annotations

import pytest

from mobility.ivm import OutputNotUnderstood
from mobility.ivm.parse import (
    VTD,
    NpivMapping,
    VHostMapping,
    format_record,
    is_no_results,
    nullable,
    parse_fields,
    parse_int,
    parse_ivm_message,
    parse_list,
    parse_lsdev_attr,
    parse_lsdev_table,
    parse_lsmap,
    parse_lsmap_fmt,
    parse_lsmap_npiv_fmt,
    parse_records,
    parse_slot_config,
)

LPAR_CAPTURE = """\
name=nim1,lpar_id=5,lpar_env=aixlinux,state=Running,resource_config=1,os_version=AIX 6.1 6100-00-01-0748,logical_serial_num=6535CCG5,default_profile=normal,curr_profile=normal,work_group_id=none,shared_proc_pool_util_auth=0,allow_perf_collection=0,power_ctrl_lpar_ids=none,boot_mode=norm,lpar_keylock=norm,auto_start=0,redundant_err_path_reporting=0,rmc_state=active,rmc_ipaddr=192.168.200.235,sync_curr_profile=0
name=dump,lpar_id=1,lpar_env=aixlinux,state=Not Activated,rmc_ipaddr=,sync_curr_profile=0
"""

PROFILE_CAPTURE = (
    'name=normal,lpar_name=nim1,lpar_id=5,io_slots=none,max_virtual_slots=10,'
    '"virtual_serial_adapters=0/server/1/any//any/1,1/server/1/any//any/1",'
    '"virtual_scsi_adapters=2/client/2/vios1/2/1,3/client/3/vios2/2/1",'
    '"virtual_eth_adapters=6/1/6//0/0,7/0/7//0/0",hca_adapters=none'
)

MEM_SYS = (
    "configurable_sys_mem=32768,curr_avail_sys_mem=13696,mem_region_size=128,default_hpt_ratios=1:64,"
    '"possible_hpt_ratios=1:32,1:64,1:128,1:256,1:512"'
)

LSMAP_PLAIN = """\
SVSA                 Physloc                           Client Partition ID
-------------        --------------------------------- ------------------
vhost0               U787A.001.0397658-V1-C5           0x00000005

VTD                   c5_vtscsi1
Status                Available
LUN                   0x8100000000000000
Backing device        hdisk2
Physloc

VTD                   c5_vtscsi2
Status                Available
LUN                   0x8200000000000000
Backing device        hdisk3
Physloc
Mirrored              false

SVSA                 Physloc                           Client Partition ID
-------------        --------------------------------- ------------------
vhost1               U787A.001.0397658-V1-C6           0x00000000

NO VIRTUAL TARGET DEVICE FOUND
"""


def test_records_from_a_real_lssyscfg_capture():
    rows = parse_records(LPAR_CAPTURE)
    assert len(rows) == 2
    assert rows[0]["os_version"] == "AIX 6.1 6100-00-01-0748"
    assert rows[1]["state"] == "Not Activated"
    assert rows[1]["rmc_ipaddr"] == "" and nullable(rows[1]["rmc_ipaddr"]) is None
    assert nullable(rows[0]["work_group_id"]) is None and parse_list(rows[0]["power_ctrl_lpar_ids"]) == []


def test_quoted_pairs_hold_comma_lists():
    (rec,) = parse_records(PROFILE_CAPTURE)
    assert parse_list(rec["virtual_scsi_adapters"]) == ["2/client/2/vios1/2/1", "3/client/3/vios2/2/1"]
    assert parse_list(rec["virtual_eth_adapters"]) == ["6/1/6//0/0", "7/0/7//0/0"]
    assert parse_list(rec["io_slots"]) == [] and rec["hca_adapters"] == "none"
    (mem,) = parse_records(MEM_SYS)
    assert parse_list(mem["possible_hpt_ratios"]) == ["1:32", "1:64", "1:128", "1:256", "1:512"]
    assert parse_int(mem["mem_region_size"]) == 128


def test_doubled_quotes_inside_a_nested_list():
    line = 'virtual_scsi_adapters=none,"virtual_eth_adapters=""2/1/1/3,4,5/0/1""",hca_adapters=none'
    (rec,) = parse_records(line)
    assert rec["virtual_eth_adapters"] == '"2/1/1/3,4,5/0/1"'
    assert parse_list(rec["virtual_eth_adapters"]) == ["2/1/1/3,4,5/0/1"]
    mixed = '"virtual_eth_adapters=3/1/1/10/0/1,""2/1/1/3,4,5/0/1"",3/1/1/10/0/1"'
    assert parse_list(parse_records(mixed)[0]["virtual_eth_adapters"]) == [
        "3/1/1/10/0/1", "2/1/1/3,4,5/0/1", "3/1/1/10/0/1"]


def test_capabilities_list_from_lssyscfg_sys():
    out = ('"active_lpar_mobility_capable,inactive_lpar_mobility_capable,cod_proc_capable,'
           'virtual_fc_capable,active_mem_sharing_capable"\n')
    (rec,) = parse_fields(out, ["capabilities"])
    caps = parse_list(rec["capabilities"])
    assert "active_lpar_mobility_capable" in caps and len(caps) == 5


def test_f_output_with_the_default_and_a_custom_delimiter():
    assert parse_fields("64,8,0,0\n", ["a", "b", "c", "d"]) == [{"a": "64", "b": "8", "c": "0", "d": "0"}]
    rows = parse_fields("lpar1:Running\nlpar2:Not Activated\n", ["name", "state"], ":")
    assert rows == [{"name": "lpar1", "state": "Running"}, {"name": "lpar2", "state": "Not Activated"}]
    (rec,) = parse_fields('"default,POWER6,POWER6+,POWER7"\n', ["lpar_proc_compat_modes"])
    assert parse_list(rec["lpar_proc_compat_modes"]) == ["default", "POWER6", "POWER6+", "POWER7"]
    (rec,) = parse_fields('nim1|"a|b"|x\n', ["name", "odd", "z"], "|")
    assert rec["odd"] == "a|b"


def test_f_output_with_header():
    rows = parse_fields("name,state\nnim1,Running\n", ["name", "state"], header=True)
    assert rows == [{"name": "nim1", "state": "Running"}]
    with pytest.raises(OutputNotUnderstood, match="header"):
        parse_fields("state,name\nRunning,nim1\n", ["name", "state"], header=True)


def test_f_output_with_the_wrong_number_of_values_is_refused_naming_the_line():
    with pytest.raises(OutputNotUnderstood) as caught:
        parse_fields("nim1,Running\nnim2\n", ["name", "state"])
    assert caught.value.line == "nim2" and caught.value.line_no == 2


def test_single_field_empty_values_are_kept():
    assert parse_fields("\n5\n", ["addl_vlan_ids"]) == [{"addl_vlan_ids": ""}, {"addl_vlan_ids": "5"}]


def test_no_results_is_an_empty_answer():
    for out in ["No results were found.\n", "[VIOSI01040010-0003] No results were found.\n"]:
        assert is_no_results(out)
        assert parse_records(out) == [] and parse_fields(out, ["name"]) == []


def test_an_error_line_where_data_was_expected_is_refused():
    with pytest.raises(OutputNotUnderstood, match="VIOSE010401A1-0042"):
        parse_records("[VIOSE010401A1-0042] Partition lp9 was not found.\n")


@pytest.mark.parametrize(
    "bad",
    [
        "name=nim1,lpar_id",  # a field without '='
        'name="nim1,lpar_id=5',  # quote in an unquoted value
        '"name=nim1,lpar_id=5',  # unterminated quote
        '"name=nim1"x,lpar_id=5',  # garbage after a closing quote
        "name=a,name=b",  # duplicate attribute
        "9name=a",  # not an attribute name
    ],
)
def test_malformed_records_are_refused(bad):
    with pytest.raises(OutputNotUnderstood) as caught:
        parse_records("state=Running\n" + bad + "\n")
    assert caught.value.line == bad and caught.value.line_no == 2


def test_ivm_and_hmc_error_lines():
    msg = parse_ivm_message("[VIOSE010401A1-0042] Partition lp9 was not found.\n")
    assert (msg.code, msg.severity, msg.text) == ("VIOSE010401A1-0042", "error", "Partition lp9 was not found.")
    msg = parse_ivm_message("some preamble\nHSCLA319 The migrating partition's virtual fibre channel client "
                            "adapter 4 cannot be hosted by the existing Virtual I/O Server (VIOS) partitions\n")
    assert msg.code == "HSCLA319" and msg.text.startswith("The migrating partition's")
    assert parse_ivm_message("[VIOSE01010003-0245] not IVM managed").code == "VIOSE01010003-0245"
    assert parse_ivm_message("0514-516 Device configuration database lock service timed out.").code == "0514-516"
    assert parse_ivm_message("[VIOSI01040010-0003] No results were found.").severity == "info"
    assert parse_ivm_message("just text") is None


def test_lsmap_plain():
    maps = parse_lsmap(LSMAP_PLAIN)
    assert maps == [
        VHostMapping("vhost0", "U787A.001.0397658-V1-C5", 5, (
            VTD("c5_vtscsi1", "Available", "0x8100000000000000", "hdisk2", None),
            VTD("c5_vtscsi2", "Available", "0x8200000000000000", "hdisk3", None, "false"),
        )),
        VHostMapping("vhost1", "U787A.001.0397658-V1-C6", 0, ()),
    ]


def test_lsmap_plain_refuses_unknown_lines():
    bad = LSMAP_PLAIN.replace("Status                Available\nLUN                   0x82",
                              "Colour                Blue\nLUN                   0x82")
    with pytest.raises(OutputNotUnderstood, match="unknown lsmap line") as caught:
        parse_lsmap(bad)
    assert caught.value.line.startswith("Colour")


def test_lsmap_fmt_locates_the_vhost_whatever_the_order():
    paxes = "vhost0:0x00000002:0x8200000000000000:/var/vio/VMLibrary/x.iso:0x8100000000000000:lp2vd2\n"
    (m,) = parse_lsmap_fmt(paxes, ["LUN", "backing", "SVSA", "clientid"])
    assert m.svsa == "vhost0" and m.client_id == 2
    assert [(v.lun, v.backing) for v in m.vtds] == [
        ("0x8200000000000000", "/var/vio/VMLibrary/x.iso"), ("0x8100000000000000", "lp2vd2")]
    # the legacy nova driver assumed clientid first: both orders give the same answer
    for line in ["vhost3:0x0000000c\n", "0x0000000c:vhost3\n"]:
        (m,) = parse_lsmap_fmt(line, ["clientid", "svsa"])
        assert (m.svsa, m.client_id, m.vtds) == ("vhost3", 12, ())


def test_lsmap_fmt_refuses_lines_without_one_vhost_or_with_odd_groups():
    with pytest.raises(OutputNotUnderstood, match="vhostN"):
        parse_lsmap_fmt("0x00000002:0x00000003\n", ["clientid", "svsa"])
    with pytest.raises(OutputNotUnderstood, match="groups of 2"):
        parse_lsmap_fmt("vhost0:0x00000002:0x81:hdisk2:0x82\n", ["svsa", "clientid", "lun", "backing"])


def test_lsmap_npiv_fmt():
    line = ("vfchost0:U9117.MMB.xxxxxxx-V1-C1:5:nim1:AIX:LOGGED_IN:fcs0:U78C0.001.DBJN321-P2-C5-T1:5:a:fcs0:"
            "U9117.MMB.06xxxxx-V5-C5\n")
    (m,) = parse_lsmap_npiv_fmt(line)
    assert m == NpivMapping("vfchost0", "U9117.MMB.xxxxxxx-V1-C1", 5, "nim1", "AIX", "LOGGED_IN", "fcs0",
                            "U78C0.001.DBJN321-P2-C5-T1", "5", "a", "fcs0", "U9117.MMB.06xxxxx-V5-C5")
    (m,) = parse_lsmap_npiv_fmt("vfchost1:3:NOT_LOGGED_IN:\n", ["status", "clntid", "name", "fc"])
    assert (m.name, m.clntid, m.status, m.fc) == ("vfchost1", 3, "NOT_LOGGED_IN", None)
    with pytest.raises(OutputNotUnderstood):
        parse_lsmap_npiv_fmt("vfchost0:5:nim1\n")


def test_lsdev_attr():
    assert parse_lsdev_attr("value\n\nno_reserve\n") == "no_reserve"
    assert parse_lsdev_attr("value\n\n332136005076300818001A000000000000D4F04214503IBMfcp\n").endswith("IBMfcp")
    for bad in ["no_reserve\n", "value\nno_reserve\n", "value\n\nno_reserve\nextra\n"]:
        with pytest.raises(OutputNotUnderstood):
            parse_lsdev_attr(bad)


def test_lsdev_type_sea():
    out = ("name             status      description\n"
           "ent4             Available   Shared Ethernet Adapter\n"
           "ent5             Defined     Shared Ethernet Adapter\n")
    devices = parse_lsdev_table(out)
    assert [(d.name, d.status, d.description) for d in devices] == [
        ("ent4", "Available", "Shared Ethernet Adapter"), ("ent5", "Defined", "Shared Ethernet Adapter")]
    assert parse_lsdev_table("") == []
    with pytest.raises(OutputNotUnderstood):
        parse_lsdev_table("ent4 Available Shared Ethernet Adapter\n")


def test_slot_config():
    assert parse_slot_config("0,serial\n1,serial\n2,scsi\n3,reserved\n32,eth\n") == [
        (0, "serial"), (1, "serial"), (2, "scsi"), (3, "reserved"), (32, "eth")]
    with pytest.raises(OutputNotUnderstood):
        parse_slot_config("x,serial\n")


def test_format_record_writes_ibm_quoting():
    assert format_record({"name": "lp1", "virtual_eth_adapters": ["2/1/1/3,4,5/0/1"], "hca_adapters": "none"}) == (
        'name=lp1,"virtual_eth_adapters=""2/1/1/3,4,5/0/1""",hca_adapters=none')


LSNPORTS = """name             physloc                        fabric tports aports swwpns awwpns
fcs0             U78A0.001.06A1001-P1-C5-T1          1     64     63   2048   2046
fcs1             U78A0.001.06A1001-P1-C6-T1          0     64     64   2048   2048
"""


def test_lsnports_gives_each_port_its_fabric_and_free_counts():
    from mobility.ivm.parse import NPort, parse_lsnports

    assert parse_lsnports(LSNPORTS) == [NPort("fcs0", "U78A0.001.06A1001-P1-C5-T1", 1, 64, 63, 2048, 2046),
                                        NPort("fcs1", "U78A0.001.06A1001-P1-C6-T1", 0, 64, 64, 2048, 2048)]
    assert parse_lsnports("") == []


@pytest.mark.parametrize("bad, line_no", [
    (LSNPORTS.replace("awwpns", "free"), 1),                       # another header
    (LSNPORTS.replace("   63 ", "   6x "), 2),                     # not a number
    (LSNPORTS.replace("     1     64", "     2     64"), 2),       # fabric is 0 or 1
    (LSNPORTS.replace("   63 ", "   65 "), 2),                     # more free than the port has
    (LSNPORTS + "fcs2 U78A0 1 64 64 2048\n", 4),                   # a column missing
])
def test_lsnports_refuses_what_it_does_not_understand_naming_the_line(bad, line_no):
    from mobility.ivm.parse import parse_lsnports

    with pytest.raises(OutputNotUnderstood) as caught:
        parse_lsnports(bad)
    assert caught.value.line_no == line_no
