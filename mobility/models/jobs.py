"""Work a page asks of an IVM (a connection test, a host-key scan, a sync, a plan's validation), run by the
engine's workers instead of inside the web request.

The row is the job's truth, as a migration's row is: the request writes it and returns at once; a worker claims it
with a lease and a fencing token (``fence``, +1 on every claim), so that a worker that died hands the job to another
and a worker that was paused past its lease writes nothing; the page follows the row live through its group
(``group``: one request's jobs, e.g. one per IVM for "sync all").
"""

import uuid

from django.conf import settings
from django.db import models


class IVMJob(models.Model):
    class Kind(models.TextChoices):
        TEST = "test", "connection test"
        SCAN = "scan", "host-key scan"
        PIN = "pin", "host-key confirmation"
        SYNC = "sync", "inventory sync"
        VALIDATE = "validate", "plan validation"
        REVISE = "revise", "plan revision"
        REHEARSE = "rehearse", "plan rehearsal on a twin"
        BATCH_MEMBER = "batch_member", "batch member validation"
        REHEARSE_BATCH = "rehearse_batch", "batch rehearsal on a twin"

    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        DONE = "done", "done"
        FAILED = "failed", "failed"
        TIMED_OUT = "timed_out", "timed out"

        @classmethod
        def finished(cls) -> frozenset:
            return frozenset({cls.DONE, cls.FAILED, cls.TIMED_OUT})

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    group = models.UUIDField(default=uuid.uuid4, db_index=True)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="ivm_jobs")
    console = models.ForeignKey("mobility.IVMConsole", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="jobs")
    migration = models.ForeignKey("mobility.Migration", null=True, blank=True, on_delete=models.CASCADE,
                                  related_name="jobs")
    # What the job needs beyond its foreign keys (ids, mappings, the key a validation answers for); never a secret.
    params = models.JSONField(default=dict, blank=True)
    # This job's own time bound (a rehearsal runs for minutes); none: ``IVMWEB_JOB_TIMEOUT_S``.
    timeout_s = models.FloatField(null=True, blank=True)
    progress = models.CharField(max_length=200, blank=True)
    result = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)
    claimed_by = models.CharField(max_length=120, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    fence = models.PositiveIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["status", "lease_until"], name="ivmjob_due")]
        ordering = ["pk"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def finished(self) -> bool:
        return self.status in self.Status.finished()
