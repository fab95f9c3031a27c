"""The IVM command line over SSH: output formats, quoting, -F/--header/--filter, errors and exit codes."""

from __future__ import annotations

import json

import pytest

from tests.ivmsim.conftest import SYS1

pytestmark = pytest.mark.usefixtures("demo")


def test_lssyscfg_sys_quotes_pairs_whose_value_has_commas(demo):
    status, out, err = demo.ssh("ivm1", "lssyscfg -r sys")
    assert (status, err) == (0, "")
    assert out.startswith(f"name={SYS1},type_model=8205-E6C,serial_num=06A1001,")
    assert '"lpar_proc_compat_modes=default,POWER6,POWER6+,POWER7"' in out
    assert '"capabilities=active_lpar_mobility_capable,inactive_lpar_mobility_capable,' in out


def test_F_values_only_with_the_delimiter_used_and_quotes_when_needed(demo):
    assert demo.ssh("ivm1", "lssyscfg -r sys -F name:type_model:serial_num")[1] == f"{SYS1}:8205-E6C:06A1001\n"
    assert demo.ssh("ivm1", "lssyscfg -r sys -F lpar_proc_compat_modes")[1] == '"default,POWER6,POWER6+,POWER7"\n'
    out = demo.ssh("ivm3", "lssyscfg -r sys -F name,lpar_proc_compat_modes")[1]
    assert out == 'Server-8286-42A-SN21C3003,"default,POWER6,POWER6+,POWER7,POWER8"\n'


def test_header_and_filter_on_partitions(demo):
    status, out, _ = demo.ssh("ivm1", 'lssyscfg -r lpar --filter "lpar_names=app01,db01" -F "name|lpar_id|state" --header')
    assert status == 0
    assert out == "name|lpar_id|state\napp01|2|Running\ndb01|4|Running\n"
    out = demo.ssh("ivm1", 'lssyscfg -r lpar --filter lpar_ids=1,5 -F name,lpar_env,state')[1]
    assert out == "vios1,vioserver,Running\nweb01,aixlinux,Not Activated\n"


def test_no_results_is_informational_with_exit_zero(demo):
    assert demo.ssh("ivm1", 'lssyscfg -r lpar --filter "lpar_names=nosuch"') == (
        0, "[VIOSI01040010-0003] No results were found.\n", "")
    assert demo.ssh("ivm1", "lshwres -r io --rsubtype slot --filter lpar_ids=2")[1].startswith("[VIOSI01040010-0003]")


def test_physical_io_slots_of_a_partition(demo):
    out = demo.ssh("ivm1", "lshwres -r io --rsubtype slot --filter lpar_names=bad-physio -F drc_name,lpar_id")[1]
    assert out == "U78A0.001.06A1001-P1-C3,6\n"


def test_memory_and_processors(demo):
    out = demo.ssh("ivm1", "lshwres -r mem --level sys -F configurable_sys_mem,curr_avail_sys_mem,mem_region_size")[1]
    total, avail, lmb = out.strip().split(",")
    assert (int(total), lmb) == (98304, "128") and 0 < int(avail) < int(total)
    assert '"possible_hpt_ratios=1:32,1:64,1:128,1:256,1:512"' in demo.ssh("ivm1", "lshwres -r mem --level sys")[1]
    out = demo.ssh("ivm1", "lshwres -r mem --level lpar --filter lpar_names=web01,app01 -F lpar_name,curr_mem,pend_mem")[1]
    assert out == "app01,4096,4096\nweb01,0,2048\n"  # a Not Activated partition shows 0 current memory
    out = demo.ssh("ivm1", "lshwres -r proc --level sys -F configurable_sys_proc_units")[1]
    assert out == "16.0\n"
    out = demo.ssh("ivm1", "lshwres -r proc --level lpar --filter lpar_ids=2 -F curr_proc_units,run_procs")[1]
    assert out == "0.5,1\n"


