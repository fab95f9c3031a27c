"""Faults injected in ivmsim during the transfer: an IVM failure then Recover, Stop, and a dropped SSH connection."""

import pytest

from mobility.engine import control, ivmside
from mobility.ivm import CommandResult, parse
from mobility.models import Migration, MigrationEvent
from tests.engine.conftest import approved_migration, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _ssh_ok(fleet, ivm, command):
    status, out, err = fleet.ssh(ivm, command)
    assert status == 0, (command, out, err)
    return out


def _transferring(m_id):
    m = Migration.objects.get(pk=m_id)
    return m.steps.filter(number=6, status="running").exists() and m.bytes_transmitted > 0


def _lslparmigr(stdout: str, stderr: str) -> CommandResult:
    return CommandResult(ivmside.lpar_migration_command("app01"), stdout, stderr, 0, 0.0)


@pytest.mark.django_db(transaction=False)
def test_the_failure_message_is_known_by_its_id_not_its_words():
    row = "app01,Migration Failed,active,3,vios1,vios2,1048576,0,0\n"
    # Localized words after the id: still the failure's message, in the IVM's words.
    localized = _lslparmigr(row, f"[{parse.MIGRATION_FAILED_ID}] La migration de la partition app01 a échoué.\n")
    assert ivmside.lpar_migration_of(localized).failure == parse.IVMMessage(
        parse.MIGRATION_FAILED_ID, "error", "La migration de la partition app01 a échoué.")
    # The English sentence under another id, or with no id, is not taken for it.
    for stderr in ("[VIOSE0104A00B-0007] The migration of partition app01 failed: stopped\n",
                   "The migration of partition app01 failed: injected fault\n", ""):
        seen = ivmside.lpar_migration_of(_lslparmigr(row, stderr))
        assert seen.state == ivmside.FAILED and seen.failure is None


def test_a_failure_mid_transfer_fails_the_migration_and_recover_cleans_up(estate, personas, engine, fleet):
    _ssh_ok(fleet, "ivm1", "ivmsim-fault add fail-migration phase=precopy lpar=app01")
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    engine()
    wait_for(lambda: status_of(m.pk) in ("failed", "completed"), 60, what="the failure")
    m.refresh_from_db()
    assert m.status == "failed" and m.recover_needed
    assert "Migration Failed" in m.outcome
    # The IVM's message for a failure after ``--async`` returned, by its id (ivmsim prints it beside the listing).
    assert f"[{parse.MIGRATION_FAILED_ID}] The migration of partition app01 failed: injected fault" in m.outcome
    assert m.steps.filter(status="failed").exists()
    out = _ssh_ok(fleet, "ivm1", "lslparmigr -r lpar --filter lpar_names=app01 -F migration_state")
    assert out.strip() == "Migration Failed"

    with pytest.raises(control.ControlRefused):
        control.request_recover(m, personas["rita"], force=True)  # --force is for administrators only
    with pytest.raises(control.ControlRefused):
        control.request_recover(m, personas["audrey"])  # auditors never
    control.request_recover(m, personas["rita"])
    wait_for(lambda: status_of(m.pk) == "failed" and not Migration.objects.get(pk=m.pk).recover_needed, 30,
             what="the recovery")
    m.refresh_from_db()
    assert "back on" in m.outcome, m.outcome
    assert _ssh_ok(fleet, "ivm1", "lslparmigr -r lpar --filter lpar_names=app01 -F migration_state").strip() == \
        "Not Migrating"
    assert _ssh_ok(fleet, "ivm1", "lssyscfg -r lpar --filter lpar_names=app01 -F state").strip() == "Running"
    assert any(c["command"].startswith("migrlpar -o r") for c in fleet.command_log("ivm1"))
    with pytest.raises(control.ControlRefused, match="half-moved"):
        control.request_recover(m, personas["rita"])  # recovered: not offered, not accepted again


def test_stop_during_the_transfer_leaves_the_partition_running_on_the_source(estate, personas, engine, fleet):
    _ssh_ok(fleet, "ivm1", "ivmsim-fault add slow-link factor=0.05")
    try:
        m = approved_migration(personas, "db01", "ivm1", "ivm2")
        engine()
        wait_for(lambda: _transferring(m.pk), 60, what="the transfer to start")
        control.request_stop(m, personas["rita"])
        wait_for(lambda: status_of(m.pk) in ("stopped", "running", "failed", "completed")
                 and status_of(m.pk) != "running", 60, what="the stop")
    finally:
        _ssh_ok(fleet, "ivm1", "ivmsim-fault clear all")
    m.refresh_from_db()
    assert m.status == "stopped", m.outcome
    assert "stays on" in m.outcome
    assert _ssh_ok(fleet, "ivm1", "lssyscfg -r lpar --filter lpar_names=db01 -F state").strip() == "Running"
    assert "No results" in _ssh_ok(fleet, "ivm2", "lssyscfg -r lpar --filter lpar_names=db01 -F state")
    assert sum(c["command"].startswith("migrlpar -o s") for c in fleet.command_log("ivm1")) == 1


def test_a_dropped_ssh_connection_mid_transfer_is_reconnected_and_the_migration_completes(
        estate, personas, engine, fleet):
    _ssh_ok(fleet, "ivm1", "ivmsim-fault add drop-ssh phase=precopy lpar=app02")
    m = approved_migration(personas, "app02", "ivm1", "ivm2")
    engine()
    wait_for(lambda: status_of(m.pk) in ("failed", "completed"), 90, what="the migration to finish")
    m.refresh_from_db()
    assert m.status == "completed", m.outcome
    log = [f for f in (fleet.state_dir / "ivm1" / "faults.jsonl").read_text().splitlines() if "triggered" in f]
    assert log, "the drop-ssh fault never fired"
    assert sum(c["command"].startswith("migrlpar -o m") and "-p app02" in c["command"]
               for c in fleet.command_log("ivm1")) == 1


def test_no_progress_flags_the_migration_stuck_and_the_overall_timeout_stops_it(estate, personas, engine, fleet):
    stops_before = sum(c["command"].startswith("migrlpar -o s") for c in fleet.command_log("ivm1"))
    _ssh_ok(fleet, "ivm1", "ivmsim-fault add stall-link")
    try:
        m = approved_migration(personas, "db01", "ivm1", "ivm2")
        engine(stuck_s=1.5, timeout_min_s=8.0, timeout_s_per_gib=0.1)
        wait_for(lambda: Migration.objects.get(pk=m.pk).stuck, 60, what="the stuck flag")
        assert status_of(m.pk) == "running"  # flagged, not yet stopped: the overall timeout has not passed
        assert MigrationEvent.objects.filter(migration=m, kind="stuck").exists()
        wait_for(lambda: status_of(m.pk) in ("stopped", "failed", "completed"), 60, what="the timeout's stop")
    finally:
        _ssh_ok(fleet, "ivm1", "ivmsim-fault clear all")
    m.refresh_from_db()
    assert m.status == "stopped", m.outcome
    assert MigrationEvent.objects.filter(migration=m, kind="request", payload__by="engine").exists()
    assert sum(c["command"].startswith("migrlpar -o s") for c in fleet.command_log("ivm1")) == stops_before + 1
    assert _ssh_ok(fleet, "ivm1", "lssyscfg -r lpar --filter lpar_names=db01 -F state").strip() == "Running"
