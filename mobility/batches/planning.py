"""Build a batch: place every member (pure, ``mobility.planning.batch``), then validate each with IVM in a worker's
job (``migrlpar -o v``, one job per member in the batch's job group) and submit it as an ordinary migration linked to
the batch. The last member job to end settles the batch: its content hash, and "waiting for approval"."""

from __future__ import annotations

import dataclasses
import uuid

from django.db import transaction

from mobility import notifications, planning, plans, policy
from mobility.batches import BatchRefused
from mobility.batches.approval import apply_edit
from mobility.batches.hashing import batch_hash
from mobility.choices import MigrationStatus
from mobility.governance import audit
from mobility.inventory.estate import load_estate, load_system
from mobility.jobs import queue
from mobility.lifecycle import TransitionRefused
from mobility.lifecycle.writer import transition_batch
from mobility.models import Batch, BatchStatus, IVMJob, ManagedSystem, Migration, Partition
from mobility.planning.batch import place_batch
from mobility.planning.mapping_syntax import FC, SCSI

REASON_MAX = 500


def _team_for(user, partitions: list[Partition], team=None):
    """The batch's team: the one asked for, or the only team among the partitions the user may plan."""
    teams = {p.team_id for p in partitions if policy.may(user, "plan", p)}
    if team is not None:
        if team.pk not in teams:
            raise BatchRefused(f"None of these partitions you may move belongs to {team.name}.")
        return team.pk
    if not teams:
        raise BatchRefused("None of these partitions is one you may ask to move.")
    if len(teams) > 1:
        raise BatchRefused("These partitions belong to several of your teams: pick the team whose batch this is.")
    return teams.pop()


def _stayed(p: Partition, why: str, fix: str) -> dict:
    return {"partition": p.name, "partition_id": p.pk, "reasons": [{"why": why, "fix": fix, "key": "scope"}]}


def evacuate(user, source: ManagedSystem, *, reason: str, only_running: bool = False, team=None,
             stop_at_first_failure: bool = False, destinations=None) -> Batch:
    """Every client partition on ``source`` that can move (active or inactive as its state allows; ``only_running``:
    the running ones), placed over the other servers (or ``destinations``)."""
    parts = list(Partition.objects.filter(system=source, vanished_at__isnull=True)
                 .exclude(env="vioserver").select_related("system__console", "team").order_by("name"))
    return _create(user, Batch.Kind.EVACUATE, parts, reason=reason, source=source, only_running=only_running,
                   team=team, stop_at_first_failure=stop_at_first_failure, destinations=destinations)


def pick(user, partitions, *, reason: str, team=None, stop_at_first_failure: bool = False,
         destinations=None) -> Batch:
    """A batch of the partitions picked in the inventory (any servers)."""
    parts = list(Partition.objects.filter(pk__in=[p.pk for p in partitions], vanished_at__isnull=True)
                 .select_related("system__console", "team").order_by("name"))
    if not parts:
        raise BatchRefused("Pick at least one partition.")
    return _create(user, Batch.Kind.PICKED, parts, reason=reason, team=team,
                   stop_at_first_failure=stop_at_first_failure, destinations=destinations)


