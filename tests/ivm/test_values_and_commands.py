"""Validation refuses bad values before anything is built; builders produce the documented commands."""

from __future__ import annotations

import shlex

import pytest

from mobility.ivm import InvalidValue, commands, values
from mobility.ivm.values import FcMapping, ScsiMapping


@pytest.mark.parametrize("bad", [
    "lp1;reboot", "lp1&", "a|b", "$HOME", "`id`", "a<b", "a>b", "a\\b", "lp\n1", "lp\r1", "lp\x001",
    "-p", "'q'", '"q"', "a,b", "a=b", "a/b", "a:b", " lead", "trail ", "two  spaces", "", "x" * 48, "é",
])
def test_partition_names_with_metacharacters_or_bad_shape_are_refused(bad):
    with pytest.raises(InvalidValue) as caught:
        values.partition_name(bad)
    assert caught.value.field == "partition name" and caught.value.rule


@pytest.mark.parametrize("good", ["nim1", "lp_02", "AIX prod 1", "web-01.example", "x" * 47, "_t", "a+b#2"])
def test_partition_names_that_ivm_accepts(good):
    assert values.partition_name(good) == good


def test_the_refusal_says_why():
    with pytest.raises(InvalidValue, match="shell metacharacter ';'"):
        values.partition_name("a;b")
    with pytest.raises(InvalidValue, match="newline"):
        values.partition_name("a\nb")
    with pytest.raises(InvalidValue, match="start with '-'"):
        values.partition_name("-rf")
    with pytest.raises(InvalidValue, match="at most 47"):
        values.partition_name("y" * 48)


@pytest.mark.parametrize("bad", [0, 4095, -1, "text", "12a", " 7", 7.0, True, None])
def test_vlan_ids_outside_1_4094_or_not_numbers_are_refused(bad):
    with pytest.raises(InvalidValue):
        values.vlan_id(bad)


def test_vlan_ids_in_range():
    assert values.vlan_id(1) == 1 and values.vlan_id("4094") == 4094


@pytest.mark.parametrize("bad", [-1, 65536, "x", "-3", "1.5", 2.0, False])
def test_slots_negative_or_non_numeric_are_refused(bad):
    with pytest.raises(InvalidValue):
        values.slot(bad)


def test_slots_respect_the_management_partition_maximum():
    assert values.slot(0) == 0 and values.slot(65535) == 65535
    assert values.slot(199, max_slots=200) == 199
    with pytest.raises(InvalidValue, match="maximum of 200"):
        values.slot(200, max_slots=200)


def test_partition_ids():
    assert values.lpar_id(1) == 1 and values.lpar_id("254") == 254
    for bad in [0, 255, "x", -4]:
        with pytest.raises(InvalidValue):
            values.lpar_id(bad)


def test_wwpns():
    assert values.wwpn("C0507609ABCD0001") == "c0507609abcd0001"
    for bad in ["c0507609abcd000", "c0507609abcd00011", "g0507609abcd0001", "c0:50:76:09:ab:cd:00:01", ""]:
        with pytest.raises(InvalidValue):
            values.wwpn(bad)


def test_hosts():
    assert values.host("10.0.0.12") == "10.0.0.12"
    assert values.host("fe80::1") == "fe80::1"
    assert values.host("ivm2.example.com") == "ivm2.example.com"
    for bad in ["-ivm", "ivm_2", "a..b", "999.1.1.1", "ivm;id", "", "a" * 64]:
        with pytest.raises(InvalidValue):
            values.host(bad)


def test_system_names_and_type_model_serial():
    assert values.system_name("8205-E6C*06ABCDE") == "8205-E6C*06ABCDE"
    assert values.system_name("Server-8246-L2D-SN06052EA") == "Server-8246-L2D-SN06052EA"
    for bad in ["8205-E6C*", "*", "820-E6C*06ABCDE", "a;b"]:
        with pytest.raises(InvalidValue):
            values.system_name(bad)


def test_device_names():
    assert values.device_name("hdisk4") == "hdisk4" and values.device_name("c5_vtscsi1") == "c5_vtscsi1"
    for bad in ["4disk", "hdisk 4", "hd;isk", "a" * 16, "-x"]:
        with pytest.raises(InvalidValue):
            values.device_name(bad)


