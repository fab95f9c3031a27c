"""Steering a batch through real workers: its window closing mid-way, pause and resume, stop, an edited member that
voids the approval, and a worker killed during the batch. Each test has its own simulator (a fresh ivm1 full of
partitions); a slow MSP link keeps every active member running for seconds, so the batch is caught mid-way."""

import re
import time
from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from mobility.batches import approval, control, planning
from mobility.models import Approval, BatchApproval, Migration
from tests.batches.conftest import (
    MEMBERS,
    TIME_SCALE,
    batch_status,
    most_at_once,
    running_intervals,
    server,
    wait_batch,
    wait_for,
)
from tests.batches.fleet import names, write_fleet
from tests.simfleet import SimFleet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fleet(tmp_path):
    with SimFleet(write_fleet(tmp_path / "evacuate.toml", MEMBERS, limit=4), time_scale=TIME_SCALE, seed=4) as sim:
        yield sim


def _planned(personas):
    batch = planning.evacuate(personas["rita"], server("ivm1"), reason="firmware")
    return wait_batch(batch.pk, "pending_approval", timeout=90)


def _approve(batch, personas, parallelism, **window):
    approval.approve(batch, personas["alex"], "CHG-2", batch_hash_seen=batch.content_hash, parallelism=parallelism,
                     **window)
    batch.refresh_from_db()
    return batch


def _starts(fleet) -> list[tuple[float, str]]:
    """(time, command) of every ``migrlpar -o m`` ivm1 ran."""
    return [(datetime.fromisoformat(r["time"].replace("Z", "+00:00")).timestamp(), r["command"])
            for r in fleet.command_log("ivm1") if " -o m" in r["command"]]


def _count(batch, *statuses) -> int:
    return Migration.objects.filter(batch=batch, status__in=statuses).count()


def _slow(fleet, factor=0.03):
    """Active members take seconds (the partitions dirty 5 MB/s: below 4 MB/s of link they would never converge)."""
    fleet.ssh("ivm1", f"ivmsim-fault add slow-link factor={factor}")


def test_nothing_starts_after_the_window_closes(payments, personas, fleet, workers):
    workers("w1")
    batch = _planned(personas)
    _slow(fleet)
    closes = timezone.now() + timedelta(seconds=12)
    batch = _approve(batch, personas, 1, not_after=closes)
    batch = wait_batch(batch.pk, "finished", timeout=180)
    starts = _starts(fleet)
    assert starts, "nothing started inside the window"
    assert all(at <= closes.timestamp() + 0.5 for at, _ in starts), (closes, starts)
    left = Migration.objects.filter(batch=batch, status="expired")
    assert left.exists()
    assert all("window of batch" in m.outcome and "closed" in m.outcome for m in left)
    assert _count(batch, "completed") == len(starts)
    assert f"{left.count()} not started" in batch.outcome


def test_pause_starts_nothing_new_and_resume_goes_on(payments, personas, fleet, workers):
    workers("w1")
    batch = _planned(personas)
    _slow(fleet)
    batch = _approve(batch, personas, 2)
    wait_for(lambda: _count(batch, "completed") >= 1, 90, 0.2, what="a first member to complete")
    control.pause(batch, personas["rita"])
    paused_at = timezone.now().timestamp()
    wait_for(lambda: _count(batch, "running", "stopping") == 0, 120, 0.2, what="the running members to end")
    done_while_paused = _count(batch, "completed")
    assert batch_status(batch.pk) == "paused"
    assert _count(batch, "approved", "queued") > 0
    before = len(_starts(fleet))
    # Nothing new starts while paused: the workers poll every 0.2 s, give them 25 polls.
    time.sleep(5)
    assert len(_starts(fleet)) == before
    assert all(at <= paused_at + 0.5 for at, _ in _starts(fleet))
    control.resume(batch, personas["rita"])
    batch = wait_batch(batch.pk, "finished", timeout=180)
    assert _count(batch, "completed") == MEMBERS > done_while_paused
    assert len(_starts(fleet)) == MEMBERS


def test_stop_starts_nothing_more_and_stops_the_running_members(payments, personas, fleet, workers):
    workers("w1")
    batch = _planned(personas)
    fleet.ssh("ivm1", "ivmsim-fault add slow-link factor=0.0005")  # the first members are still moving when stopped
    batch = _approve(batch, personas, 2)
    wait_for(lambda: Migration.objects.filter(batch=batch, start_intent_at__isnull=False, mode="active",
                                              status="running").exists(), 120, 0.2, what="an active member moving")
    control.stop(batch, personas["alex"], stop_running=True)
    stopped_at = timezone.now().timestamp()
    batch = wait_batch(batch.pk, "stopped", timeout=120)
    assert all(at <= stopped_at + 0.5 for at, _ in _starts(fleet))
    statuses = set(Migration.objects.filter(batch=batch).values_list("status", flat=True))
    assert statuses <= {"stopped", "completed"}, statuses
    assert _count(batch, "stopped") >= MEMBERS - 2
    assert any(" -o s" in r["command"] for r in fleet.command_log("ivm1"))  # a running member was stopped on IVM


