"""A batch: many ordinary migrations (its members) planned, approved once and run together, e.g. a server's evacuation.

Each member is a ``Migration`` with its own plan versions and 11 steps; the batch adds the order they start in, the
one approval (bound to the batch's content hash over its members' plan hashes), the maintenance window and the
parallelism knob. Its status moves are the lifecycle's (``mobility.lifecycle.BATCH_MOVES``), written only by
``mobility.lifecycle.writer.transition_batch``.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone


class BatchStatus(models.TextChoices):
    VALIDATING = "validating", "Being validated"
    PENDING_APPROVAL = "pending_approval", "Waiting for approval"
    APPROVED = "approved", "Approved (waiting for its window)"
    RUNNING = "running", "Running"
    PAUSED = "paused", "Paused"
    STOPPING = "stopping", "Stopping"
    FINISHED = "finished", "Finished"
    STOPPED = "stopped", "Stopped"
    REJECTED = "rejected", "Rejected"
    CANCELLED = "cancelled", "Cancelled"

    @classmethod
    def terminal(cls) -> frozenset["BatchStatus"]:
        return frozenset({cls.FINISHED, cls.STOPPED, cls.REJECTED, cls.CANCELLED})

    @classmethod
    def starting(cls) -> frozenset["BatchStatus"]:
        """Statuses in which members may start."""
        return frozenset({cls.RUNNING})


class Batch(models.Model):
    class Kind(models.TextChoices):
        EVACUATE = "evacuate", "Evacuation"
        PICKED = "picked", "Picked partitions"
        MOVE_BACK = "move_back", "Move back"

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=BatchStatus.choices, default=BatchStatus.VALIDATING)
    team = models.ForeignKey("mobility.Team", on_delete=models.PROTECT, related_name="batches")
    source = models.ForeignKey("mobility.ManagedSystem", on_delete=models.PROTECT, null=True, blank=True,
                               related_name="evacuations", help_text="The evacuated server (evacuations)")
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batches")
    reason = models.TextField(blank=True)
    only_running = models.BooleanField(default=False)
    stop_at_first_failure = models.BooleanField(default=False)
    origin = models.ForeignKey("self", on_delete=models.PROTECT, null=True, blank=True, related_name="returns",
                               help_text="The evacuation this batch moves back")
    # What placement could not place and why (with the fix), and what IVM's validation refused: listed, not members.
    immovable = models.JSONField(default=list, blank=True)
    content_hash = models.CharField(max_length=64, blank=True)
    job_group = models.UUIDField(null=True, blank=True, help_text="The IVM jobs validating the members")
    # The approval in force (its row is BatchApproval), copied here for the engine's one-row reads.
    parallelism = models.PositiveSmallIntegerField(null=True, blank=True)
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["status"], name="batch_status_idx")]

    def __str__(self) -> str:
        return f"batch #{self.pk} ({self.get_kind_display().lower()}, {self.status})"

    @property
    def is_terminal(self) -> bool:
        return self.status in BatchStatus.terminal()


class BatchApproval(models.Model):
    """The approver's vote on the batch as it was shown (its hash), with the window and the parallelism knob."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="approvals")
    content_hash = models.CharField(max_length=64)
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="batch_votes")
    decision = models.CharField(max_length=8, choices=[("approved", "Approved"), ("rejected", "Rejected")])
    comment = models.TextField()
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, blank=True, help_text="The approver's time zone for the window")
    parallelism = models.PositiveSmallIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["batch", "created_at"]

    def __str__(self) -> str:
        return f"{self.decision} by {self.approver_id} on batch {self.batch_id}"


class BatchEvent(models.Model):
    """A batch's status changes and requests, in order (the page's log)."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["batch", "id"]

    def __str__(self) -> str:
        return f"{self.kind} of batch {self.batch_id}"
