"""The live websocket, through the full ASGI stack (Origin check, session auth) and real Redis."""

import asyncio
import logging

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


def _communicator(*headers, host=b"127.0.0.1"):
    return WebsocketCommunicator(application, "/ws/live/", headers=[(b"host", host), *headers])


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


@pytest.mark.parametrize("origin", [
    b"http://127.0.0.1:1234",  # another port of this host: another origin, the same cookie
    b"https://127.0.0.1",  # another scheme
    b"http://evil.example",
    b"http://127.0.0.1.evil.example",
    b"null",
    b"http://127.0.0.1/",  # not an origin: a URL
])
async def test_an_origin_other_than_the_sites_own_is_refused_even_with_a_valid_session(requester, origin):
    communicator = _communicator((b"origin", origin), (b"cookie", await _session_cookie(requester)))
    assert not (await communicator.connect())[0]  # closed before accept: daphne answers the handshake 403


async def test_a_socket_without_an_origin_or_with_two_is_refused(requester):
    cookie = (b"cookie", await _session_cookie(requester))
    assert not (await _communicator(cookie).connect())[0]
    assert not (await _communicator(ORIGIN, (b"origin", b"http://evil.example"), cookie).connect())[0]


async def test_the_sites_own_origin_is_accepted_with_its_port(requester):
    communicator = _communicator((b"origin", b"http://127.0.0.1:8000"), (b"cookie", await _session_cookie(requester)),
                                 host=b"127.0.0.1:8000")
    assert (await communicator.connect())[0]
    await communicator.disconnect()


async def test_an_origin_matching_a_host_that_is_not_allowed_is_refused(requester):
    # DNS rebinding: evil.example resolves to this server, so Host and Origin agree, but the host is not ours.
    communicator = _communicator((b"origin", b"http://evil.example"), (b"cookie", await _session_cookie(requester)),
                                 host=b"evil.example")
    assert not (await communicator.connect())[0]


async def test_trusted_origins_and_the_proxys_scheme_are_accepted(requester, settings):
    settings.CSRF_TRUSTED_ORIGINS = ["https://ivmweb.example.com", "https://*.ops.example.com"]
    cookie = (b"cookie", await _session_cookie(requester))
    for origin in (b"https://ivmweb.example.com", b"https://a.ops.example.com", b"https://ops.example.com"):
        communicator = _communicator((b"origin", origin), cookie)
        assert (await communicator.connect())[0], origin
        await communicator.disconnect()
    for origin in (b"http://ivmweb.example.com", b"https://ivmweb.example.com:8443", b"http://a.ops.example.com"):
        assert not (await _communicator((b"origin", origin), cookie).connect())[0], origin
    # Behind a TLS proxy the socket arrives as ws: the proxy's header says the browser spoke https.
    proxied = (b"origin", b"https://127.0.0.1"), (b"x-forwarded-proto", b"https"), cookie
    assert not (await _communicator(*proxied).connect())[0]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    communicator = _communicator(*proxied)
    assert (await communicator.connect())[0]
    await communicator.disconnect()


@pytest.mark.parametrize(("frame", "code"), [
    ("[" * 100_000 + "]" * 100_000, 1008),  # json.loads would recurse 100 000 deep
    ('{"a": ' * 21 + "1" + "}" * 21, 1008),
    ('{"subscribe": 1, "pad": "' + "x" * 65_536 + '"}', 1009),
    ('{"subscribe": 1, "pad": "' + "\u00e9" * 11_000 + "é" * 33_000 + '"}', 1009),  # counted in bytes (UTF-8)
])
async def test_a_frame_over_the_limits_closes_the_socket_with_nothing_logged_as_an_error(requester, caplog, frame,
                                                                                         code):
    communicator = _communicator(ORIGIN, (b"cookie", await _session_cookie(requester)))
    assert (await communicator.connect())[0]
    await communicator.send_to(text_data=frame)
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": code}
    await communicator.disconnect()
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


async def test_frames_within_the_limits_are_still_answered(requester):
    communicator = _communicator(ORIGIN, (b"cookie", await _session_cookie(requester)))
    assert (await communicator.connect())[0]
    for frame in ('{"a": ' * 19 + "1" + "}" * 19, '{"subscribe": 1, "pad": "' + "[" * 60_000 + '"}',
                  "[" * 20 + "]" * 19, '"' + "[" * 100):
        await communicator.send_to(text_data=frame)
        assert "error" in await communicator.receive_from(timeout=5)
    await communicator.send_to(bytes_data=b"{}")
    assert "error" in await communicator.receive_from(timeout=5)
    await communicator.disconnect()


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
