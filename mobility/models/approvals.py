"""Four-eyes approval of one exact plan version (bound to its content hash)."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class Approval(models.Model):
    """A team lead's vote on a plan version: approve or reject, with a required comment."""

    class Decision(models.TextChoices):
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    migration = models.ForeignKey("mobility.Migration", on_delete=models.CASCADE, related_name="approvals")
    plan = models.ForeignKey("mobility.PlanVersion", on_delete=models.PROTECT, related_name="approvals")
    content_hash = models.CharField(max_length=64, help_text="The plan hash this vote binds to")
    approver = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="votes")
    decision = models.CharField(max_length=8, choices=Decision.choices)
    comment = models.TextField()
    not_before = models.DateTimeField(null=True, blank=True)
    not_after = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField()
    created_at = models.DateTimeField(default=timezone.now)
    # Editing the plan voids every vote on the old version.
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["migration", "created_at"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "approver"], name="one_vote_per_approver_per_plan"),
        ]

    def __str__(self) -> str:
        return f"{self.decision} by {self.approver} on migration {self.migration_id} v{self.plan.version}"
