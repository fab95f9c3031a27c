"""Migration requests, their immutable plan versions, the 11 steps and the live event stream."""

import hashlib
import json
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from mobility.choices import (
    AdapterKind,
    MigrationMode,
    MigrationStatus,
    StepStatus,
    steps_for,
)


def canonical_json(data: Any) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def content_hash(snapshot: dict) -> str:
    """SHA-256 (hex) of the snapshot's canonical JSON: equal plans have equal hashes."""
    return hashlib.sha256(canonical_json(snapshot).encode()).hexdigest()


class InvalidTransition(Exception):
    """A state change that the migration's current status does not allow."""


class Migration(models.Model):
    """One request to move one partition, from submission to its outcome."""

    partition = models.ForeignKey("mobility.Partition", on_delete=models.PROTECT, related_name="migrations")
    source = models.ForeignKey("mobility.ManagedSystem", on_delete=models.PROTECT, related_name="outgoing")
    destination = models.ForeignKey("mobility.ManagedSystem", on_delete=models.PROTECT, related_name="incoming")
    mode = models.CharField(max_length=8, choices=MigrationMode.choices)
    status = models.CharField(max_length=20, choices=MigrationStatus.choices,
                              default=MigrationStatus.PENDING_APPROVAL)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT,
                                  related_name="requested_migrations")
    reason = models.TextField(blank=True)
    wished_start = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.TextField(blank=True, help_text="How it ended, in words (IVM message on failure)")
    # A member of a batch (mobility.models.batches) starts in the batch's order, when the batch lets it.
    batch = models.ForeignKey("mobility.Batch", on_delete=models.PROTECT, null=True, blank=True,
                              related_name="migrations")
    batch_position = models.PositiveIntegerField(null=True, blank=True)

    # Worker claim: exactly one worker drives a migration while its lease is fresh.
    claimed_by = models.CharField(max_length=80, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    # Fencing token: every claim takes the next one, and every write of the engine is conditional on its own, so a
    # worker paused past its lease writes nothing once another has claimed the migration (mobility.journal).
    fence = models.PositiveBigIntegerField(default=0)
    # Exactly-once start: set (and committed) before `migrlpar -o m` is sent.
    start_intent_at = models.DateTimeField(null=True, blank=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    # The IVMs are done with the move (step 9 saw the partition gone from the source, on the destination): from then it
    # holds none of their migration slots, nor one of its batch's; the re-sync and the later steps run outside them.
    ivm_done_at = models.DateTimeField(null=True, blank=True)
    last_progress_at = models.DateTimeField(null=True, blank=True)
    stuck = models.BooleanField(default=False, help_text="No progress for longer than the stuck threshold")
    recover_needed = models.BooleanField(default=False, help_text="IVM left it half-moved: run Recover")

    # Live figures (the latest; history is in MigrationEvent).
    bytes_transmitted = models.BigIntegerField(default=0)
    bytes_remaining = models.BigIntegerField(null=True, blank=True)
    percent = models.FloatField(default=0)
    suspend_window_s = models.FloatField(null=True, blank=True)
    # True when suspend_window_s is an upper bound, not a measurement: no poll saw the partition "Suspended" (the
    # window fell between two), so it is the time from the last poll that saw it copying to the one that saw it done.
    suspend_window_bound = models.BooleanField(
        default=False, help_text="True: suspend_window_s is an upper bound (no poll saw the partition suspended).")
    last_seq = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["partition"],
                condition=~Q(status__in=sorted(s.value for s in MigrationStatus.terminal())),
                name="one_unfinished_migration_per_partition",
            ),
            models.CheckConstraint(condition=~Q(source=models.F("destination")),
                                   name="migration_source_is_not_destination"),
        ]
        indexes = [
            models.Index(fields=["status", "lease_until"], name="migration_due_idx"),
            # The auditors' history: newest first, by outcome, by server pair.
            models.Index(fields=["-created_at", "-id"], name="migration_created_idx"),
            models.Index(fields=["status", "-created_at"], name="migration_status_created_idx"),
            models.Index(fields=["source", "destination", "-created_at"], name="migration_pair_created_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.partition.name}: {self.source.name} → {self.destination.name}"

    @property
    def is_terminal(self) -> bool:
        return self.status in MigrationStatus.terminal()

    def latest_plan(self) -> "PlanVersion | None":
        """The plan version in force (the highest number)."""
        return self.plans.order_by("-version").first()

    def create_steps(self) -> list["MigrationStep"]:
        """One row per step of the seed that applies to this migration's mode."""
        return MigrationStep.objects.bulk_create(
            MigrationStep(migration=self, number=step.number, key=step.key, title=step.title)
            for step in steps_for(self.mode)
        )


# The queue of approved migrations waiting for a slot, read here (beside the model) by both the engine's admission,
# which serves it in order, and the presenters, which show each place: neither imports the other.
def shares_a_server(m: Migration) -> Q:
    """Migrations with ``m``'s source or destination at either end: they compete for the same IVMs' slots."""
    servers = [m.source_id, m.destination_id]
    return Q(source_id__in=servers) | Q(destination_id__in=servers)


def queue_position(m: Migration) -> int | None:
    """1-based place among queued migrations sharing a server with ``m`` (None when it is not queued)."""
    if m.status != MigrationStatus.QUEUED or m.queued_at is None:
        return None
    ahead = Migration.objects.filter(shares_a_server(m), status=MigrationStatus.QUEUED).filter(
        Q(queued_at__lt=m.queued_at) | Q(queued_at=m.queued_at, pk__lt=m.pk)).count()
    return ahead + 1


class PlanVersion(models.Model):
    """An immutable snapshot of what will be run; approval binds to its content hash."""

    migration = models.ForeignKey(Migration, on_delete=models.CASCADE, related_name="plans")
    version = models.PositiveIntegerField()
    snapshot = models.JSONField()
    content_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["migration", "version"]
        constraints = [models.UniqueConstraint(fields=["migration", "version"], name="plan_unique_version")]

    def __str__(self) -> str:
        return f"plan v{self.version} of migration {self.migration_id} ({self.content_hash[:12]})"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise InvalidTransition("a plan version is immutable; create a new version instead")
        super().save(*args, **kwargs)

    @property
    def hash_holds(self) -> bool:
        """The stored snapshot still hashes to the stored hash (nobody edited it under the votes)."""
        return content_hash(self.snapshot) == self.content_hash


class AdapterMapping(models.Model):
    """One client adapter's place on the destination, as `migrlpar -i` will be told."""

    plan = models.ForeignKey(PlanVersion, on_delete=models.CASCADE, related_name="mappings")
    kind = models.CharField(max_length=4, choices=AdapterKind.choices)
    client_slot = models.PositiveIntegerField()
    dest_vios_name = models.CharField(max_length=47, blank=True)
    dest_vios_id = models.PositiveSmallIntegerField(null=True, blank=True)
    dest_slot = models.PositiveIntegerField(null=True, blank=True)
    fc_port = models.CharField(max_length=32, blank=True)
    vlans = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["plan", "kind", "client_slot"]
        constraints = [models.UniqueConstraint(fields=["plan", "kind", "client_slot"], name="mapping_unique_slot")]

    def __str__(self) -> str:
        return f"{self.kind} client slot {self.client_slot} → {self.dest_vios_name or self.dest_vios_id}/{self.dest_slot}"


class MigrationStep(models.Model):
    """One of the 11 steps, as it happened for one migration."""

    migration = models.ForeignKey(Migration, on_delete=models.CASCADE, related_name="steps")
    number = models.PositiveSmallIntegerField()
    key = models.CharField(max_length=20)
    title = models.CharField(max_length=80)
    status = models.CharField(max_length=8, choices=StepStatus.choices, default=StepStatus.PENDING)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    detail = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["migration", "number"]
        constraints = [models.UniqueConstraint(fields=["migration", "number"], name="step_unique_number")]

    def __str__(self) -> str:
        return f"step {self.number} ({self.key}) of migration {self.migration_id}: {self.status}"


class MigrationEvent(models.Model):
    """An ordered, replayable event of one migration (step change, progress, command)."""

    migration = models.ForeignKey(Migration, on_delete=models.CASCADE, related_name="events")
    seq = models.PositiveIntegerField()
    at = models.DateTimeField(default=timezone.now)
    kind = models.CharField(max_length=20)
    payload = models.JSONField(default=dict)

    class Meta:
        ordering = ["migration", "seq"]
        constraints = [models.UniqueConstraint(fields=["migration", "seq"], name="event_unique_seq")]

    def __str__(self) -> str:
        return f"event {self.seq} ({self.kind}) of migration {self.migration_id}"
