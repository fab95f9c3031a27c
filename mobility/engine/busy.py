"""The worker's busy slots (``EngineConfig.busy``): a driver holds one while its piece of work runs Python, and gives
it back while its thread only waits on an IVM (an SSH round trip, an inventory sync), so that the other drivers'
pieces (a batch's next start, a transfer poll) do not queue behind seconds of network waits. Eight members polling
busy IVMs every second held both slots most of the time, and every other piece waited for one."""

from __future__ import annotations

import threading
from contextlib import contextmanager

from django.db import connection

_local = threading.local()


def _acquire(slots: threading.Semaphore) -> None:
    if not slots.acquire(blocking=False):
        if not connection.in_atomic_block:
            # A driver that has to wait for a slot gives its database connection back first: the pool's connections
            # are for the busy ones (waiting drivers holding theirs exhausted the pool and stalled the busy ones).
            connection.close()
        slots.acquire()


@contextmanager
def held(slots: threading.Semaphore):
    """One of ``slots`` for this thread's piece of work."""
    _acquire(slots)
    _local.slots = slots
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
        _acquire(slots)
        _local.slots = slots
