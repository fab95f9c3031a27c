"""Exactly one worker drives a migration: a conditional UPDATE takes a free or expired lease with a new fencing
token, a heartbeat renews it under that token.

A plain ``UPDATE … WHERE lease is free`` is atomic on PostgreSQL and SQLite alike: of two workers racing for the
same row, one updates one row and the other updates none. The token (``Migration.fence``, +1 on every claim) is what
makes the lease safe against a worker that was paused past it: its writes are conditional on the token it claimed
with (``mobility.journal``), and its commands that change an IVM are sent only after ``confirm`` (below).
"""

from datetime import timedelta

from django.db import connection
from django.db.models import Q
from django.utils import timezone

from mobility.choices import MigrationStatus
from mobility.models import Batch, BatchStatus, Migration
from mobility.observability import metrics

# Statuses a worker acts on: approved/queued ones wait for admission, the active ones are being driven.
DRIVABLE = frozenset({MigrationStatus.APPROVED, MigrationStatus.QUEUED}) | MigrationStatus.active()
TABLE = Migration._meta.db_table
ADMITTED = (MigrationStatus.RUNNING, MigrationStatus.STOPPING, MigrationStatus.RECOVERING)  # holding an IVM slot
WAITING = (MigrationStatus.APPROVED, MigrationStatus.QUEUED)  # approved, not started
LOOKAHEAD = 2  # members of a running batch claimed ahead of a free slot, waiting for one in place


# Holding an IVM migration slot, and one of its batch's: admitted, and the IVMs not yet done with the move
# (``Migration.ivm_done_at``, set by step 9 once the partition has left the source).
HOLDING = Q(status__in=ADMITTED, ivm_done_at__isnull=True)


def holding_slots(qs):
    """Those of ``qs`` that hold an IVM migration slot (``HOLDING``)."""
    return qs.filter(HOLDING)


def batch_due_ids() -> list[int]:
    """The waiting members that running batches let start now: the first free ones in each batch's order."""
    found = []
    for batch in Batch.objects.filter(status=BatchStatus.RUNNING).only("parallelism"):
        crew = Migration.objects.filter(batch=batch)
        free = (batch.parallelism or 1) - holding_slots(crew).count()
        # The next ones in line too (``LOOKAHEAD``): their drivers wait in place for a slot (``Driver._admit``), and
        # start the moment one frees, without a wake-up, a poll and a claim in between.
        found += list(crew.filter(status__in=WAITING).order_by("batch_position")
                      .values_list("pk", flat=True)[:max(free, 0) + LOOKAHEAD])
    return found


def _free(now) -> Q:
    return Q(lease_until__isnull=True) | Q(lease_until__lt=now)


def due_ids(limit: int = 100) -> list[int]:
    """Migrations a worker could claim now: drivable and not held by a live lease; queue order first. A batch's
    waiting members only when their batch lets them start (``admission.batch_due_ids``), in its order."""
    now = timezone.now()
    drivable = Migration.objects.filter(status__in=DRIVABLE).filter(_free(now))
    order = ("queued_at", "created_at", "pk")
    started = drivable.filter(batch__isnull=False).exclude(status__in=WAITING).order_by(*order)
    due = batch_due_ids()
    free = set(drivable.filter(pk__in=due).values_list("pk", flat=True)) if due else set()
    crew = [pk for pk in due if pk in free]  # in the batches' order
    singles = drivable.filter(batch__isnull=True).order_by(*order)
    rows = [*started.values_list("pk", flat=True)[:limit], *crew, *singles.values_list("pk", flat=True)[:limit]]
    return rows[:limit]


def claim(migration_id: int, worker: str, lease_s: float) -> int | None:
    """Take the lease if it is free, expired or already ours, with a new fencing token: the token, or None."""
    now = timezone.now()
    drivable = sorted(s.value for s in DRIVABLE)
    marks = ", ".join(["%s"] * len(drivable))
    stamp = connection.ops.adapt_datetimefield_value  # as the ORM stores them (SQLite keeps text)
    with connection.cursor() as cursor:  # UPDATE … RETURNING (PostgreSQL, SQLite ≥ 3.35): the token we took
        cursor.execute(
            f"UPDATE {TABLE} SET claimed_by = %s, lease_until = %s, fence = fence + 1 "
            f"WHERE id = %s AND status IN ({marks}) AND (lease_until IS NULL OR lease_until < %s OR claimed_by = %s) "
            "RETURNING fence, status",
            [worker, stamp(now + timedelta(seconds=lease_s)), migration_id, *drivable, stamp(now), worker])
        row = cursor.fetchone()
    if row and row[1] in MigrationStatus.active():
        metrics.lease_takeover()  # it was being driven: another worker's lease expired, or it handed over
    return row[0] if row else None


def renew(migration_id: int, token: int, lease_s: float) -> bool:
    """Heartbeat. False when the lease was lost (expired, or claimed again): stop driving at once."""
    now = timezone.now()
    return Migration.objects.filter(pk=migration_id, fence=token, lease_until__gte=now).update(
        lease_until=now + timedelta(seconds=lease_s)) == 1


def confirm(migration_id: int, token: int, lease_s: float) -> bool:
    """Right before a command that changes an IVM: still ours, with at least half of the lease left (then renewed).

    Nobody else can claim the migration until the lease expires, so the send that follows has at least ``lease_s/2``
    seconds to reach the socket; only Python on this thread runs in between (no I/O but the commit of this UPDATE).
    """
    now = timezone.now()
    return Migration.objects.filter(pk=migration_id, fence=token,
                                    lease_until__gte=now + timedelta(seconds=lease_s / 2)).update(
        lease_until=now + timedelta(seconds=lease_s)) == 1


def release(migration_id: int, token: int) -> None:
    Migration.objects.filter(pk=migration_id, fence=token).update(claimed_by="", lease_until=None)
