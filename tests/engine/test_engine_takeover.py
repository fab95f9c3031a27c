"""Takeovers between real ``manage.py run_engine`` processes (issue 16).

A worker SIGKILL'd at each step of an active and of an inactive migration: a second worker finishes it and the IVM
runs ``migrlpar -o m`` once. A worker SIGSTOP'd inside a hung ``migrlpar -o m`` and continued after another worker
completed the migration: its late writes are refused.

Steps that pass in milliseconds are held where the worker is: a ``hang`` fault on the command the step sends, a
``hold-phase`` fault on the IVM state the step polls, or (steps 5 and 8, which send nothing of their own) a row
lock on the step that makes the worker wait in PostgreSQL when it records the step.

How ivmsim logs a hung command: only when the hang ends. Cleared (or timed out) while its client is connected, it
runs and is logged with its exit status; if the client goes away first (killed, or it gave up) it is logged with
no exit status and the note "client went away while the command hung", and never runs. "Executed" below is
therefore a log entry with an exit status.
"""

import json
import re
import signal
from contextlib import contextmanager

import psycopg
import pytest
from django.db import connection

from mobility.models import Migration, MigrationStep, Partition
from tests.engine.conftest import approved_migration, database_url, lpar, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)

LEASE = 2.0
ACTIVE = ("app02", {}, None, (1, 3, 4, 5, 6, 7, 8, 9, 11))
INACTIVE = ("app11", {"shutdown_source": True, "activate_on_destination": True}, "inactive",
            (1, 2, 3, 4, 5, 6, 9, 10, 11))
# Step 3 twice: killed while its ``migrlpar -o m`` is held at the IVM (never run), and killed after the IVM ran it
# but before the step was recorded (the new worker must find the migration in flight and not start it again).
CASES = [pytest.param(mode, step, sent, id=f"{mode}-step{step}" + ("-after-the-start-ran" if sent else ""))
         for mode, (_, _, _, steps) in (("active", ACTIVE), ("inactive", INACTIVE))
         for step in steps for sent in ((False, True) if step == 3 else (False,))]
GONE = "client went away while the command hung"


def _ssh_ok(fleet, ivm, command):
    status, out, err = fleet.ssh(ivm, command)
    assert status == 0, (command, out, err)
    return out


def _route(name):
    """Where the partition is now (the module's fleet keeps its moves) and the other server of the pair."""
    here = Partition.objects.select_related("system__console").get(name=name, vanished_at__isnull=True)
    source = here.system.console.name
    return source, {"ivm1": "ivm2", "ivm2": "ivm1"}[source]


def _log(fleet, ivm, since):
    return fleet.command_log(ivm)[since.get(ivm, 0):]


def _starts(fleet, ivm, name, since):
    """``migrlpar -o m`` log entries for the partition since the marks: (exit status, note); None = never run."""
    return [(c["exit_status"], c.get("note")) for c in _log(fleet, ivm, since)
            if c["command"].startswith("migrlpar -o m") and f"-p {name}" in c["command"]]


def _executed_starts(fleet, ivm, name, since):
    return [status for status, _ in _starts(fleet, ivm, name, since) if status is not None]


def _unrun(fleet, ivm, prefix, since):
    return [c for c in _log(fleet, ivm, since) if c["command"].startswith(prefix) and c.get("note") == GONE]


def _triggered(fleet, ivm, fault_id):
    path = fleet.state_dir / ivm / "faults.jsonl"
    return any(e["event"] == "triggered" and e["id"] == fault_id
               for e in map(json.loads, path.read_text().splitlines()))


def _step(m_id, number):
    return MigrationStep.objects.values_list("status", flat=True).filter(migration_id=m_id, number=number).first()


def _reached(m_id, predicate, what, timeout=40.0):
    """Wait for ``predicate()``; a migration that ended another way fails at once with its outcome."""
    def check():
        status = status_of(m_id)
        if status in ("failed", "stopped", "pending_approval"):
            raise AssertionError(f"migration {m_id} is {status} while waiting for {what}: "
                                 f"{Migration.objects.get(pk=m_id).outcome}")
        return predicate()
    return wait_for(check, timeout, every=0.05, what=what)


@contextmanager
def _step_row_locked(m_id, number):
    """Hold the step's row (FOR UPDATE, another connection): a worker recording that step waits in PostgreSQL."""
    with psycopg.connect(database_url()) as conn:
        conn.execute(f"SELECT 1 FROM {MigrationStep._meta.db_table} WHERE migration_id = %s AND number = %s "
                     "FOR UPDATE", [m_id, number])
        try:
            yield
        finally:
            conn.rollback()


