"""/metrics: Prometheus' text format that prometheus_client's own parser reads, carrying after a real migration on
ivmsim the metrics the operators watch; restricted by address and token; labels stay bounded."""

import asyncio
import re

import pytest
from asgiref.sync import sync_to_async
from django.core.management import call_command
from django.test import Client
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from mobility.engine import claim
from mobility.governance import checkpoints
from mobility.journal import FenceLost, driving, guarded_update
from mobility.models import Migration
from tests.engine import conftest as engine_fixtures
from tests.engine.conftest import approved_migration, status_of, wait_for
from tests.factories import make_partition, make_system
from tests.markers import redis_only

fleet, estate, engine = engine_fixtures.fleet, engine_fixtures.estate, engine_fixtures.engine  # the engine tests' own

HELPED = ("ivmweb_migrations", "ivmweb_migration_queue_length", "ivmweb_migrations_without_live_lease",
          "ivmweb_engine_workers_alive", "ivmweb_migration_step_duration_seconds",
          "ivmweb_migration_transfer_rate_bytes_per_second", "ivmweb_migration_suspend_window_seconds",
          "ivmweb_engine_lease_takeovers", "ivmweb_engine_fenced_writes_refused", "ivmweb_live_push_delay_seconds",
          "ivmweb_live_websocket_clients", "ivmweb_ivm_command_duration_seconds", "ivmweb_ivm_command_failures",
          "ivmweb_inventory_sync_duration_seconds", "ivmweb_audit_checkpoints_written",
          "ivmweb_audit_checkpoint_file_readable")


def scrape(client=None, **extra) -> dict:
    """{family name: family} from /metrics, parsed by prometheus_client's parser."""
    response = (client or Client()).get("/metrics", HTTP_HOST="127.0.0.1", **extra)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain; version=")
    return {f.name: f for f in text_string_to_metric_families(response.content.decode())}


def value(families, sample_name: str, **labels) -> float:
    """The sum of the samples called ``sample_name`` whose labels include ``labels`` (0 when none)."""
    family = families.get(re.sub(r"_(total|count|sum|bucket|created)$", "", sample_name))
    if family is None:
        return 0.0
    return sum(s.value for s in family.samples
               if s.name == sample_name and all(s.labels.get(k) == v for k, v in labels.items()))


@pytest.mark.django_db(transaction=True)
def test_after_a_migration_the_metrics_carry_its_steps_commands_rates_and_status(estate, personas, engine, fleet):
    before = scrape()
    call_command("sync_inventory", "--ivm", "ivm1", stdout=open("/dev/null", "w"))  # noqa: SIM115
    m = approved_migration(personas, "app02", "ivm1", "ivm2")
    engine()
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 90, what="the migration to finish")
    assert status_of(m.pk) == "completed"
    checkpoints.write_checkpoint()
    after = scrape()

    for name in HELPED:
        assert name in after and after[name].documentation, f"{name} is missing or has no help text"
    assert value(after, "ivmweb_migrations", status="completed", mode="active") == 1
    assert value(after, "ivmweb_engine_workers_alive") == 1
    assert value(after, "ivmweb_migrations_without_live_lease") == 0
    for step in ("requirements", "start", "transfer", "suspend", "complete"):
        grew = (value(after, "ivmweb_migration_step_duration_seconds_count", step=step, mode="active", outcome="done")
                - value(before, "ivmweb_migration_step_duration_seconds_count", step=step, mode="active",
                        outcome="done"))
        assert grew == 1, step
    assert value(after, "ivmweb_migration_transfer_rate_bytes_per_second_count", mode="active") > value(
        before, "ivmweb_migration_transfer_rate_bytes_per_second_count", mode="active")
    step7 = m.steps.get(number=7).data
    if step7.get("window_s") is not None:  # seen suspended between two polls: the window was measured
        assert value(after, "ivmweb_migration_suspend_window_seconds_count") == value(
            before, "ivmweb_migration_suspend_window_seconds_count") + 1
    ivm1 = f"{fleet.ivm('ivm1')['host']}:{fleet.ivm('ivm1')['port']}"
    starts = (value(after, "ivmweb_ivm_command_duration_seconds_count", ivm=ivm1, command="migrlpar -o m")
              - value(before, "ivmweb_ivm_command_duration_seconds_count", ivm=ivm1, command="migrlpar -o m"))
    assert starts == 1  # exactly one start, as the IVM's own log says
    assert value(after, "ivmweb_ivm_command_duration_seconds_count", ivm=ivm1, command="lslparmigr") > 0
    assert value(after, "ivmweb_inventory_sync_duration_seconds_count", ivm="ivm1", outcome="ok") == value(
        before, "ivmweb_inventory_sync_duration_seconds_count", ivm="ivm1", outcome="ok") + 1
    assert value(after, "ivmweb_audit_checkpoint_file_readable") == 1
    assert value(after, "ivmweb_audit_checkpoint_last_number") >= 1
    assert value(after, "ivmweb_audit_checkpoint_last_signature_ok") == 1
    # Bounded labels: a fixed set of label names (no partition, no migration), and no partition name as a value.
    names = {k for f in after.values() if f.name.startswith("ivmweb_") for s in f.samples for k in s.labels}
    assert names <= {"status", "mode", "ivm", "step", "outcome", "command", "le"}, names
    assert not any("app02" in v for f in after.values() for s in f.samples for v in s.labels.values())


