"""Websocket routes and the named channels the background worker listens on."""

from django.urls import path

from mobility import consumers

websocket_urlpatterns = [
    path("ws/live/", consumers.LiveConsumer.as_asgi()),
]


def worker_consumers(channel_name: str) -> dict:
    """`manage.py runworker <channel_name>` serves these (the engine arrives with its issue)."""
    return {}
