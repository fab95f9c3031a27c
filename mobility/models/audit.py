"""The append-only, hash-chained audit trail. Writes go through ``mobility.governance.audit.record``."""

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEvent(models.Model):
    """Who did what, when, to which object; each sealed row's hash covers the previous row's hash."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    # The name is kept as written: the chain must verify even after a user is renamed or deleted.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=60, db_index=True)
    object_type = models.CharField(max_length=40, blank=True)
    object_id = models.CharField(max_length=40, blank=True)
    data = models.JSONField(default=dict, blank=True)
    # Set once, when the event is sealed into the chain after its commit (governance.audit.seal): its place in
    # the chain, the previous event's hash and its own. NULL until then (normally under a second): NULL, not "",
    # so that the unsealed rows do not collide in the unique index and the sealing trigger can tell them apart.
    position = models.BigIntegerField(null=True, blank=True, unique=True)
    prev_hash = models.CharField(max_length=64, null=True, blank=True)  # noqa: DJ001
    hash = models.CharField(max_length=64, unique=True, null=True, blank=True)  # noqa: DJ001

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx"),
                   # What sealing reads: the unsealed rows within the chain's time window, in (at, id) order. By
                   # time, so that the scan stays inside the window: an index of the unsealed rows by id alone also
                   # held every sealed row's dead entry until a vacuum, and sealing read all of history each turn.
                   models.Index(fields=["at", "id"], condition=models.Q(hash__isnull=True),
                                name="audit_unsealed_at_idx")]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_name or 'system'} {self.action}"


class AuditVerification(models.Model):
    """One verification of the chain (``verify_audit`` or a checkpoint), for the auditors' page. Informational: the
    proof is the signed checkpoint file outside the database, which the page reads and checks itself."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    ok = models.BooleanField()
    checked = models.BigIntegerField()
    head = models.CharField(max_length=64)
    problem = models.TextField(blank=True)

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {'OK' if self.ok else 'BROKEN'} {self.checked}"
