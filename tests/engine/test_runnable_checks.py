"""Whether a migration may run (``check_runnable``) is asked at its admission and again right before ``migrlpar -o m``
(step 3), not a third time in step 1 right after the admission; a driver that takes over a run asks in step 1."""

import re

import pytest
from django.db import connections

from mobility.engine import driver, steps
from mobility.governance import approvals
from mobility.models import Approval, Migration
from tests.engine.conftest import approved_migration, pieces

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def asked(monkeypatch):
    """The pieces of work (``steps``' handler or the admission) in which ``check_runnable`` was asked, in order."""
    calls = []

    def counted(where):
        def check(m, now=None):
            calls.append(where)
            return approvals.check_runnable(m, now)
        return check

    monkeypatch.setattr(driver, "check_runnable", counted("admission"))
    monkeypatch.setattr(steps, "check_runnable", counted("steps"))
    return calls


def step_status(m, number: int) -> str:
    return m.steps.get(number=number).status


def test_step_1_right_after_the_admission_does_not_ask_again(estate, personas, asked):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    try:
        pieces(m.pk, "w1", 2)  # the admission, then step 1
    finally:
        connections.close_all()
    m.refresh_from_db()
    assert m.status == "running" and step_status(m, 1) == "done"
    assert asked == ["admission"]


def test_a_driver_that_takes_over_at_step_1_asks(estate, personas, asked):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    try:
        pieces(m.pk, "w1", 1)  # admitted, then this driver is gone
        Migration.objects.filter(pk=m.pk).update(lease_until=None)
        pieces(m.pk, "w2", 1)  # another worker's driver: step 1
    finally:
        connections.close_all()
    m.refresh_from_db()
    assert step_status(m, 1) == "done"
    assert asked == ["admission", "steps"]


def test_an_approval_voided_after_step_1_stops_the_start_before_migrlpar(estate, personas, asked, fleet):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    try:
        d = pieces(m.pk, "w1", 2)  # admitted, step 1 done (without asking again)
        Approval.objects.filter(migration=m).update(voided_at=m.created_at, void_reason="test: voided under it")
        Migration.objects.filter(pk=m.pk).update(lease_until=None)
        pieces(m.pk, "w1", 1, run_state=d.run_state)  # step 3
    finally:
        connections.close_all()
    m.refresh_from_db()
    assert m.status == "approved" and m.start_intent_at is None and "voided" in m.outcome
    assert asked == ["admission", "steps"]
    assert not [row for row in fleet.command_log("ivm1") if re.search(r"migrlpar\s.*-o\s*m\b", row["command"])]