@pytest.mark.django_db(transaction=True)
def test_a_takeover_and_a_refused_fenced_write_are_counted(requester):
    src, dst = make_system(), make_system()
    m = Migration.objects.create(partition=make_partition(src, "app72", 7), source=src, destination=dst,
                                 mode="active", requester=requester, status="running")
    first = claim.claim(m.pk, "w-a", 30)
    before = scrape()
    Migration.objects.filter(pk=m.pk).update(lease_until=timezone.now() - timezone.timedelta(seconds=1))
    assert claim.claim(m.pk, "w-b", 30) == first + 1  # w-a's lease ran out while it was driving: taken over
    with driving("w-a", first, 30, None), pytest.raises(FenceLost):
        guarded_update(m.pk, percent=50.0)  # w-a, late, is refused
    after = scrape()
    assert value(after, "ivmweb_engine_lease_takeovers_total") == value(before, "ivmweb_engine_lease_takeovers_total") + 1
    assert value(after, "ivmweb_engine_fenced_writes_refused_total") == value(
        before, "ivmweb_engine_fenced_writes_refused_total") + 1


@redis_only
@pytest.mark.django_db(transaction=True)
@pytest.mark.asyncio
async def test_websocket_clients_and_the_push_delay_are_measured_where_the_browser_is_served(requester):
    from tests.engine.test_engine_live import _emit, _payments_migration, _socket

    m = await _payments_migration(requester)
    before = await sync_to_async(scrape)()
    socket = await _socket(requester)
    await socket.send_json_to({"subscribe": m.pk, "last_seq": 0})
    await socket.receive_from(timeout=5)
    await _emit(m, 3)
    for _ in range(3):
        await socket.receive_from(timeout=5)
    during = await sync_to_async(scrape)()
    await socket.disconnect()
    await asyncio.sleep(0.1)
    after = await sync_to_async(scrape)()
    assert value(during, "ivmweb_live_websocket_clients") == value(before, "ivmweb_live_websocket_clients") + 1
    assert value(after, "ivmweb_live_websocket_clients") == value(before, "ivmweb_live_websocket_clients")
    delays = value(during, "ivmweb_live_push_delay_seconds_count") - value(before, "ivmweb_live_push_delay_seconds_count")
    assert delays == 3
    assert 0 < value(during, "ivmweb_live_push_delay_seconds_sum") - value(before, "ivmweb_live_push_delay_seconds_sum") < 15


