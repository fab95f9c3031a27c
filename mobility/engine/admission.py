"""The per-IVM migration limits (``lslparmigr -r sys``) and the queue of approved migrations waiting for a slot.

Admission is decided inside one transaction that locks both servers' rows (``SELECT … FOR UPDATE``; SQLite
serialises writers anyway), so two workers cannot both take the last slot. A migration starts only when it is
first in the queue among those sharing its source or destination, so the queue is served in order.
"""

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mobility.choices import MigrationStatus
from mobility.engine import ivmside
from mobility.lifecycle.writer import transition
from mobility.models import ManagedSystem, Migration
from mobility.models.migrations import queue_position
from mobility.models.migrations import shares_a_server as _shares_a_server

ADMITTED = (MigrationStatus.RUNNING, MigrationStatus.STOPPING, MigrationStatus.RECOVERING)


def _limits(m: Migration) -> list[tuple[int, int]]:
    """(supported, in progress on the IVM) for the migration's mode, on the source and on the destination."""
    found = []
    for system in (m.source, m.destination):
        counts = ivmside.migration_limits(m, system.console)
        found.append((counts[f"num_{m.mode}_migrations_supported"], counts[f"num_{m.mode}_migrations_in_progress"]))
    return found


def admit(m: Migration) -> bool:
    """Start ``m`` (status RUNNING) if both IVMs have a free slot and nothing queued is ahead; else queue it."""
    limits = _limits(m)  # SSH outside the transaction: never hold row locks across the network
    with transaction.atomic():
        # FOR NO KEY UPDATE (as every row lock here): it orders admissions, and does not block the foreign-key
        # checks (KEY SHARE) of other transactions inserting rows that point at these systems (that deadlocked).
        list(ManagedSystem.objects.select_for_update(no_key=True)
             .filter(pk__in=[m.source_id, m.destination_id]).order_by("pk"))
        m.refresh_from_db()
        if m.status not in (MigrationStatus.APPROVED, MigrationStatus.QUEUED):
            return m.status in ADMITTED
        free = True
        for system_id, (supported, ivm_in_progress) in zip((m.source_id, m.destination_id), limits, strict=True):
            ours = Migration.objects.filter(Q(source_id=system_id) | Q(destination_id=system_id),
                                            status__in=ADMITTED, mode=m.mode).count()
            if max(ours, ivm_in_progress) >= supported:
                free = False
        queued_ahead = m.queued_at is not None and queue_position(m) != 1
        earlier_waiting = m.queued_at is None and Migration.objects.filter(
            _shares_a_server(m), status=MigrationStatus.QUEUED).exists()
        if free and not queued_ahead and not earlier_waiting:
            transition(m, "admit", outcome="", started_at=timezone.now())
            return True
        if m.status != MigrationStatus.QUEUED:
            transition(m, "queue", outcome="Waiting for a free migration slot on "
                       f"{m.source.name} or {m.destination.name}.", queued_at=timezone.now())
        return False
