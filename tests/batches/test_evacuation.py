"""Evacuate ivm1 (11 movable partitions, some running and some shut down, and bad-physio, which owns a physical I/O
slot) over ivm2-ivm4 with every IVM limited to 4 active migrations and the batch's knob at 3, through real workers
(member validation jobs and the migrations), then move everything back."""

import pytest

from mobility.batches import BatchRefused, approval, planning
from mobility.models import Batch, BatchApproval, Migration, Partition
from tests.batches.conftest import (
    MEMBERS,
    lpars,
    most_at_once,
    running_intervals,
    server,
    wait_batch,
)
from tests.batches.fleet import names

pytestmark = pytest.mark.django_db(transaction=True)


def _approved(batch, personas, parallelism=3, **window):
    batch.refresh_from_db()
    approval.approve(batch, personas["alex"], "maintenance CHG-1", batch_hash_seen=batch.content_hash,
                     parallelism=parallelism, time_zone="Europe/Paris", **window)
    batch.refresh_from_db()
    return batch


def test_evacuate_a_server_within_the_knob_then_move_everything_back(payments, personas, fleet, workers):
    workers("w1")
    rita = personas["rita"]
    batch = planning.evacuate(rita, server("ivm1"), reason="firmware update of ivm1")
    batch = wait_batch(batch.pk, "pending_approval", timeout=90)

    # The immovable partition is listed with why and the fix; every other one is a member with its own plan.
    assert [x["partition"] for x in batch.immovable] == ["bad-physio"]
    assert "physical I/O" in batch.immovable[0]["reasons"][0]["why"] or "I/O" in str(batch.immovable)
    assert all(r["fix"] for r in batch.immovable[0]["reasons"])
    members = list(approval.members(batch))
    assert sorted(m.partition.name for m in members) == names(MEMBERS)
    assert {m.destination.console.name for m in members} == {"ivm2", "ivm3", "ivm4"}  # spread over the three
    assert {m.mode for m in members} == {"active", "inactive"}
    memories = [m.partition.memory_mb for m in members]
    assert memories == sorted(memories, reverse=True)  # largest memory first
    assert all(m.status == "pending_approval" and m.plans.count() == 1 for m in members)

    # Four eyes: the requester cannot approve her own batch; the knob cannot exceed the IVMs' limits.
    with pytest.raises(BatchRefused, match="your own request"):
        approval.approve(batch, rita, "mine", batch_hash_seen=batch.content_hash)
    # The IVMs count active and inactive migrations apart: 4 active (ivm1's limit) plus the inactive members.
    inactive = sum(1 for m in members if m.mode == "inactive")
    assert approval.parallelism_cap(batch) == 4 + inactive
    with pytest.raises(BatchRefused, match=f"between 1 and {4 + inactive}"):
        approval.approve(batch, personas["alex"], "too many", batch_hash_seen=batch.content_hash,
                         parallelism=5 + inactive)
    assert not BatchApproval.objects.filter(batch=batch).exists()

    batch = _approved(batch, personas, parallelism=3)
    assert batch.parallelism == 3
    batch = wait_batch(batch.pk, "finished", timeout=240)

    statuses = dict(Migration.objects.filter(batch=batch).values_list("partition__name", "status"))
    assert set(statuses.values()) == {"completed"}, statuses
    assert lpars(fleet, "ivm1") == {"bad-physio"}
    landed = set().union(*(lpars(fleet, ivm) for ivm in ("ivm2", "ivm3", "ivm4")))
    assert landed == set(names(MEMBERS))
    intervals = running_intervals(fleet, "ivm1", names(MEMBERS))
    assert len(intervals) == MEMBERS
    assert 2 <= most_at_once(intervals) <= 3, intervals
    # Each member's -o m exactly once.
    starts = [r["command"] for r in fleet.command_log("ivm1") if " -o m" in r["command"]]
    assert len(starts) == MEMBERS, starts
    assert "bad-physio" in batch.outcome or "1 stayed" in batch.outcome

    # Move back: one action plans the return of every moved partition to ivm1, as a new batch.
    back = planning.move_back(rita, batch)
    back = wait_batch(back.pk, "pending_approval", timeout=90)
    returning = list(approval.members(back))
    assert sorted(m.partition.name for m in returning) == names(MEMBERS)
    assert {m.destination.console.name for m in returning} == {"ivm1"}
    back = _approved(back, personas, parallelism=3)
    wait_batch(back.pk, "finished", timeout=240)
    assert set(Migration.objects.filter(batch=back).values_list("status", flat=True)) == {"completed"}
    assert lpars(fleet, "ivm1") == {"bad-physio", *names(MEMBERS)}
    assert Partition.objects.filter(name__in=names(MEMBERS), vanished_at__isnull=True,
                                    system__console__name="ivm1").count() == MEMBERS
    assert Batch.objects.get(pk=back.pk).origin_id == batch.pk


def test_members_are_not_placed_on_slots_that_another_migrations_plan_holds(payments, personas, fleet):
    from mobility.models import AdapterMapping, IVMJob, PlanVersion

    rita = personas["rita"]

    def placed(batch) -> dict[int, set[int]]:  # destination pk -> server slots its members' jobs were given
        slots: dict[int, set[int]] = {}
        for job in IVMJob.objects.filter(group=batch.job_group):
            slots.setdefault(job.params["destination"], set()).update(
                m["vios_slot"] for m in job.params["mappings"] if m.get("vios_slot") is not None)
        return slots

    first = placed(planning.evacuate(rita, server("ivm1"), reason="a first look"))  # no worker: jobs only
    destination, held = max(first.items(), key=lambda item: len(item[1]))
    assert held
    # Another migration, not started, whose plan names those very slots on that server (bad-physio's: it stays out
    # of the batch, which moves only partitions without an unfinished migration).
    holder = Partition.objects.get(name="bad-physio")
    m = Migration.objects.create(partition=holder, source=holder.system, destination_id=destination, mode="inactive",
                                 requester=rita, status="pending_approval")
    plan = PlanVersion.objects.create(migration=m, version=1, snapshot={}, content_hash="0" * 64, created_by=rita)
    AdapterMapping.objects.bulk_create([AdapterMapping(plan=plan, kind="scsi", client_slot=i, dest_slot=slot)
                                        for i, slot in enumerate(sorted(held), start=2)])

    second = placed(planning.evacuate(rita, server("ivm1"), reason="the same, after that plan"))
    assert sum(map(len, second.values())) == sum(map(len, first.values()))  # every member placed again
    assert not second.get(destination, set()) & held
