"""The worker's busy slots (``EngineConfig.busy``): a driver holds one while its piece of work runs Python, and gives
it back while its thread only waits on an IVM (an SSH round trip, an inventory sync), so that the other drivers'
pieces (a batch's next start, a transfer poll) do not queue behind seconds of network waits. Eight members polling
busy IVMs every second held both slots most of the time, and every other piece waited for one.

A migration's admission goes first (``held(first=True)``): an IVM slot of a batch waits for it, and when a batch opened
its eight admissions queued behind the step 1 of the members admitted before them (the last one 1.8 s after the
opening, while the IVMs had room).
"""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.db import connection

_local = threading.local()


class Slots:
    """``count`` busy slots; a piece that asks ``first`` gets the next free one before the others that wait. A release
    wakes one waiter, not all of them: a piece gives its slot back around every IVM round trip."""

    def __init__(self, count: int):
        self._free, self._waiting, self._first_waiting = count, 0, 0
        lock = threading.Lock()
        self._first, self._others = threading.Condition(lock), threading.Condition(lock)

    def _may_take(self, first: bool) -> bool:
        return self._free > 0 and (first or not self._first_waiting)

    def acquire(self, blocking: bool = True, *, first: bool = False) -> bool:
        with self._first:  # (the lock both conditions share)
            if self._may_take(first):
                self._free -= 1
                return True
            if not blocking:
                return False
            self._waiting += 1
            self._first_waiting += first
            try:
                while not self._may_take(first):
                    (self._first if first else self._others).wait()
                self._free -= 1
            finally:
                self._waiting -= 1
                self._first_waiting -= first
            self._wake_next()  # two slots freed before this one woke: the second is the next waiter's
            return True

    def release(self) -> None:
        with self._first:
            self._free += 1
            self._wake_next()

    def _wake_next(self) -> None:
        """A slot is free: wake one waiter that may take it, the first ones before the others."""
        if self._free and self._first_waiting:
            self._first.notify()
        elif self._free and self._waiting:
            self._others.notify()


def _acquire(slots: Slots, first: bool = False) -> None:
    if not slots.acquire(blocking=False):
        if not connection.in_atomic_block:
            # A driver that has to wait for a slot gives its database connection back first: the pool's connections
            # are for the busy ones (waiting drivers holding theirs exhausted the pool and stalled the busy ones).
            connection.close()
        slots.acquire(first=first)


@contextmanager
def held(slots: Slots, *, first: bool = False):
    """One of ``slots`` for this thread's piece of work (``first``: before the other pieces waiting for one)."""
    _acquire(slots, first)
    _local.slots, _local.first = slots, first
    try:
        yield
    finally:
        _local.slots = None
        slots.release()


@contextmanager
def waiting():
    """This thread only waits now: its slot is free meanwhile, and taken again after. Not inside a transaction (its
    row locks could be what the slots' holders wait for)."""
    slots = getattr(_local, "slots", None)
    if slots is None or connection.in_atomic_block:
        yield
        return
    _local.slots = None
    slots.release()
    try:
        yield
    finally:
        _acquire(slots, _local.first)
        _local.slots = slots
