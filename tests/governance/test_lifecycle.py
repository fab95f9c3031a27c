"""The lifecycle owns a migration's status: one writer, fenced engine writes, moves a person may make only when the
table allows them, and four eyes as an auditor reads it (through the real pages, on PostgreSQL)."""

import ast
import re
import threading
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction
from django.urls import reverse

from mobility import journal, lifecycle
from mobility.choices import MigrationStatus, Role
from mobility.engine import claim, control
from mobility.lifecycle.writer import transition
from mobility.models import Approval, AuditEvent, Migration, Team
from tests.governance.conftest import make_request, revise

MOBILITY = Path(__file__).resolve().parents[2] / "mobility"
WRITER = "lifecycle/writer.py"


def _mentions_migration_status(node) -> bool:
    text = ast.unparse(node)
    return bool(re.search(r"\bMigrationStatus\b|\bS\.[A-Z_]+\b", text))


WRITES = {"update", "create", "get_or_create", "update_or_create", "Migration"}


def _called(call: ast.Call) -> str | None:
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)


def status_writes(root: Path) -> list[str]:
    """Every place in mobility/ that writes Migration.status, read with ast: a ``status=`` keyword, a ``"status"``
    dict key or an assignment to ``.status`` whose value is a MigrationStatus, ``update_fields`` naming ``status``
    on a migration, ``setattr(..., "status", ...)``, or SQL that sets the column."""
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative == WRITER or relative.startswith("migrations/"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            what = None
            if isinstance(node, ast.Call) and _called(node) in WRITES and any(
                    k.arg == "status" and _mentions_migration_status(k.value) for k in node.keywords):
                what = "status= keyword"
            elif isinstance(node, ast.Dict) and any(
                    isinstance(k, ast.Constant) and k.value == "status" and _mentions_migration_status(v)
                    for k, v in zip(node.keys, node.values, strict=True)):
                what = '"status" key'
            elif isinstance(node, ast.Assign) and any(isinstance(t, ast.Attribute) and t.attr == "status"
                                                      for t in node.targets) and _mentions_migration_status(node.value):
                what = ".status assignment"
            elif isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr" and len(node.args) > 1 \
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value == "status":
                what = "setattr status"
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) \
                    and re.search(r"\bSET\b[^;]*\bstatus\s*=", node.value, re.I):
                what = "SQL SET status"
            if what:
                found.append((relative, node.lineno, what))
    return [f"mobility/{where}:{line}: {what}" for where, line, what in sorted(found)]


def test_no_module_but_the_lifecycle_writer_writes_a_migration_status():
    assert status_writes(MOBILITY) == []


def test_the_status_reader_finds_a_write_outside_the_lifecycle(tmp_path):
    (tmp_path / "rogue.py").write_text(
        "from mobility.choices import MigrationStatus\n"
        "def a(m):\n    Migration.objects.filter(pk=m.pk).update(status=MigrationStatus.COMPLETED)\n"
        "def b(m):\n    m.status = MigrationStatus.FAILED\n"
        "def c(cur):\n    cur.execute('UPDATE mobility_migration SET status = %s')\n")
    assert [line.split(": ", 1)[1] for line in status_writes(tmp_path)] == [
        "status= keyword", ".status assignment", "SQL SET status"]


def test_every_status_but_the_first_is_reached_by_a_declared_move_and_terminal_ones_are_left_by_none():
    targets = {move.target for move in lifecycle.MOVES.values()}
    assert set(MigrationStatus) - targets == {MigrationStatus.PENDING_APPROVAL} - targets
    assert not any(set(move.sources) & {MigrationStatus.COMPLETED, MigrationStatus.REJECTED,
                                        MigrationStatus.EXPIRED, MigrationStatus.CANCELLED}
                   for move in lifecycle.MOVES.values())


@pytest.mark.django_db
def test_a_move_from_a_status_the_table_does_not_allow_writes_nothing(pending, requester):
    events, audits = pending.events.count(), AuditEvent.objects.count()
    with pytest.raises(lifecycle.TransitionRefused, match="cannot be stopped"):
        transition(pending, "stop", actor=requester)
    pending.refresh_from_db()
    assert pending.status == MigrationStatus.PENDING_APPROVAL
    assert (pending.events.count(), AuditEvent.objects.count()) == (events, audits)