def _create(user, kind, parts: list[Partition], *, reason: str, source=None, only_running=False, team=None,
            stop_at_first_failure=False, destinations=None, origin=None, pinned=None) -> Batch:

    reason = (reason or "").strip()
    if not reason:
        raise BatchRefused("Say why these partitions should move.")
    if len(reason) > REASON_MAX:
        raise BatchRefused(f"The reason is longer than {REASON_MAX} characters.")
    team_id = _team_for(user, parts, team)
    stayed, members = [], []
    for p in parts:
        why = policy.refusal(user, "plan", p)
        if p.team_id != team_id or why is not None:
            stayed.append(_stayed(p, why or f"{p.name} belongs to another team than this batch's.",
                                  "Its own team must move it (another batch)."))
        elif only_running and p.state != "Running":
            stayed.append(_stayed(p, f"{p.name} is {p.state}: this evacuation moves only running partitions.",
                                  "Plan an evacuation of every partition, or move it on its own."))
        elif Migration.objects.filter(partition=p).exclude(status__in=[s.value for s in _terminal()]).exists():
            stayed.append(_stayed(p, f"{p.name} already has a migration that is not finished.",
                                  "Wait for it to end, or withdraw it."))
        else:
            members.append(p)
    # Slots that other unfinished migrations' plans name on a server are taken, as the single wizard counts them:
    # a member placed on one would be refused when its plan is checked, though another slot or server had room.
    systems = {s.name: s for s in ManagedSystem.objects.filter(console__enabled=True)}  # load_estate's servers
    estate = {s.name: plans.with_planned_slots(s, systems[s.name]) if s.name in systems else s for s in load_estate()}
    wanted = {d.name for d in destinations} if destinations else None
    placed, immovable = [], []
    by_source: dict[str, list[Partition]] = {}
    for p in members:
        by_source.setdefault(p.system.name, []).append(p)
    # Each source server's partitions are placed together (an evacuation has one); the servers' room is shared.
    for source_name, group in sorted(by_source.items()):
        snaps = [estate[source_name].partition_named(p.name) for p in group]
        targets = [s for name, s in estate.items() if name != source_name and (wanted is None or name in wanted)]
        result = place_batch([s for s in snaps if s is not None], estate[source_name], targets, pinned=pinned)
        placed += [(x, source_name) for x in result.placed]
        immovable += [x for x in result.immovable]
    placed.sort(key=lambda pair: (-next(p.memory_mb for p in members if p.name == pair[0].partition
                                        and p.system.name == pair[1]), pair[0].partition))
    by_name = {(p.system.name, p.name): p for p in members}
    with transaction.atomic():
        batch = Batch.objects.create(kind=kind, team_id=team_id, source=source, requester=user, reason=reason,
                                     only_running=only_running, stop_at_first_failure=stop_at_first_failure,
                                     origin=origin, job_group=uuid.uuid4())
        batch.immovable = stayed + [
            {"partition": x.partition, "partition_id": next((p.pk for p in members if p.name == x.partition), None),
             "reasons": x.why_not()} for x in immovable]
        batch.save(update_fields=["immovable"])
        audit.record("batch.requested", actor=user, obj=batch, data={
            "kind": kind, "source": source.name if source else None, "reason": reason, "members": len(placed),
            "immovable": [x["partition"] for x in batch.immovable], "only_running": only_running})
        servers = {s.name: s.pk for s in ManagedSystem.objects.all()}
        for position, (x, source_name) in enumerate(placed, start=1):
            p = by_name[(source_name, x.partition)]
            queue.enqueue(IVMJob.Kind.BATCH_MEMBER, user=user, console=p.system.console, group=batch.job_group,
                          params={"batch": batch.pk, "position": position, "partition": p.pk,
                                  "destination": servers[x.destination], "mode": x.mode.value,
                                  "mappings": [r.to_dict() for r in x.mappings],
                                  "reasons": [r.to_dict() for r in x.reasons][:12]})
        if not placed:
            transition_batch(batch, "nothing_to_move", outcome="No partition of this batch can move.")
    return batch


def _terminal():

    return MigrationStatus.terminal()


# --- in a worker: one member's validation and submission --------------------------------------------------------

def run_member_job(job: IVMJob, report) -> dict:
    """Validate one member with IVM (``migrlpar -o v``); when IVM agrees, submit it as a migration of the batch
    (or, for an edit, as the member's next plan version). The runner settles the batch once the job's row has ended
    (``settle_after``)."""
    params = job.params
    batch = Batch.objects.get(pk=params["batch"])
    partition = Partition.objects.select_related("system__console", "team").get(pk=params["partition"])
    destination = ManagedSystem.objects.select_related("console").get(pk=params["destination"])
    rows = plans.mappings_from_snapshot({"mappings": params["mappings"]})
    report(f"{partition.system.console.name} is validating the move of {partition.name} to {destination.name}")
    validation = plans.validate_plan(partition, destination, rows, user=job.requested_by)
    result = {"partition": partition.name, "destination": destination.name, "ok": validation["ok"],
              "validation": validation}
    if not validation["ok"]:
        said = [m["text"] for found in validation["checks"].values() for m in found]
        said += [m["text"] for m in validation["ivm_says"]] + ([validation["error"]] if validation["error"] else [])
        _refused(batch, partition, destination, said, job)
        return result

    try:
        if params.get("edit"):
            apply_edit(batch, job.requested_by, partition, destination, rows, validation, params)
        else:
            with transaction.atomic():
                m = plans.submit_plan(partition=partition, destination=destination, user=job.requested_by,
                                      mode=params["mode"], mappings=rows, validation=validation,
                                      reason=f"Batch #{batch.pk}: {batch.reason}", notify=False)
                Migration.objects.filter(pk=m.pk).update(batch=batch, batch_position=params["position"])
                result["migration"] = m.pk
    except (plans.PlanRefused, BatchRefused, TransitionRefused) as exc:
        _refused(batch, partition, destination, [str(exc)], job)
        result["ok"], result["refused"] = False, str(exc)
    return result


