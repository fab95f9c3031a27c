"""The audit trail as hard as the database lets it be: TRUNCATE refused, time never backwards along the chain, and
signed checkpoints outside the database that notice events cut off the end or a chain rewritten whole."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from mobility.engine.worker import Engine
from mobility.governance import checkpoints
from mobility.governance.audit import compute_hash, new_event, record, record_many, seal, verify_chain
from mobility.models import AuditEvent
from tests.markers import postgresql_only

pytestmark = pytest.mark.django_db


@pytest.fixture
def trail(requester):
    for n in range(10):
        record("test.event", actor=requester, data={"n": n})
    seal()
    return AuditEvent.objects.order_by("position")


def _as_attacker(sql: str, params=()) -> None:
    """Run SQL with the triggers off, as someone with the database's superuser rights could."""
    with connection.cursor() as cursor:
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred FK checks, before the role changes
        cursor.execute("SET session_replication_role = replica")
        try:
            cursor.execute(sql, params)
        finally:
            cursor.execute("SET session_replication_role = origin")


@postgresql_only
def test_truncate_is_refused(trail):
    n = trail.count()
    with pytest.raises(DatabaseError, match="append-only: TRUNCATE refused"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")  # the test's deferred FK checks would refuse it first
            cursor.execute("TRUNCATE mobility_auditevent")
    assert AuditEvent.objects.count() == n and verify_chain().ok


def test_a_back_dated_row_is_refused_at_sealing_and_reported(trail, requester):
    forged = AuditEvent.objects.create(at=timezone.now() - timedelta(days=30), actor_name="rita",
                                       action="approval.approved", object_type="migration", object_id="7")
    assert seal() == 0
    forged.refresh_from_db()
    assert forged.hash is None and forged.position is None
    later = record("test.after", actor=requester)  # the refused row does not hold up the honest ones
    assert seal() == 1
    later.refresh_from_db()
    assert later.position and later.hash
    with pytest.raises(CommandError, match=rf"BROKEN at event #{forged.pk} .*sealing refused it and 0 other") as caught:
        call_command("verify_audit")
    assert caught.value.returncode == 1


def test_a_future_dated_row_is_refused_too(trail):
    forged = AuditEvent.objects.create(at=timezone.now() + timedelta(days=1), actor_name="x", action="test.future")
    assert seal() == 0
    assert not verify_chain().ok and verify_chain().first_bad_id == forged.pk


def test_honest_writers_committing_out_of_time_order_are_sealed_in_time_order(trail):
    """Two transactions stamp their events, and the later stamp commits (and is sealed) first."""
    early, late = new_event("test.early"), new_event("test.late")
    late.at = early.at + timedelta(milliseconds=40)
    record_many([late])
    seal()
    record_many([early])
    assert seal() == 1
    chain = list(AuditEvent.objects.filter(action__in=["test.early", "test.late"]).order_by("position"))
    assert [e.action for e in chain] == ["test.late", "test.early"]
    assert verify_chain().ok
    # In one sealing turn they are chained in time order.
    first, second = new_event("test.first"), new_event("test.second")
    second.at = first.at + timedelta(milliseconds=5)
    record_many([second, first])
    seal()
    assert list(AuditEvent.objects.filter(action__in=["test.first", "test.second"]).order_by("position")
                .values_list("action", flat=True)) == ["test.first", "test.second"]


def test_verify_reports_a_back_dated_row_inside_the_chain(trail, settings):
    settings.IVMWEB_AUDIT_CLOCK_TOLERANCE_S = 10 ** 9  # sealed by a sealer that let it through
    forged = AuditEvent.objects.create(at=timezone.now() - timedelta(days=30), actor_name="x", action="test.old")
    assert seal() == 1
    settings.IVMWEB_AUDIT_CLOCK_TOLERANCE_S = 300
    with pytest.raises(CommandError, match=rf"BROKEN at event #{forged.pk} .*back-dated"):
        call_command("verify_audit")


@postgresql_only
def test_deleted_newest_rows_are_reported_by_the_checkpoints(trail, audit_checkpoint_file, capsys):
    n = trail.count()
    first = checkpoints.write_checkpoint()
    assert (first.seq, first.length) == (1, n)
    victims = list(trail.reverse().values_list("id", flat=True)[:5])
    _as_attacker("DELETE FROM mobility_auditevent WHERE id = ANY(%s)", [victims])
    call_command("verify_audit")  # the chain alone cannot tell: what is left verifies
    assert f"audit chain OK: {n - 5} events" in capsys.readouterr().out
    with pytest.raises(CommandError) as caught:
        call_command("verify_audit", "--checkpoints", str(audit_checkpoint_file))
    assert caught.value.returncode == 1
    newest = min(victims) - 1
    assert f"the last 5 events before checkpoint 1 are gone (the chain now ends at event #{newest})" in str(
        caught.value)
    with pytest.raises(checkpoints.CheckpointRefused, match="head of checkpoint 1 is gone"):
        checkpoints.write_checkpoint()  # nothing is signed over the cut chain


@postgresql_only
def test_a_chain_rewritten_whole_is_reported_by_the_checkpoints(trail, audit_checkpoint_file):
    checkpoints.write_checkpoint()
    victim = trail[3]
    _as_attacker("""UPDATE mobility_auditevent SET data = '{"n": 333}' WHERE id = %s""", [victim.pk])
    prev = trail[2].hash
    for event in AuditEvent.objects.filter(position__gte=victim.position).order_by("position"):
        event.prev_hash, event.hash = prev, compute_hash(prev, event)
        prev = event.hash
        _as_attacker("UPDATE mobility_auditevent SET prev_hash = %s, hash = %s WHERE id = %s",
                     [event.prev_hash, event.hash, event.pk])
    assert verify_chain().ok  # re-hashed: the chain alone verifies
    problems = checkpoints.check_file(audit_checkpoint_file)
    assert problems == [f"event #{trail.last().pk} changed since checkpoint 1 (it, or an event before it, "
                        "was rewritten)"]


def test_checkpoints_are_numbered_incremental_and_due_by_interval(trail, requester, audit_checkpoint_file, capsys):
    n = trail.count()
    assert checkpoints.write_checkpoint(due_after_s=3600).seq == 1
    assert checkpoints.write_checkpoint(due_after_s=3600) is None  # not due yet
    record("test.more", actor=requester)
    call_command("verify_audit", "--checkpoint")
    assert f"checkpoint 2: {n + 1} events" in capsys.readouterr().err
    lines = [json.loads(line) for line in audit_checkpoint_file.read_text().splitlines()]
    assert [(c["seq"], c["length"]) for c in lines] == [(1, n), (2, n + 1)]
    assert lines[1]["head"] == AuditEvent.objects.order_by("-position").first().hash
    assert checkpoints.check_file(audit_checkpoint_file) == []
    call_command("verify_audit", "--checkpoints", str(audit_checkpoint_file))


def test_a_checkpoint_with_a_wrong_signature_is_reported(trail, audit_checkpoint_file, settings):
    genuine = checkpoints.write_checkpoint()
    forged = json.loads(genuine.line()) | {"seq": 2, "length": 3}  # the signature of another body
    with open(audit_checkpoint_file, "a") as out:
        out.write(json.dumps(forged) + "\n")
    with pytest.raises(CommandError, match=r"checkpoint 2 \(line 2\): its signature does not match"):
        call_command("verify_audit", "--checkpoints", str(audit_checkpoint_file))
    with pytest.raises(checkpoints.CheckpointRefused, match="checkpoint 2 .* wrong signature"):
        checkpoints.write_checkpoint()
    settings.IVMWEB_AUDIT_CHECKPOINT_KEY = "another-key-" * 4  # a genuine file, checked with the wrong key
    assert all("signature does not match" in p for p in checkpoints.check_file(audit_checkpoint_file))


def test_a_missing_checkpoint_line_is_reported(trail, requester, audit_checkpoint_file):
    for n in range(3):
        record("test.more", actor=requester, data={"n": n})
        checkpoints.write_checkpoint()
    lines = audit_checkpoint_file.read_text().splitlines()
    audit_checkpoint_file.write_text("\n".join([lines[0], lines[2]]) + "\n")
    assert checkpoints.check_file(audit_checkpoint_file) == [
        "checkpoint 3 (line 2) follows checkpoint 1: checkpoints are missing from the file"]


def test_the_auditors_page_shows_the_last_verification_and_checkpoint(trail, client, auditor):
    client.force_login(auditor)
    fact = _anchor_line(client)
    assert "Chain last verified: never" in fact and "Last checkpoint: none yet" in fact
    call_command("verify_audit")
    checkpoint = checkpoints.write_checkpoint()
    fact = _anchor_line(client)
    assert "Chain last verified:" in fact and f"OK, {checkpoint.length} events" in fact
    assert f"Last checkpoint: #1, {checkpoint.written_at:%Y-%m-%d %H:%M:%S} UTC, {trail.count()} events" in fact
    assert checkpoint.head[:12] in fact and "signature valid" in fact


def _anchor_line(client) -> str:
    import re

    html = client.get(reverse("mobility:audit_log")).content.decode()
    found = re.search(r'data-testid="audit-anchor">(.*?)</p>', html, re.S)
    assert found, "the page has no anchor line"
    return " ".join(found.group(1).split())


@pytest.mark.django_db(transaction=True)
def test_the_workers_housekeeping_writes_a_checkpoint_when_due(requester, audit_checkpoint_file, settings):
    record("test.event", actor=requester)
    engine = Engine(worker_id="test-housekeeper")
    engine.housekeeping()
    engine.housekeeping()  # not due again within the interval
    assert [json.loads(line)["seq"] for line in audit_checkpoint_file.read_text().splitlines()] == [1]
    settings.IVMWEB_AUDIT_CHECKPOINT_INTERVAL_S = 0
    engine.housekeeping()
    assert len(audit_checkpoint_file.read_text().splitlines()) == 2
