"""Drive one claimed migration until it is finished, waits in the queue, or its lease is lost.

A heartbeat thread renews the lease every third of its length. If a renewal fails another worker may already
have taken over, so the driver stops before its next piece of work; the new worker continues from the database
and from what the IVM says (``steps.start`` never re-sends ``migrlpar -o m`` for a partition in flight).
A driver paused past its lease (a frozen VM, SIGSTOP) may not notice in time: its fencing token does. Every write it
makes is conditional on the token it claimed with, and every command that changes an IVM is sent only after the
lease is confirmed in the database; the first refusal (``FenceLost``) ends the driver, and it touches nothing more.
"""

from __future__ import annotations

import logging
import threading
from datetime import timedelta

from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from mobility import journal
from mobility.choices import MigrationStatus, StepStatus
from mobility.engine import admission, busy, claim, control, ivmside, steps
from mobility.engine.events import emit, step_change
from mobility.governance.approvals import check_runnable
from mobility.ivm import commands
from mobility.ivm.errors import CommandFailed, IVMError
from mobility.journal import FenceLost, guarded_update
from mobility.lifecycle.writer import transition
from mobility.models import Migration
from mobility.observability import logs

logger = logging.getLogger("mobility.engine")
# How often a batch's next member, claimed ahead, looks for its slot (database only); a slot freed in this process
# wakes it at once (``admission.slot_freed``).
BATCH_WAIT_S = 0.1