def test_scsi_mapping_items():
    assert values.scsi_mapping("12/vios1//16") == "12/vios1//16"
    assert values.scsi_mapping("12//1") == "12//1"
    assert values.scsi_mapping(ScsiMapping(12, vios_id=1, vios_slot=16)) == "12//1/16"
    for bad in ["12/vios1/1", "12//", "x/vios1/", "12/vi;os//", "12/vios1//16/9", "12/vios1//70000"]:
        with pytest.raises(InvalidValue):
            values.scsi_mapping(bad)


def test_fc_mapping_items():
    for ok in ["4//1/14/fcs0", "3//1", "3/vios1//", "3//1//fcs1", "3//1/14"]:
        assert values.fc_mapping(ok) == ok
    assert values.fc_mapping(FcMapping(3, vios_name="vios1", fc_port="fcs0")) == "3/vios1///fcs0"
    for bad in ["4/vios1/1/14/fcs0", "4//1/14/fc s0", "4//1/14/fcs0/x", "4//1/-1"]:
        with pytest.raises(InvalidValue):
            values.fc_mapping(bad)


# --- builders ---------------------------------------------------------------------------------------


def test_lssyscfg_and_its_parser():
    cmd = commands.lssyscfg("lpar", fields=["name", "state"], delimiter=":", lpar_names="nim1")
    assert cmd.argv == ("lssyscfg", "-r", "lpar", "--filter", "lpar_names=nim1", "-F", "name:state")
    assert cmd.read_only and cmd.parse_output("nim1:Running\n") == [{"name": "nim1", "state": "Running"}]
    assert commands.lssyscfg("sys").argv == ("lssyscfg", "-r", "sys")
    assert commands.lssyscfg("lpar", fields=["name"], header=True).argv[-1] == "--header"
    assert commands.lssyscfg("lpar", lpar_ids=[3, 4]).argv[-1] == '"lpar_ids=3,4"'  # IBM's quoted pair
    with pytest.raises(InvalidValue):
        commands.lssyscfg("lpar", lpar_names="x;y")
    with pytest.raises(InvalidValue):
        commands.lssyscfg("lpar", fields=["name;id"])
    with pytest.raises(InvalidValue):
        commands.lssyscfg("sys", lpar_ids=1)


def test_lshwres_shapes():
    assert commands.lshwres("virtualio", rsubtype="slot", level="slot", lpar_ids=1,
                            fields=["slot_num", "config"]).render() == (
        "lshwres -r virtualio --rsubtype slot --level slot --filter lpar_ids=1 -F slot_num,config")
    assert commands.lshwres("mem", level="sys", fields=["mem_region_size"]).argv[:5] == (
        "lshwres", "-r", "mem", "--level", "sys")
    assert commands.lshwres("io", rsubtype="slot", lpar_ids=5).argv == (
        "lshwres", "-r", "io", "--rsubtype", "slot", "--filter", "lpar_ids=5")
    for kw in [dict(r="virtualio", rsubtype="eth", level="slot"), dict(r="mem", level="slot"),
               dict(r="proc", rsubtype="eth", level="sys"), dict(r="disk"), dict(r="mem", level="sys", lpar_ids=1)]:
        with pytest.raises(InvalidValue):
            commands.lshwres(**kw)


def test_vios_commands_get_the_ioscli_prefix():
    assert commands.lsmap_all().argv == ("ioscli", "lsmap", "-all")
    assert commands.lsmap_all(npiv=True).argv == ("ioscli", "lsmap", "-all", "-npiv", "-fmt", ":")
    assert commands.lsmap_all(fields=["clientid", "svsa"]).argv == (
        "ioscli", "lsmap", "-all", "-field", "svsa", "clientid", "-fmt", ":")
    assert commands.lsdev_attr("hdisk4", "reserve_policy").render() == (
        "ioscli lsdev -dev hdisk4 -attr reserve_policy")
    assert commands.lsdev_sea().name == "lsdev"
    with pytest.raises(InvalidValue):
        commands.lsdev_attr("hdisk4;reboot", "pvid")


