"""A batch's line (``admission.batch_line``): the one rule of whose turn it is, which the driver's admission, its wait
in place (``waits_in_line``) and ``admit`` all read. Rows only: no IVM, no worker."""

import threading
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from mobility.choices import MigrationStatus
from mobility.engine import admission
from mobility.engine.claim import LOOKAHEAD
from mobility.engine.worker import Engine
from mobility.models import Batch, BatchStatus, Migration, Team
from tests.factories import make_partition, make_system
from tests.governance.conftest import make_request


@pytest.fixture
def crew(personas):
    """A running batch of six approved members of Payments on Server-A, two slots, members in positions 0-5."""
    payments = Team.objects.get(name="Payments")
    a, b = make_system("Server-A"), make_system("Server-B")
    batch = Batch.objects.create(kind=Batch.Kind.EVACUATE, status=BatchStatus.RUNNING, team=payments, source=a,
                                 requester=personas["rita"], parallelism=2, started_at=timezone.now())
    members = [make_request(make_partition(a, f"app{i:02}", 2 + i, team=payments), personas["rita"], b,
                            status=MigrationStatus.APPROVED, batch=batch, batch_position=i) for i in range(6)]
    return batch, members


def run(member, ivm_done: bool = False) -> None:
    Migration.objects.filter(pk=member.pk).update(status=MigrationStatus.RUNNING,
                                                  ivm_done_at=timezone.now() if ivm_done else None)


@pytest.mark.django_db
def test_the_first_members_start_as_far_as_the_slots_go(crew):
    _, members = crew
    assert admission.batch_line(members[0]) == (None, 0)
    assert admission.batch_line(members[1]) == (None, 1)
    why, ahead = admission.batch_line(members[2])
    assert ahead == 2 and "its turn" in why


@pytest.mark.django_db
def test_a_member_waits_while_the_slots_are_held_and_starts_when_the_ivms_are_done(crew):
    _, members = crew
    run(members[0])
    run(members[1])
    line = admission.batch_line(members[2])
    assert line.ahead == 0 and "2 of 2 running" in line.why and line.close
    assert admission.waits_in_line(members[2].pk)
    run(members[0], ivm_done=True)  # step 9 saw it leave the source: its slot is free
    assert admission.batch_line(members[2]) == (None, 0)
    assert not admission.waits_in_line(members[2].pk)


@pytest.mark.django_db
def test_only_the_next_members_wait_in_place(crew):
    _, members = crew
    run(members[0])
    run(members[1])
    close = [admission.waits_in_line(m.pk) for m in members[2:]]
    assert close == [ahead <= LOOKAHEAD for ahead in range(len(members) - 2)]


@pytest.mark.django_db
def test_nothing_starts_from_a_paused_batch_and_no_member_waits_in_place(crew):
    batch, members = crew
    Batch.objects.filter(pk=batch.pk).update(status=BatchStatus.PAUSED)
    line = admission.batch_line(members[0])
    assert line == (f"Waiting: batch #{batch.pk} is paused.", None) and not line.close
    assert not admission.waits_in_line(members[0].pk)


@pytest.mark.django_db
def test_a_migration_in_no_batch_never_waits_for_one(crew):
    _, members = crew
    Migration.objects.filter(pk=members[0].pk).update(batch=None, batch_position=None)
    members[0].refresh_from_db()
    assert admission.batch_line(members[0]) == (None, None)
    assert not admission.waits_in_line(members[0].pk)


@pytest.mark.django_db
def test_the_line_costs_two_queries(crew):
    _, members = crew
    run(members[0])
    run(members[1])
    with CaptureQueriesContext(connection) as line_queries:
        admission.batch_line(members[2])
    with CaptureQueriesContext(connection) as wait_queries:
        admission.waits_in_line(members[2].pk)
    assert (len(line_queries), len(wait_queries)) == (2, 2)


@pytest.mark.django_db
def test_an_admission_asks_under_its_locks_in_few_queries(crew):
    # Every admission sharing a server waits for these locks (an evacuation's members all share the source): the
    # counts of both servers and the queue in one query, the batch's line read from the batch row it locked.
    from mobility.engine.claim import claim
    from mobility.journal import driving
    from mobility.models import ManagedSystem

    batch, members = crew
    ManagedSystem.objects.update(active_migrations_supported=8, inactive_migrations_supported=8)
    member = Migration.objects.select_related("source", "destination").get(pk=members[0].pk)
    token = claim(member.pk, "test-worker", 30.0)
    with driving("test-worker", token, 30.0, threading.Event()), CaptureQueriesContext(connection) as queries:
        assert admission.admit(member)
    locked = [q["sql"] for q in queries.captured_queries]
    locked = locked[next(i for i, sql in enumerate(locked) if "FOR NO KEY UPDATE" in sql):]
    assert Migration.objects.get(pk=member.pk).status == MigrationStatus.RUNNING
    assert len(locked) <= 14, "\n".join(locked)


def test_a_freed_slot_wakes_the_members_waiting_in_line_at_once():
    """A member waiting in line (``Driver._run``) looks again as soon as a slot frees in this process (step 9) or a
    wake-up that says so comes from another one (``Engine.wake(slot_freed=True)``), not at the end of its wait; one
    freed since it last looked ends the wait before it begins. Other wake-ups leave it be."""
    for free_a_slot in (admission.slot_freed, lambda: Engine("test-wake").wake(slot_freed=True)):
        seen = admission.freed_count()
        woke = threading.Event()
        waiter = threading.Thread(target=lambda s=seen, w=woke: (admission.wait_for_slot(s, 60.0), w.set()))
        waiter.start()
        assert not woke.wait(0.3)  # nothing freed yet: it waits
        free_a_slot()
        assert woke.wait(10.0), "a freed slot did not wake the member waiting in line"
        waiter.join()
        started = time.monotonic()
        admission.wait_for_slot(seen, 60.0)  # freed since ``seen``: no wait at all
        assert time.monotonic() - started < 10.0


def test_a_wake_up_that_frees_no_slot_leaves_the_members_in_line_be():
    seen = admission.freed_count()
    Engine("test-wake").wake()  # a job, a status change: the poll loop looks, the line does not
    assert admission.freed_count() == seen
