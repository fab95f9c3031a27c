"""The live socket of a migration: only users who may see the partition join its group; a reconnect with its last
seq gets exactly the events it missed (from the database), then live pushes, never one twice."""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from ivmweb.asgi import application
from mobility import consumers, live
from mobility.engine.events import emit
from mobility.models import Migration, Team
from tests.factories import make_partition, make_system
from tests.markers import redis_only

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.asyncio, redis_only]
ORIGIN = (b"origin", b"http://127.0.0.1")


@sync_to_async
def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


async def _socket(user):
    communicator = WebsocketCommunicator(application, "/ws/live/",
                                         headers=[(b"host", b"127.0.0.1"), ORIGIN, (b"cookie", await _cookie(user))])
    connected, _ = await communicator.connect()
    assert connected
    return communicator


@sync_to_async
def _payments_migration(requester) -> Migration:
    src, dst = make_system(), make_system()
    part = make_partition(src, "app77", 7, team=Team.objects.get(name="Payments"))
    return Migration.objects.create(partition=part, source=src, destination=dst, mode="active",
                                    requester=requester, status="running")


@sync_to_async
def _emit(migration, count: int) -> list[int]:
    return [emit(migration.pk, "note", {"n": i}) for i in range(count)]


def _seqs(html: str, migration_id: int) -> list[int]:
    return [int(s) for s in re.findall(rf'id="ev-{migration_id}-(\d+)"', html)]


async def test_a_user_who_may_not_see_the_partition_cannot_join_its_group(requester, personas):
    m = await _payments_migration(requester)
    outsider = await _socket(personas["omar"])  # Analytics: not his partition
    await outsider.send_json_to({"subscribe": m.pk, "last_seq": 0})
    assert "no such migration" in await outsider.receive_from(timeout=5)
    await _emit(m, 1)
    assert await outsider.receive_nothing(timeout=1)
    await outsider.disconnect()


async def test_a_reconnect_with_its_last_seq_gets_exactly_the_missed_events(requester):
    m = await _payments_migration(requester)
    await _emit(m, 5)
    socket = await _socket(requester)
    await socket.send_json_to({"subscribe": m.pk, "last_seq": 2})
    first = await socket.receive_from(timeout=5)
    assert _seqs(first, m.pk) == [3, 4, 5]
    assert 'data-seq="5"' in first  # the state panel says which seq it shows
    await _emit(m, 1)
    assert _seqs(await socket.receive_from(timeout=5), m.pk) == [6]
    await socket.disconnect()

    await _emit(m, 2)  # missed while disconnected
    again = await _socket(requester)
    await again.send_json_to({"subscribe": m.pk, "last_seq": 6})
    assert _seqs(await again.receive_from(timeout=5), m.pk) == [7, 8]
    await _emit(m, 1)
    assert _seqs(await again.receive_from(timeout=5), m.pk) == [9]
    assert await again.receive_nothing(timeout=1)
    await again.disconnect()


async def test_bad_subscriptions_get_a_clear_error(requester):
    socket = await _socket(requester)
    for bad in ('{"subscribe": "1"}', "[]", "not json", '{"subscribe": 1, "last_seq": -1}'):
        await socket.send_to(text_data=bad)
        assert "error" in await socket.receive_from(timeout=5)
    await socket.disconnect()


async def test_a_socket_quiet_for_longer_than_the_channel_layers_blocking_read_still_gets_pushes(requester):
    # channels-redis blocks 5 s in BZPOPMIN; redis-py 8 timed its read out at 5 s too, so a socket with nothing to
    # receive for 5 s died (TimeoutError in receive, closed 1011) and every later push to it was lost.
    m = await _payments_migration(requester)
    socket = await _socket(requester)
    await socket.send_json_to({"subscribe": m.pk, "last_seq": 0})
    assert _seqs(await socket.receive_from(timeout=5), m.pk) == []
    await asyncio.sleep(6.5)
    await _emit(m, 1)
    assert _seqs(await socket.receive_from(timeout=5), m.pk) == [1]
    await socket.disconnect()


async def test_the_last_events_of_a_migration_reach_the_socket_even_when_their_pushes_are_lost(requester, monkeypatch):
    # No later push reveals the gap: the socket's watch sees the committed seq ahead of what it sent.
    monkeypatch.setattr(consumers, "WATCH_INTERVAL_S", 0.2)
    m = await _payments_migration(requester)
    socket = await _socket(requester)
    await socket.send_json_to({"subscribe": m.pk, "last_seq": 0})
    assert _seqs(await socket.receive_from(timeout=5), m.pk) == []
    sent = []
    monkeypatch.setattr(live, "_send", lambda group, message: sent.append(message))
    await _emit(m, 3)
    assert [p["seq"] for p in sent if p["type"] == "live.push"] == [1, 2, 3]  # every push of these was lost
    assert _seqs(await socket.receive_from(timeout=5), m.pk) == [1, 2, 3]
    assert await socket.receive_nothing(timeout=1)  # repaired once, not again and again
    await socket.disconnect()