def _refused(batch: Batch, partition, destination, said: list[str], job: IVMJob) -> None:
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        locked.immovable = [*locked.immovable, {
            "partition": partition.name, "partition_id": partition.pk,
            "reasons": [{"key": "ivm", "why": f"IVM refused the move to {destination.name}: {text}",
                         "fix": "Fix what IVM names, then plan it again (on its own or in a new batch)."}
                        for text in said or ["no reason given"]]}]
        locked.save(update_fields=["immovable"])


def settle_after(job: IVMJob) -> None:
    """A member job's row has ended (done, failed or timed out): settle its batch if it was the last. Called after
    the job's end is committed, so of two members ending together the later one always sees the other ended."""
    settle(Batch.objects.get(pk=job.params["batch"]))


def settle(batch: Batch) -> None:
    """Once every member job of the batch has ended: its hash and "waiting for approval" (or nothing to move)."""
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        if locked.status != BatchStatus.VALIDATING:
            return
        waiting = (IVMJob.objects.filter(group=locked.job_group, kind=IVMJob.Kind.BATCH_MEMBER)
                   .exclude(status__in=IVMJob.Status.finished()))
        if waiting.exists():
            return
        if not locked.migrations.exists():
            transition_batch(locked, "nothing_to_move", outcome="IVM refused every member of this batch.")
            return
        _planned(locked)


def _planned(locked: Batch) -> None:
    """Every member validated (the batch's row locked): its hash, "waiting for approval", and one mail to its
    approvers for the whole batch (on commit)."""
    transition_batch(locked, "planned", content_hash=batch_hash(locked),
                     outcome=f"{locked.migrations.count()} partition(s) validated by IVM; waiting for approval.")
    notifications.notify_batch_request(locked)


def settle_stragglers() -> None:
    """Batches whose last member job failed outside ``run_member_job`` (a worker that died too often): settle them."""
    for batch in Batch.objects.filter(status=BatchStatus.VALIDATING):
        jobs = IVMJob.objects.filter(group=batch.job_group, kind=IVMJob.Kind.BATCH_MEMBER)
        if jobs.exists() and not jobs.exclude(status__in=IVMJob.Status.finished()).exists():
            with transaction.atomic():
                locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
                if locked.status != BatchStatus.VALIDATING:
                    continue
                if locked.migrations.exists():
                    _planned(locked)
                else:
                    transition_batch(locked, "nothing_to_move", outcome="IVM validated no member of this batch.")


def move_back(user, evacuation: Batch, *, reason: str = "") -> Batch:
    """A new batch that returns every partition the evacuation moved to its original server, with its original
    server slots (the plan's source adapters) where that server still has them free."""
    if evacuation.kind != Batch.Kind.EVACUATE or evacuation.status != BatchStatus.FINISHED:
        raise BatchRefused("Only a finished evacuation can be moved back.")
    moved = list(evacuation.migrations.filter(status="completed").select_related("partition", "source"))
    if not moved:
        raise BatchRefused("This evacuation moved no partition.")
    parts = list(Partition.objects.filter(name__in=[m.partition.name for m in moved], vanished_at__isnull=True)
                 .exclude(system=evacuation.source).select_related("system__console", "team"))
    pinned = {}
    for m in moved:
        snap = m.latest_plan().snapshot.get("inventory") or {}
        back = planning.partition_from_dict(snap) if snap else None
        rows = None
        if back is not None:  # the server slots the adapters had on the source, as they were before the move
            rows = [planning.AdapterMapping(SCSI, a.slot, "", None, a.remote_slot, "")
                    for a in back.scsi_adapters]
            rows += [planning.AdapterMapping(FC, a.slot, "", None, a.remote_slot, a.fc_port)
                     for a in back.fc_adapters]
        pinned[m.partition.name] = (evacuation.source.name, _with_vios(rows, evacuation.source))
    return _create(user, Batch.Kind.MOVE_BACK, parts, reason=reason or f"Move back of evacuation #{evacuation.pk}",
                   team=evacuation.team, stop_at_first_failure=evacuation.stop_at_first_failure,
                   destinations=[evacuation.source], origin=evacuation, pinned=pinned)


def _with_vios(rows, system: ManagedSystem):

    if rows is None:
        return None

    vios = load_system(system).management_partition
    return tuple(dataclasses.replace(r, vios_id=vios.lpar_id) for r in rows)
