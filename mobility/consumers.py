"""Browser websockets. The row is the truth: sockets only carry pushes of what the database holds.

Protocol (browser → server, JSON): ``{"subscribe": <migration id>, "last_seq": <n>}`` joins ``migration-<id>``
after checking that the user may see the partition, then sends every event after ``n`` from the database;
``{"dashboard": true}`` joins the dashboard and sends its user's rows; then the dashboard gets deltas of rows it shows
(rendered once by the producer): progress cells, and rows whose status changed or that left; its user's whole rows
again when a migration it may see appears, or the queue moves. Server → browser: HTML fragments with
``hx-swap-oob`` (the htmx ws extension swaps them), every event row carrying ``data-seq``; errors as
``{"error": "..."}``.

A push can be lost (Channels delivers at most once). A socket repairs that itself: a push whose seq skips one
fills the gap from the database, and the process's ``_Watch`` compares, every ``WATCH_INTERVAL_S``, what each
socket has sent with the committed ``last_seq`` (one query for the whole process), so even a migration's *last*
event, with no later push to reveal the gap, reaches the browser. Dashboards the same way every
``DASHBOARD_TICKS``: a socket whose rows are behind what the database held a tick earlier (or show a row that is
gone, or an old queue position) gets its user's rows again.
"""

import asyncio
import json
import logging
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from channels.layers import get_channel_layer
from django.conf import settings

from mobility import policy
from mobility.live import DASHBOARD_GROUP, frames, group_name
from mobility.live.batch_presenters import panel_html, row_html, state_key
from mobility.live.presenters import dashboard_rows, job_html, missed_html
from mobility.live.publish import batch_group, jobs_group, latest_seqs
from mobility.observability import metrics

logger = logging.getLogger("mobility.live")

WATCH_INTERVAL_S = 2.0  # how often a process checks its sockets against the database
# Each socket re-joins its groups every half group_expiry (after which the layer forgets a member; channels' default
# is a day), each at its own tick: a socket that followed many migrations re-joins many groups, and all of them at
# one tick held the loop long enough to show in the push delay.
REJOIN_TICKS = max(1, int(settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("group_expiry", 86400)
                          / 2 / WATCH_INTERVAL_S))
DASHBOARD_TICKS = 5  # dashboards checked against the database every 10 s (rows resent only to those behind)


