"""A worker's heartbeat row (``WorkerHeartbeat``): written by its poll loop every third of a lease, removed when it
stops. What ``/readyz`` reads to know that some worker is alive to claim and renew migrations."""

import os
import socket
import time
from datetime import timedelta

from django.db import DatabaseError
from django.utils import timezone

from mobility.models import WorkerHeartbeat

STALE = timedelta(days=1)


class Heartbeat:
    def __init__(self, worker_id: str, cfg):
        self.worker_id, self.cfg = worker_id, cfg  # cfg.lease_s read at each beat (run_engine may set it late)
        self.started_at = timezone.now()
        self._last = 0.0

    def beat(self) -> None:
        """Renew the row if a third of the lease has passed since the last renewal (one upsert)."""
        if time.monotonic() - self._last < self.cfg.lease_s / 3:
            return
        now = timezone.now()
        WorkerHeartbeat.objects.filter(beat_at__lt=now - STALE).delete()  # killed workers' rows, long dead
        WorkerHeartbeat.objects.update_or_create(
            worker_id=self.worker_id,
            defaults={"host": socket.gethostname()[:255], "pid": os.getpid(), "started_at": self.started_at,
                      "beat_at": now, "lease_s": self.cfg.lease_s})
        self._last = time.monotonic()

    def gone(self) -> None:
        """A worker that stops cleanly says so (a killed one's row simply ages)."""
        try:
            WorkerHeartbeat.objects.filter(worker_id=self.worker_id).delete()
        except DatabaseError:
            pass  # the database is gone too: the row ages out like a killed worker's
