"""The live socket of a migration: only users who may see the partition join its group; a reconnect with its last
seq gets exactly the events it missed (from the database), then live pushes, never one twice."""

import asyncio
import re
import time

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from ivmweb.asgi import application
from mobility import consumers
from mobility.engine.events import emit
from mobility.live import publish
from mobility.models import Migration, MigrationStep, Team
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


async def test_a_push_carries_what_its_event_changes_figures_a_step_or_the_whole_panel(requester):
    m = await _payments_migration(requester)
    await sync_to_async(m.create_steps)()
    socket = await _socket(requester)
    await socket.send_json_to({"subscribe": m.pk, "last_seq": 0})
    await socket.receive_from(timeout=5)

    @sync_to_async
    def progress(percent):
        Migration.objects.filter(pk=m.pk).update(percent=percent, bytes_transmitted=percent, bytes_remaining=100)
        return emit(m.pk, "progress", {"sent": percent, "remaining": 100, "percent": percent, "rate": 2.0e6,
                                       "eta": [3, 5], "converging": True, "state": "Migration In Progress"})

    seq = await progress(42.0)
    figures = await socket.receive_from(timeout=5)
    assert _seqs(figures, m.pk) == [seq]
    assert f'id="live-figures-{m.pk}"' in figures and 'hx-swap-oob="true"' in figures
    assert "42.0 %" in figures and "3–5 seconds left" in figures and "converging" in figures
    assert f'id="live-state-{m.pk}"' not in figures and "data-step=" not in figures  # no step list re-rendered
    await _emit(m, 1)
    whole = await socket.receive_from(timeout=5)
    assert f'id="live-state-{m.pk}"' in whole and "data-step=" in whole and "42.0 %" in whole
    seq = await sync_to_async(emit)(m.pk, "command", {"ivm": "ivm1", "command": "lssyscfg -r lpar", "exit": 0,
                                                      "output": "app77,7,Running", "error": ""})
    row = await socket.receive_from(timeout=5)  # a command changes nothing in the panel: its row alone
    assert _seqs(row, m.pk) == [seq] and "lssyscfg -r lpar" in row
    assert f'id="live-state-{m.pk}"' not in row and f'id="live-figures-{m.pk}"' not in row

    @sync_to_async
    def step_three_done():
        MigrationStep.objects.filter(migration=m, number=3).update(status="done", detail="accepted by the IVM")
        return emit(m.pk, "step", {"number": 3, "key": "start", "status": "done", "detail": "accepted by the IVM"})

    seq = await step_three_done()
    step = await socket.receive_from(timeout=5)  # a step event changes its step alone: that row of the panel
    assert _seqs(step, m.pk) == [seq] and f'id="live-step-{m.pk}-3"' in step and 'hx-swap-oob="true"' in step
    assert 'data-status="done"' in step and "accepted by the IVM" in step and step.count("data-step=") == 1
    assert f'id="live-state-{m.pk}"' not in step
    await socket.disconnect()


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
    monkeypatch.setattr(publish, "_send", lambda group, message: sent.append(message))
    await _emit(m, 3)
    assert [p["seq"] for p in sent if p["type"] == "live.push"] == [1, 2, 3]  # every push of these was lost
    assert _seqs(await socket.receive_from(timeout=5), m.pk) == [1, 2, 3]
    assert await socket.receive_nothing(timeout=1)  # repaired once, not again and again
    await socket.disconnect()


# --- the dashboard: whole rows once, then deltas of the cells that changed ------------------------------------

@sync_to_async
def _progress(migration, percent: float) -> int:
    Migration.objects.filter(pk=migration.pk).update(percent=percent)
    return emit(migration.pk, "progress", {"percent": percent, "sent": 1, "remaining": 1})


@sync_to_async
def _status(migration, status: str) -> int:
    Migration.objects.filter(pk=migration.pk).update(status=status)
    return emit(migration.pk, "status", {"status": status})


async def _dashboard(user) -> tuple[WebsocketCommunicator, str]:
    socket = await _socket(user)
    await socket.send_json_to({"dashboard": True})
    return socket, await socket.receive_from(timeout=5)


async def test_a_progress_change_reaches_the_dashboard_as_a_delta_of_its_cell(requester):
    m = await _payments_migration(requester)
    socket, rows = await _dashboard(requester)
    assert 'id="dashboard-rows"' in rows and f'id="dash-{m.pk}"' in rows  # the whole rows first
    seq = await _progress(m, 42.0)
    delta = await socket.receive_from(timeout=5)
    assert f'<span id="dash-{m.pk}-pct"' in delta and 'hx-swap-oob="true"' in delta and "42 %" in delta
    assert f'data-migration="{m.pk}" data-seq="{seq}"' in delta
    assert "dashboard-rows" not in delta and "<tr" not in delta and "app77" not in delta  # not the table
    assert len(delta) < 300
    await socket.disconnect()


async def test_a_status_change_reaches_the_dashboard_as_its_row_and_a_finished_migration_as_its_removal(requester):
    first, second = await _payments_migration(requester), await _payments_migration(requester)
    # The socket first, then the changes: a change pushed while the socket joins may also come as its whole rows.
    socket, rows = await _dashboard(requester)
    assert f'id="dash-{first.pk}"' in rows and f'id="dash-{second.pk}"' in rows
    for status in ("approved", "stopping"):
        seq = await _status(first, status)
        delta = await socket.receive_from(timeout=5)
        assert "dashboard-rows" not in delta and f'id="dash-{second.pk}"' not in delta  # that row alone, not the table
        assert f'<tr id="dash-{first.pk}" hx-swap-oob="true" data-migration="{first.pk}" data-seq="{seq}">' in delta
        assert status.capitalize() in delta and "app77" in delta
    await _status(first, "completed")
    assert await socket.receive_from(timeout=5) == f'<tr id="dash-{first.pk}" hx-swap-oob="delete"></tr>'
    await _status(second, "failed")  # the last row leaves: the table again, saying that nothing runs
    rows = await socket.receive_from(timeout=5)
    assert 'id="dashboard-rows"' in rows and "Nothing running or queued." in rows and "<tr id=" not in rows
    await socket.disconnect()


