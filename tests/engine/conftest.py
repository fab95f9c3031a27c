"""Fixtures for the engine tests: a demo simulator per module, the estate registered and synced, approved
migrations made through the real planning, submission and approval code, and engines (in-process or as
worker subprocesses running ``manage.py run_engine`` against the test database)."""

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from django.conf import settings

from tests.simfleet import DEMO_FLEET, SimFleet

REPO = Path(__file__).resolve().parents[2]
LIMITS_FLEET = Path(__file__).with_name("limits.toml")
TIME_SCALE = 10.0


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(DEMO_FLEET, time_scale=TIME_SCALE, seed=1) as sim:
        yield sim


@pytest.fixture
def estate(transactional_db, fleet, personas):
    """Every IVM registered and synced into the test database; partitions owned as in the demo."""
    from mobility.inventory import sync_all
    from mobility.inventory.connections import close_all_clients
    from mobility.management.commands.register_fleet import assign_demo_teams, register_entry

    consoles = {e["name"]: register_entry(e)[0] for e in fleet.ivms}
    results = sync_all(list(consoles.values()))
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assign_demo_teams()
    yield consoles
    close_all_clients()


def lpar(name: str, ivm: str = "ivm1"):
    from mobility.models import Partition

    return Partition.objects.select_related("system__console", "team").get(
        name=name, system__console__name=ivm, vanished_at__isnull=True)


def server(ivm: str):
    from mobility.models import ManagedSystem

    return ManagedSystem.objects.select_related("console").get(console__name=ivm)


def approved_migration(personas, name: str, source_ivm: str, dest_ivm: str, options: dict | None = None,
                       ivm_picks_slots: bool = False, mode: str | None = None):
    """Plan (recommended mappings, IVM validation), submit as rita and approve as alex: an APPROVED migration.

    ``ivm_picks_slots`` leaves the destination slots to IVM: plans made side by side for the same destination
    would otherwise name the same free slot, and the second start would be refused."""
    migration = submitted_migration(personas, name, source_ivm, dest_ivm, options, ivm_picks_slots, mode)
    return approved(personas, migration)


def approved(personas, migration):
    """alex approves the plan he is shown (the latest)."""
    from mobility.governance.approvals import approve

    approve(migration, personas["alex"], "looks right", plan_hash=migration.latest_plan().content_hash)
    migration.refresh_from_db()
    assert migration.status == "approved"
    return migration


def submitted_migration(personas, name: str, source_ivm: str, dest_ivm: str, options: dict | None = None,
                        ivm_picks_slots: bool = False, mode: str | None = None):
    """Plan (recommended mappings, IVM validation) and submit as rita: a migration waiting for approval."""
    import dataclasses

    from mobility import planning
    from mobility.plans import mode_of, plan_context, submit_plan, validate_plan

    partition, destination = lpar(name, source_ivm), server(dest_ivm)
    mode = mode or mode_of(partition)
    ctx = plan_context(partition, destination, mode)
    rows = planning.recommend_mappings(ctx.partition, ctx.destination).rows
    if ivm_picks_slots:
        rows = tuple(dataclasses.replace(r, vios_slot=None) for r in rows)
    validation = validate_plan(partition, destination, rows, user=personas["rita"])
    assert validation["ok"], validation
    migration = submit_plan(partition=partition, destination=destination, user=personas["rita"], mode=mode,
                            mappings=rows, validation=validation, reason="engine test", options=options or {})
    return migration


def wait_for(predicate, timeout: float = 60.0, every: float = 0.2, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def status_of(migration_id: int) -> str:
    from mobility.models import Migration

    return Migration.objects.values_list("status", flat=True).get(pk=migration_id)


@pytest.fixture
def engine(estate):
    """An engine in this process (threads), short lease and fast polling; stopped at the end of the test."""
    from mobility.engine.config import EngineConfig
    from mobility.engine.worker import Engine

    started = []

    def start(worker_id="in-process", **overrides):
        cfg = EngineConfig(**{"lease_s": 5.0, "poll_s": 0.2, "threads": 8, **overrides})
        e = Engine(worker_id=worker_id, cfg=cfg).start()
        started.append(e)
        return e

    yield start
    for e in started:
        e.stop(timeout=15)


def database_url() -> str:
    db = settings.DATABASES["default"]
    if settings.DATABASE_VENDOR == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db.get("USER") or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    """``manage.py run_engine`` as a child process against the test database."""

    def __init__(self, worker_id: str, lease: float = 3.0, poll: float = 0.2):
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1"}
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 — closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_engine", "--worker-id", worker_id, "--lease", str(lease),
             "--poll", str(poll)], cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


@pytest.fixture
def workers(estate):
    started: list[Worker] = []

    def start(worker_id: str, **kw) -> Worker:
        w = Worker(worker_id, **kw)
        started.append(w)
        return w

    yield start
    for w in started:
        lines = [ln for ln in w.output().splitlines() if " INFO " not in ln]
        print(f"--- worker {w.proc.args[4]} (non-INFO lines, last 30) ---", *lines[-30:], sep="\n")
        w.stop()
