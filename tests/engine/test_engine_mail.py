"""The requester's mail follows what the IVM did: "started" only once `migrlpar -o m` was accepted, never for a
migration stopped at step 1 by drift (in-process engine, ivmsim over SSH, PostgreSQL)."""

import pytest

from tests.engine.conftest import approved_migration, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _subjects(mailoutbox, name):
    """The requester's mail about the migration of ``name`` (the approvers' "Approval requested" left out)."""
    return [m.subject for m in mailoutbox if m.subject.endswith(f": {name}") and "requested" not in m.subject]


def test_the_started_mail_goes_once_migrlpar_was_accepted_then_the_completed_one(estate, personas, engine,
                                                                                  mailoutbox):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    engine()
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 90, what="the migration to finish")
    assert status_of(m.pk) == "completed"
    wait_for(lambda: len(_subjects(mailoutbox, "app01")) >= 3, 10, what=f"the mails: {mailoutbox}")
    assert _subjects(mailoutbox, "app01") == ["[ivmweb] Request approved: app01", "[ivmweb] Migration started: app01",
                                              "[ivmweb] Migration completed: app01"]


def test_no_started_mail_for_a_migration_that_fails_its_drift_check_at_step_1(estate, personas, engine, fleet,
                                                                                mailoutbox):
    m = approved_migration(personas, "app02", "ivm1", "ivm2")
    # The estate changes after the approval: the partition is shut down, so an active move can no longer be made.
    status, out, err = fleet.ssh("ivm1", "chsysstate -r lpar -o shutdown --immed -n app02")
    assert status == 0, (out, err)
    engine()
    wait_for(lambda: status_of(m.pk) == "pending_approval", 60, what="the drift to send it back for approval")
    m.refresh_from_db()
    assert "changed since the plan was approved" in m.outcome and m.start_intent_at is None
    assert not any("started" in s for s in _subjects(mailoutbox, "app02")), _subjects(mailoutbox, "app02")
    assert not any(c["command"].startswith("migrlpar -o m") and "-p app02" in c["command"]
                   for c in fleet.command_log("ivm1"))
    fleet.ssh("ivm1", "chsysstate -r lpar -o on -n app02")
