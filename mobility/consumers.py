"""Browser websockets. The row is the truth: sockets only carry pushes of what the database holds."""

import json

from channels.generic.websocket import AsyncWebsocketConsumer

DASHBOARD_GROUP = "dashboard"


class LiveConsumer(AsyncWebsocketConsumer):
    """Live pushes for a signed-in user: the dashboard group, and later per-migration groups."""

    async def connect(self):
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            # Refused before the handshake completes: the browser sees a 403.
            await self.close()
            return
        self.groups_joined = [DASHBOARD_GROUP]
        for group in self.groups_joined:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.accept()

    async def disconnect(self, code):
        for group in getattr(self, "groups_joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None):
        # Browsers may only subscribe; anything else is refused with a clear error and changes nothing.
        await self.send(text_data=json.dumps({"error": "this socket accepts no messages yet"}))

    async def live_push(self, event):
        """A group message: `{"type": "live.push", "html": "...", "data": {...}}`."""
        if "html" in event:
            await self.send(text_data=event["html"])
        else:
            await self.send(text_data=json.dumps(event.get("data", {})))
