"""Migrations end to end over SSH on the demo fleet: active, inactive, stop, failure and recovery."""

from __future__ import annotations

import pytest

from ivmsim import reference as ref
from tests.ivmsim.conftest import SYS1, SYS2, migrlpar

pytestmark = pytest.mark.usefixtures("demo")
STATE = "lssyscfg -r lpar --filter lpar_names={} -F state"
MIGR = "lslparmigr -r lpar --filter lpar_names={} -F migration_state,migration_type,bytes_transmitted,bytes_remaining"


def test_active_migration_keeps_the_id_when_free_and_reclaims_the_source(demo):
    before = int(demo.ssh("ivm3", "lshwres -r mem --level sys -F curr_avail_sys_mem")[1])
    assert demo.ssh("ivm3", migrlpar("m", "web21", "ivm2")) == (0, "", "")  # synchronous: returns when done
    assert demo.ssh("ivm2", "lssyscfg -r lpar --filter lpar_names=web21 -F lpar_id,state,rmc_state")[1] == (
        "5,Running,active\n")
    demo.wait_for("ivm3", STATE.format("web21"), lambda out: "No results" in out)
    after = int(demo.ssh("ivm3", "lshwres -r mem --level sys -F curr_avail_sys_mem")[1])
    assert after == before + 2048
    assert "0x00000005" not in demo.ssh("ivm3", "lsmap -all -fmt :")[1]


def test_active_migration_reports_progress_and_regenerates_vtscsi_names(demo):
    source_map = demo.ssh("ivm1", "lsmap -vadapter vhost2 -field vtd backing -fmt :")[1]
    assert source_map == "db01_rootvg:hdisk3:vtscsi2:hdisk4\n"
    assert demo.ssh("ivm1", migrlpar("m", "db01", "ivm3", "--async")) == (0, "", "")
    seen = []

    def progress(out):
        seen.append(out.strip())
        return out.startswith(ref.MIGRATION_COMPLETE) or "No results" in out

    demo.wait_for("ivm1", MIGR.format("db01"), progress, timeout=30, interval=0.02)
    states = [s.split(",")[0] for s in seen]
    assert ref.MIGRATION_IN_PROGRESS in states
    sent = [int(s.split(",")[2]) for s in seen if s.startswith(ref.MIGRATION_IN_PROGRESS)]
    assert sent == sorted(sent) and sent[-1] > 0
    assert all(s.split(",")[1] == "active" for s in seen if not s.startswith("[VIOSI"))
    demo.wait_for("ivm3", STATE.format("db01"), lambda out: out == "Running\n")
    lines = [x for x in demo.ssh("ivm3", "lsmap -all -field clientid vtd backing -fmt :")[1].splitlines()]
    db01 = [x for x in lines if x.startswith(f"{demo_id(demo, 'ivm3', 'db01'):#010x}:")]
    assert len(db01) == 1
    _, vtd1, disk1, vtd2, disk2 = db01[0].split(":")
    assert vtd1 == "db01_rootvg"  # custom VTD names are kept
    assert vtd2.startswith("vtscsi") and vtd2 != "vtscsi2"  # generated names are regenerated
    assert (disk1, disk2) == ("hdisk3", "hdisk4")
    demo.wait_for("ivm1", STATE.format("db01"), lambda out: "No results" in out)


def demo_id(demo, ivm, name) -> int:
    return int(demo.ssh(ivm, f"lssyscfg -r lpar --filter lpar_names={name} -F lpar_id")[1])


def test_inactive_migration_carries_no_memory_and_stays_not_activated(demo):
    demo.ssh("ivm1", "ivmsim-fault add stall-link peer=ivm2")  # hold it in flight while we look
    assert demo.ssh("ivm1", migrlpar("m", "web01", "ivm2", "--async"))[0] == 0
    assert demo.ssh("ivm1", STATE.format("web01"))[1] == "Migrating - Not Activated\n"
    assert demo.ssh("ivm2", STATE.format("web01"))[1] == "Migrating - Not Activated\n"
    counters = demo.ssh("ivm1", "lslparmigr -r sys -F num_inactive_migrations_in_progress")[1]
    assert counters == "1\n"
    out = demo.ssh("ivm1", MIGR.format("web01"))[1].strip().split(",")
    assert out[1:] == ["inactive", "0", "0"]
    demo.ssh("ivm1", "ivmsim-fault clear all")
    demo.wait_for("ivm2", STATE.format("web01"), lambda out: out == "Not Activated\n")
    demo.wait_for("ivm1", STATE.format("web01"), lambda out: "No results" in out)


