"""A rehearsal of a plan version on a twin of its two servers (``mobility.twin.rehearse``): what happened there.

Nothing here is about the real estate: a rehearsal never changes a migration, its steps or the inventory. It is
tied to the plan version it rehearsed, so that a card can say whether the plan in force is the one rehearsed.
A batch's rehearsal (``mobility.twin.batch_rehearse``) is a ``BatchRehearsal`` over one ``Rehearsal`` per member,
all on one twin of the servers involved, tied to the batch's content hash as a member's is to its plan version.
"""

from django.conf import settings
from django.db import models


class _Shown:
    """What a page shows of a rehearsal, a plan's or a batch's alike."""

    @property
    def fault_labels(self) -> list[str]:
        labels = dict(Rehearsal.Fault.choices)
        return [labels.get(f, f) for f in self.faults]

    @property
    def message_codes(self) -> list[str]:
        return [m["code"] for m in self.messages if m.get("code")]


class Rehearsal(_Shown, models.Model):
    class Outcome(models.TextChoices):
        COMPLETED = "completed", "completed on the twin"
        RECOVERED = "recovered", "failed, then recovered on the twin"
        FAILED = "failed", "failed on the twin"
        REFUSED = "refused", "refused by the twin's IVM"
        UNREACHABLE = "unreachable", "the twin's IVM could not be reached"

    class Fault(models.TextChoices):
        """The faults a rehearsal may inject on the source IVM (how: ``mobility.twin.rehearse``)."""

        SLOW_LINK = "slow_link", "Slow MSP link (a quarter of its bandwidth)"
        TRANSFER_FAILURE = "transfer_failure", "Failure during the transfer"
        UNREACHABLE = "unreachable", "Source IVM unreachable"
        HOST_KEY = "host_key", "Source IVM's host key changed"

    migration = models.ForeignKey("mobility.Migration", on_delete=models.CASCADE, related_name="rehearsals")
    plan = models.ForeignKey("mobility.PlanVersion", on_delete=models.CASCADE, related_name="rehearsals")
    batch_rehearsal = models.ForeignKey("mobility.BatchRehearsal", null=True, blank=True, on_delete=models.CASCADE,
                                        related_name="members", help_text="The batch's rehearsal this was part of")
    job = models.ForeignKey("mobility.IVMJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    faults = models.JSONField(default=list, blank=True)  # ``Fault`` values
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    summary = models.TextField()  # the outcome in a sentence, as the engine would have written it
    # Simulated seconds on the twin (its clock runs ``time_scale`` times faster than the wall clock): from
    # ``migrlpar -o m`` to the partition gone from the source; the suspend window as the engine measures it.
    duration_s = models.FloatField(null=True, blank=True)
    suspend_window_s = models.FloatField(null=True, blank=True)
    time_scale = models.FloatField()
    wall_s = models.FloatField()  # how long the rehearsal itself took
    messages = models.JSONField(default=list, blank=True)  # [{"code", "text", "command"}]: what the IVM said
    steps = models.JSONField(default=list, blank=True)  # [{"number", "title", "status", "detail"}]
    commands = models.PositiveIntegerField(default=0)  # sent to the twin's IVMs
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"rehearsal #{self.pk} of migration {self.migration_id} v{self.plan.version}: {self.outcome}"


class BatchRehearsal(_Shown, models.Model):
    """A batch's members rehearsed on one twin of every server involved, in the batch's order: what happened."""

    batch = models.ForeignKey("mobility.Batch", on_delete=models.CASCADE, related_name="rehearsals")
    content_hash = models.CharField(max_length=64, blank=True)  # the batch's hash when it was rehearsed
    job = models.ForeignKey("mobility.IVMJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    faults = models.JSONField(default=list, blank=True)  # ``Rehearsal.Fault`` values
    outcome = models.CharField(max_length=16, choices=Rehearsal.Outcome.choices)
    summary = models.TextField()
    # Simulated seconds: from the first member's ``migrlpar -o m`` to the last member gone from its source; the
    # longest suspend window of a member.
    duration_s = models.FloatField(null=True, blank=True)
    suspend_window_s = models.FloatField(null=True, blank=True)
    time_scale = models.FloatField()
    wall_s = models.FloatField()
    messages = models.JSONField(default=list, blank=True)  # every member's, each with its "partition"
    skipped = models.JSONField(default=list, blank=True)  # members not rehearsed (after a failure that stops it)
    commands = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-pk"]

    def __str__(self) -> str:
        return f"rehearsal #{self.pk} of batch {self.batch_id}: {self.outcome}"
