import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from mobility.choices import STEPS, MigrationMode, MigrationStatus, steps_for
from mobility.models import Migration
from tests.factories import make_partition, make_system

pytestmark = pytest.mark.django_db


def test_step_table_for_active_mobility_is_1_and_3_to_9_and_11():
    assert [s.number for s in steps_for(MigrationMode.ACTIVE)] == [1, 3, 4, 5, 6, 7, 8, 9, 11]


def test_step_table_for_inactive_mobility_is_1_to_6_and_9_to_11():
    assert [s.number for s in steps_for(MigrationMode.INACTIVE)] == [1, 2, 3, 4, 5, 6, 9, 10, 11]


def test_shutdown_and_activate_are_inactive_only_and_suspend_resume_active_only():
    by_key = {s.key: s for s in STEPS}
    assert (by_key["shutdown"].active, by_key["shutdown"].inactive) == (False, True)
    assert (by_key["activate"].active, by_key["activate"].inactive) == (False, True)
    assert (by_key["suspend"].active, by_key["suspend"].inactive) == (True, False)
    assert (by_key["resume"].active, by_key["resume"].inactive) == (True, False)
    assert len(STEPS) == 11


def test_unknown_mode_is_refused():
    with pytest.raises(ValueError):
        steps_for("sideways")


def test_status_groups_partition_the_statuses():
    terminal, unfinished = MigrationStatus.terminal(), MigrationStatus.unfinished()
    assert terminal.isdisjoint(unfinished)
    assert terminal | unfinished == set(MigrationStatus)
    assert MigrationStatus.active() <= unfinished


def test_partition_names_are_unique_per_managed_system():
    a, b = make_system(), make_system()
    make_partition(a, "app01", 2)
    make_partition(b, "app01", 2)  # same name on another server is fine
    with pytest.raises(IntegrityError), transaction.atomic():
        make_partition(a, "app01", 3)


def test_a_vanished_partition_frees_its_name():
    system = make_system()
    gone = make_partition(system, "app01", 2)
    gone.vanished_at = timezone.now()
    gone.save()
    assert make_partition(system, "app01", 2).pk != gone.pk


def _migration(partition, source, destination, requester, status=MigrationStatus.PENDING_APPROVAL):
    return Migration.objects.create(partition=partition, source=source, destination=destination,
                                    mode=MigrationMode.ACTIVE, requester=requester, status=status)


def test_at_most_one_unfinished_migration_per_partition(requester):
    a, b = make_system(), make_system()
    partition = make_partition(a, "app01", 2)
    _migration(partition, a, b, requester)
    with pytest.raises(IntegrityError), transaction.atomic():
        _migration(partition, a, b, requester, status=MigrationStatus.QUEUED)


def test_a_finished_migration_does_not_block_the_next(requester):
    a, b = make_system(), make_system()
    partition = make_partition(a, "app01", 2)
    _migration(partition, a, b, requester, status=MigrationStatus.COMPLETED)
    _migration(partition, a, b, requester, status=MigrationStatus.FAILED)
    assert _migration(partition, a, b, requester).status == MigrationStatus.PENDING_APPROVAL


def test_a_migration_cannot_target_its_own_source(requester):
    a = make_system()
    with pytest.raises(IntegrityError), transaction.atomic():
        _migration(make_partition(a, "app01", 2), a, a, requester)


def test_steps_created_for_a_migration_follow_its_mode(requester):
    a, b = make_system(), make_system()
    migration = Migration.objects.create(partition=make_partition(a, "app01", 2), source=a, destination=b,
                                         mode=MigrationMode.INACTIVE, requester=requester)
    migration.create_steps()
    assert list(migration.steps.values_list("number", flat=True)) == [1, 2, 3, 4, 5, 6, 9, 10, 11]