def test_stop_rolls_back_to_the_source(demo):
    fault = demo.ssh("ivm1", "ivmsim-fault add stall-link peer=ivm3")
    assert fault[0] == 0
    try:
        assert demo.ssh("ivm1", migrlpar("m", "app02", "ivm3", "--async"))[0] == 0
        demo.wait_for("ivm1", MIGR.format("app02"), lambda out: out.startswith(ref.MIGRATION_IN_PROGRESS))
        assert demo.ssh("ivm3", STATE.format("app02"))[1] == "Migrating - Running\n"
        status, _, err = demo.ssh("ivm3", "migrlpar -o s -p app02")
        assert status != 0 and err.startswith(f"[{ref.MIGRATION_CODES['not_source'][0]}]")
        assert demo.ssh("ivm1", f'migrlpar -o s -m "{SYS1}" -p app02') == (0, "", "")
        assert demo.ssh("ivm1", STATE.format("app02"))[1] == "Running\n"
        assert demo.ssh("ivm1", MIGR.format("app02"))[1].startswith("Not Migrating,")
        assert "No results" in demo.ssh("ivm3", STATE.format("app02"))[1]
    finally:
        demo.ssh("ivm1", "ivmsim-fault clear all")


def test_failure_then_recover_from_either_side(demo):
    assert demo.ssh("ivm2", "ivmsim-fault add fail-migration phase=precopy lpar=app11")[0] == 0
    status, _, err = demo.ssh("ivm2", migrlpar("m", "app11", "ivm1"))
    assert status != 0 and err.startswith(f"[{ref.MIGRATION_CODES['failed'][0]}]")
    assert demo.ssh("ivm2", MIGR.format("app11"))[1].startswith("Migration Failed,active")
    assert demo.ssh("ivm1", MIGR.format("app11"))[1].startswith("Migration Failed,active")
    status, _, err = demo.ssh("ivm2", migrlpar("m", "app11", "ivm1"))
    assert status != 0 and err.startswith(f"[{ref.MIGRATION_CODES['already_migrating'][0]}]")
    # recovery issued on the destination IVM clears both sides
    assert demo.ssh("ivm1", "migrlpar -o r -p app11") == (0, "", "")
    assert demo.ssh("ivm2", STATE.format("app11"))[1] == "Running\n"
    assert "No results" in demo.ssh("ivm1", STATE.format("app11"))[1]
    status, _, err = demo.ssh("ivm2", f'migrlpar -o r -m "{SYS2}" -p app11')
    assert status != 0 and err.startswith(f"[{ref.MIGRATION_CODES['not_migrating'][0]}]")
    # and now it moves fine
    assert demo.ssh("ivm2", migrlpar("m", "app11", "ivm1")) == (0, "", "")


def test_an_asynchronous_failure_is_reported_by_its_message_id(demo):
    """``migrlpar -o m --async`` returned 0; the (inactive) transfer fails afterwards: ``lslparmigr -r lpar`` lists the partition
    as Migration Failed (exit 0) and prints the failure's message with its id on stderr, until ``-o r``."""
    code = ref.MIGRATION_CODES["failed"][0]
    assert demo.ssh("ivm2", "ivmsim-fault add fail-migration phase=transfer lpar=db11")[0] == 0
    assert demo.ssh("ivm2", migrlpar("m", "db11", "ivm3", "--async")) == (0, "", "")
    demo.wait_for("ivm2", MIGR.format("db11"), lambda out: out.startswith(ref.MIGRATION_FAILED), timeout=30)
    status, out, err = demo.ssh("ivm2", MIGR.format("db11"))
    assert status == 0 and out.startswith("Migration Failed,inactive")
    assert err.startswith(f"[{code}] The migration of partition db11 failed: injected fault")
    assert demo.ssh("ivm2", MIGR.format("bad-nameclash"))[2] == ""  # another partition of the same IVM: no message
    assert demo.ssh("ivm2", "migrlpar -o r -p db11") == (0, "", "")
    assert demo.ssh("ivm2", MIGR.format("db11"))[1:] == ("Not Migrating,null,null,null\n", "")


def test_command_log_counts_migrations_started(demo):
    started = [e for e in demo.command_log("ivm1") if e["command"].startswith("migrlpar -o m")]
    assert len(started) == 3  # db01, web01, app02 (each ran once)
    assert all(e["exit_status"] == 0 for e in started)
