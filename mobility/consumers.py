"""Browser websockets. The row is the truth: sockets only carry pushes of what the database holds.

Protocol (browser → server, JSON): ``{"subscribe": <migration id>, "last_seq": <n>}`` joins ``migration-<id>``
after checking that the user may see the partition, then sends every event after ``n`` from the database;
``{"dashboard": true}`` joins the dashboard and sends its rows. Server → browser: HTML fragments with
``hx-swap-oob`` (the htmx ws extension swaps them), every event row carrying ``data-seq``; errors as
``{"error": "..."}``.

A push can be lost (Channels delivers at most once). A socket repairs that itself: a push whose seq skips one
fills the gap from the database, and the process's ``_Watch`` compares, every ``WATCH_INTERVAL_S``, what each
socket has sent with the committed ``last_seq`` (one query for the whole process), so even a migration's *last*
event, with no later push to reveal the gap, reaches the browser.
"""

import asyncio
import hashlib
import json
import logging
import re

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from mobility.live import DASHBOARD_GROUP, group_name

logger = logging.getLogger("mobility.live")

WATCH_INTERVAL_S = 2.0  # how often a process checks its sockets against the database
REJOIN_TICKS = 30  # re-join groups every minute: channels-redis forgets members after its group_expiry
DASHBOARD_TICKS = 5  # dashboards re-read from the database every 10 s (sent only if their rows changed)
_RENDERED_AT = re.compile(r' data-rendered="[^"]*"')


class _Watch:
    """The sockets of one event loop, checked against the database on a timer (one task per loop)."""

    def __init__(self, loop):
        self.loop, self.sockets, self.task, self.ticks = loop, set(), None, 0
        self.dashboards: dict = {}  # (user pk, refresh name) -> future of the rendered rows, shared by sockets

    def add(self, socket):
        self.sockets.add(socket)
        if self.task is None or self.task.done():
            self.task = self.loop.create_task(self._run())

    def discard(self, socket):
        self.sockets.discard(socket)
        if not self.sockets and self.task is not None:
            self.task.cancel()
            self.task = None

    async def _run(self):
        while self.sockets:
            await asyncio.sleep(WATCH_INTERVAL_S)
            self.ticks += 1
            try:
                await self._tick()
            except Exception:  # noqa: BLE001 — the next tick tries again
                logger.warning("live watch failed", exc_info=True)

    async def _tick(self):
        from mobility.live import latest_seqs

        sockets = list(self.sockets)
        followed = {mid for s in sockets for mid in s.sent_seq}
        latest = await database_sync_to_async(latest_seqs)(followed) if followed else {}
        for s in sockets:
            for mid, sent in list(s.sent_seq.items()):
                # Behind what the database held a whole tick ago: that push is not coming (in flight is fine).
                if sent < s.seen_seq.get(mid, 0):
                    asyncio.ensure_future(s.repair(mid))
                s.seen_seq[mid] = latest.get(mid, 0)
            if s.wants_dashboard and self.ticks % DASHBOARD_TICKS == 0:
                asyncio.ensure_future(s.live_dashboard({"v": f"watch-{self.ticks}"}))
            if self.ticks % REJOIN_TICKS == 0:
                await s.rejoin()

    def dashboard_rows(self, user, refresh: str):
        """The user's dashboard rows for one refresh, rendered once however many of their sockets ask."""
        key = (user.pk, refresh)
        future = self.dashboards.get(key)
        if future is None:
            future = self.dashboards[key] = asyncio.ensure_future(database_sync_to_async(_dashboard_rows)(user))
            self.loop.call_later(30, self.dashboards.pop, key, None)
        return future


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
        self.dashboard_sent = ""
        self.lock = asyncio.Lock()  # the watch's repairs and the pushes take turns: never twice, never backwards
        await self.accept()
        _watch().add(self)

    async def disconnect(self, code):
        if hasattr(self, "lock"):
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
        # Bad input gets a clear error and changes nothing.
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return await self._error("send JSON")
        if not isinstance(message, dict):
            return await self._error("send a JSON object")
        if message.get("dashboard") is True:
            self.wants_dashboard = True
            await self._join(DASHBOARD_GROUP)
            return await self.live_dashboard({"v": None})
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
        from mobility.models import Migration, Partition
        from mobility.roles import visible_partitions

        partition_id = Migration.objects.filter(pk=migration_id).values_list("partition_id", flat=True).first()
        if partition_id is None:
            return False
        return visible_partitions(self.scope["user"], Partition.objects.filter(pk=partition_id)).exists()

    async def _catch_up(self, migration_id: int):
        """Send every event after the last one sent, and the state, from the database (hold ``self.lock``)."""
        from mobility.live import missed_html

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
            else:
                await self.send(text_data=json.dumps(event.get("data", {})))

    async def live_dashboard(self, event):
        """Dashboard rows for this user; one render per user and refresh in this process, sent only if changed."""
        if not self.wants_dashboard:
            return
        refresh = event.get("v")
        watch = _watch()
        try:
            if refresh is None:  # a socket's first rows: its own render
                html, digest = await database_sync_to_async(_dashboard_rows)(self.scope["user"])
            else:
                html, digest = await watch.dashboard_rows(self.scope["user"], refresh)
        except Exception:  # noqa: BLE001 — the watch re-reads the dashboard on its next round
            logger.warning("dashboard render failed", exc_info=True)
            return
        async with self.lock:
            if digest != self.dashboard_sent:
                self.dashboard_sent = digest
                await self.send(text_data=html)


def _dashboard_rows(user) -> tuple[str, str]:
    """The rows and a digest of what they show (their render time left out: an unchanged dashboard is not resent)."""
    from mobility.views.engine import dashboard_rows_html

    html = dashboard_rows_html(user)
    return html, hashlib.blake2b(_RENDERED_AT.sub("", html).encode(), digest_size=16).hexdigest()
