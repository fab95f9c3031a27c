"""Exactly one worker drives a migration: a conditional UPDATE takes a free or expired lease, a heartbeat renews it.

A plain ``UPDATE … WHERE lease is free`` is atomic on PostgreSQL and SQLite alike: of two workers racing for the
same row, one updates one row and the other updates none. Nothing else is needed to make the claim exclusive.
"""

from datetime import timedelta

from django.db.models import Q
from django.utils import timezone

from mobility.choices import MigrationStatus
from mobility.models import Migration

# Statuses a worker acts on: approved/queued ones wait for admission, the active ones are being driven.
DRIVABLE = frozenset({MigrationStatus.APPROVED, MigrationStatus.QUEUED}) | MigrationStatus.active()


def _free(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def due_ids(limit: int = 100) -> list[int]:
    """Migrations a worker could claim now: drivable and not held by a live lease; queue order first."""
    now = timezone.now()
    rows = (Migration.objects.filter(status__in=DRIVABLE).filter(_free(now))
            .order_by("queued_at", "created_at", "pk").values_list("pk", flat=True)[:limit])
    return list(rows)


def claim(migration_id: int, worker: str, lease_s: float) -> bool:
    """Take the lease if it is free, expired or already ours. True when this worker now drives it."""
    now = timezone.now()
    return Migration.objects.filter(pk=migration_id, status__in=DRIVABLE).filter(
        _free(now) | Q(claimed_by=worker)
    ).update(claimed_by=worker, lease_until=now + timedelta(seconds=lease_s)) == 1


def renew(migration_id: int, worker: str, lease_s: float) -> bool:
    """Heartbeat. False when the lease was lost (another worker took over): stop driving at once."""
    now = timezone.now()
    return Migration.objects.filter(pk=migration_id, claimed_by=worker, lease_until__gte=now).update(
        lease_until=now + timedelta(seconds=lease_s)) == 1


def release(migration_id: int, worker: str) -> None:
    Migration.objects.filter(pk=migration_id, claimed_by=worker).update(claimed_by="", lease_until=None)
