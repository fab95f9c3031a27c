"""/healthz and /readyz: JSON, no session, nothing secret; /readyz is unready when PostgreSQL or Redis cannot be
reached (real server processes pointed at a closed port), and when no engine worker has renewed its heartbeat within
its lease (a real worker, then SIGKILL'd)."""

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from mobility.models import Migration, WorkerHeartbeat
from tests.engine.conftest import Worker, database_url, wait_for
from tests.factories import make_partition, make_system
from tests.markers import postgresql_only, redis_only

REPO = settings.BASE_DIR


def _get(client, path):
    response = client.get(path, HTTP_HOST="127.0.0.1")
    return response, json.loads(response.content)


def _beat(age_s: float, lease_s: float = 30.0, worker_id: str = "w-test"):
    now = timezone.now()
    WorkerHeartbeat.objects.update_or_create(worker_id=worker_id, defaults={
        "host": "h", "pid": 1, "started_at": now, "beat_at": now - timedelta(seconds=age_s), "lease_s": lease_s})


@pytest.mark.django_db
def test_healthz_answers_alive_without_a_session_or_the_database(django_assert_num_queries):
    with django_assert_num_queries(0):
        response, body = _get(Client(), "/healthz")
    assert response.status_code == 200 and body == {"status": "alive"}
    assert "Set-Cookie" not in response.headers and response["Cache-Control"].startswith("max-age=0")


@pytest.mark.django_db(transaction=True)  # /readyz reads in a thread of its own (an async view)
def test_readyz_is_ready_with_a_fresh_worker_heartbeat_and_says_why_not_without_one():
    _beat(age_s=40, lease_s=30)  # older than its lease: that worker could not renew a migration's lease either
    response, body = _get(Client(), "/readyz")
    assert response.status_code == 503 and body["status"] == "unready"
    assert body["checks"]["workers"] == {"ok": False, "alive": 0, "newest_age_s": pytest.approx(40, abs=2),
                                         "lease_s": 30.0}
    assert body["checks"]["database"]["ok"] and body["checks"]["channel_layer"]["ok"]
    _beat(age_s=1, lease_s=30, worker_id="w-fresh")
    response, body = _get(Client(), "/readyz")
    assert response.status_code == 200 and body["status"] == "ready", body
    assert body["checks"]["workers"]["alive"] == 1 and "Set-Cookie" not in response.headers


@pytest.mark.django_db(transaction=True)
def test_readyz_is_unready_while_a_running_migration_has_no_live_lease(requester):
    _beat(age_s=0)
    src, dst = make_system(), make_system()
    m = Migration.objects.create(partition=make_partition(src, "app71", 7), source=src, destination=dst,
                                 mode="active", requester=requester, status="running", claimed_by="gone",
                                 lease_until=timezone.now() - timedelta(seconds=settings.IVMWEB_ENGINE_LEASE_S + 5))
    response, body = _get(Client(), "/readyz")
    assert response.status_code == 503 and body["checks"]["migrations"] == {"ok": False, "without_live_lease": 1}
    Migration.objects.filter(pk=m.pk).update(lease_until=timezone.now() + timedelta(seconds=30))
    response, body = _get(Client(), "/readyz")
    assert response.status_code == 200 and body["checks"]["migrations"] == {"ok": True, "without_live_lease": 0}


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nobody listens once the socket is closed


def _serve(env: dict, log: Path) -> subprocess.Popen:
    """daphne with ivmweb.asgi in a child process (its own settings from ``env``), on a port it binds itself (port 0:
    no free port handed over that another test process could take first); its log in ``log``."""
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", "0",
                                 "ivmweb.asgi:application"], cwd=REPO, env={**os.environ, **env},
                                stdout=subprocess.DEVNULL, stderr=out)


def _listening(proc: subprocess.Popen, log: Path) -> str:
    """The base URL of the daphne started by ``_serve``, once it says where it listens."""
    deadline = time.monotonic() + 30
    while True:
        found = re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
        if found:
            return f"http://127.0.0.1:{found.group(1)}"
        if proc.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(f"daphne did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)


def _fetch(url: str) -> tuple[int, dict, float]:
    started = time.monotonic()
    try:
        with urllib.request.urlopen(url, timeout=20) as r:
            return r.status, json.loads(r.read()), time.monotonic() - started
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), time.monotonic() - started


@pytest.fixture
def server(tmp_path):
    started = []

    def start(**env):
        log = tmp_path / f"daphne-{len(started)}.log"
        started.append(proc := _serve(env, log))  # stopped below even if it never listens
        return _listening(proc, log)

    yield start
    for proc in started:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@postgresql_only
@redis_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("broken", ["database", "channel_layer"])
def test_readyz_is_unready_when_postgresql_or_redis_cannot_be_reached(server, broken):
    _beat(age_s=0)
    port = _closed_port()
    env = {"DATABASE_URL": database_url()}
    if broken == "database":
        env["DATABASE_URL"] = database_url().replace(
            f":{settings.DATABASES['default'].get('PORT') or 5432}/", f":{port}/")
    else:
        env["REDIS_URL"] = f"redis://127.0.0.1:{port}/0"
    status, body, took = _fetch(server(**env) + "/readyz")
    assert status == 503 and body["status"] == "unready", body
    assert body["checks"][broken]["ok"] is False
    assert body["checks"][broken]["error"] in ("OperationalError", "ConnectionError", "ConnectionRefusedError",
                                               "OSError", "TimeoutError"), body
    other = "channel_layer" if broken == "database" else "database"
    assert body["checks"][other]["ok"] is True, body
    assert str(port) not in json.dumps(body)  # no address, no port, no error text in the answer
    assert took < 10


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_readyz_follows_a_real_worker_heartbeat_and_turns_unready_when_it_is_killed(server):
    url = server(DATABASE_URL=database_url()) + "/readyz"
    worker = Worker("hb-1", lease=3.0)
    answers = []

    def answer(expected: int) -> bool:
        answers.append(_fetch(url))
        return answers[-1][0] == expected

    try:
        wait_for(lambda: answer(200), 30, 0.3, "a worker's heartbeat to make /readyz ready")
        # The answer that said ready, not a later one: a worker starved on a loaded machine may renew late.
        workers = answers[-1][1]["checks"]["workers"]
        assert workers["alive"] == 1 and workers["lease_s"] == 3.0 and workers["newest_age_s"] <= 3.0
        worker.kill()
        wait_for(lambda: answer(503), 15, 0.3, "/readyz to notice the worker's heartbeat is too old")
        workers = answers[-1][1]["checks"]["workers"]
        # Unready because the heartbeat outlived its lease (not because the process is gone)
        # (shown to 0.1 s: an age of 3.04 s, past the lease, reads 3.0)
        assert workers["ok"] is False and workers["newest_age_s"] >= 3.0
    finally:
        worker.stop()