async def test_a_status_change_overtaken_by_a_later_push_gets_the_whole_rows(requester, monkeypatch):
    # Two writers crossed: the later state (a progress) is pending when the earlier status change's push comes in.
    # Its row delta would be older than the state pending: the sockets re-render their rows from the database.
    m = await _payments_migration(requester)
    socket, _ = await _dashboard(requester)

    @sync_to_async
    def crossed():
        Migration.objects.filter(pk=m.pk).update(status="stopping")
        stale = Migration.objects.select_related("partition", "source", "destination").get(pk=m.pk)
        stale.last_seq = 1  # what its push would have said
        Migration.objects.filter(pk=m.pk).update(last_seq=1)
        monkeypatch.setattr(publish, "_dash_last", time.monotonic())  # coalesce both into the next refresh
        seq = emit(m.pk, "note", {})  # seq 2, pending first
        publish.push_dashboard(stale, status_changed=True)
        return seq

    seq = await crossed()
    rows = await socket.receive_from(timeout=5)
    assert 'id="dashboard-rows"' in rows and f'data-migration="{m.pk}" data-seq="{seq}"' in rows and "Stopping" in rows
    await socket.disconnect()


async def test_a_dashboard_showing_a_queue_gets_whole_rows_for_a_status_change(requester):
    queued, running = await _payments_migration(requester), await _payments_migration(requester)
    await sync_to_async(Migration.objects.filter(pk=queued.pk).update)(queued_at=timezone.now())
    await _status(queued, "queued")
    socket, rows = await _dashboard(requester)
    assert 'id="dashboard-rows"' in rows and f'id="dash-{queued.pk}"' in rows and "<td>1</td></tr>" in rows
    await _status(running, "completed")  # the queue may move: every row again, with the positions
    rows = await socket.receive_from(timeout=5)
    assert 'id="dashboard-rows"' in rows and f'id="dash-{queued.pk}"' in rows and f'id="dash-{running.pk}"' not in rows
    await socket.disconnect()


async def test_a_user_never_receives_a_dashboard_delta_of_another_teams_migration(requester, personas):
    m = await _payments_migration(requester)
    rita, _ = await _dashboard(requester)
    omar, rows = await _dashboard(personas["omar"])  # Analytics
    assert f'id="dash-{m.pk}"' not in rows and "app77" not in rows
    await _progress(m, 10.0)
    assert f'dash-{m.pk}-pct' in await rita.receive_from(timeout=5)  # the delta was sent...
    assert await omar.receive_nothing(timeout=1)  # ...to Payments only
    # A message naming it directly changes nothing for him either: cells go only to rows a socket shows.
    await get_channel_layer().group_send(publish.DASHBOARD_GROUP, {
        "type": "live.dashboard", "v": "test", "cells": [[m.pk, 2, "<span>secret</span>"]], "rows": []})
    assert "secret" in await rita.receive_from(timeout=5)
    assert await omar.receive_nothing(timeout=1)
    await _emit(m, 1)  # seq 2, as the forged cell said: nothing new for rita
    # A status change (its row) and a migration appearing (whole rows): Payments gets them, omar nothing.
    await _status(m, "queued")
    assert f'id="dash-{m.pk}"' in await rita.receive_from(timeout=5)
    other = await _payments_migration(requester)
    await _status(other, "running")
    assert f'id="dash-{other.pk}"' in await rita.receive_from(timeout=5)
    assert await omar.receive_nothing(timeout=1)
    await rita.disconnect()
    await omar.disconnect()


async def test_a_reconnecting_dashboard_gets_the_whole_rows_with_what_it_missed(requester):
    m = await _payments_migration(requester)
    socket, _ = await _dashboard(requester)
    await _progress(m, 5.0)
    assert "5 %" in await socket.receive_from(timeout=5)
    await socket.disconnect()
    seq = await _progress(m, 77.0)  # missed while disconnected
    again, rows = await _dashboard(requester)
    assert 'id="dashboard-rows"' in rows and f'data-migration="{m.pk}" data-seq="{seq}"' in rows and "77 %" in rows
    await _progress(m, 78.0)
    assert "78 %" in await again.receive_from(timeout=5)  # then deltas again
    await again.disconnect()


async def test_a_dashboard_whose_deltas_are_lost_converges_from_the_database(requester, monkeypatch):
    monkeypatch.setattr(consumers, "WATCH_INTERVAL_S", 0.2)
    monkeypatch.setattr(consumers, "DASHBOARD_TICKS", 1)
    m = await _payments_migration(requester)
    socket, _ = await _dashboard(requester)
    monkeypatch.setattr(publish, "_send", lambda group, message: None)  # every push lost
    seq = await _progress(m, 64.0)
    rows = await socket.receive_from(timeout=5)
    assert 'id="dashboard-rows"' in rows and f'data-seq="{seq}"' in rows and "64 %" in rows
    assert await socket.receive_nothing(timeout=1)  # repaired once, not again and again
    await socket.disconnect()