def test_virtual_io_adapters(demo):
    out = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype eth --level lpar --filter lpar_names=db01")[1]
    assert out.startswith("lpar_name=db01,lpar_id=4,slot_num=2,state=1,is_required=0,is_trunk=0,")
    assert "port_vlan_id=1,vswitch=ETHERNET0,addl_vlan_ids=200," in out
    out = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype fc --level lpar --filter lpar_names=db01")[1]
    assert out.startswith("lpar_name=db01,lpar_id=4,slot_num=4,state=1,is_required=0,adapter_type=client,")
    assert '"wwpns=' in out
    out = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype scsi --level lpar --filter lpar_ids=1 -F remote_lpar_name")[1]
    assert "db01" in out.split() and "app01" in out.split()
    out = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype slot --level slot --filter lpar_ids=1 -F slot_num,config")[1]
    assert out.startswith("0,serial\n1,serial\n2,reserved\n") and "11,scsi\n" in out
    out = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype slot --level lpar --filter lpar_ids=1 "
                           "-F curr_max_virtual_slots")[1]
    assert out == "200\n"


def test_lsmap_default_and_fmt(demo):
    out = demo.ssh("ivm1", "ioscli lsmap -all")[1]
    assert out.startswith("SVSA                 Physloc                           Client Partition ID\n"
                          "-------------        --------------------------------- ------------------\n"
                          "vhost0               U8205.E6C.06A1001-V1-C11          0x00000002\n\n"
                          "VTD                   vtscsi0\nStatus                Available\n")
    # fields come out in lsmap's own order, whatever order -field lists them in
    out = demo.ssh("ivm1", "lsmap -all -field LUN backing SVSA clientid -fmt :")[1].splitlines()
    assert "vhost2:0x00000004:0x8100000000000000:hdisk3:0x8200000000000000:hdisk4" in out
    vtds = demo.ssh("ivm1", "lsmap -vadapter vhost2 -field vtd -fmt :")[1]
    assert vtds == "db01_rootvg:vtscsi2\n"
    out = demo.ssh("ivm1", "lsmap -all -npiv -fmt :")[1]
    assert out.startswith("vfchost0:U8205.E6C.06A1001-V1-C14:4:db01:AIX:LOGGED_IN:fcs0:")


def test_lsdev_attributes_and_sea(demo):
    assert demo.ssh("ivm1", "ioscli lsdev -dev hdisk11 -attr reserve_policy") == (0, "value\n\nsingle_path\n", "")
    uid = demo.ssh("ivm1", "ioscli lsdev -dev hdisk1 -attr unique_id | tail -1")[1].strip()
    assert uid == demo.ssh("ivm2", "lsdev -dev hdisk1 -attr unique_id | tail -1")[1].strip()
    assert uid.endswith("IBMfcp")
    out = demo.ssh("ivm1", "lsdev -type sea")[1]
    assert sum(" Shared Ethernet Adapter" in line for line in out.splitlines()) == 1
    status, _, err = demo.ssh("ivm1", "lsdev -dev hdisk99 -attr reserve_policy")
    assert status != 0 and err.startswith("[VIOSE") and "hdisk99" in err


def test_lsnports_counts_the_virtual_ports_the_vfchosts_take(demo):
    status, out, _ = demo.ssh("ivm1", "ioscli lsnports")
    lines = out.splitlines()
    assert status == 0 and lines[0].split() == ["name", "physloc", "fabric", "tports", "aports", "swwpns", "awwpns"]
    ports = {ln.split()[0]: ln.split()[2:] for ln in lines[1:]}
    # db01's client vFC adapter is bound to fcs0 (vfchost0): one virtual port and two WWPNs taken.
    assert ports == {"fcs0": ["1", "64", "63", "2048", "2046"], "fcs1": ["1", "64", "64", "2048", "2048"]}
    status, _, err = demo.ssh("ivm1", "lsnports -all")
    assert status != 0 and err.startswith("[VIOSE")


def test_migration_counters(demo):
    out = demo.ssh("ivm1", "lslparmigr -r sys -F num_inactive_migrations_supported,num_active_migrations_supported,"
                           "num_inactive_migrations_in_progress,num_active_migrations_in_progress")[1]
    assert out == "64,8,0,0\n"
    assert demo.ssh("ivm1", "lslparmigr -r lpar --filter lpar_names=app01 -F migration_state")[1] == "Not Migrating\n"


