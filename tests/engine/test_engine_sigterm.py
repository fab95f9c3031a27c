"""A worker stopped with SIGTERM (systemd's stop, the guide's upgrade drain) says so at once: its heartbeat row goes,
it exits 0, and it logs no warning. The handler runs in run_engine's main thread, inside the channel listener's
event loop, where Django refuses the ORM: the rehearsal of docs/deploy.md on a fresh machine saw every stop log
"You cannot call this from an async context" and leave the row to age out (/readyz counted the worker for a lease)."""

import time

import pytest

from mobility.models import WorkerHeartbeat
from tests.engine.conftest import Worker, wait_for
from tests.markers import postgresql_only


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_worker_stopped_with_sigterm_removes_its_heartbeat_and_exits_cleanly():
    worker = Worker("term-1", lease=30.0)  # a lease far longer than the test: the row cannot age out meanwhile
    try:
        wait_for(lambda: WorkerHeartbeat.objects.filter(worker_id="term-1").exists(), 30, 0.2, "the heartbeat row")
        wait_for(lambda: "started; serving channel" in worker.output(), 30, 0.2, "the channel listener")
        # Let the listener enter its event loop (where the handler used to fail); a signal that came before it would
        # make this test pass without the fix, never fail with it.
        time.sleep(3)
        worker.proc.terminate()
        assert worker.proc.wait(timeout=15) == 0
        assert not WorkerHeartbeat.objects.filter(worker_id="term-1").exists()
        assert "WARNING" not in worker.output() and "Traceback" not in worker.output(), worker.output()
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_sigusr1_writes_every_threads_stack_to_the_log_and_the_worker_goes_on():
    """For a worker that hangs (what is it waiting for?): ``kill -USR1`` answers in its log, and stops nothing."""
    import signal

    worker = Worker("usr1-1", lease=30.0)
    try:
        wait_for(lambda: "started; serving channel" in worker.output(), 30, 0.2, "the channel listener")
        worker.proc.send_signal(signal.SIGUSR1)
        wait_for(lambda: "Current thread" in worker.output(), 15, 0.2, "the stacks in the log")
        assert 'File "' in worker.output().split("Current thread", 1)[1]
        time.sleep(0.5)
        assert worker.proc.poll() is None  # it goes on
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_stopped_engine_leaves_no_housekeeping_behind(estate):
    """An engine stopped inside a process that goes on (the web process's, a test's) waits for its housekeeping, here
    a periodic sync of every IVM over SSH, rather than leave it running with its database connection."""
    from mobility.engine.worker import Engine
    from mobility.models import IVMConsole

    IVMConsole.objects.update(last_sync_at=None)  # every IVM due: the housekeeping syncs all of them
    engine = Engine(worker_id="test-housekeeping-stop")
    engine._maybe_housekeep()
    assert engine._housekeeping.is_alive()
    engine.stop(timeout=60)
    assert not engine._housekeeping.is_alive()
    assert not IVMConsole.objects.filter(last_sync_at=None).exists()  # it ran to its end: every IVM synced
