"""Real worker processes (``manage.py run_engine``): a SIGKILL'd worker is replaced after its lease and the IVM
sees ``migrlpar -o m`` exactly once; with two workers running, each migration is driven by one of them."""

import pytest

from mobility.models import Migration, Partition
from tests.engine.conftest import approved_migration, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _ssh_ok(fleet, ivm, command):
    status, out, err = fleet.ssh(ivm, command)
    assert status == 0, (command, out, err)
    return out


def _starts(fleet, ivm, name):
    return sum(c["command"].startswith("migrlpar -o m") and f"-p {name}" in c["command"]
               for c in fleet.command_log(ivm))


def _workers_of(m):
    return {e.payload.get("worker") for e in m.events.filter(kind="step")}


def test_a_killed_worker_is_replaced_after_its_lease_and_the_start_is_sent_once(estate, personas, workers, fleet):
    _ssh_ok(fleet, "ivm1", "ivmsim-fault add slow-link factor=0.2")
    try:
        m = approved_migration(personas, "app01", "ivm1", "ivm2")
        first = workers("w1", lease=3.0)
        wait_for(lambda: Migration.objects.filter(pk=m.pk, bytes_transmitted__gt=0).exists(), 60,
                 what="the transfer to start")
        assert Migration.objects.get(pk=m.pk).claimed_by == "w1"
        first.kill()
        second = workers("w2", lease=3.0)
        wait_for(lambda: Migration.objects.get(pk=m.pk).claimed_by == "w2", 30, what="the takeover")
    finally:
        _ssh_ok(fleet, "ivm1", "ivmsim-fault clear all")
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 90, what="the migration to finish")
    m.refresh_from_db()
    assert m.status == "completed", (m.outcome, second.output()[-3000:])
    assert _starts(fleet, "ivm1", "app01") == 1
    assert _workers_of(m) == {"w1", "w2"}
    # the new worker continued from the IVM's truth: step 3 was done by w1 and never repeated
    step3 = [e.payload for e in m.events.filter(kind="step", payload__number=3, payload__status="done")]
    assert [p["worker"] for p in step3] == ["w1"]


def test_two_workers_each_migration_is_driven_by_exactly_one(estate, personas, workers, fleet):
    a = approved_migration(personas, "app02", "ivm1", "ivm2", ivm_picks_slots=True)
    b = approved_migration(personas, "db01", "ivm1", "ivm2", ivm_picks_slots=True)
    workers("w3")
    workers("w4")
    wait_for(lambda: all(status_of(x.pk) in ("completed", "failed") for x in (a, b)), 120, what="both to finish")
    for m, name in ((a, "app02"), (b, "db01")):
        m.refresh_from_db()
        assert m.status == "completed", m.outcome
        assert len(_workers_of(m)) == 1, _workers_of(m)
        assert _starts(fleet, "ivm1", name) == 1


def _nice_values(pid: int) -> list[int]:
    """The niceness of each thread of a process (field 19 of /proc/PID/task/TID/stat)."""
    import glob

    values = []
    for stat in glob.glob(f"/proc/{pid}/task/*/stat"):
        try:
            values.append(int(open(stat).read().rsplit(")", 1)[1].split()[16]))
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended meanwhile
            pass
    return values


def test_a_migrations_work_runs_below_the_web_processes_and_the_ivm_jobs_cpu_priority(estate, personas, workers):
    """A driver thread is niced (EngineConfig.nice); the worker's poll loop and its IVM jobs, for which a person waits
    on a page, are not."""
    import os

    from mobility.engine.config import CONFIG

    base = os.getpriority(os.PRIO_PROCESS, 0)
    worker = workers("w5")
    wait_for(lambda: "started; serving channel" in worker.output(), 30, what="the worker to start")
    assert CONFIG.nice == 10 and os.getpriority(os.PRIO_PROCESS, worker.proc.pid) == base
    # the module's earlier tests may have moved app02: it goes from wherever it is now to the other server
    source = Partition.objects.select_related("system__console").get(
        name="app02", vanished_at__isnull=True).system.console.name
    m = approved_migration(personas, "app02", source, "ivm2" if source == "ivm1" else "ivm1")
    wait_for(lambda: min(19, base + CONFIG.nice) in _nice_values(worker.proc.pid), 60,
             what="a driver thread at the engine's priority")
    assert base in _nice_values(worker.proc.pid)
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 120, what="the migration to end")