class _Watch:
    """The sockets of one event loop, checked against the database on a timer (one task per loop)."""

    def __init__(self, loop):
        self.loop, self.sockets, self.task, self.ticks = loop, set(), None, 0
        self.added = 0  # sockets added so far: each gets its own tick to re-join (``rejoin_at``)
        self.dashboards: dict = {}  # (user pk, refresh name) -> future of the rendered rows, shared by sockets
        self.first: dict = {}  # user pk -> (started flag, future of rows) for sockets that just joined
        self.dash_prev: dict = {}  # user pk -> {migration id: (seq, queue position)} at the previous dashboard tick
        self.dash_now: dict = {}
        self.visibility: dict = {}  # user pk -> {migration id: may see}; forgotten at every dashboard tick
        self.visibility_checks: dict = {}  # (user pk, ids) -> future of the visible ones, shared by sockets
        # The loop's one member of the dashboard group: each message crosses Redis once per process, then is fanned
        # out here in memory to the dashboard sockets (not 150 deliveries through Redis per refresh).
        self.hub_sockets: set = set()
        self.hub_task, self.hub_ready, self.hub_channel = None, None, None

    def add(self, socket):
        self.sockets.add(socket)
        socket.rejoin_at, self.added = self.added % REJOIN_TICKS, self.added + 1
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    def discard(self, socket):
        self.sockets.discard(socket)
        self.hub_sockets.discard(socket)
        if not self.hub_sockets and self.hub_task is not None:
            self.hub_task.cancel()
            if not self.hub_ready.done():
                self.hub_ready.cancel()
            self.hub_task = self.hub_ready = None
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None

    async def dashboard_join(self, socket):
        """Add a dashboard socket; returns once the process is in the dashboard group (before its rows are read)."""
        self.hub_sockets.add(socket)
        if self.hub_task is None or self.hub_task.done():
            self.hub_ready = self.loop.create_future()
            self.hub_task = self.loop.create_task(self._hub(self.hub_ready))
        await asyncio.shield(self.hub_ready)

    async def _hub(self, ready):
        layer = get_channel_layer()
        channel = await layer.new_channel()
        joined = False
        try:
            while True:
                try:
                    if not joined:
                        await layer.group_add(DASHBOARD_GROUP, channel)
                        joined, self.hub_channel = True, channel
                    if not ready.done():
                        ready.set_result(None)
                    message = await layer.receive(channel)
                except asyncio.CancelledError:
                    raise
                except Exception:  # noqa: BLE001 — a lost message is repaired by the watch; keep listening
                    logger.warning("dashboard hub failed", exc_info=True)
                    if not ready.done():
                        ready.set_result(None)
                    await asyncio.sleep(1)
                    continue
                handler = {"live.dashboard": "live_dashboard", "live.push": "live_push"}.get(message.get("type"))
                for s in list(self.hub_sockets) if handler else ():  # each socket's lock keeps its messages in order
                    asyncio.ensure_future(getattr(s, handler)(message)).add_done_callback(_log_failure)
        finally:
            if joined:
                if self.hub_channel == channel:
                    self.hub_channel = None
                asyncio.ensure_future(layer.group_discard(DASHBOARD_GROUP, channel))

    async def _run(self):
        while self.sockets:
            await asyncio.sleep(WATCH_INTERVAL_S)
            self.ticks += 1
            try:
                await self._tick()
            except Exception:  # noqa: BLE001 — the next tick tries again
                logger.warning("live watch failed", exc_info=True)

    async def _tick(self):
        sockets = list(self.sockets)
        dashboard_tick = self.ticks % DASHBOARD_TICKS == 0
        if dashboard_tick:
            self.dash_prev, self.dash_now, self.visibility = self.dash_now, {}, {}
        followed = {mid for s in sockets for mid in s.sent_seq}
        latest = await database_sync_to_async(latest_seqs)(followed) if followed else {}
        for s in sockets:
            for mid, sent in list(s.sent_seq.items()):
                # Behind what the database held a whole tick ago: that push is not coming (in flight is fine).
                if sent < s.seen_seq.get(mid, 0):
                    asyncio.ensure_future(s.repair(mid))
                s.seen_seq[mid] = latest.get(mid, 0)
            if s.wants_dashboard and dashboard_tick:
                asyncio.ensure_future(s.dashboard_check(f"watch-{self.ticks}"))
            if self.ticks % REJOIN_TICKS == s.rejoin_at:
                await s.rejoin()
        if self.ticks % REJOIN_TICKS == 0 and self.hub_channel is not None:
            await get_channel_layer().group_add(DASHBOARD_GROUP, self.hub_channel)

    def dashboard_rows(self, user, refresh: str):
        """The user's dashboard rows for one refresh, rendered once however many of their sockets ask."""
        key = (user.pk, refresh)
        future = self.dashboards.get(key)
        if future is None:
            future = self.dashboards[key] = asyncio.ensure_future(database_sync_to_async(dashboard_rows)(user))
            self.loop.call_later(30, self.dashboards.pop, key, None)
        return future

    def first_rows(self, user):
        """A socket's first rows (it has joined the group already): shared with the other new sockets of the user
        whose render has not started reading yet, so it still reads after each of them joined."""
        entry = self.first.get(user.pk)
        if entry is None or entry[0]["started"]:
            flag = {"started": False}

            def render():
                flag["started"] = True
                return dashboard_rows(user)

            entry = self.first[user.pk] = (flag, asyncio.ensure_future(database_sync_to_async(render)()))
            entry[1].add_done_callback(lambda _: self.first.pop(user.pk, None) if self.first.get(user.pk) is entry
                                       else None)
        return entry[1]

    async def visible(self, user, migration_ids) -> set[int]:
        """Which of these migrations the user may see: cached per user, ids not seen yet read from the database."""
        known = self.visibility.setdefault(user.pk, {})
        unknown = tuple(sorted({mid for mid in migration_ids if mid not in known}))
        if unknown:
            key = (user.pk, unknown)
            future = self.visibility_checks.get(key)
            if future is None:
                future = self.visibility_checks[key] = asyncio.ensure_future(
                    database_sync_to_async(_visible_ids)(user, unknown))
                future.add_done_callback(lambda _: self.visibility_checks.pop(key, None))
            seen = await future
            known.update((mid, mid in seen) for mid in unknown)
        return {mid for mid in migration_ids if known.get(mid)}