class Driver:
    def __init__(self, migration_id: int, worker: str, fence: int, cfg, stopping: threading.Event,
                 slots: busy.Slots):
        self.migration_id, self.worker, self.cfg, self.stopping = migration_id, worker, cfg, stopping
        self.fence = fence  # the token this driver claimed the migration with (claim.claim)
        self.busy = slots  # the worker's busy slots, shared by its drivers (EngineConfig.busy)
        self.lost = threading.Event()
        self.run_state = steps.RunState()
        self.in_line = False  # a batch's next member, waiting in place for a slot (``_still_in_line``)
        self.admitted = False  # its migration has started: its pieces no longer go first for a busy slot

    # --- lease -------------------------------------------------------------------------------------------------
    def _heartbeat(self, done: threading.Event) -> None:
        try:
            while not done.wait(self.cfg.lease_s / 3):
                renewed = claim.renew(self.migration_id, self.fence, self.cfg.lease_s)
                # One renewal every lease/3 s: no connection kept open in between (every driven migration
                # holding two idle connections used up PostgreSQL's max_connections at 50 migrations).
                connection.close()
                if not renewed:
                    logger.warning("migration %s: lease lost (fencing token %s no longer in force); this driver "
                                   "stops, abandons what it waits for on the IVM and sends nothing more",
                                   self.migration_id, self.fence)
                    self.lost.set()
                    return
        finally:
            close_old_connections()

    def run(self) -> None:
        with journal.driving(self.worker, self.fence, self.cfg.lease_s, self.lost), logs.about(self.migration_id):
            self._run()

    def _run(self) -> None:
        done = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(done,), daemon=True,
                                name=f"lease-{self.migration_id}")
        beat.start()
        try:
            while not self.lost.is_set() and not self.stopping.is_set():
                freed = admission.freed_count()
                if self.in_line and self._still_in_line():
                    admission.wait_for_slot(freed, BATCH_WAIT_S)
                    continue
                try:
                    with self._busy_slot():
                        wait = self.step() if not self.lost.is_set() else None
                except FenceLost:
                    if not self.lost.is_set():  # (the heartbeat already said so when it found the lease gone)
                        logger.warning("migration %s: a write under fencing token %s was refused (another worker "
                                       "holds it now); this driver stops and sends nothing more",
                                       self.migration_id, self.fence)
                    self.lost.set()
                    break
                except IVMError as exc:  # connection trouble: nothing is lost, try again on a fresh transport
                    logger.warning("migration %s: %s; retrying", self.migration_id, exc)
                    wait = self.cfg.poll_s
                except Exception:
                    logger.exception("migration %s: unexpected error; retrying", self.migration_id)
                    wait = self.cfg.poll_s * 5
                if wait is None:
                    break
                if wait:
                    if wait >= 1.0:
                        connection.close()  # idle between polls: give the connection back (see _heartbeat)
                    self.stopping.wait(wait)
        finally:
            done.set()
            beat.join(timeout=5)
            if not self.lost.is_set():
                claim.release(self.migration_id, self.fence)
            close_old_connections()

    def _still_in_line(self) -> bool:
        """A batch's next member waiting in place: still not its turn? Asked outside the busy slots (a database read),
        which other drivers' long pieces (a sync in step 9) may hold for seconds when its slot frees."""
        try:
            self.in_line = admission.waits_in_line(self.migration_id)
        except Exception:  # noqa: BLE001 — the next piece of work reads it again, and says what went wrong
            logger.warning("migration %s: could not read its batch's turn", self.migration_id, exc_info=True)
            self.in_line = False
        return self.in_line

    def _busy_slot(self):
        """One of the worker's few busy slots for one piece of work (given back while it waits on an IVM); the
        admission's before the pieces of migrations that started (``busy``)."""
        return busy.held(self.busy, first=not self.admitted)

    # --- one piece of work -------------------------------------------------------------------------------------
    def step(self) -> float | None:
        admitted_just_now, self.run_state.runnable_checked = self.run_state.runnable_checked, False
        m = Migration.objects.select_related("partition", "source__console", "destination__console").get(
            pk=self.migration_id)
        if m.status in (MigrationStatus.APPROVED, MigrationStatus.QUEUED):
            return self._admit(m)
        self.admitted = True
        if m.status == MigrationStatus.STOPPING:
            return self._stop(m)
        if m.status == MigrationStatus.RECOVERING:
            return self._recover(m)
        if m.status != MigrationStatus.RUNNING:
            return None
        if self._timed_out(m):
            return 0
        step = steps.current_step(m)
        if step is None and not m.steps.exists():  # (asked only then: one query less on every pass)
            m.create_steps()
            step = steps.current_step(m)
        if step is None:
            steps.finish(m)
            return None
        # The admission's ``check_runnable`` serves step 1 alone, and only as the very next piece of work.
        self.run_state.runnable_checked = admitted_just_now and step.key == "requirements"
        try:
            return steps.HANDLERS[step.key](m, self.run_state, self.cfg)
        except steps.EngineFailure as exc:
            recover = exc.recover if exc.recover is not None else m.start_intent_at is not None
            steps.fail(m, str(exc), recover_needed=recover)
            return None

    def _admit(self, m: Migration) -> float | None:
        ok, why = check_runnable(m)
        if not ok:
            if m.outcome != f"Not started: {why}":
                guarded_update(m.pk, outcome=f"Not started: {why}")
            return None
        line = admission.batch_line(m)
        if line.why is not None:  # not its batch's turn yet
            # The batch's next members keep the claim and look again shortly (database only): they start the moment
            # a slot frees. The others wait for the poll loop.
            self.in_line = line.close
            return BATCH_WAIT_S if self.in_line else None
        if not admission.admit(m, line):
            return None  # queued: the poll loop looks again when a slot may have freed
        self.run_state.runnable_checked = True  # step 1, next, need not ask again (step 3 asks before -o m)
        return 0  # (admit wrote the run's step rows with its status change)

    def _timed_out(self, m: Migration) -> bool:
        """Stuck flag after ``stuck_s`` without progress; stop (per policy) after the overall timeout."""
        now = timezone.now()
        if m.start_intent_at is None:
            return False
        last = m.last_progress_at or m.start_intent_at
        if not m.stuck and now - last > timedelta(seconds=self.cfg.stuck_s):
            with transaction.atomic():  # the flag and its event together: no reader sees one without the other
                guarded_update(m.pk, stuck=True)
                emit(m.pk, "stuck", {"since": last.isoformat()})
        allowed = max(self.cfg.timeout_min_s, self.cfg.timeout_s_per_gib * max(m.partition.memory_mb, 1024) / 1024)
        if self.cfg.timeout_policy == "stop" and now - m.start_intent_at > timedelta(seconds=allowed):
            emit(m.pk, "request", {"action": "stop", "by": "engine", "reason": f"overall timeout of {allowed:.0f} s"})
            transition(m, "time_out", outcome=f"Overall timeout ({allowed:.0f} s): stopping")
            return True
        return False

    def _stop(self, m: Migration) -> float | None:
        name, src = m.partition.name, m.source.console
        if m.start_intent_at is None:
            transition(m, "stopped", outcome="Stopped before anything was sent to IVM.", claimed_by="",
                       lease_until=None)
            return None
        seen = ivmside.lpar_migration(m, src, name, quiet=False)
        if seen is None or seen.state == ivmside.COMPLETE:
            transition(m, "resume", outcome="Stop came too late: the partition has moved.")
            return 0
        if not seen.in_flight:
            state = ivmside.lpar_state(m, src, name)
            current = steps.current_step(m)
            if current is not None:
                step_change(m, current.number, StepStatus.FAILED, "Stopped")
            who = control.latest_request(m).get("by", "someone")
            transition(m, "stopped", claimed_by="", lease_until=None,
                       outcome=f"Stopped by {who}: {name} stays on {m.source.name} "
                               f"({state['state'] if state else 'state unknown'}).")
            return None
        if not self.run_state.stop_sent:
            try:
                ivmside.run(m, src, commands.migrlpar("s", lpar_name=name))
            except CommandFailed as exc:
                transition(m, "resume", outcome=f"IVM refused to stop: {exc.text}")
                return 0
            self.run_state.stop_sent = True
        return self.cfg.poll_s

    def _recover(self, m: Migration) -> float | None:
        name, src, dst = m.partition.name, m.source.console, m.destination.console
        request = control.latest_request(m)
        on_source = ivmside.lpar_state(m, src, name)
        console = src if on_source is not None else dst
        try:
            ivmside.run(m, console, commands.migrlpar("r", lpar_name=name, force=bool(request.get("force"))))
        except CommandFailed as exc:
            transition(m, "recover_failed", recover_needed=True, claimed_by="", lease_until=None,
                       outcome=f"Recover failed: {exc.text}")
            return None
        seen = ivmside.lpar_migration(m, src, name, quiet=False)
        state = ivmside.lpar_state(m, src, name)
        where = (f"{name} is back on {m.source.name} ({state['state']})" if state and seen and not seen.in_flight
                 else f"the IVM now shows {seen.state if seen else 'no partition'} on {m.source.name}")
        move = "recovered_stopped" if request.get("previous") == MigrationStatus.STOPPED else "recovered"
        transition(m, move, recover_needed=not (state and seen and not seen.in_flight),
                   claimed_by="", lease_until=None, outcome=f"Recovered by {request.get('by', 'someone')}: {where}.")
        return None