@pytest.mark.django_db
def test_an_engine_write_under_a_stale_fencing_token_is_refused_and_rolled_back(pending, approver):
    from mobility.governance.approvals import approve

    approve(pending, approver, "ok", plan_hash=pending.latest_plan().content_hash)
    from datetime import timedelta

    from django.utils import timezone

    stale = claim.claim(pending.pk, "worker-a", 30)
    assert claim.claim(pending.pk, "worker-b", 30) is None  # a live lease is not taken
    Migration.objects.filter(pk=pending.pk).update(lease_until=timezone.now() - timedelta(seconds=1))  # A paused
    second = claim.claim(pending.pk, "worker-b", 30)
    assert second == stale + 1
    seq = Migration.objects.get(pk=pending.pk).last_seq
    with journal.driving("worker-a", stale, 30, threading.Event()), pytest.raises(journal.FenceLost):
        transition(pending, "admit")
    with journal.driving("worker-a", stale, 30, threading.Event()), pytest.raises(journal.FenceLost), transaction.atomic():
        journal.emit(pending.pk, "progress", {"percent": 1})
    assert claim.renew(pending.pk, stale, 30) is False and claim.confirm(pending.pk, stale, 30) is False
    fresh = Migration.objects.get(pk=pending.pk)
    assert (fresh.status, fresh.last_seq) == (MigrationStatus.APPROVED, seq)
    with journal.driving("worker-b", second, 30, threading.Event()):
        transition(pending, "admit")  # the holder of the token in force moves it
    assert Migration.objects.get(pk=pending.pk).status == MigrationStatus.RUNNING


@pytest.mark.django_db
def test_the_engine_cannot_move_a_status_without_a_fencing_token(pending):
    with pytest.raises(RuntimeError, match="fencing token"):
        transition(pending, "admit")


# --- four eyes through the pages ----------------------------------------------------------------------------------

def _shown_hash(client, migration) -> str:
    html = client.get(reverse("mobility:approval", args=[migration.pk])).text
    return re.search(r'name="plan_hash" value="([0-9a-f]{64})"', html).group(1)


@pytest.mark.django_db
def test_a_vote_on_a_plan_revised_while_the_approver_read_it_is_refused_with_the_new_plan(client, pending,
                                                                                             approver, requester):
    client.force_login(approver)
    shown = _shown_hash(client, pending)
    new = revise(pending, requester)  # the requester changes a mapping while the approver's page is open
    response = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                           {"plan_hash": shown, "decision": "approved", "comment": "looks right"},
                           headers={"HX-Request": "true"})
    assert response.status_code == 400
    assert "The plan changed since you read it" in response.text and f"version {new.version}" in response.text
    assert new.content_hash in response.text  # the card shows the new plan, ready for a vote on it
    assert not Approval.objects.exists()
    pending.refresh_from_db()
    assert pending.status == MigrationStatus.PENDING_APPROVAL
    refused = AuditEvent.objects.filter(action="approval.refused").get()
    assert refused.data["plan_hash"] == shown
    ok = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                     {"plan_hash": _shown_hash(client, pending), "decision": "approved", "comment": "v2 is right"},
                     headers={"HX-Request": "true"})
    assert ok.status_code == 200
    assert Approval.objects.get().content_hash == new.content_hash


@pytest.fixture
def bea(personas):
    """A Payments member with both roles: she may revise a teammate's request, and approve others'."""
    user = User.objects.create_user("bea", password="pw-bea")
    user.groups.add(Group.objects.get(name=Role.REQUESTER), Group.objects.get(name=Role.APPROVER))
    Team.objects.get(name="Payments").members.add(user)
    return user