@pytest.mark.django_db
def test_metrics_are_refused_outside_the_allowed_networks_and_without_the_token(settings):
    assert Client().get("/metrics", HTTP_HOST="127.0.0.1", REMOTE_ADDR="203.0.113.9").status_code == 403
    settings.IVMWEB_METRICS_TOKEN = "t" * 40
    refused = Client().get("/metrics", HTTP_HOST="127.0.0.1")
    assert refused.status_code == 401 and refused["WWW-Authenticate"].startswith("Bearer")
    assert Client().get("/metrics", HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    assert scrape(HTTP_AUTHORIZATION="Bearer " + "t" * 40)
    settings.IVMWEB_METRICS_ALLOWED_NETS = [__import__("ipaddress").ip_network("203.0.113.0/24")]
    assert Client().get("/metrics", HTTP_HOST="127.0.0.1", REMOTE_ADDR="203.0.113.9",
                        HTTP_AUTHORIZATION="Bearer " + "t" * 40).status_code == 200


@pytest.mark.django_db(transaction=True)  # the reading process scrapes the test database's gauges too
def test_in_multiprocess_mode_the_scrape_adds_up_every_process_of_the_host(tmp_path):
    """PROMETHEUS_MULTIPROC_DIR (the shipped units set it): what a worker process counted, after it exited, shows in
    the exposition of another process of the host; a dead process's websocket clients do not."""
    import os
    import subprocess
    import sys

    from django.conf import settings

    from tests.workers import database_url

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "DATABASE_URL": database_url()}
    record = ("from mobility.observability import metrics\n"
              "metrics.lease_takeover(); metrics.lease_takeover(); metrics.websocket_opened()")
    for _ in range(2):
        subprocess.run([sys.executable, "-c", record], env=env, check=True, cwd=settings.BASE_DIR, timeout=60)
    read = ("import django; django.setup()\n"
            "from mobility.observability import scrape\n"
            "import sys; sys.stdout.write(scrape.exposition().decode())")
    done = subprocess.run([sys.executable, "-c", read], env=env, capture_output=True, text=True,
                          cwd=settings.BASE_DIR, timeout=60)
    assert done.returncode == 0, done.stderr
    families = {f.name: f for f in text_string_to_metric_families(done.stdout)}
    assert value(families, "ivmweb_engine_lease_takeovers_total") == 4
    assert value(families, "ivmweb_live_websocket_clients") == 0  # both processes are gone


@pytest.mark.django_db(transaction=True)
def test_a_worker_only_host_serves_its_metrics_with_the_same_restriction(tmp_path):
    """``run_engine --metrics ADDR:PORT``: the exposition, parsed by prometheus_client's parser; the token is asked
    for when set; nothing but /metrics is served."""
    import os
    import signal
    import subprocess
    import sys
    import time
    import urllib.error
    import urllib.request

    from django.conf import settings

    from tests.engine.conftest import database_url

    env = {**os.environ, "DATABASE_URL": database_url(), "IVMWEB_METRICS_TOKEN": "k" * 40,
           "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "worker.log"
    with open(log, "wb") as out:  # port 0: the worker binds a free port itself and logs it (no port to lose to a race)
        proc = subprocess.Popen([sys.executable, "manage.py", "run_engine", "--worker-id", "metrics-w", "--lease", "3",
                                 "--metrics", "127.0.0.1:0"], cwd=settings.BASE_DIR, env=env,
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        def bound():
            assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
            found = re.search(r"serving /metrics on 127\.0\.0\.1:(\d+)", log.read_text(errors="replace"))
            return found and int(found.group(1))

        port = wait_for(bound, 30, 0.1, "the worker to say which port serves its metrics")

        def fetch(path, token=None):
            request = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                             headers={"Authorization": f"Bearer {token}"} if token else {})
            try:
                with urllib.request.urlopen(request, timeout=10) as r:
                    return r.status, r.read().decode()
            except urllib.error.HTTPError as e:
                return e.code, e.read().decode()

        assert fetch("/metrics")[0] == 401 and fetch("/metrics", "wrong")[0] == 401
        assert fetch("/other", "k" * 40)[0] == 404
        wait_for(lambda: value({f.name: f for f in text_string_to_metric_families(fetch("/metrics", "k" * 40)[1])},
                               "ivmweb_engine_workers_alive") == 1, 20, 0.3, "the worker's own heartbeat to show")
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:  # what it was doing: its log, and every thread's stack (faulthandler)
            os.kill(proc.pid, signal.SIGUSR1)
            time.sleep(1)
            print("--- worker log (last 60 lines) ---", *log.read_text(errors="replace").splitlines()[-60:], sep="\n")
            raise
        finally:
            proc.kill()  # never left behind holding the test database (a failed stop still fails the test)
            proc.wait(10)
