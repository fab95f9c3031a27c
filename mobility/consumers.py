"""Browser websockets. The row is the truth: sockets only carry pushes of what the database holds.

Protocol (browser → server, JSON): ``{"subscribe": <migration id>, "last_seq": <n>}`` joins ``migration-<id>``
after checking that the user may see the partition, then sends every event after ``n`` from the database;
``{"dashboard": true}`` asks for dashboard rows. Server → browser: HTML fragments with ``hx-swap-oob`` (the
htmx ws extension swaps them), every event row carrying ``data-seq``; errors as ``{"error": "..."}``.
"""

import json

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer

from mobility.live import DASHBOARD_GROUP, group_name


class LiveConsumer(AsyncWebsocketConsumer):
    """Live pushes for a signed-in user: the dashboard group and the migrations they subscribe to."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Refused before the handshake completes: the browser sees a 403.
            await self.close()
            return
        self.groups_joined = [DASHBOARD_GROUP]
        self.sent_seq: dict[int, int] = {}
        self.wants_dashboard = False
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

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
            return await self.live_dashboard({})
        migration_id, last_seq = message.get("subscribe"), message.get("last_seq", 0)
        if type(migration_id) is not int or type(last_seq) is not int or last_seq < 0:
            return await self._error('send {"subscribe": <migration id>, "last_seq": <number>}')
        if not await self._may_see(migration_id):
            return await self._error("no such migration")  # same answer for foreign and unknown: nothing leaks
        group = group_name(migration_id)
        if group not in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
            self.groups_joined.append(group)
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
        from mobility.live import missed_html

        html, last = await database_sync_to_async(missed_html)(migration_id, self.sent_seq[migration_id])
        self.sent_seq[migration_id] = max(last, self.sent_seq[migration_id])
        await self.send(text_data=html)

    async def live_push(self, event):
        """A group message: `{"type": "live.push", "html": "...", "migration": id, "seq": n}`."""
        migration_id = event.get("migration")
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
        if not getattr(self, "wants_dashboard", False):
            return
        from mobility.views.engine import dashboard_rows_html

        await self.send(text_data=await database_sync_to_async(dashboard_rows_html)(self.scope["user"]))
