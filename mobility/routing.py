"""Websocket routes and the named channels the background worker listens on."""

from django.urls import path

from mobility import consumers
from mobility.engine.worker import EngineConsumer

websocket_urlpatterns = [
    path("ws/live/", consumers.LiveConsumer.as_asgi()),
    path("ws/jobs/<uuid:group>/", consumers.JobsConsumer.as_asgi()),
    path("ws/batches/<int:pk>/", consumers.BatchConsumer.as_asgi()),
]


def worker_consumers(channel_name: str) -> dict:
    """`manage.py runworker <channel_name>` (or `manage.py run_engine`) serves these: the engine's wake-ups."""
    return {channel_name: EngineConsumer.as_asgi()}