def test_editing_a_member_voids_the_batch_approval(payments, personas, fleet, workers):
    import dataclasses

    from mobility import plans

    workers("w1")
    batch = _planned(personas)
    batch = _approve(batch, personas, 3, not_before=timezone.now() + timedelta(hours=1))
    assert batch.status == "approved" and _count(batch, "approved") == MEMBERS
    member = approval.members(batch).first()
    rows = plans.mappings_from_snapshot(member.latest_plan().snapshot)
    moved = tuple(dataclasses.replace(r, vios_slot=r.vios_slot + 100) if r.vios_slot else r for r in rows)
    job = approval.edit_member(batch, member, personas["rita"], mappings=moved)
    wait_for(lambda: job.__class__.objects.get(pk=job.pk).finished, 60, 0.2, what="the edit's job")
    job.refresh_from_db()
    assert job.status == "done", job.result
    assert BatchApproval.objects.get(batch=batch).voided_at is not None
    assert not Approval.objects.filter(migration__batch=batch, voided_at__isnull=True).exists()
    assert _count(batch, "pending_approval") == MEMBERS
    member.refresh_from_db()
    assert member.latest_plan().version == 2
    batch.refresh_from_db()
    assert batch.parallelism is None and batch.not_before is None
    # The order is the requester's to change too (it is in the hash): the last member starts first.
    last = approval.members(batch).last()
    before = batch.content_hash
    approval.reorder(batch, last, personas["rita"], 1)
    batch.refresh_from_db()
    assert approval.members(batch).first().pk == last.pk and batch.content_hash != before
    assert [m.batch_position for m in approval.members(batch)] == list(range(1, MEMBERS + 1))
    # The old hash no longer approves it.
    with pytest.raises(approval.BatchRefused, match="changed"):
        approval.approve(batch, personas["alex"], "again", batch_hash_seen=BatchApproval.objects.get(
            batch=batch).content_hash)


def test_a_worker_killed_during_a_batch(payments, personas, fleet, workers):
    w1 = workers("w1", lease=3.0)
    workers("w2", lease=3.0)
    batch = _planned(personas)
    fleet.ssh("ivm1", "ivmsim-fault add slow-link factor=0.01")
    batch = _approve(batch, personas, 3)
    wait_for(lambda: Migration.objects.filter(batch=batch, start_intent_at__isnull=False, status="running").count()
             >= 2, 120, 0.2, what="two members moving")
    w1.kill()
    fleet.ssh("ivm1", "ivmsim-fault clear all")
    batch = wait_batch(batch.pk, "finished", timeout=240)
    assert _count(batch, "completed") == MEMBERS, list(Migration.objects.filter(batch=batch)
                                                      .values_list("partition__name", "status", "outcome"))
    starts = [cmd for _, cmd in _starts(fleet)]
    for name in names(MEMBERS):
        assert sum(1 for cmd in starts if re.search(rf"-p\s+'?{name}'?(\s|$)", cmd)) == 1, (name, starts)
    assert most_at_once(running_intervals(fleet, "ivm1", names(MEMBERS))) <= 3


def test_stop_at_the_first_failure(payments, personas, fleet, workers):
    workers("w1")
    batch = planning.evacuate(personas["rita"], server("ivm1"), reason="firmware", stop_at_first_failure=True)
    batch = wait_batch(batch.pk, "pending_approval", timeout=90)
    first = approval.members(batch).first()
    assert first.partition.name == "lp05"  # the largest memory starts first
    fleet.ssh("ivm1", "ivmsim-fault add fail-migration phase=precopy lpar=lp05")
    batch = _approve(batch, personas, 1)
    batch = wait_batch(batch.pk, "stopped", timeout=120)
    halted = batch.events.get(kind="status", payload__move="halt")
    assert halted.payload["outcome"] == "Stopped at the first failure (lp05)."
    assert batch.outcome == f"0 moved, 1 failed, {MEMBERS - 1} not started, 1 stayed (not in the batch)."
    assert Migration.objects.get(pk=first.pk).status == "failed"
    assert _count(batch, "stopped") == MEMBERS - 1
    assert len(_starts(fleet)) == 1


def test_an_ivm_at_its_limit_makes_members_wait_not_fail(payments, personas, fleet, workers):
    """Members are admitted on ivmweb's own count (no SSH); migrations started outside ivmweb fill the IVM's limit,
    so IVM refuses ``-o m``: those members go back to the queue, ask the IVM's counts next time, and all complete."""
    from mobility.ivm import commands
    from mobility.models import MigrationStep, Partition

    workers("w1")
    picked = list(Partition.objects.filter(name__in=["lp01", "lp02", "lp03"]))
    batch = planning.pick(personas["rita"], picked, reason="firmware", destinations=[server("ivm3"), server("ivm4")])
    batch = wait_batch(batch.pk, "pending_approval", timeout=90)
    _slow(fleet)
    ivm2 = server("ivm2")
    for name in ("lp05", "lp06", "lp07"):  # 3 of ivm1's limit of 4, outside ivmweb (to a server the batch leaves be)
        cmd = commands.migrlpar("m", target_system=ivm2.mtms, target_ip=ivm2.console.host, target_user="padmin",
                                lpar_name=name, async_=True)
        status, out, errors = fleet.ssh("ivm1", cmd.render())
        assert status == 0, (out, errors)
    batch = _approve(batch, personas, 3)
    batch = wait_batch(batch.pk, "finished", timeout=180)
    assert _count(batch, "completed") == 3, list(Migration.objects.filter(batch=batch).values("status", "outcome"))
    refused = MigrationStep.objects.filter(migration__batch=batch, number=3, data__has_key="ivm_busy_at")
    assert refused.exists()  # IVM said no at least once: the member waited instead of failing
    starts = [cmd for _, cmd in _starts(fleet) if re.search(r"lp0[123]\b", cmd)]
    assert len(starts) > 3  # the refused -o m, then the one that started it
