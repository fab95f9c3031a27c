"""The live websocket, through the full ASGI stack (Origin check, session auth) and real Redis."""

import asyncio

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from ivmweb.asgi import application
from mobility import consumers
from mobility.consumers import DASHBOARD_GROUP
from tests.markers import redis_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, redis_only]
ORIGIN = (b"origin", b"http://127.0.0.1")


@sync_to_async
def _session_cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _communicator(*headers):
    return WebsocketCommunicator(application, "/ws/live/", headers=[(b"host", b"127.0.0.1"), *headers])


async def test_a_signed_in_user_receives_a_group_message_through_redis(requester):
    assert get_channel_layer().__class__.__name__ == "RedisChannelLayer"
    communicator = _communicator(ORIGIN, (b"cookie", await _session_cookie(requester)))
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_json_to({"dashboard": True})  # a socket joins the dashboard group when it asks
    assert 'id="dashboard-rows"' in await communicator.receive_from(timeout=5)
    await get_channel_layer().group_send(DASHBOARD_GROUP, {"type": "live.push", "html": "<div id=x>hi</div>"})
    assert await communicator.receive_from(timeout=5) == "<div id=x>hi</div>"
    await communicator.disconnect()


async def test_an_anonymous_socket_is_refused():
    communicator = _communicator(ORIGIN)
    connected, _ = await communicator.connect()
    assert not connected


async def test_a_foreign_origin_is_refused_even_with_a_valid_session(requester):
    communicator = _communicator((b"origin", b"http://evil.example"), (b"cookie", await _session_cookie(requester)))
    connected, _ = await communicator.connect()
    assert not connected


async def test_messages_from_the_browser_are_refused_without_effect(requester):
    communicator = _communicator(ORIGIN, (b"cookie", await _session_cookie(requester)))
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data='{"subscribe": "everything"}')
    assert "error" in await communicator.receive_from(timeout=5)
    await communicator.disconnect()


async def test_a_process_joins_the_dashboard_group_once_however_many_dashboards_it_serves(requester):
    # Each dashboard message crosses Redis once per process and is fanned out in memory, not once per socket.
    layer = get_channel_layer()
    redis = layer.connection(layer.consistent_hash(DASHBOARD_GROUP))
    key = layer._group_key(DASHBOARD_GROUP)
    before = await redis.zcard(key)
    cookie = await _session_cookie(requester)
    sockets = [_communicator(ORIGIN, (b"cookie", cookie)) for _ in range(3)]
    for socket in sockets:
        assert (await socket.connect())[0]
        await socket.send_json_to({"dashboard": True})
        assert 'id="dashboard-rows"' in await socket.receive_from(timeout=5)
    hub = consumers._watches[asyncio.get_running_loop()].hub_channel
    assert await redis.zscore(key, hub) is not None
    assert await redis.zcard(key) == before + 1
    await layer.group_send(DASHBOARD_GROUP, {"type": "live.push", "html": "<div id=x>all</div>"})
    for socket in sockets:
        assert await socket.receive_from(timeout=5) == "<div id=x>all</div>"
        await socket.disconnect()


async def test_the_publisher_keeps_each_groups_messages_in_order_while_sending_groups_at_once():
    """Groups are sent concurrently (one slow group must not hold the others back), but the messages of one group
    leave in the order they were queued: big and small ones alternate, so a small one would overtake a big one."""
    from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers

    from mobility.live import publish

    # A layer of its own for receiving: the process-wide one keeps asyncio locks bound to earlier tests' loops.
    layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)
    channels = {}
    for group in ("order-a", "order-b"):
        channels[group] = await layer.new_channel()
        await layer.group_add(group, channels[group])
    for i in range(60):
        for group in channels:
            publish._publisher.send(group, {"type": "t", "i": i, "pad": "x" * (200_000 if i % 2 == 0 else 10)})
    for group, channel in channels.items():
        got = [(await asyncio.wait_for(layer.receive(channel), timeout=10))["i"] for _ in range(60)]
        assert got == list(range(60)), (group, got)
        await layer.group_discard(group, channel)
    await layer.close_pools()
