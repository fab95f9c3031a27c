"""ivmsim answers as IBM documents real IVMs to answer (issue 22, items 1-6), over real SSH.

Each test names the documented form it checks; the formats' sources are cited in tests/ivm/fixtures/.
"""

from __future__ import annotations

import re
import time

import paramiko

from tests.ivmsim.conftest import SYS1


def _records(text: str) -> list[str]:
    return [ln for ln in text.splitlines() if ln.strip()]


# --- 1. quoted multi-value filters (HMC lssyscfg man page: ""filter-name=value,value"",...) ------------------
def test_a_quoted_pair_of_names_selects_every_named_partition(demo):
    out = demo.ssh("ivm1", 'lssyscfg -r lpar --filter "\\"lpar_names=app01,db01\\"" -F name')[1]
    assert out.splitlines() == ["app01", "db01"]


def test_a_quoted_pair_combined_with_another_filter(demo):
    ids = dict(ln.split(",") for ln in demo.ssh("ivm1", "lssyscfg -r lpar -F name,lpar_id")[1].splitlines())
    out = demo.ssh("ivm1", f"lssyscfg -r lpar --filter '\"lpar_names=app01,db01\",lpar_ids={ids['app01']}' "
                           "-F name")[1]
    assert out == "app01\n"


# --- 2. identifiers of the right length ------------------------------------------------------------------------
def test_mac_addresses_and_base_values_have_twelve_hex_digits(demo):
    macs = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype eth --level lpar -F mac_addr")[1].split()
    bases = demo.ssh("ivm1", "lssyscfg -r lpar -F virtual_eth_mac_base_value")[1].split()
    assert macs and bases
    assert all(re.fullmatch(r"[0-9A-F]{12}", x) for x in macs + bases), macs + bases


def test_wwpns_in_disk_locations_have_sixteen_hex_digits(demo):
    out = demo.ssh("ivm1", "ioscli lsmap -all -field svsa bdphysloc -fmt :")[1]
    wwpns = re.findall(r"-W([0-9A-Fa-f]+)-L", out)
    assert wwpns and all(len(w) == 16 for w in wwpns), wwpns


# --- 3. commands administrators use --------------------------------------------------------------------------
def test_partition_profiles_are_listed(demo):
    out = demo.ssh("ivm1", "lssyscfg -r prof --filter lpar_names=db01")[1]
    assert out.startswith("name=db01,lpar_name=db01,lpar_id=4,lpar_env=aixlinux,all_resources=0,min_mem=")
    assert "virtual_scsi_adapters=3/client/1/vios1/" in out and "desired_mem=8192" in out
    assert demo.ssh("ivm1", "lssyscfg -r prof --filter profile_names=nosuch")[1].startswith("[VIOSI01040010-0003]")


def test_lsmap_net_shows_each_sea_and_its_backing_adapter(demo):
    out = demo.ssh("ivm1", "ioscli lsmap -all -net")[1]
    assert out.startswith("SVEA   Physloc\n------ ")
    assert "SEA                   ent4\nBacking device        ent0\nStatus                Available\n" in out
    fmt = demo.ssh("ivm1", "ioscli lsmap -all -net -field svea sea backing -fmt :")[1]
    assert fmt.splitlines()[0].split(":") == ["ent2", "ent4", "ent0"]


def test_lsmap_type_keeps_only_vtds_of_that_backing_type(demo):
    disks = demo.ssh("ivm1", "ioscli lsmap -all -type disk -field svsa backing -fmt :")[1]
    lvs = demo.ssh("ivm1", "ioscli lsmap -all -type lv -field svsa backing -fmt :")[1]
    assert "lv_badlv" in lvs and "hdisk" not in lvs
    assert "lv_badlv" not in disks and "hdisk" in disks


def test_no_answer_names_the_simulator(demo):
    for line in ("lssyscfg -r prof -F name", "ioscli lsmap -all -net", "ioscli chdev -dev hdisk1 -attr pvid=1",
                 "ioscli chdev -dev hdisk1 -attr nosuch=1", "mksyscfg -r lpar -i name=x"):
        _, out, err = demo.ssh("ivm1", line)
        assert "simulator" not in (out + err).lower(), line


# --- 4. output layout ------------------------------------------------------------------------------------------
def test_lsdev_attribute_tables_keep_a_space_between_columns(demo):
    for dev in ("vioslpm0", "ent4", "hdisk1"):
        lines = demo.ssh("ivm1", f"ioscli lsdev -dev {dev} -attr")[1].splitlines()
        head = lines[0]
        assert head.split() == ["attribute", "value", "description", "user_settable"], head
        cols = [head.index(c) for c in ("value", "description", "user_settable")]
        for line in lines[2:]:
            assert all(line[c - 1] == " " for c in cols), line
            assert line.split()[-1] in ("True", "False"), line


