"""The engine workers that are alive: one row per ``run_engine`` process, renewed while it polls."""

from django.db import models


class WorkerHeartbeat(models.Model):
    """A worker's last sign of life. ``/readyz`` compares the newest ``beat_at`` with ``lease_s``: a worker that has
    not beaten within its lease could not renew a migration's lease either."""

    worker_id = models.CharField(max_length=80, primary_key=True)
    host = models.CharField(max_length=255)
    pid = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    beat_at = models.DateTimeField()
    lease_s = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["-beat_at"], name="worker_beat_idx")]

    def __str__(self) -> str:
        return f"{self.worker_id} (last beat {self.beat_at:%H:%M:%S})"
