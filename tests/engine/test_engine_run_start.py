"""The push of the status change that starts a run carries the run's step rows: every step event after it pushes its
own row alone (out of band), which a page open since the approval must already have."""

import asyncio
import threading

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import connections

from mobility.engine import admission
from mobility.engine.claim import claim
from mobility.journal import driving
from mobility.live import group_name
from tests.engine.conftest import approved_migration
from tests.markers import redis_only

pytestmark = [pytest.mark.django_db(transaction=True), redis_only]


def test_the_push_that_starts_a_run_carries_every_step_row(estate, personas):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    assert not m.steps.exists()

    def admit_as_a_worker() -> bool:  # on a thread of its own, as a driver
        try:
            token = claim(m.pk, "test-worker", 30.0)
            with driving("test-worker", token, 30.0, threading.Event()):
                return admission.admit(m)
        finally:
            connections.close_all()  # this thread's: the test database is dropped at the end

    async def admitted_and_pushed():
        layer = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER)  # a page's socket, in the migration's group
        channel = await layer.new_channel()
        await layer.group_add(group_name(m.pk), channel)
        try:
            admitted = await sync_to_async(admit_as_a_worker, thread_sensitive=False)()
            status_seq = await sync_to_async(lambda: m.events.filter(kind="status").last().seq)()
            while True:  # the push of that status event (a claim may push before it)
                push = await asyncio.wait_for(layer.receive(channel), timeout=10)
                if push.get("seq") == status_seq:
                    return admitted, push
        finally:
            await layer.group_discard(group_name(m.pk), channel)
            await layer.close_pools()

    admitted, push = async_to_sync(admitted_and_pushed)()
    assert admitted
    m.refresh_from_db()
    assert m.status == "running" and m.steps.count() == 9  # an active move: steps 1, 3-9 and 11
    for step in m.steps.all():  # each row the later step pushes will replace, already on the page
        assert f'id="live-step-{m.pk}-{step.number}"' in push["html"], step.number