def _visible_ids(user, migration_ids) -> set[int]:
    return set(policy.migrations(user).filter(pk__in=list(migration_ids)).values_list("pk", flat=True))


def _log_failure(task):
    if not task.cancelled() and task.exception() is not None:  # a socket closing mid-send; the watch repairs the rest
        logger.warning("dashboard push to a socket failed", exc_info=task.exception())


_watches: dict = {}


def _watch() -> _Watch:
    loop = asyncio.get_running_loop()
    watch = _watches.get(loop)
    if watch is None:
        for old in [lp for lp in _watches if lp.is_closed()]:
            del _watches[old]
        watch = _watches[loop] = _Watch(loop)
    return watch


class LiveConsumer(AsyncWebsocketConsumer):
    """Live pushes for a signed-in user: the migrations they subscribe to, and the dashboard if they ask."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Refused before the handshake completes: the browser sees a 403.
            await self.close()
            return
        self.groups_joined: list[str] = []
        self.sent_seq: dict[int, int] = {}  # migration id -> last seq sent to the browser
        self.seen_seq: dict[int, int] = {}  # migration id -> committed seq the watch saw at its last tick
        self.wants_dashboard = False
        self.dash_shown: dict[int, tuple] = {}  # dashboard: migration id -> (seq, queue position) the browser shows
        self.lock = asyncio.Lock()  # the watch's repairs and the pushes take turns: never twice, never backwards
        await self.accept()
        metrics.websocket_opened()
        _watch().add(self)

    async def disconnect(self, code):
        if hasattr(self, "lock"):
            metrics.websocket_closed()
            _watch().discard(self)
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def _join(self, group: str):
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)

    async def rejoin(self):
        for group in list(self.groups_joined):
            await self.channel_layer.group_add(group, self.channel_name)

    async def _error(self, text: str):
        await self.send(text_data=json.dumps({"error": text}))

    async def receive(self, text_data=None, bytes_data=None):
        # A frame over the limits closes the socket unparsed; merely bad input gets a clear error and changes nothing.
        code = frames.violation(text_data, bytes_data)
        if code is not None:
            logger.warning("live socket of user %s closed with %s: frame over the limits", self.scope["user"].pk, code)
            return await self.close(code=code)
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return await self._error("send JSON")
        if not isinstance(message, dict):
            return await self._error("send a JSON object")
        if message.get("dashboard") is True:
            self.wants_dashboard = True
            await _watch().dashboard_join(self)  # joined before reading the database: nothing falls between
            return await self._send_rows(None, always=True)
        migration_id, last_seq = message.get("subscribe"), message.get("last_seq", 0)
        if type(migration_id) is not int or type(last_seq) is not int or last_seq < 0:
            return await self._error('send {"subscribe": <migration id>, "last_seq": <number>}')
        if not await self._may_see(migration_id):
            return await self._error("no such migration")  # same answer for foreign and unknown: nothing leaks
        await self._join(group_name(migration_id))  # joined before reading the database: nothing falls between
        async with self.lock:
            self.sent_seq[migration_id] = last_seq
            await self._catch_up(migration_id)

    @database_sync_to_async
    def _may_see(self, migration_id: int) -> bool:
        return policy.migrations(self.scope["user"]).filter(pk=migration_id).exists()

    async def _catch_up(self, migration_id: int):
        """Send every event after the last one sent, and the state, from the database (hold ``self.lock``)."""
        html, last = await database_sync_to_async(missed_html)(migration_id, self.sent_seq[migration_id])
        self.sent_seq[migration_id] = max(last, self.sent_seq[migration_id])
        await self.send(text_data=html)

    async def repair(self, migration_id: int):
        """The watch found this socket behind the database: fill in what it missed."""
        async with self.lock:
            if migration_id in self.sent_seq:
                await self._catch_up(migration_id)

    async def live_push(self, event):
        """A group message: `{"type": "live.push", "html": "...", "migration": id, "seq": n}`."""
        migration_id = event.get("migration")
        async with self.lock:
            if migration_id is not None:
                sent = self.sent_seq.get(migration_id)
                if sent is None or event["seq"] <= sent:
                    return  # not subscribed, or already sent: never twice, never backwards
                if event["seq"] > sent + 1:
                    return await self._catch_up(migration_id)  # a gap: fill it from the database
                self.sent_seq[migration_id] = event["seq"]
            if "html" in event:
                await self.send(text_data=event["html"])
                metrics.push_delivered(event, time.time())
            else:
                await self.send(text_data=json.dumps(event.get("data", {})))

    async def live_dashboard(self, event):
        """A dashboard delta: `{"type": "live.dashboard", "v": name, "cells": [[id, seq, html], ...],
        "rows": [[id, seq, html, gone, queued], ...]}` (rows: status changes).

        Deltas go only to sockets already showing that row (rows of their own user's render: nothing leaks), each
        newer than what they show: a progress cell, or a status change's row (swapped in place, or removed). A
        status change of a row the socket does not show but its user may see, or with queue positions on the
        page (they all move), gets the user's whole rows instead."""
        if not self.wants_dashboard:
            return
        changes = event.get("rows") or []
        unseen = [mid for mid, *_ in changes if mid not in self.dash_shown]
        if self._needs_whole_rows(changes) or (unseen and await _watch().visible(self.scope["user"], unseen)):
            return await self._send_rows(event.get("v"))
        async with self.lock:
            parts = []
            for mid, seq, html, gone, _ in changes:
                shown = self.dash_shown.get(mid)
                # Never twice, never backwards; a change without its delta that the check above did not see
                # (two writers crossed, the row shown meanwhile) is left to the watch.
                if shown is not None and seq > shown[0] and html is not None:
                    parts.append(html)
                    if gone:
                        del self.dash_shown[mid]
                    else:
                        self.dash_shown[mid] = (seq, None)
            for mid, seq, html in event.get("cells") or []:
                shown = self.dash_shown.get(mid)
                if shown is not None and seq > shown[0]:
                    self.dash_shown[mid] = (seq, shown[1])
                    parts.append(html)
            if parts:
                await self.send(text_data="".join(parts))

    def _needs_whole_rows(self, changes) -> bool:
        """A status change that a row delta cannot show: no delta, a queue on the page, or the last row leaving
        (the table then says that nothing runs)."""
        shown = self.dash_shown
        mine = [c for c in changes if c[0] in shown and c[1] > shown[c[0]][0]]
        if not mine:
            return False
        if any(html is None or queued for _, _, html, _, queued in mine):
            return True
        if any(position is not None for _, position in shown.values()):
            return True
        return {mid for mid, _, _, gone, _ in mine if gone} >= set(shown)

    async def dashboard_check(self, refresh: str):
        """The watch's repair: rows again if this socket is behind what the database held a tick earlier, shows a
        row that is gone (or that its user may no longer see), or an old queue position."""
        watch, user = _watch(), self.scope["user"]
        try:
            _, now = await watch.dashboard_rows(user, refresh)
        except Exception:  # noqa: BLE001 — the next round tries again
            logger.warning("dashboard check failed", exc_info=True)
            return
        watch.dash_now[user.pk] = now
        before = watch.dash_prev.get(user.pk, {})
        shown = dict(self.dash_shown)
        if (any(mid not in now for mid in shown)
                or any(mid not in shown or shown[mid][0] < before[mid][0] for mid in now if mid in before)
                or any(mid in shown and shown[mid][1] != position for mid, (_, position) in now.items())):
            await self._send_rows(refresh)

    async def _send_rows(self, refresh: str | None, always: bool = False):
        """The user's whole rows: one render per user and refresh in this process (a socket's first rows: see
        ``first_rows``). Never older than a cell already sent: a shared render behind one is read again, under the lock."""
        render, watch = database_sync_to_async(dashboard_rows), _watch()
        try:
            user = self.scope["user"]
            rows = await (watch.dashboard_rows(user, refresh) if refresh else watch.first_rows(user))
            async with self.lock:
                if any(mid in rows[1] and rows[1][mid][0] < seq for mid, (seq, _) in self.dash_shown.items()):
                    rows = await render(user)
                html, state = rows
                if always or state != self.dash_shown:
                    self.dash_shown = dict(state)
                    await self.send(text_data=html)
        except Exception:  # noqa: BLE001 — the watch re-reads the dashboard on its next round
            logger.warning("dashboard render failed", exc_info=True)


class _RenderedFromRows(AsyncWebsocketConsumer):
    """A socket that shows one thing rendered from the database (a request's IVM jobs, a batch): group messages only
    wake it, and it looks again by itself every ``watch_s`` (a lost push, or a worker that cannot reach this process's
    layer), so the page always ends with what the database holds. The browser sends nothing.

    A subclass names what it shows from the route (``open``: False for unknown or foreign, which look the same), its
    group, and ``render``: the fragments that changed since the last call, and whether nothing more will change (the
    socket then closes normally). Its wake-up message types call ``wake``."""

    watch_s = 1.0

    def open(self, kwargs) -> bool:  # runs in a thread (database_sync_to_async): may read the database
        raise NotImplementedError

    def group(self) -> str:
        raise NotImplementedError

    def render(self) -> tuple[list[str], bool]:  # runs in a thread
        raise NotImplementedError

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close()
            return
        if not await database_sync_to_async(self.open)(self.scope["url_route"]["kwargs"]):
            await self.close()
            return
        self.lock, self.ended, self.joined = asyncio.Lock(), False, self.group()
        await self.channel_layer.group_add(self.joined, self.channel_name)
        await self.accept()
        await self.wake()
        self.watch = asyncio.get_running_loop().create_task(self._watch())

    async def disconnect(self, code):
        if hasattr(self, "watch"):
            self.watch.cancel()
        if hasattr(self, "joined"):
            await self.channel_layer.group_discard(self.joined, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        code = frames.violation(text_data, bytes_data)
        if code is not None:
            return await self.close(code=code)
        await self.send(text_data=json.dumps({"error": "this socket only sends; it reads nothing"}))

    async def wake(self, event=None):
        async with self.lock:
            if self.ended:
                return
            fragments, self.ended = await database_sync_to_async(self.render)()
            for html in fragments:
                await self.send(text_data=html)
            if self.ended:
                await self.close(code=1000)  # (the watch stops at its next turn: it never cancels itself mid-close)

    async def _watch(self):
        while not self.ended:
            await asyncio.sleep(self.watch_s)
            await self.wake()


class JobsConsumer(_RenderedFromRows):
    """One request's IVM jobs (``ws/jobs/<group>/``), for the person who asked: each job's fragment whenever its row
    changes, then a normal close once every job has ended."""

    # Every second when pushes arrive (Redis, or the engine in this process: ``make run``); this only repairs a lost
    # one. Ten times a second with the in-memory layer and a worker in another process, which cannot push here.
    watch_s = 1.0 if settings.CHANNEL_LAYER_NAME == "redis" or settings.IVMWEB_ENGINE_IN_WEB else 0.1

    def open(self, kwargs) -> bool:
        self.job_group, self.sent = kwargs["group"], {}
        return self._jobs().exists()  # unknown and other people's groups look the same

    def group(self) -> str:
        return jobs_group(self.job_group)

    def _jobs(self):
        return policy.jobs(self.scope["user"]).filter(group=self.job_group)

    async def job_changed(self, event):
        await self.wake()

    def render(self) -> tuple[list[str], bool]:
        """Fragments of the jobs whose row changed since they were sent, and whether every job has ended."""
        rows = list(self._jobs().select_related("console__system"))
        fragments = []
        for job in rows:
            state = (job.status, job.progress, job.finished_at)
            if self.sent.get(job.pk) != state:
                fragments.append(job_html(job))
                self.sent[job.pk] = state
        return fragments, all(job.finished for job in rows)


class BatchConsumer(_RenderedFromRows):
    """One batch's page (``ws/batches/<id>/``, ``?view=row`` for the dashboard's row): its panel whenever the batch or
    a member changes (``batch.changed``)."""

    def open(self, kwargs) -> bool:
        self.batch_id, self.sent_key = kwargs["pk"], None
        self.view = "row" if b"view=row" in self.scope.get("query_string", b"") else "panel"
        return self._batches().filter(pk=self.batch_id).exists()  # unknown and other teams' batches look the same

    def group(self) -> str:
        return batch_group(self.batch_id)

    def _batches(self):
        return policy.batches(self.scope["user"])

    async def batch_changed(self, event):
        await self.wake()

    def render(self) -> tuple[list[str], bool]:
        batch = self._batches().filter(pk=self.batch_id).first()
        if batch is None:
            return [], False
        key = state_key(batch)
        if key == self.sent_key:
            return [], False
        self.sent_key = key
        return [row_html(batch) if self.view == "row" else panel_html(batch)], False
