"""Step 1 reads an IVM at its migration limit in the inventory as a wait, but the IVMs' own counts decide: a batch's
member shares a sync up to ``batch_sync_age_s`` old, which may have been taken while the IVMs ran as many migrations
as they could, before a slot freed. Such members went back to the queue for nothing."""

import pytest
from django.db import connections
from django.utils import timezone

from mobility.inventory import sync_console
from mobility.models import AuditEvent, Batch, BatchStatus, ManagedSystem, Migration
from tests.engine.conftest import approved_migration, pieces

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_limit_reached_in_a_shared_inventory_is_asked_of_the_ivms_before_the_member_queues(estate, personas):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    batch = Batch.objects.create(kind=Batch.Kind.EVACUATE, status=BatchStatus.RUNNING, team=m.partition.team,
                                 source=m.source, requester=personas["rita"], parallelism=2,
                                 started_at=timezone.now())
    Migration.objects.filter(pk=m.pk).update(batch=batch, batch_position=0)
    try:
        d = pieces(m.pk, "w1", 1)  # the admission
        assert Migration.objects.get(pk=m.pk).status == "running"
        for system in (m.source, m.destination):  # a sync that step 1 shares, taken while ivm1 ran all it could
            assert sync_console(system.console).ok
        supported = ManagedSystem.objects.get(pk=m.source_id).active_migrations_supported
        ManagedSystem.objects.filter(pk=m.source_id).update(active_migrations_in_progress=supported)
        asked_at = timezone.now()
        pieces(m.pk, "w1", 1, run_state=d.run_state)  # step 1
    finally:
        connections.close_all()
    m.refresh_from_db()
    assert m.status == "running" and m.queued_at is None, m.outcome
    assert m.steps.get(number=1).status == "done"
    asked = AuditEvent.objects.filter(action="ivm.command", at__gte=asked_at,
                                      data__command__startswith="lslparmigr -r sys")
    assert sorted(asked.values_list("data__console", flat=True)) == ["ivm1", "ivm2"]
