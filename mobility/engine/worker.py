"""One worker process: a poll loop that claims due migrations and a thread per migration it drives.

Entry points (both serve the ``ivmweb-engine`` channel and run the same loop):
  * ``manage.py run_engine`` — starts the poll loop at boot, then serves the channel (what ``make run`` uses);
  * ``manage.py runworker ivmweb-engine`` — the loop starts on the first wake-up message the worker receives.
Channel messages (``{"type": "engine.wake"}``) only make the loop look now instead of at its next tick.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid

from channels.consumer import SyncConsumer
from django.conf import settings
from django.db import close_old_connections

from mobility.batches import supervise as batches
from mobility.engine import admission, busy, claim
from mobility.engine.config import CONFIG
from mobility.engine.driver import Driver
from mobility.engine.heartbeat import Heartbeat
from mobility.governance import audit, checkpoints
from mobility.governance.approvals import expire_stale
from mobility.inventory import sync_due
from mobility.jobs import queue as jobs
from mobility.jobs.runner import run_claimed
from mobility.observability import metrics

logger = logging.getLogger("mobility.engine")
HOUSEKEEPING_S = 30.0  # how often a worker expires stale requests and looks for IVMs due a sync


class Engine:
    def __init__(self, worker_id: str | None = None, cfg=CONFIG):
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.cfg = cfg
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._driving: dict[int, threading.Thread] = {}
        self._jobs: dict[int, threading.Thread] = {}
        self._busy = busy.Slots(cfg.busy)  # pieces of work running at once (EngineConfig.busy)
        self._thread: threading.Thread | None = None
        self._housekeeping: threading.Thread | None = None
        self._housekeeping_at = 0.0
        self.heartbeat = Heartbeat(self.worker_id, cfg)  # what /readyz reads: some worker is alive

    def start(self) -> Engine:
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="engine-poll", daemon=True)
            self._thread.start()
            logger.info("engine %s polling every %.1f s (lease %.0f s)", self.worker_id, self.cfg.poll_s,
                        self.cfg.lease_s)
        return self

    def wake(self, *, slot_freed: bool = False) -> None:
        self._wake.set()
        if slot_freed:  # another process's: this one's members waiting in line look now
            admission.slot_freed()

    def stop(self, timeout: float = 10.0) -> None:
        """Finish the current pieces of work and release every lease (a SIGTERM'd worker hands over at once)."""
        self.stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        for thread in [*self._driving.values(), *self._jobs.values()]:
            thread.join(timeout)
        self.heartbeat.gone()
        # Last, and bounded: a periodic sync of a slow IVM must not hold up the hand-over above, but an engine stopped
        # inside a process that goes on (the web process's, a test's) must not leave it running with its connection.
        if self._housekeeping is not None:
            self._housekeeping.join(timeout)

    def poll_once(self) -> int:
        """Claim what is due (up to the thread budget) and start a driver for each; returns how many started."""
        self._driving = {k: t for k, t in self._driving.items() if t.is_alive()}
        started = 0
        budget = self.cfg.threads - len(self._driving)
        for migration_id in claim.due_ids(limit=max(budget, 0) * 2):
            if budget <= 0:
                break
            if migration_id in self._driving:
                continue
            fence = claim.claim(migration_id, self.worker_id, self.cfg.lease_s)
            if fence is None:
                continue
            driver = Driver(migration_id, self.worker_id, fence, self.cfg, self.stopping, self._busy)
            thread = threading.Thread(target=self._niced(driver.run), name=f"migration-{migration_id}", daemon=True)
            self._driving[migration_id] = thread
            thread.start()
            started += 1
            budget -= 1
        return started

    def _niced(self, work):
        """``work`` at the engine's lower priority (``EngineConfig.nice``), in the thread that runs it."""
        def run():
            if self.cfg.nice:
                os.nice(self.cfg.nice)
            work()
        return run

    def poll_jobs(self) -> int:
        """Claim due IVM jobs (pages' tests, scans, syncs, validations) up to the job threads; each on its own."""
        self._jobs = {k: t for k, t in self._jobs.items() if t.is_alive()}
        started = 0
        for job_id in jobs.due_ids(limit=self.cfg.job_threads - len(self._jobs)):
            token = jobs.claim(job_id, self.worker_id)
            if token is None:
                continue
            thread = threading.Thread(target=run_claimed, args=(job_id, token), name=f"job-{job_id}", daemon=True)
            self._jobs[job_id] = thread
            thread.start()
            started += 1
        return started

    def housekeeping(self) -> None:
        """Expire stale requests, re-sync IVMs whose inventory is due, seal audit events whose writer died between
        its commit and sealing them, and write the audit checkpoint when due; every worker may do it (idempotent)."""
        try:
            expired = expire_stale()
            if expired:
                logger.info("expired %d migration request(s)", expired)
            for result in sync_due():
                metrics.sync_finished(result)
                logger.info("periodic sync: %s", result.summary())
            audit.seal(wait=False)
            # Anchor the chain outside the database; the file's last checkpoint says when one is due, so the
            # workers sharing it write one per interval between them.
            metrics.checkpoint_written(
                checkpoints.write_checkpoint(due_after_s=settings.IVMWEB_AUDIT_CHECKPOINT_INTERVAL_S))
        except checkpoints.CheckpointRefused as exc:
            logger.error("audit checkpoint refused: %s", exc)
        except Exception:
            logger.exception("housekeeping failed; trying again later")
        finally:
            close_old_connections()

    def _maybe_housekeep(self) -> None:
        # In its own thread: a slow IVM must not delay claiming due migrations.
        if time.monotonic() - self._housekeeping_at < HOUSEKEEPING_S:
            return
        if self._housekeeping is not None and self._housekeeping.is_alive():
            return
        self._housekeeping_at = time.monotonic()
        self._housekeeping = threading.Thread(target=self._niced(self.housekeeping), name="engine-housekeeping",
                                              daemon=True)
        self._housekeeping.start()

    def _loop(self) -> None:
        while not self.stopping.is_set():
            try:
                self.heartbeat.beat()
                self.poll_jobs()
                if self.cfg.migrations:
                    if batches.tick():  # a batch opened, or ended members: look for due work again at once
                        self._wake.set()
                    self.poll_once()
                    self._maybe_housekeep()
            except Exception:
                logger.exception("engine poll failed; trying again")
            finally:
                close_old_connections()
            self._wake.wait(self.cfg.poll_s)
            self._wake.clear()


_engine: Engine | None = None
_engine_lock = threading.Lock()


def process_engine(**kwargs) -> Engine:
    """The engine of this process, started on first use."""
    global _engine
    with _engine_lock:
        if _engine is None:
            _engine = Engine(**kwargs).start()
        return _engine


class EngineConsumer(SyncConsumer):
    """Serves the worker channel: a wake-up makes the poll loop look for due work now."""

    def engine_wake(self, message):
        process_engine().wake(slot_freed=message.get("slot_freed") is True)