def test_non_trunk_adapters_omit_trunk_priority_and_show_vswitch(demo):
    out = demo.ssh("ivm1", "lshwres -r virtualio --rsubtype eth --level lpar")[1].splitlines()
    client = [ln for ln in out if "is_trunk=0" in ln]
    trunk = [ln for ln in out if "is_trunk=1" in ln]
    assert client and trunk
    assert all("trunk_priority" not in ln for ln in client)
    assert all("trunk_priority=1" in ln for ln in trunk)
    assert all("vswitch=" in ln and "allowed_os_mac_addrs=" in ln and "qos_priority=" in ln for ln in out)


def test_io_slots_lists_free_slots_and_locations_agree(demo):
    rows = demo.ssh("ivm1", "lshwres -r io --rsubtype slot -F drc_name,unit_phys_loc,phys_loc,lpar_id")[1]
    rows = [r.split(",") for r in rows.splitlines()]
    assert any(r[3] == "none" for r in rows), rows
    assert all(r[0] == f"{r[1]}-{r[2]}" for r in rows), rows


def test_running_partitions_have_an_uptime(demo):
    out = demo.ssh("ivm1", "lssyscfg -r lpar -F name,state,uptime")[1]
    for name, state, uptime in (ln.split(",") for ln in out.splitlines()):
        assert (int(uptime) > 0) == (state == "Running"), (name, state, uptime)


def test_desired_compat_mode_default_runs_in_the_system_mode(demo):
    out = demo.ssh("ivm1", "lssyscfg -r lpar --filter lpar_names=app01 "
                           "-F desired_lpar_proc_compat_mode,curr_lpar_proc_compat_mode")[1]
    assert out == "default,POWER7\n"


# --- 5. the padmin shell -----------------------------------------------------------------------------------------
def test_scripts_pipe_into_grep_loop_and_substitute(demo):
    assert demo.ssh("ivm1", "lssyscfg -r lpar -F name,state | grep Running | grep -c app")[1] == "2\n"
    script = ('for d in $(ioscli lsdev -type disk | grep hdisk | cut -d " " -f 1 | head -2); do '
              'echo $d $(ioscli lsdev -dev $d -attr reserve_policy | tail -1); done')
    status, out, err = demo.ssh("ivm1", script)
    assert (status, err) == (0, "")
    assert out == "hdisk1 no_reserve\nhdisk2 no_reserve\n"
    logged = [e["command"] for e in demo.command_log("ivm1")[-3:]]
    assert logged == ["ioscli lsdev -type disk", "ioscli lsdev -dev hdisk1 -attr reserve_policy",
                      "ioscli lsdev -dev hdisk2 -attr reserve_policy"]


def test_a_semicolon_runs_both_commands_as_ksh_does(demo):
    status, out, err = demo.ssh("ivm1", "lssyscfg -r sys -F name; id")
    assert (status, out) == (127, f"{SYS1}\n") and err == "rksh: id: not found\n"


def test_an_interactive_login_gets_a_prompt(demo):
    client = demo.client("ivm1", fresh=True)
    try:
        chan = client.invoke_shell()
        chan.settimeout(10)
        got = b""

        def read_until(marker: bytes) -> bytes:
            nonlocal got
            deadline = time.monotonic() + 10
            while marker not in got and time.monotonic() < deadline:
                got += chan.recv(4096)
            return got

        assert read_until(b"$ ").endswith(b"$ ")
        got = b""
        chan.sendall(b"lssyscfg -r sys -F name\n")
        assert SYS1.encode() in read_until(b"$ ")
        chan.sendall(b"exit\n")
        assert chan.recv_exit_status() == 0
    finally:
        client.close()
    assert isinstance(client, paramiko.SSHClient)


# --- 6. what lslparmigr's bytes_remaining means --------------------------------------------------------------------
def test_bytes_remaining_never_exceeds_the_partition_memory(demo):
    memory = int(demo.ssh("ivm1", "lshwres -r mem --level lpar --filter lpar_names=app02 -F curr_mem")[1])
    assert demo.ssh("ivm1", 'migrlpar -o m --async -t "Server-8205-E6C-SN06A2002" --ip 127.0.1.2 -u padmin '
                            "-p app02")[0] == 0
    seen = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        out = demo.ssh("ivm1", "lslparmigr -r lpar --filter lpar_names=app02 -F migration_state,bytes_remaining")[1]
        if out.startswith("[VIOSI"):
            break
        state, left = out.strip().split(",")
        if left not in ("", "null"):
            seen.append(int(left))
        if state == "Migration Complete":
            break
    assert seen and max(seen) <= memory * 1024 * 1024, (seen[:5], memory)