def test_migrlpar_validate_and_migrate():
    cmd = commands.migrlpar("v", target_system="8205-E6C*06ABCDE", target_ip="10.0.0.12", target_user="padmin",
                            lpar_id=12)
    assert cmd.render() == "migrlpar -o v -t '8205-E6C*06ABCDE' --ip 10.0.0.12 -u padmin --id 12"
    assert cmd.read_only
    cmd = commands.migrlpar("m", target_system="Server-8246-L2D-SN06052EA", target_ip="ivm2", lpar_name="lp1",
                            fc_mappings=["3//1/14/fcs0", FcMapping(4, vios_id=2, vios_slot=15, fc_port="fcs1")],
                            scsi_mappings=[ScsiMapping(12, vios_name="vios1", vios_slot=16)],
                            dest_lpar_id=7, async_=True, wait_minutes=5)
    assert not cmd.read_only
    i_arg = cmd.argv[cmd.argv.index("-i") + 1]
    # only the pair whose value holds a comma is quoted (ivm-cli.md §3.3)
    assert i_arg == ('virtual_scsi_mappings=12/vios1//16,"virtual_fc_mappings=3//1/14/fcs0,4//2/15/fcs1",'
                     "dest_lpar_id=7")
    assert shlex.split(cmd.render()) == list(cmd.argv)
    assert cmd.argv[-3:] == ("-w", "5", "--async")


def test_migrlpar_stop_and_recover():
    assert commands.migrlpar("s", lpar_name="lp1", source_system="src").argv == (
        "migrlpar", "-o", "s", "-m", "src", "-p", "lp1")
    assert commands.migrlpar("r", lpar_name="lp1", force=True).argv[-1] == "--force"


@pytest.mark.parametrize("kw", [
    dict(op="m", lpar_name="lp1", target_ip="10.0.0.2"),  # no target system
    dict(op="m", target_system="t", lpar_name="lp1"),  # no target ip
    dict(op="m", target_system="t", target_ip="x", lpar_name="lp1", lpar_id=3),  # both partition refs
    dict(op="m", target_system="t", target_ip="x"),  # no partition
    dict(op="v", target_system="t", target_ip="x", lpar_name="lp1", async_=True),
    dict(op="m", target_system="t", target_ip="x", lpar_name="lp1", force=True),
    dict(op="s", lpar_name="lp1", target_system="t"),
    dict(op="r", lpar_name="lp1", fc_mappings=["3//1"]),
    dict(op="m", target_system="t", target_ip="x", lpar_name="lp1", wait_minutes=0),
    dict(op="m", target_system="t", target_ip="x", lpar_name="lp1", dest_lpar_id=255),
    dict(op="m", target_system="t", target_ip="x;reboot", lpar_name="lp1"),
    dict(op="x", lpar_name="lp1"),
])
def test_migrlpar_refuses_inconsistent_requests(kw):
    with pytest.raises(InvalidValue):
        commands.migrlpar(**kw)


def test_lslparmigr_chsysstate_mkauthkeys():
    assert commands.lslparmigr("sys", fields=["num_active_migrations_supported"]).argv == (
        "lslparmigr", "-r", "sys", "-F", "num_active_migrations_supported")
    cmd = commands.lslparmigr("virtualio", target_system="dst", target_ip="10.0.0.2", target_user="padmin",
                              lpar_names="lp1")
    assert cmd.argv == ("lslparmigr", "-r", "virtualio", "-t", "dst", "--ip", "10.0.0.2", "-u", "padmin",
                        "--filter", "lpar_names=lp1")
    with pytest.raises(InvalidValue):
        commands.lslparmigr("virtualio", lpar_names="lp1")
    assert commands.chsysstate("shutdown", lpar_id=5, immed=True).argv == (
        "chsysstate", "-r", "lpar", "-o", "shutdown", "--immed", "--id", "5")
    with pytest.raises(InvalidValue):
        commands.chsysstate("on", lpar_name="lp1", immed=True)
    assert commands.mkauthkeys_test("10.0.0.2", "padmin").render() == "mkauthkeys --test --ip 10.0.0.2 -u padmin"


def test_redacted_hides_secret_arguments():
    cmd = commands.Command(("mkauthkeys", "-a", "ssh-rsa AAAA secret"), secret_positions=frozenset({2}))
    assert "secret" not in cmd.redacted() and "secret" in cmd.render()
