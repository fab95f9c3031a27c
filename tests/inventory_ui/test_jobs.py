"""IVM jobs: claimed under a lease and a fencing token, bounded in time, durable across a dead worker, and followed by
their socket only by the person who asked."""

import threading
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client
from django.utils import timezone

from ivmweb.asgi import application
from mobility import jobs, policy
from mobility.jobs import queue, runner
from mobility.models import IVMJob
from tests.inventory_ui.conftest import register

Status = IVMJob.Status


@pytest.fixture
def console(db, fleet):
    return register(fleet.ivm("ivmf1"))


def test_a_claim_takes_a_new_token_and_a_stale_worker_writes_nothing(console, admin_user):
    job = jobs.enqueue("test", user=admin_user, console=console)
    first = queue.claim(job.pk, "worker-a")
    assert first == 1 and queue.claim(job.pk, "worker-b") is None  # held by a live lease
    # worker-a pauses past its lease; worker-b takes the job over with the next token
    IVMJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    second = queue.claim(job.pk, "worker-b")
    assert second == 2
    assert not queue.progress(job.pk, first, "late progress")
    assert not queue.finish(job.pk, first, Status.DONE, result={"system_names": ["stale"]})
    assert runner.run(job.pk, second, inline=True) == Status.DONE
    job.refresh_from_db()
    assert job.status == Status.DONE and job.claimed_by == "worker-b" and job.result["system_names"]


def test_a_job_whose_worker_keeps_dying_fails_with_words_instead_of_a_fourth_try(console, admin_user):
    job = jobs.enqueue("sync", user=admin_user, console=console)
    for attempt in range(queue.MAX_ATTEMPTS):
        assert queue.claim(job.pk, f"worker-{attempt}") is not None
        IVMJob.objects.filter(pk=job.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert queue.claim(job.pk, "worker-last") is None
    job.refresh_from_db()
    assert job.status == Status.FAILED and "stopped 3 times" in job.error


# Committed: the job's late thread writes its command's audit record on its own connection once released.
@pytest.mark.django_db(transaction=True)
def test_an_ivm_that_hangs_costs_the_page_a_timed_out_answer_at_the_deadline(console, admin_user, fleet):
    job = jobs.enqueue("test", user=admin_user, console=console)
    token = queue.claim(job.pk, "worker")
    assert fleet.ssh("ivmf1", "ivmsim-fault add hang command=lssyscfg seconds=60")[0] == 0
    try:
        assert runner.run(job.pk, token, timeout_s=1.0) == Status.TIMED_OUT
    finally:
        fleet.ssh("ivmf1", "ivmsim-fault clear all")
        # The released command ends the late thread; it must not write into the next test's database.
        for thread in threading.enumerate():
            if thread.name == f"job-{job.pk}":
                thread.join(timeout=30)
    job.refresh_from_db()
    assert job.status == Status.TIMED_OUT and "No answer within 1 s" in job.error and job.finished_at


def test_jobs_are_seen_only_by_who_asked(console, admin_user, personas):
    job = jobs.enqueue("scan", user=admin_user, console=console)
    assert list(policy.jobs(admin_user)) == [job]
    assert not policy.jobs(personas["audrey"]).exists() and not policy.jobs(personas["rita"]).exists()


@sync_to_async
def _cookie(user) -> bytes:
    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}".encode()


def _socket(group, cookie: bytes) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, f"/ws/jobs/{group}/", headers=[
        (b"host", b"127.0.0.1"), (b"origin", b"http://127.0.0.1"), (b"cookie", cookie)])


@pytest.mark.asyncio
@pytest.mark.django_db(transaction=True)
async def test_the_jobs_socket_shows_the_row_to_its_owner_then_closes_and_refuses_anyone_else(fleet, personas):
    admin = personas["adam"]
    console = await sync_to_async(register)(fleet.ivm("ivmf1"))
    job = await sync_to_async(jobs.enqueue)("test", user=admin, console=console)

    stranger = _socket(job.group, await _cookie(personas["alex"]))
    connected, _ = await stranger.connect()
    assert not connected  # unknown and other people's groups look the same

    owner = _socket(job.group, await _cookie(admin))
    connected, _ = await owner.connect()
    assert connected
    first = await owner.receive_from(timeout=5)
    assert f'id="job-{job.pk}"' in first and 'data-job-status="queued"' in first and 'hx-swap-oob="true"' in first
    await owner.send_to(text_data='{"anything": 1}')  # it reads nothing, and says so
    assert "only sends" in await owner.receive_from(timeout=5)

    await sync_to_async(runner.run_pending)("worker")  # the row changes; the socket's own look at it finds out
    fragments = []
    while "Connection ok" not in "".join(fragments):
        fragments.append(await owner.receive_from(timeout=5))
    assert (await owner.receive_output(timeout=5))["type"] == "websocket.close"  # every job ended