def _waiting_on_a_step_row():
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                       "AND wait_event_type = 'Lock' AND query LIKE %s", [f"%{MigrationStep._meta.db_table}%"])
        return cursor.fetchone()[0] > 0


def _events_by(m, worker):
    return [e for e in m.events.order_by("seq") if e.payload.get("worker") == worker]


@pytest.mark.parametrize(("mode", "step", "sent"), CASES)
def test_a_worker_killed_at_a_step_is_replaced_and_the_migration_completes_with_one_start(
        estate, personas, workers, fleet, mode, step, sent):
    name, options, plan_mode, steps = ACTIVE if mode == "active" else INACTIVE
    src, dst = _route(name)
    marks = {ivm: len(fleet.command_log(ivm)) for ivm in (src, dst)}
    # the IVM state each step polls (active: pre-copy; inactive: the definition's transfer), or the command it sends
    phase = {3: "starting" if sent else None, 4: "starting", 5: "starting",
             6: "precopy" if mode == "active" else "transfer", 7: "suspended", 8: "suspended", 9: "complete"}.get(step)
    hung = {1: (src, "lssyscfg -r sys"), 2: (src, "chsysstate -r lpar -o osshutdown"), 3: (src, "migrlpar -o m"),
            10: (dst, "chsysstate -r lpar -o on")}.get(step)
    try:
        if phase:
            _ssh_ok(fleet, src, f"ivmsim-fault add hold-phase phase={phase} lpar={name}")
        hang_id = json.loads(_ssh_ok(fleet, hung[0], f"ivmsim-fault add hang 'command={hung[1]}'"))["id"] \
            if hung else None
        m = approved_migration(personas, name, src, dst, options=options, mode=plan_mode)
        first = workers("w1", lease=LEASE, poll=0.1)
        with _held(m.pk, step, fleet, src, hung and (hung[0], hang_id), sent):
            first.kill()
        if sent:
            assert _executed_starts(fleet, src, name, marks) == [0]  # the first worker's
        elif hung:  # the killed worker's command never ran: ivmsim logged it unrun when its connection closed
            wait_for(lambda: _unrun(fleet, *hung, marks), 10, what=f"the killed worker's {hung[1]!r} logged unrun")
        second = workers("w2", lease=LEASE, poll=0.1)
        if step == 11:
            wait_for(lambda: "started; serving channel" in second.output(), 30, what="the second worker to start")
            with pytest.raises(AssertionError):  # polling for a lease's time, it finds nothing to claim
                wait_for(lambda: Migration.objects.get(pk=m.pk).claimed_by, LEASE, what="a claim")
        else:
            wait_for(lambda: Migration.objects.get(pk=m.pk).claimed_by == "w2" or status_of(m.pk) == "completed",
                     30, every=0.05, what="the second worker to take over")
    finally:
        _ssh_ok(fleet, src, "ivmsim-fault clear all")
        _ssh_ok(fleet, dst, "ivmsim-fault clear all")
    wait_for(lambda: status_of(m.pk) in ("completed", "failed", "stopped"), 60, what="the migration to finish")
    m = Migration.objects.get(pk=m.pk)
    assert m.status == "completed", (m.outcome, second.output()[-3000:])
    assert _executed_starts(fleet, src, name, marks) == [0], _starts(fleet, src, name, marks)
    assert {s.number: s.status for s in m.steps.all()} == {n: "done" for n in steps if n != 11} | {11: "running"}
    tasks = m.steps.get(number=11).data["tasks"]
    assert len(tasks) == 4 and not any(t["done"] for t in tasks)
    if step == 11:
        assert not _events_by(m, "w2")  # a completed migration is nobody's to drive
    else:  # the step the first worker died in was finished by the second one
        done = [e.payload["worker"] for e in m.events.filter(kind="step", payload__number=step,
                                                              payload__status="done")]
        assert done == ["w2"], done
    assert _ssh_ok(fleet, dst, f"lssyscfg -r lpar --filter lpar_names={name} -F state").strip() == "Running"
    assert lpar(name, dst).pk == m.partition_id