@pytest.mark.django_db
def test_the_author_of_a_plan_version_cannot_approve_the_request(client, pending, bea, approver):
    revise(pending, bea)  # bea rewrites rita's plan...
    client.force_login(bea)
    html = client.get(reverse("mobility:approval", args=[pending.pk])).text
    assert 'name="comment"' not in html and "You wrote plan version 2" in html
    response = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                           {"plan_hash": pending.latest_plan().content_hash, "decision": "approved",
                            "comment": "my version is fine"}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "You wrote plan version 2" in response.text
    assert not Approval.objects.exists()
    # ...and an approval by an author that got in anyway (a forged row) does not let the engine start it
    from django.utils import timezone

    from mobility.governance.approvals import approval_ttl, check_runnable

    plan = pending.latest_plan()
    Approval.objects.create(migration=pending, plan=plan, content_hash=plan.content_hash, approver=bea,
                            decision="approved", comment="forged", expires_at=timezone.now() + approval_ttl())
    Migration.objects.filter(pk=pending.pk).update(status=MigrationStatus.APPROVED)  # the forgery's status
    ok, why = check_runnable(pending)
    assert not ok and "does not hold" in why and "bea" in why


@pytest.mark.django_db
def test_the_requester_withdraws_a_request_that_has_not_started(client, pending, requester, approver):
    from mobility.governance.approvals import approve

    approve(pending, approver, "ok", plan_hash=pending.latest_plan().content_hash)
    client.force_login(requester)
    url = reverse("mobility:migration_withdraw", args=[pending.pk])
    assert "Why (required)" in client.get(url).text
    refused = client.post(url, {"confirm": "yes", "reason": " "})
    assert refused.status_code == 400 and "Say why" in refused.text
    assert Migration.objects.get(pk=pending.pk).status == MigrationStatus.APPROVED
    assert client.post(url, {"confirm": "yes", "reason": "the freeze moved"}).status_code == 302
    m = Migration.objects.get(pk=pending.pk)
    assert m.status == MigrationStatus.CANCELLED and m.outcome == "Withdrawn by rita: the freeze moved"
    assert m.finished_at is not None
    assert Approval.objects.get().voided_at is not None
    event = AuditEvent.objects.get(action="migration.cancelled")
    assert (event.actor_name, event.data["move"], event.data["from"]) == ("rita", "withdraw", "approved")
    again = client.post(url, {"confirm": "yes", "reason": "twice"})
    assert again.status_code == 400 and "cannot be withdrawn" in again.text


@pytest.mark.django_db
def test_another_teams_requester_cannot_withdraw(client, pending, personas):
    client.force_login(personas["omar"])
    assert client.post(reverse("mobility:migration_withdraw", args=[pending.pk]),
                       {"confirm": "yes", "reason": "mine now"}).status_code == 404
    assert Migration.objects.get(pk=pending.pk).status == MigrationStatus.PENDING_APPROVAL


@pytest.mark.django_db
def test_recover_is_refused_on_a_migration_the_ivm_did_not_leave_half_moved(estate, requester):
    from django.utils import timezone

    failed = make_request(estate.app02, requester, estate.b, status=MigrationStatus.FAILED,
                          start_intent_at=timezone.now(), recover_needed=False)
    assert "recover" not in lifecycle.allowed_actions(failed)
    with pytest.raises(control.ControlRefused, match="did not leave this partition half-moved"):
        control.request_recover(failed, requester)
    Migration.objects.filter(pk=failed.pk).update(recover_needed=True)
    failed.refresh_from_db()
    assert "recover" in lifecycle.allowed_actions(failed)
    control.request_recover(failed, requester)
    assert Migration.objects.get(pk=failed.pk).status == MigrationStatus.RECOVERING


@pytest.mark.django_db
def test_a_revision_clears_the_old_not_started_outcome(pending, requester):
    Migration.objects.filter(pk=pending.pk).update(outcome="Not started: The approval expired")
    revise(pending, requester)
    pending.refresh_from_db()
    assert (pending.status, pending.outcome) == (MigrationStatus.PENDING_APPROVAL, "")
    assert pending.events.filter(kind="status", payload__move="revise").exists()  # an event, a push, an audit
    assert AuditEvent.objects.filter(action="migration.pending_approval", data__move="revise").exists()
