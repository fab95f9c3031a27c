"""Fault injection through ivmsim-fault, over SSH."""

from __future__ import annotations

import json
import threading
import time

import paramiko
import pytest

from tests.ivmsim.conftest import migrlpar


def test_unknown_or_bad_faults_are_refused(demo):
    for line in ("ivmsim-fault add nosuch", "ivmsim-fault add slow-link factor=2", "ivmsim-fault add hang",
                 "ivmsim-fault add drop-ssh", "ivmsim-fault add fail-migration phase=lunch", "ivmsim-fault"):
        status, _, err = demo.ssh("ivm4", line)
        assert status != 0 and err.startswith("[VIOSE"), line


def test_corrupt_output_mangles_one_line_once(demo):
    assert demo.ssh("ivm4", "ivmsim-fault add corrupt-output command=lssyscfg")[0] == 0
    corrupted = demo.ssh("ivm4", "lssyscfg -r sys -F name")[1]
    clean = demo.ssh("ivm4", "lssyscfg -r sys -F name")[1]
    assert clean == "Server-8231-E2B-SN10D4004\n" and corrupted != clean and "corrupt" in corrupted


def test_drop_after_n_commands(demo):
    assert demo.ssh("ivm4", "ivmsim-fault add drop-ssh after=1")[0] == 0
    assert demo.ssh("ivm4", "lssyscfg -r sys -F name")[0] == 0
    with pytest.raises((paramiko.SSHException, EOFError, OSError)):
        demo.ssh("ivm4", "lssyscfg -r sys -F state")
    assert demo.ssh("ivm4", "lssyscfg -r sys -F state") == (0, "Operating\n", "")  # reconnects
    notes = [e.get("note", "") for e in demo.command_log("ivm4")]
    assert any("dropped" in n for n in notes)


def test_hang_delays_a_command(demo):
    demo.ssh("ivm4", "ivmsim-fault add hang command=lslparmigr seconds=1")
    start = time.monotonic()
    assert demo.ssh("ivm4", "lslparmigr -r sys -F num_active_migrations_supported")[1] == "8\n"
    assert time.monotonic() - start >= 1.0


def test_slow_link_slows_a_transfer(demo):
    demo.ssh("ivm1", "ivmsim-fault add slow-link factor=0.05 peer=ivm3")
    listed = [json.loads(x) for x in demo.ssh("ivm1", "ivmsim-fault list")[1].splitlines()]
    assert [f["kind"] for f in listed] == ["slow-link"]
    assert demo.ssh("ivm1", migrlpar("m", "app01", "ivm3", "--async"))[0] == 0
    time.sleep(0.5)
    out = demo.ssh("ivm1", "lslparmigr -r lpar --filter lpar_names=app01 -F migration_state,bytes_transmitted")[1]
    state, sent = out.strip().split(",")
    # at full speed 0.5 s wall x 200 = 100 s simulated would have finished; at 5 % it is still going
    assert state == "Migration In Progress" and int(sent) > 0
    demo.ssh("ivm1", "ivmsim-fault clear all")
    demo.wait_for("ivm3", "lssyscfg -r lpar --filter lpar_names=app01 -F state", lambda o: o == "Running\n")


def test_host_key_change_is_refused_by_a_pinned_client(demo):
    demo.ssh("ivm4", "ivmsim-fault add host-key")
    with pytest.raises(paramiko.BadHostKeyException):
        demo.client("ivm4", fresh=True)
    faults = (demo.state_dir / "ivm4" / "faults.jsonl").read_text().splitlines()
    assert any(json.loads(x)["kind"] == "host-key" for x in faults)


def _logged(demo, ivm, prefix):
    return [e for e in demo.command_log(ivm) if e["command"].startswith(prefix)]


def test_a_hung_command_runs_and_is_logged_only_when_its_fault_is_cleared(demo):
    demo.ssh("ivm2", "ivmsim-fault add hang 'command=lssyscfg -r lpar'")
    answer = []
    waiting = threading.Thread(target=lambda: answer.append(demo.ssh("ivm2", "lssyscfg -r lpar -F name")))
    waiting.start()
    time.sleep(0.5)
    assert not answer and not _logged(demo, "ivm2", "lssyscfg -r lpar")  # neither run nor logged while it hangs
    demo.ssh("ivm2", "ivmsim-fault clear all", timeout=5)  # (another connection: the cached one waits)
    waiting.join(5)
    assert answer and answer[0][0] == 0 and "app11" in answer[0][1]
    assert [e["exit_status"] for e in _logged(demo, "ivm2", "lssyscfg -r lpar")] == [0]


def test_a_client_that_goes_away_during_a_hang_leaves_the_command_unrun(demo):
    demo.ssh("ivm2", "ivmsim-fault add hang 'command=chsysstate -r lpar -o on'")
    other = demo.client("ivm2")
    client = demo.client("ivm2", fresh=True)
    client.exec_command("chsysstate -r lpar -o on -n nosuch")
    time.sleep(0.3)
    client.close()
    deadline = time.monotonic() + 5
    while not _logged(demo, "ivm2", "chsysstate") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert [(e["exit_status"], e.get("note")) for e in _logged(demo, "ivm2", "chsysstate")] == [
        (None, "client went away while the command hung")]
    time.sleep(0.3)  # (the old drop came right after the log line)
    assert demo.client("ivm2") is other and demo.ssh("ivm2", "lssyscfg -r sys -F state")[0] == 0  # others stay


def test_hold_phase_keeps_a_migration_in_its_phase_until_cleared(demo):
    state = "lslparmigr -r lpar --filter lpar_names=app02 -F migration_state"
    assert demo.ssh("ivm1", "ivmsim-fault add hold-phase phase=starting lpar=app02")[0] == 0
    assert demo.ssh("ivm1", "ivmsim-fault add hold-phase phase=finished")[0] != 0  # not a phase
    assert demo.ssh("ivm1", migrlpar("m", "app02", "ivm3", "--async"))[0] == 0
    time.sleep(0.5)  # 100 simulated seconds: 50 times "Migration Starting"'s 2 s
    assert demo.ssh("ivm1", state)[1] == "Migration Starting\n"
    demo.ssh("ivm1", "ivmsim-fault clear all")
    demo.wait_for("ivm3", "lssyscfg -r lpar --filter lpar_names=app02 -F state", lambda o: o == "Running\n")
