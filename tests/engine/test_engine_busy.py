"""A worker runs at most ``EngineConfig.busy`` pieces of work at once: its other migrations wait their turn between
pieces (so the push after each commit does not queue behind every busy thread for the one GIL), and still finish. A
piece that only waits on an IVM (an SSH round trip, a sync) gives its slot back meanwhile (``mobility.engine.busy``):
it is not counted while it waits."""

import threading
from contextlib import contextmanager

import pytest
from django.db import connection

from mobility.engine import busy
from mobility.engine.driver import Driver
from mobility.models import Migration
from tests.engine.conftest import approved_migration, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_one_busy_slot_runs_one_piece_of_work_at_a_time_and_both_migrations_complete(estate, personas, engine,
                                                                                      monkeypatch):
    lock, now, most = threading.Lock(), [0], [0]
    real_step = Driver.step

    def counted_step(self):  # the real step, with a count of the passes inside it at this moment
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            return real_step(self)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(Driver, "step", counted_step)
    real_waiting = busy.waiting

    @contextmanager
    def counted_waiting():  # a piece waiting on an IVM gives its slot back: not counted until it has it again
        holds = getattr(busy._local, "slots", None) is not None and not connection.in_atomic_block
        if holds:
            with lock:
                now[0] -= 1
        try:
            with real_waiting():
                yield
        finally:
            if holds:
                with lock:
                    now[0] += 1
                    most[0] = max(most[0], now[0])

    monkeypatch.setattr(busy, "waiting", counted_waiting)
    first = approved_migration(personas, "app02", "ivm1", "ivm2", ivm_picks_slots=True)
    second = approved_migration(personas, "app01", "ivm1", "ivm2", ivm_picks_slots=True)
    engine(busy=1)
    wait_for(lambda: {status_of(first.pk), status_of(second.pk)} <= {"completed", "failed"}, 120,
             what="both migrations to finish")
    assert {m.status for m in Migration.objects.filter(pk__in=[first.pk, second.pk])} == {"completed"}
    assert most[0] == 1  # two migrations driven side by side, never two pieces of work at the same moment


def test_an_admission_gets_the_next_free_slot_before_the_pieces_waiting_longer():
    """A migration's admission (an IVM slot waits for it) goes first: the free slot is its, though the other piece
    asked before it, and nothing takes a slot from under it without waiting."""
    slots = busy.Slots(1)
    assert slots.acquire()
    order, asked = [], threading.Barrier(2)

    def piece(name: str, first: bool) -> None:
        slots.acquire(first=first)
        order.append(name)
        slots.release()

    other = threading.Thread(target=piece, args=("step", False))
    other.start()
    wait_for(lambda: slots._waiting == 1, timeout=10, every=0.01)  # the step waits for the slot
    admission = threading.Thread(target=lambda: (asked.wait(), piece("admission", True)))
    admission.start()
    asked.wait()
    wait_for(lambda: slots._waiting == 2, timeout=10, every=0.01)  # and the admission too
    assert not slots.acquire(blocking=False)  # no slot free, and one would be the admission's
    slots.release()
    admission.join(10)
    other.join(10)
    assert order == ["admission", "step"]


def test_the_slots_lose_no_wake_up_and_never_run_more_pieces_than_they_have():
    """Threads of both kinds taking and giving back two slots many times: every one finishes (a release that woke
    nobody who could take the slot would leave a thread waiting for good), never more than two at once."""
    slots, lock, now, most = busy.Slots(2), threading.Lock(), [0], [0]

    def pieces(first: bool) -> None:
        for _ in range(300):
            slots.acquire(first=first)
            with lock:
                now[0] += 1
                most[0] = max(most[0], now[0])
            with lock:
                now[0] -= 1
            slots.release()

    threads = [threading.Thread(target=pieces, args=(k % 3 == 0,), daemon=True) for k in range(9)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not any(thread.is_alive() for thread in threads), "a thread still waits for a free slot"
    assert most[0] <= 2 and slots._free == 2 and slots._waiting == 0
