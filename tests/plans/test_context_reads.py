"""``plan_context`` reads, of both servers' partitions, only the management partitions and the moving partition's
namesakes (``load_systems(named=)``): its checks, digest and mappings are those of the whole estate, for every
partition of the demo estate (the bad-* ones included) and every destination, a namesake on it included."""

import pytest

from mobility import planning
from mobility.inventory.estate import load_partition, load_system
from mobility.models import ManagedSystem, Partition
from mobility.plans import plan_context
from mobility.plans.context import PlanContext, mode_of, with_planned_slots

pytestmark = pytest.mark.django_db


def whole_estate_context(partition, destination) -> PlanContext:
    """What ``plan_context`` computed when it read every partition of both servers."""
    source, part = load_system(partition.system), load_partition(partition)
    dest = with_planned_slots(load_system(destination), destination, partition)
    mode = mode_of(partition)
    assessment = planning.check_partition(part, source, dest, planning.Mode(mode) if mode else None)
    return PlanContext(part, source, dest, assessment.mode, assessment.checks)


def test_the_checks_of_every_move_are_those_of_the_whole_estate(estate):
    systems = list(ManagedSystem.objects.select_related("console"))
    moves = 0
    for partition in Partition.objects.filter(vanished_at__isnull=True).exclude(env="vioserver").select_related(
            "system"):
        for destination in systems:
            if destination.pk == partition.system_id:
                continue
            narrow, whole = plan_context(partition, destination), whole_estate_context(partition, destination)
            assert narrow.checks == whole.checks, (partition.name, destination.name)
            assert narrow.digest == whole.digest
            assert narrow.partition == whole.partition
            assert planning.recommend_mappings(narrow.partition, narrow.destination) == \
                planning.recommend_mappings(whole.partition, whole.destination)
            moves += 1
    assert moves > 20


def test_a_namesake_on_the_destination_is_still_seen(estate):
    partition = Partition.objects.filter(vanished_at__isnull=True).exclude(env="vioserver").select_related(
        "system").first()
    destination = ManagedSystem.objects.exclude(pk=partition.system_id).first()
    twin = Partition.objects.create(system=destination, name=partition.name, lpar_id=99, env="aixlinux",
                                    state="Running", memory_mb=1024)
    try:
        name_free = next(c for c in plan_context(partition, destination).checks if c.key == "name_free")
        assert name_free.status is planning.Status.ERROR and name_free.facts["clash_lpar_id"] == 99
    finally:
        twin.delete()
