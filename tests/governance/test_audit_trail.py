"""The tamper-evident trail: sign-ins recorded, `verify_audit` finds an edited row, the trigger refuses edits."""

import re
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import DatabaseError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from mobility.governance.approvals import approve, reject
from mobility.governance.audit import ready_to_seal, record, seal, verify_chain
from mobility.models import AuditEvent
from tests.governance.conftest import make_request, revise
from tests.markers import postgresql_only

pytestmark = pytest.mark.django_db


@pytest.fixture
def flow(estate, requester, approver, client, auditor):
    """A realistic stretch of trail: sign-ins, a request, votes, a revision, an export."""
    client.post(reverse("login"), {"username": "rita", "password": "wrong"})
    client.post(reverse("login"), {"username": "rita", "password": "pw-rita"})
    first = make_request(estate.app01, requester, estate.b)
    approve(first, approver, "ok", plan_hash=first.latest_plan().content_hash)
    revise(first, requester)
    second = make_request(estate.db01, requester, estate.a)
    reject(second, approver, "no", plan_hash=second.latest_plan().content_hash)
    client.force_login(auditor)
    client.get(reverse("mobility:history_export", args=["csv"]))
    return first


def test_sign_ins_and_failed_sign_ins_are_audited(client, requester):
    client.post(reverse("login"), {"username": "rita", "password": "not-her-password"})
    client.post(reverse("login"), {"username": "rita", "password": "pw-rita"})
    client.post(reverse("logout"))
    # The personas' creation is audited too (user.created, role.granted, ...): only the sign-ins are looked at.
    events = list(AuditEvent.objects.filter(action__startswith="auth.").order_by("id")
                  .values_list("action", "actor_name", "data"))
    assert [e[0] for e in events] == ["auth.login_failed", "auth.login", "auth.logout"]
    failed = events[0]
    assert failed[1] == "anonymous (rita)" and failed[2]["username"] == "rita"
    assert "not-her-password" not in str(events)
    assert events[1][1] == "rita" and events[1][2]["ip"] == "127.0.0.1"


def test_events_from_a_flow_verify(flow, capsys):
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"auth.login", "auth.login_failed", "plan.submitted", "approval.approved", "approval.voided",
            "approval.rejected", "history.exported"} <= actions
    result = verify_chain()
    assert result.ok and result.checked == AuditEvent.objects.count()
    call_command("verify_audit")
    assert f"audit chain OK: {result.checked} events" in capsys.readouterr().out
    call_command("verify_audit", "--head")
    assert capsys.readouterr().out.strip() == AuditEvent.objects.order_by("-id").first().hash
    call_command("verify_audit", "--expect-head", result.head)


def test_expect_head_notices_a_head_that_is_gone(flow):
    with pytest.raises(CommandError, match="not in the chain") as caught:
        call_command("verify_audit", "--expect-head", "f" * 64)
    assert caught.value.returncode == 1


@postgresql_only
def test_verify_audit_names_a_row_changed_behind_the_triggers_back(flow):
    seal()
    victim = AuditEvent.objects.filter(action="approval.approved").get()
    with connection.cursor() as cursor:
        # The test's own transaction holds deferred foreign-key checks; run them so ALTER TABLE may proceed.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE mobility_auditevent DISABLE TRIGGER mobility_audit_append_only")
        cursor.execute("""UPDATE mobility_auditevent SET data = jsonb_set(data, '{comment}', '"rubber stamp"')
                          WHERE id = %s""", [victim.pk])
        cursor.execute("ALTER TABLE mobility_auditevent ENABLE TRIGGER mobility_audit_append_only")
    with pytest.raises(CommandError, match=rf"BROKEN at event #{victim.pk} \(.* alex approval.approved\)") as caught:
        call_command("verify_audit")
    assert caught.value.returncode == 1
    assert "content does not match its hash" in str(caught.value)


@postgresql_only
def test_verify_audit_notices_a_removed_row(flow):
    seal()
    victim = AuditEvent.objects.filter(action="approval.voided").get()
    with connection.cursor() as cursor:
        # The test's own transaction holds deferred foreign-key checks; run them so ALTER TABLE may proceed.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("ALTER TABLE mobility_auditevent DISABLE TRIGGER mobility_audit_append_only")
        cursor.execute("DELETE FROM mobility_auditevent WHERE id = %s", [victim.pk])
        cursor.execute("ALTER TABLE mobility_auditevent ENABLE TRIGGER mobility_audit_append_only")
    following = AuditEvent.objects.filter(id__gt=victim.pk).order_by("id").first()
    with pytest.raises(CommandError, match=rf"#{following.pk} .*prev_hash does not match"):
        call_command("verify_audit")


@postgresql_only
def test_the_trigger_refuses_update_and_delete(flow):
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(action="approval.approved").update(data={"comment": "edited"})
    with pytest.raises(DatabaseError, match="append-only: DELETE refused"), transaction.atomic():
        AuditEvent.objects.filter(action="auth.login_failed").delete()
    assert verify_chain().ok