@contextmanager
def _held(m_id, step, fleet, src, hang=None, sent=False):
    """Until the worker is inside ``step``: held by the caller's faults (``hang``: the fault holding its command),
    or by a lock on the step's row (``sent``: the held command is let run first, the worker then waits to record
    it; the migration it started is held in its first phase, so that the next worker finds it in flight)."""
    hanging = hang and (lambda: _triggered(fleet, *hang))
    if sent:
        _reached(m_id, lambda: _step(m_id, step) == "running" and hanging(), f"step {step}'s held command")
        with _step_row_locked(m_id, step):
            _ssh_ok(fleet, hang[0], f"ivmsim-fault clear {hang[1]}")
            _reached(m_id, _waiting_on_a_step_row, f"the worker to wait on step {step}'s row")
            assert _step(m_id, step) == "running"
            yield
    elif step == 11:
        _reached(m_id, lambda: status_of(m_id) == "completed" and _step(m_id, 11) == "running", "completion")
        yield
    elif step in (5, 8):
        # 5 and 8 are recorded in the same pass as 4 and 7: hold that one, lock the row, then let the pass go on
        _reached(m_id, lambda: _step(m_id, step - 1) == "running", f"step {step - 1}")
        with _step_row_locked(m_id, step):
            _ssh_ok(fleet, src, "ivmsim-fault clear all")
            _reached(m_id, _waiting_on_a_step_row, f"the worker to wait on step {step}'s row")
            assert _step(m_id, step - 1) == "done" and _step(m_id, step) == "pending"
            yield
    else:
        _reached(m_id, lambda: _step(m_id, step) == "running" and (hanging is None or hanging()),
                 f"step {step} to run" + (" its held command" if hanging else ""))
        yield


def _lost_warning(output, m_id):
    """A warning of the worker that it lost the migration (a refused write, its lease gone)."""
    return [line for line in output.splitlines() if " WARNING " in line and f"migration {m_id}" in line
            and re.search(r"\b(lost|refused|fenc\w*)\b", line, re.I) and "transport lost" not in line]


def test_a_worker_stopped_in_a_hung_start_is_fenced_off_after_another_completed_the_migration(
        estate, personas, workers, fleet):
    """A holds ``migrlpar -o m`` (hung at the IVM: not run yet) and is SIGSTOP'd; B takes over and completes the
    migration with its own start; A is continued. Unfenced, A's start, once the IVM ran it, was refused (the partition
    had left) and A wrote the completed migration as FAILED. Fenced, A learns at its first refused write (the lease
    renewal) that it lost the migration, warns, and gives up the start it holds open: the IVM never runs it."""
    name = "app02"  # the smaller transfer
    src, dst = _route(name)
    marks = {src: len(fleet.command_log(src))}
    # count=1: only A's start hangs, B's goes through. The fault is cleared only after A gave its start up: clearing
    # releases a command still held, and ivmsim then runs it (a late IVM answer, as in the reproduction).
    hang_id = json.loads(_ssh_ok(fleet, src, "ivmsim-fault add hang 'command=migrlpar -o m'"))["id"]
    m = approved_migration(personas, name, src, dst)
    a = workers("A", lease=3.0, poll=0.1)
    stopped = False
    try:
        _reached(m.pk, lambda: _step(m.pk, 3) == "running" and _triggered(fleet, src, hang_id), "A's held start")
        a.proc.send_signal(signal.SIGSTOP)
        stopped = True
        b = workers("B", lease=3.0, poll=0.1)
        wait_for(lambda: Migration.objects.get(pk=m.pk).claimed_by == "B", 30, every=0.05, what="B's takeover")
        wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 60, what="B to finish")
        assert status_of(m.pk) == "completed", (Migration.objects.get(pk=m.pk).outcome, b.output()[-3000:])
        takeover = min(e.seq for e in _events_by(m, "B"))
        a.proc.send_signal(signal.SIGCONT)
        stopped = False
        wait_for(lambda: _lost_warning(a.output(), m.pk), 3 * 3.0, what="A to warn that it lost the migration")
        wait_for(lambda: (None, GONE) in _starts(fleet, src, name, marks), 3 * 3.0,
                 what="A to give up its held start (ivmsim logs it unrun)")
    finally:
        if stopped:
            a.proc.send_signal(signal.SIGCONT)
        _ssh_ok(fleet, src, "ivmsim-fault clear all")
    # a few of A's lease periods later the migration is still B's completed one, and A wrote nothing after B came
    with pytest.raises(AssertionError):
        wait_for(lambda: status_of(m.pk) != "completed", 3 * 3.0, what="a change after completion")
    m = Migration.objects.get(pk=m.pk)
    assert m.status == "completed" and m.outcome.endswith(f"now runs on {m.destination.name}"), m.outcome
    assert [e.seq for e in _events_by(m, "A") if e.seq > takeover] == []
    # executed = logged with an exit status: B's start, accepted; A's was logged unrun when A gave it up
    assert _executed_starts(fleet, src, name, marks) == [0], _starts(fleet, src, name, marks)
    assert _ssh_ok(fleet, dst, f"lssyscfg -r lpar --filter lpar_names={name} -F state").strip() == "Running"