@pytest.mark.parametrize("command", [
    "lssyscfg -r lpar -x",  # unknown flag
    "lssyscfg -r bogus",  # bad value
    "lssyscfg",  # missing -r
    "lssyscfg -r lpar -F name,nosuchattr",  # unknown attribute
    "lssyscfg -r lpar --header",  # --header without -F
    "lssyscfg -r lpar -m OtherSystem",  # -m naming another system
    "lshwres -r mem",  # missing --level
    "lshwres -r virtualio --rsubtype eth --level sys",
    "chsysstate -r lpar -o on",  # neither -n nor --id
    "migrlpar -o x -p app01",
    "migrlpar -o s -p app01 --async",  # --async is not valid with -o s
    'lssyscfg -r lpar --filter "bogus=1"',
])
def test_bad_arguments_are_refused_with_a_viose_error(demo, command):
    status, out, err = demo.ssh("ivm1", command)
    assert status != 0 and out == ""
    assert err.startswith("[VIOSE") and err.count("\n") == 1


def test_m_accepts_the_name_or_the_mtms(demo):
    assert demo.ssh("ivm1", f'lssyscfg -r sys -m "{SYS1}" -F name')[0] == 0
    assert demo.ssh("ivm1", 'lssyscfg -r sys -m "8205-E6C*06A1001" -F name')[0] == 0


def test_unknown_commands_and_hmc_detection_exit_127(demo):
    assert demo.ssh("ivm1", "lshmc -V") == (127, "", "rksh: lshmc: not found\n")
    assert demo.ssh("ivm1", "rm -rf /")[0] == 127
    assert demo.ssh("ivm1", "ioscli nosuchcmd")[0] == 127


def test_shell_idioms_and_refusals(demo):
    assert demo.ssh("ivm1", "lssyscfg -r sys -F name;echo $?") == (0, f"{SYS1}\n0\n", "")
    status, out, _ = demo.ssh("ivm1", "lssyscfg -r nope; echo $?")
    assert (status, out) == (0, "1\n")
    assert demo.ssh("ivm1", "lssyscfg -r sys -F name | grep -c Server") == (0, "1\n", "")
    for line in ("lssyscfg -r sys > /tmp/x", "lssyscfg -r sys | awk '{print}'", "lssyscfg -r sys && reboot",
                 "`id`", "lssyscfg -r sys &"):
        status, _, err = demo.ssh("ivm1", line)
        assert status != 0 and err.startswith("rksh:"), line


def test_command_log_records_user_command_and_status(demo):
    demo.ssh("ivm2", "lssyscfg -r sys -F name")
    demo.ssh("ivm2", "lshmc -V")
    log = demo.command_log("ivm2")
    assert [(e["user"], e["command"], e["exit_status"]) for e in log[-2:]] == [
        ("padmin", "lssyscfg -r sys -F name", 0), ("padmin", "lshmc -V", 127)]
    status, out, _ = demo.ssh("ivm2", "ivmsim-log --last 1")
    assert status == 0 and json.loads(out)["command"] == "lshmc -V"


def test_chsysstate_power_cycle(demo):
    state = "lssyscfg -r lpar --filter lpar_names=web31 -F state,rmc_state"
    assert demo.ssh("ivm4", "chsysstate -r lpar -o on -n web31") == (0, "", "")
    assert demo.ssh("ivm4", state)[1] in ("Starting,inactive\n", "Running,active\n")
    demo.wait_for("ivm4", state, lambda out: out == "Running,active\n")
    status, _, err = demo.ssh("ivm4", "chsysstate -r lpar -o on -n web31")
    assert status != 0 and err.startswith("[VIOSE")
    assert demo.ssh("ivm4", "chsysstate -r lpar -o osshutdown --id 3")[0] == 0
    demo.wait_for("ivm4", state, lambda out: out == "Not Activated,inactive\n")
    assert demo.ssh("ivm4", "chsysstate -r lpar -o on -n web31")[0] == 0
    assert demo.ssh("ivm4", "chsysstate -r lpar -o shutdown --immed -n web31") == (0, "", "")
    assert demo.ssh("ivm4", state)[1] == "Not Activated,inactive\n"
    status, _, err = demo.ssh("ivm4", "chsysstate -r lpar -o on -n nosuch")
    assert status != 0 and err.startswith("[VIOSE010401A1-0042]")