@postgresql_only
def test_the_trigger_lets_an_unsealed_row_be_sealed_once_and_nothing_else(flow):
    unsealed = record("test.unsealed", data={"n": 1})
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(pk=unsealed.pk).update(data={"n": 2})  # unsealed, yet its content is fixed
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(pk=unsealed.pk).update(hash="e" * 64, data={"n": 2})  # sealing changes nothing else
    assert seal() >= 1
    unsealed.refresh_from_db()
    assert unsealed.hash and unsealed.data == {"n": 1}
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(pk=unsealed.pk).update(hash="e" * 64, prev_hash="e" * 64)  # sealed once only
    assert verify_chain().ok


def test_refusals_are_in_the_trail(pending, requester, olga):
    from mobility.governance.approvals import ApprovalRefused

    for user in (requester, olga):
        with pytest.raises(ApprovalRefused):
            approve(pending, user, "x", plan_hash=pending.latest_plan().content_hash)
    refused = AuditEvent.objects.filter(action="approval.refused").order_by("id")
    assert [e.actor_name for e in refused] == ["rita", "olga"]
    assert all(e.object_id == str(pending.pk) for e in refused)
    assert verify_chain().ok


@pytest.mark.django_db(transaction=True)
def test_an_event_is_sealed_right_after_its_commit(requester):
    import time

    with transaction.atomic():
        event = record("test.committed", actor=requester)
        assert AuditEvent.objects.get(pk=event.pk).hash is None  # not before the commit
    deadline = time.monotonic() + 5
    while AuditEvent.objects.get(pk=event.pk).hash is None and time.monotonic() < deadline:
        time.sleep(0.01)  # the process's sealer thread, woken by the commit
    event.refresh_from_db()
    assert event.hash and event.position
    assert verify_chain().ok


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_audited_transactions_do_not_wait_for_each_other(requester):
    """A writer that audited and has not committed yet holds nothing the next writer needs (the chain used to be
    extended under one lock held until commit, which serialised every audited transaction and deadlocked with
    their row locks)."""
    import threading

    from django.db import connections

    recorded, release, done = threading.Event(), threading.Event(), threading.Event()

    def slow_writer():
        try:
            with transaction.atomic():
                record("test.slow")
                recorded.set()
                release.wait(60)  # longer than the quick writer is given: a blocked one cannot finish "first"
        finally:
            connections.close_all()

    def quick_writer():
        try:
            record("test.quick", actor_name="quick")
            done.set()
        finally:
            connections.close_all()

    slow = threading.Thread(target=slow_writer)
    slow.start()
    assert recorded.wait(10)
    quick = threading.Thread(target=quick_writer)
    quick.start()
    # A quick writer that needs the slow one's lock waits until its commit, however long: the bound only has to
    # outlast a busy machine (5 s did not, with three test processes and a benchmark on two cores).
    finished_first = done.wait(30)
    release.set()
    slow.join(10)
    quick.join(10)
    assert finished_first, "the second audited transaction waited for the first one's commit"
    assert verify_chain().ok
    assert set(AuditEvent.objects.filter(action__startswith="test.").values_list("action", flat=True)) == {
        "test.slow", "test.quick"}
    assert not AuditEvent.objects.filter(hash__isnull=True).exists()


@postgresql_only
def test_deleting_a_user_keeps_their_events_and_the_chain(requester):
    from django.contrib.auth.models import User

    gone = User.objects.create(username="leaver")
    event = record("test.by_leaver", actor=gone)
    seal()
    gone.delete()  # ON DELETE SET NULL: the one change the trigger allows on a sealed row
    event.refresh_from_db()
    assert event.actor_id is None and event.actor_name == "leaver"
    assert verify_chain().ok
    with pytest.raises(DatabaseError, match="append-only: UPDATE refused"), transaction.atomic():
        AuditEvent.objects.filter(pk=event.pk).update(actor=None, actor_name="someone else")


@postgresql_only
def test_sealing_reads_the_time_window_not_the_whole_trail(requester):
    """Each sealed row leaves a dead entry in an index of unsealed rows until a vacuum (this machine's PostgreSQL
    runs none). Sealing's read must stay inside the chain's time window: it once read every entry of history at
    each turn, and a long soak's push delay grew with it."""
    long_ago = timezone.now() - timedelta(hours=2)
    AuditEvent.objects.bulk_create(AuditEvent(at=long_ago + timedelta(seconds=i), action="test.old")
                                   for i in range(3000))
    seal()
    for _ in range(20):
        record("test.recent", actor=requester)
    seal()
    record("test.waiting", actor=requester)
    plan = ready_to_seal().explain(analyze=True)
    scanned = [int(n) for n in re.findall(r"Index[^\n]*actual time=[\d.]+\.\.[\d.]+ rows=(\d+)", plan)]
    assert scanned, plan
    assert max(scanned) < 300, plan  # 21 entries in the window (the 20 sealed and the waiting one), not 3,000
    assert [e.action for e in ready_to_seal()] == ["test.waiting"]
