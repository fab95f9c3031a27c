"""Sending the pushes: the migration's event and state after each commit, and the coalesced dashboard deltas.

One publisher thread per process with its own event loop sends the group messages, each group's in order and
different groups concurrently. The caller (the engine's thread, right after its commit) only queues them: the
engine never waits on Redis, and the Redis connections live as long as the process (``async_to_sync`` would start
a new event loop, hence new connections, for every push). What is sent is rendered once here, by the presenters.
"""

import asyncio
import logging
import os
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import transaction

from mobility.live.presenters import (
    dashboard_cell_html,
    dashboard_row_change,
    events_html,
    figures_html,
    state_html,
    step_html,
)
from mobility.models import Migration, MigrationEvent, MigrationStep

logger = logging.getLogger("mobility.live")

DASHBOARD_GROUP = "dashboard"
DASHBOARD_INTERVAL_S = 0.5
PUBLISH_CONCURRENCY = 32  # group_sends in flight per process (Redis connections of the publisher)


def group_name(migration_id: int) -> str:
    return f"migration-{migration_id}"


class _Publisher:
    """A daemon thread running an event loop that group_sends queued messages one at a time (so in order)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: asyncio.Queue | None = None
        self._pid = None

    def _start(self) -> None:
        loop, ready = asyncio.new_event_loop(), threading.Event()

        def run():
            asyncio.set_event_loop(loop)
            self._queue = asyncio.Queue()
            ready.set()
            loop.run_until_complete(self._drain())

        threading.Thread(target=run, name="live-publisher", daemon=True).start()
        ready.wait()
        self._loop, self._pid = loop, os.getpid()

    async def _drain(self) -> None:
        """Each group's messages in order, different groups at once: awaiting every group_send in turn made the
        queue the bottleneck (with 50 migrations, pushes waited seconds behind each other's Redis round trips)."""
        layer = get_channel_layer()
        last: dict[str, asyncio.Task] = {}  # the latest send of each group: the next one waits for it
        room = asyncio.Semaphore(PUBLISH_CONCURRENCY)
        while True:
            group, message = await self._queue.get()
            task = asyncio.ensure_future(self._send_after(layer, room, last.get(group), group, message))
            last[group] = task
            task.add_done_callback(lambda done, g=group: last.pop(g) if last.get(g) is done else None)

    @staticmethod
    async def _send_after(layer, room, previous, group: str, message: dict) -> None:
        if previous is not None:
            await asyncio.wait([previous])  # in order within the group, whatever became of the one before
        async with room:
            try:
                await layer.group_send(group, message)
            except Exception:  # noqa: BLE001 — a lost push is repaired from the database by the sockets' watch
                logger.warning("live push to %s failed", group, exc_info=True)

    def send(self, group: str, message: dict) -> None:
        with self._lock:
            if self._loop is None or self._pid != os.getpid():  # first use (or a child forked mid-send)
                self._start()
        self._loop.call_soon_threadsafe(self._queue.put_nowait, (group, message))


_publisher = _Publisher()
# A forked child (the test suite's live server) starts its own thread; the parent's may hold the lock mid-fork.
os.register_at_fork(after_in_child=_publisher.__init__)


# The event loop that serves this process's sockets, when the engine runs in the web process with the in-memory
# layer (``mobility.engine.embedded``): that layer's queues are asyncio objects of that loop, which are not
# thread-safe, so an engine thread's push is handed to the loop rather than run on one of its own.
_sockets_loop: asyncio.AbstractEventLoop | None = None
_local_engine = None  # the engine of this process in that mode: woken directly, not through the layer


def serve_pushes_on(loop: asyncio.AbstractEventLoop) -> None:
    global _sockets_loop
    _sockets_loop = loop


def engine_in_this_process(engine) -> None:
    global _local_engine
    _local_engine = engine


def _send(group: str, message: dict) -> None:
    if getattr(settings, "CHANNEL_LAYER_NAME", "") == "redis":
        _publisher.send(group, message)
        return
    loop = _sockets_loop
    if loop is not None:
        if not loop.is_running():
            return  # the server is stopping: no socket is left to read it
        # Calls made in order run in order on the loop (one task each, started first in, first out).
        future = asyncio.run_coroutine_threadsafe(get_channel_layer().group_send(group, message), loop)
        future.add_done_callback(lambda done: done.cancelled() or done.exception() is None or logger.warning(
            "live push to %s failed", group, exc_info=done.exception()))
        return
    # The in-memory layer with no sockets' loop known (a worker process of its own, a test): send from the caller.
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # noqa: BLE001
        logger.warning("live push to %s failed", group, exc_info=True)


def wake_workers(*, slot_freed: bool = False) -> None:
    """After the commit, a hint for the engine's poll loop to look for due work now (at most once, may be lost: the
    workers also poll): the engine of this process directly, else the workers' channel. ``slot_freed``: a batch's
    slot too, which the members waiting in line in the engine that gets it look for at once."""
    def send():
        if _local_engine is not None:
            _local_engine.wake(slot_freed=slot_freed)
            return
        try:
            async_to_sync(get_channel_layer().send)(settings.IVMWEB_WORKER_CHANNEL,
                                                    {"type": "engine.wake", "slot_freed": slot_freed})
        except Exception:  # noqa: BLE001 — a lost wake-up only delays the work until the next poll
            logger.debug("worker wake-up not sent", exc_info=True)

    transaction.on_commit(send)


def jobs_group(group) -> str:
    """The group of one request's IVM jobs (``IVMJob.group``): the page that asked listens there."""
    return f"jobs-{group}"


def push_job(job) -> None:
    """After the commit, tell the sockets of the job's group that the row changed (they render it from the row)."""
    group, pk = jobs_group(job.group), job.pk
    transaction.on_commit(lambda: _send(group, {"type": "job.changed", "job": pk}))


def batch_group(batch_id: int) -> str:
    return f"batch-{batch_id}"


BATCH_INTERVAL_S = 0.3
_batch_lock = threading.Lock()
_batch_timers: dict[int, threading.Timer] = {}


def push_batch(batch_id: int) -> None:
    """After the commit, tell the batch page's sockets that the batch or one of its members changed (they render it
    from the database); coalesced to one message per batch and interval, since 40 members report at once."""
    transaction.on_commit(lambda: _flush_later(batch_id))


def _flush_later(batch_id: int) -> None:
    with _batch_lock:
        if batch_id in _batch_timers:
            return
        timer = threading.Timer(BATCH_INTERVAL_S, _flush_batch, args=(batch_id,))
        timer.daemon = True
        _batch_timers[batch_id] = timer
        timer.start()


def _flush_batch(batch_id: int) -> None:
    with _batch_lock:
        _batch_timers.pop(batch_id, None)
    _send(batch_group(batch_id), {"type": "batch.changed", "batch": batch_id})


def latest_seqs(migration_ids) -> dict[int, int]:
    """The committed ``last_seq`` of each migration: what a socket compares with what it has sent."""
    return dict(Migration.objects.filter(pk__in=list(migration_ids)).values_list("pk", "last_seq"))


def push_migration(migration_id: int, event=None) -> None:
    """Send one committed event (by default the latest) and the state to the migration's group (call after commit).

    Rendered once here for every socket. Two writers' pushes may cross on the way: a socket that gets seq N+1
    before N sees the gap and reads both from the database, then drops N as already sent."""
    # A progress event (most of them: one a second per transfer) changes the figures only: the steps (the bulk of the
    # panel's render) and the names stay as the last full push left them, which every other kind of event, a
    # reconnect and a repair send. A command event (a quarter of a migration's events) changes nothing in the panel:
    # its row alone. A step event (half of them) changes its step alone, but for the follow-up tasks (step 11): that
    # step's row of the panel. (The whole panel for each of those cost about a tenth of the engine's CPU in the batch
    # bench.)
    kind = event.kind if event is not None else None
    step = event.payload.get("number") if kind == "step" and event.payload.get("key") != "postrequisites" else None
    part = "figures" if kind == "progress" else "none" if kind == "command" else "step" if step else "state"
    rows = Migration.objects if part != "state" else Migration.objects.select_related(
        "partition", "source", "destination")
    try:
        migration = rows.get(pk=migration_id)
    except Migration.DoesNotExist:
        return
    if event is None:
        events = list(MigrationEvent.objects.filter(migration_id=migration_id, seq=migration.last_seq))
    else:
        events = [event]
    seq = events[0].seq if events else migration.last_seq
    row = MigrationStep.objects.filter(migration_id=migration_id, number=step).first() if part == "step" else None
    html = events_html(migration, events) + (
        figures_html(migration) if part == "figures" else "" if part == "none" else
        step_html(migration, row) if row is not None else state_html(migration))
    message = {"type": "live.push", "migration": migration_id, "seq": seq, "html": html}
    if event is not None:
        message["at"] = event.at.timestamp()  # the push delay metric's start (mobility.observability.metrics)
    _send(group_name(migration_id), message)
    if migration.batch_id is not None and event is not None and event.kind == "progress":
        _flush_later(migration.batch_id)  # (status changes push the batch from the lifecycle's writer)
    # A status change: its row (or its removal); anything else: the progress cell.
    push_dashboard(migration, status_changed=event is None or any(e.kind == "status" for e in events))


_dash_lock = threading.Lock()
_dash_last = 0.0
_dash_timer: threading.Timer | None = None
# Migrations changed since the last flush: id -> [seq, cell html, row change or None]; the latest state wins.
_dash_pending: dict[int, list] = {}


def _flush_dashboard() -> None:
    global _dash_last, _dash_timer, _dash_pending
    with _dash_lock:
        _dash_last, _dash_timer = time.monotonic(), None
        pending, _dash_pending = _dash_pending, {}
    if not pending:
        return
    # "v" names this refresh: the sockets of one process that need whole rows render them once per user.
    _send(DASHBOARD_GROUP, {"type": "live.dashboard", "v": f"{os.getpid()}-{time.time_ns()}",
                            "cells": [[mid, seq, html] for mid, (seq, html, _) in pending.items()],
                            "rows": [[mid, r["seq"], r["html"], r["gone"], r["queued"]]
                                     for mid, (_, _, r) in pending.items() if r]})


def push_dashboard(migration, *, status_changed: bool = False) -> None:
    """Coalesced: at most one dashboard message per interval from this process, carrying what changed since the
    last one (latest state wins). Progress and other events change one row's progress cell; a status change
    changes the row, or removes it: both rendered here once for every socket. A socket that does not show the row
    yet (it may have just become visible), or shows a queue, re-renders its user's whole rows."""
    global _dash_timer
    cell = dashboard_cell_html(migration)
    row = dashboard_row_change(migration) if status_changed else None
    with _dash_lock:
        before = _dash_pending.get(migration.pk)
        if before is not None and before[0] > migration.last_seq:  # two writers crossed: keep the later state
            if row and before[2] is None:  # its row changed, with no delta of the later state: whole rows
                before[2] = {"seq": before[0], "html": None, "gone": False, "queued": False}
        else:  # an earlier status change's row is kept (its cell, newer, is applied after it)
            _dash_pending[migration.pk] = [migration.last_seq, cell, row or (before[2] if before else None)]
        if _dash_timer is not None:
            return  # a refresh is already scheduled; it will carry the latest state
        wait = DASHBOARD_INTERVAL_S - (time.monotonic() - _dash_last)
        if wait > 0:
            _dash_timer = threading.Timer(wait, _flush_dashboard)
            _dash_timer.daemon = True
            _dash_timer.start()
            return
    _flush_dashboard()
