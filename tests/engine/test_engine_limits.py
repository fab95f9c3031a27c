"""The IVM's active-migration limit (2 on ivm1 in limits.toml): a third approved migration queues, shows its
position, and starts when a slot frees."""

import pytest

from mobility.models import Migration
from mobility.models.migrations import queue_position
from tests.engine.conftest import (
    LIMITS_FLEET,
    TIME_SCALE,
    approved,
    approved_migration,
    status_of,
    submitted_migration,
    wait_for,
)
from tests.simfleet import SimFleet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(LIMITS_FLEET, time_scale=TIME_SCALE, seed=2) as sim:
        yield sim


def test_a_third_migration_queues_behind_the_limit_and_starts_when_a_slot_frees(estate, personas, engine, fleet):
    status, out, _ = fleet.ssh("ivm1", "lslparmigr -r sys -F num_active_migrations_supported")
    assert out.strip() == "2"
    fleet.ssh("ivm1", "ivmsim-fault add slow-link factor=0.3")
    try:
        first = approved_migration(personas, "app02", "ivm1", "ivm2", ivm_picks_slots=True)
        second = approved_migration(personas, "app01", "ivm1", "ivm2", ivm_picks_slots=True)
        # Validated now: once the two have started, IVM's own -o v refuses a third (its limit is reached).
        third = submitted_migration(personas, "db01", "ivm1", "ivm2", ivm_picks_slots=True)
        engine()
        wait_for(lambda: {status_of(first.pk), status_of(second.pk)} == {"running"}, 60, what="two running")
        third = approved(personas, third)
        wait_for(lambda: status_of(third.pk) == "queued", 60,
                 what=f"the third to queue: {list(Migration.objects.values_list('pk', 'status', 'outcome'))}")
        assert {status_of(first.pk), status_of(second.pk)} == {"running"}
        assert queue_position(Migration.objects.get(pk=third.pk)) == 1
    finally:
        fleet.ssh("ivm1", "ivmsim-fault clear all")
    wait_for(lambda: all(status_of(x.pk) in ("completed", "failed") for x in (first, second, third)), 120,
             what="all three to finish")
    rows = {m.pk: m for m in Migration.objects.filter(pk__in=[first.pk, second.pk, third.pk])}
    assert {m.status for m in rows.values()} == {"completed"}, [m.outcome for m in rows.values()]
    earliest_end = min(rows[first.pk].finished_at, rows[second.pk].finished_at)
    assert rows[third.pk].start_intent_at >= earliest_end
    assert rows[third.pk].queued_at is not None
