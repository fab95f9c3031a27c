"""Fixtures for the engine tests: a demo simulator per module, the estate registered and synced, approved
migrations made through the real planning, submission and approval code, and engines (in-process or as
worker subprocesses running ``manage.py run_engine`` against the test database)."""

import time
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.simfleet import DEMO_FLEET, SimFleet
from tests.workers import Worker, database_url  # noqa: F401  (engine tests import them from here)

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


def pieces(migration_id: int, worker: str, count: int, run_state=None):
    """``count`` pieces of work of a driver holding a fresh claim, on this thread."""
    import threading

    from mobility.engine import busy, claim, driver
    from mobility.engine.config import EngineConfig
    from mobility.journal import driving

    cfg = EngineConfig(lease_s=30.0, poll_s=0.2)
    fence = claim.claim(migration_id, worker, cfg.lease_s)
    d = driver.Driver(migration_id, worker, fence, cfg, threading.Event(), busy.Slots(2))
    if run_state is not None:
        d.run_state = run_state
    with driving(worker, fence, cfg.lease_s, d.lost):
        for _ in range(count):
            d.step()
    return d


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
    with ExitStack() as stopping:  # each one stopped, whatever another's stop raised
        for e in started:
            stopping.callback(e.stop, timeout=15)


@pytest.fixture
def workers(estate):
    started: list[Worker] = []

    def start(worker_id: str, **kw) -> Worker:
        w = Worker(worker_id, **kw)
        started.append(w)
        return w

    yield start
    # Every worker is stopped even if showing one's output fails: one left running holds the test database.
    with ExitStack() as stopping:
        for w in started:
            stopping.callback(w.stop)
        for w in started:
            lines = [ln for ln in w.output().splitlines() if " INFO " not in ln]
            print(f"--- worker {w.proc.args[4]} (non-INFO lines, last 30) ---", *lines[-30:], sep="\n")
