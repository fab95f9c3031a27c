"""Rehearse a batch on a twin of every server its members involve: the IVM job kind "rehearse_batch", run by a worker.

One ivmsim is started for the whole batch (``mobility.twin.simulator``) on the export of the members' sources and
destinations as they were at the last sync; the members then run there in the batch's order, one after another, each
as a plan's rehearsal runs (``rehearse.TwinRun``: the engine's steps and commands, ``--ip`` naming the twin). A
member therefore meets the twin as the earlier members left it (memory and slots taken on a destination), as it
would in the batch. When the batch stops at its first failure, the members after a failed one are listed as not
rehearsed; otherwise they go on, as in the batch.

Faults are injected where a first run would meet them: the transfer failure on the first member, the unreachable
IVM and the changed host key on its source IVM, the slow MSP link on every source IVM. The members run one at a time
whatever parallelism the approval sets: the rehearsal shows each member's commands and what the engine does when
they fail, not how long the batch will take with several moves at once.
"""

from __future__ import annotations

import time

from django.db import transaction

from mobility import plans
from mobility.governance.audit import record
from mobility.ivm import IVMError
from mobility.jobs.errors import JobFailed
from mobility.models import Batch, BatchRehearsal, IVMJob, Rehearsal
from mobility.twin import export
from mobility.twin.rehearsals import FAULTS, batch_bound_s, batch_members, batch_refusal, batch_scale
from mobility.twin.rehearse import TwinRun, declared_faults, rotate_host_key
from mobility.twin.simulator import TwinNotStarted, TwinSimulator

Outcome = Rehearsal.Outcome


def run(job: IVMJob, report) -> dict:
    """Returns {"batch_rehearsal": id, "outcome": ...}; stores the ``BatchRehearsal`` and a ``Rehearsal`` a member."""
    batch = Batch.objects.get(pk=job.params["batch"])
    why = batch_refusal(batch)
    if why:
        raise JobFailed(why)
    members = batch_members(batch)
    faults = [f for f in job.params.get("faults", []) if f in FAULTS]
    consoles = {c.pk: c for m in members for c in (m.source.console, m.destination.console)}
    try:
        fleet = export.fleet_for(consoles.values())
    except export.ExportError as exc:
        raise JobFailed(f"No twin can be made: {exc}.") from exc
    first = members[0]
    fleet["fault"] = declared_faults(faults, first.source.console.name, first.partition.name, first.mode)
    if "slow_link" in faults:  # the first member's source has it already
        others = sorted({m.source.console.name for m in members} - {first.source.console.name})
        fleet["fault"] += [f for ivm in others for f in declared_faults(["slow_link"], ivm, "", first.mode)]
    scale = batch_scale(members, faults)
    names = sorted(c.name for c in consoles.values())
    report(f"Starting a twin of {', '.join(names)}")
    started = time.monotonic()
    deadline = started + float(job.timeout_s or batch_bound_s(batch, faults)) - 10.0
    walks: list[tuple] = []
    skipped: list[str] = []
    try:
        with TwinSimulator(export.to_toml(fleet), time_scale=scale) as twin:
            if "host_key" in faults:
                try:
                    rotate_host_key(twin, first.source.console.name)
                except IVMError as exc:
                    raise JobFailed(f"The twin's host key could not be changed: {exc}") from exc
            for m in members:
                if batch.stop_at_first_failure and any(w.outcome != Outcome.COMPLETED for _, _, w in walks):
                    skipped.append(m.partition.name)
                    continue
                plan = plans.latest_plan(m)
                walk = TwinRun(m, plan.snapshot, twin.ivm(m.source.console.name), twin.ivm(m.destination.console.name),
                               scale, _reporting(report, m.partition.name), deadline=deadline)
                try:
                    walk.run()
                finally:
                    walk.close()
                walks.append((m, plan, walk))
    except TwinNotStarted as exc:
        raise JobFailed(str(exc)) from exc
    return _store(job, batch, faults, scale, walks, skipped, round(time.monotonic() - started, 2))


def _reporting(report, name: str):
    def member_report(text: str):
        return report(f"{name}: {text}")
    return member_report


def _store(job, batch, faults, scale, walks, skipped, wall_s) -> dict:
    outcome = next((w.outcome for _, _, w in walks if w.outcome != Outcome.COMPLETED), Outcome.COMPLETED)
    done = sum(1 for _, _, w in walks if w.outcome == Outcome.COMPLETED)
    lines = [f"{done} of {len(walks) + len(skipped)} members completed on the twin, one after another."]
    lines += [f"{m.partition.name}: {w.summary}" for m, _, w in walks if w.outcome != Outcome.COMPLETED]
    if skipped:
        lines.append(f"Not rehearsed (the batch stops at its first failure): {', '.join(skipped)}.")
    # From the first migrlpar -o m to the last member gone, on the twin's clock (a member's move ends at its
    # start plus its own duration; the members' steps 1 and 2 between them are in it, as in the batch).
    sent = [w.start_sent_at for _, _, w in walks if w.start_sent_at is not None]
    ends = [w.start_sent_at + w.duration_s / scale for _, _, w in walks if w.duration_s is not None]
    duration_s = round((max(ends) - min(sent)) * scale, 2) if ends else None
    windows = [w.suspend_window_s for _, _, w in walks if w.suspend_window_s is not None]
    messages = [{**msg, "partition": m.partition.name} for m, _, w in walks for msg in w.messages]
    with transaction.atomic():
        whole = BatchRehearsal.objects.create(
            batch=batch, content_hash=batch.content_hash, job=job, requested_by=job.requested_by, faults=faults,
            outcome=outcome, summary=" ".join(lines), duration_s=duration_s,
            suspend_window_s=max(windows) if windows else None, time_scale=scale, wall_s=wall_s,
            messages=messages, skipped=skipped, commands=sum(w.commands for _, _, w in walks))
        for m, plan, w in walks:
            Rehearsal.objects.create(
                migration=m, plan=plan, job=job, batch_rehearsal=whole, requested_by=job.requested_by, faults=faults,
                outcome=w.outcome, summary=w.summary, duration_s=w.duration_s, suspend_window_s=w.suspend_window_s,
                time_scale=scale, wall_s=wall_s, messages=w.messages, steps=w.step_rows(), commands=w.commands)
        record("batch.rehearsed", actor=job.requested_by, obj=batch, data={
            "batch_rehearsal": whole.pk, "content_hash": batch.content_hash, "faults": faults, "outcome": outcome,
            "members": {m.partition.name: w.outcome for m, _, w in walks}, "skipped": skipped,
            "duration_s": whole.duration_s, "messages": whole.message_codes})
    return {"batch_rehearsal": whole.pk, "outcome": outcome, "summary": whole.summary}
