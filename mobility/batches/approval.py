"""The one approval of a batch: bound to the batch's hash, with a maintenance window and a parallelism knob.

Who may vote is ``mobility.policy``'s answer (four eyes: an approver of the batch's team who neither asked for it nor
wrote a member's plan). Approving the batch approves each member's exact plan version through
``mobility.governance.approvals`` (the same vote, carrying the window), so the engine's ``check_runnable`` holds each
member to the window as it holds any migration. Editing a member (its mappings or destination, validated by IVM in a
job) voids the batch's approval and every member's: the batch waits for approval again.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.db import transaction
from django.utils import timezone

from mobility import lifecycle, notifications, planning, plans, policy
from mobility.batches import BatchRefused
from mobility.batches.hashing import batch_hash
from mobility.choices import MigrationStatus
from mobility.governance import approvals, audit
from mobility.governance.approvals import void_approvals
from mobility.jobs import queue
from mobility.lifecycle.writer import transition, transition_batch
from mobility.models import Batch, BatchApproval, BatchStatus, IVMJob, ManagedSystem, Migration
from mobility.plans import plan_context

COMMENT_MAX = approvals.COMMENT_MAX


def members(batch: Batch):
    """The batch's members in start order (a member replaced by an edit is cancelled and no longer one)."""
    return (batch.migrations.exclude(status=MigrationStatus.CANCELLED)
            .select_related("partition", "source", "destination").order_by("batch_position"))


def parallelism_cap(batch: Batch) -> int:
    """The most members that can run at once under the IVMs' own limits: per mode, the smaller of the sources' and
    the destinations' summed limits, never more than the members."""
    rows = list(members(batch))
    if not rows:
        return 1
    cap = 0
    for mode in {m.mode for m in rows}:
        field = f"{mode}_migrations_supported"
        of_mode = [m for m in rows if m.mode == mode]
        sources = {m.source_id for m in of_mode}
        dests = {m.destination_id for m in of_mode}
        limit = {s.pk: getattr(s, field) for s in ManagedSystem.objects.filter(pk__in=sources | dests)}
        cap += min(sum(limit[s] for s in sources), sum(limit[d] for d in dests), len(of_mode))
    return max(1, min(cap, len(rows)))


def _refuse(batch: Batch, user, why: str, **data) -> BatchRefused:
    audit.record("batch.vote_refused", actor=user if getattr(user, "pk", None) else None, obj=batch,
                 data={"reason": why, **data})
    return BatchRefused(why)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise BatchRefused(f"Unknown time zone {name!r}.") from None


def approve(batch: Batch, user, comment: str, *, batch_hash_seen: str, not_before: datetime | None = None,
            not_after: datetime | None = None, time_zone: str = "UTC", parallelism: int | None = None) -> BatchApproval:
    """Approve the batch the approver was shown (its hash), inside the window, at most ``parallelism`` at once."""
    comment = (comment or "").strip()
    zone(time_zone)
    why = policy.refusal(user, "vote", batch) or lifecycle.batch_refusal("approve", batch)
    if why is None and batch_hash_seen != batch_hash(batch):
        why = "The batch changed since you read it: read it again and vote on what it is now."
    now = timezone.now()
    cap = parallelism_cap(batch)
    if why is None:
        why = _vote_problem(comment, not_before, not_after, now)
    if why is None and parallelism is not None and not 1 <= parallelism <= cap:
        why = f"The parallelism must be between 1 and {cap} (the IVMs' own limits for these members)."
    if why is not None:
        raise _refuse(batch, user, why, decision="approved")
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        if locked.status != BatchStatus.PENDING_APPROVAL or batch_hash(locked) != batch_hash_seen:
            raise BatchRefused("The batch changed meanwhile: read it again.")
        vote = BatchApproval.objects.create(
            batch=locked, content_hash=batch_hash_seen, approver=user, decision="approved", comment=comment,
            not_before=not_before, not_after=not_after, time_zone=time_zone or "UTC",
            parallelism=parallelism or cap)
        for m in members(locked):
            plan = m.latest_plan()
            approvals.approve(m, user, f"Batch #{locked.pk}: {comment}", plan_hash=plan.content_hash,
                              not_before=not_before, not_after=not_after, batch_id=locked.pk)
        transition_batch(locked, "approve", actor=user, parallelism=vote.parallelism, not_before=not_before,
                         not_after=not_after, outcome=f"Approved by {user.get_username()}: {comment}")
        notifications.notify_batch_decision(vote)
        audit.record("batch.approval", actor=user, obj=locked, data={
            "hash": batch_hash_seen, "comment": comment, "not_before": not_before, "not_after": not_after,
            "time_zone": vote.time_zone, "parallelism": vote.parallelism})
    batch.refresh_from_db()
    return vote


def reject(batch: Batch, user, comment: str, *, batch_hash_seen: str) -> BatchApproval:
    comment = (comment or "").strip()
    why = policy.refusal(user, "vote", batch) or lifecycle.batch_refusal("reject", batch)
    if why is None and not comment:
        why = "A comment is required."
    if why is not None:
        raise _refuse(batch, user, why, decision="rejected")
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        vote = BatchApproval.objects.create(batch=locked, content_hash=batch_hash_seen, approver=user,
                                            decision="rejected", comment=comment)
        for m in members(locked):
            approvals.reject(m, user, f"Batch #{locked.pk}: {comment}", plan_hash=m.latest_plan().content_hash,
                             batch_id=locked.pk)
        transition_batch(locked, "reject", actor=user, outcome=f"Rejected by {user.get_username()}: {comment}")
        notifications.notify_batch_decision(vote)
    batch.refresh_from_db()
    return vote


def _vote_problem(comment: str, not_before, not_after, now) -> str | None:
    if not comment:
        return "A comment is required."
    if len(comment) > COMMENT_MAX:
        return f"The comment is longer than {COMMENT_MAX} characters."
    for value in (not_before, not_after):
        if value is not None and timezone.is_naive(value):
            return "The window needs a time zone."
    if not_before and not_after and not_after <= not_before:
        return "The window must end after it begins."
    if not_after and not_after <= now:
        return "The window must end in the future."
    if not_before and not_before >= now + approvals.approval_ttl():
        return "The window must open before the approval expires."
    return None


# --- edits ------------------------------------------------------------------------------------------------------

def edit_member(batch: Batch, member: Migration, user, *, destination: ManagedSystem | None = None,
                mappings=None) -> IVMJob:
    """Ask for a member's new destination and/or mappings: IVM validates them in a job; once it agrees the member
    gets them and the batch's approval is void. Returns the job (its page follows it)."""
    if member.batch_id != batch.pk or member.status == MigrationStatus.CANCELLED:
        raise BatchRefused("This migration is not a member of the batch.")
    why = policy.refusal(user, "revise", member) or lifecycle.batch_refusal("edit", batch)
    if why is None and not plans.revisable(member):
        why = "This member has started or ended; it can no longer change."
    if why is not None:
        raise BatchRefused(why)
    destination = destination or member.destination
    if destination.pk == member.source_id:
        raise BatchRefused("The destination is the partition's own server.")
    if mappings is None:

        ctx = plan_context(member.partition, destination, member.mode)
        mappings = planning.recommend_mappings(ctx.partition, ctx.destination).rows
    return queue.enqueue(IVMJob.Kind.BATCH_MEMBER, user=user, console=member.source.console, migration=member,
                         group=batch.job_group, params={
                             "batch": batch.pk, "position": member.batch_position, "partition": member.partition_id,
                             "destination": destination.pk, "mode": member.mode, "edit": True, "member": member.pk,
                             "mappings": [r.to_dict() for r in mappings]})


def reorder(batch: Batch, member: Migration, user, position: int) -> None:
    """Move a member to ``position`` in the start order (the others shift); the order is part of the batch's hash,
    so its approval is void."""
    if member.batch_id != batch.pk or member.status == MigrationStatus.CANCELLED:
        raise BatchRefused("This migration is not a member of the batch.")
    why = policy.refusal(user, "revise", batch) or lifecycle.batch_refusal("edit", batch)
    if why is not None:
        raise BatchRefused(why)
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        if lifecycle.batch_refusal("edit", locked):
            raise BatchRefused(lifecycle.batch_refusal("edit", locked))
        order = [m.pk for m in members(locked) if m.pk != member.pk]
        if not 1 <= position <= len(order) + 1:
            raise BatchRefused(f"The position must be between 1 and {len(order) + 1}.")
        order.insert(position - 1, member.pk)
        for number, pk in enumerate(order, start=1):
            Migration.objects.filter(pk=pk).update(batch_position=number)
        void(locked, user, f"{member.partition.name} now starts in place {position}")


def apply_edit(batch: Batch, user, partition, destination, rows, validation: dict, params: dict) -> None:
    """In the member's job, once IVM validated the change: the member's next plan version (same destination) or a
    new member in its place (another destination), then the batch's approval is void."""

    member = Migration.objects.select_related("partition", "destination").get(pk=params["member"])
    with transaction.atomic():
        locked = Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)
        if lifecycle.batch_refusal("edit", locked):
            raise BatchRefused(lifecycle.batch_refusal("edit", locked))
        if destination.pk == member.destination_id:
            plans.revise_plan(member, user=user, mappings=rows, validation=validation)
        else:
            if policy.refusal(user, "revise", member):
                raise BatchRefused(policy.refusal(user, "revise", member))
            void_approvals(member, f"moved to {destination.name} in batch #{locked.pk}")
            transition(member, "withdraw", actor=user,
                       outcome=f"Replaced in batch #{locked.pk}: now going to {destination.name}")
            fresh = plans.submit_plan(partition=partition, destination=destination, user=user, mode=member.mode,
                                      mappings=rows, validation=validation, reason=member.reason)
            Migration.objects.filter(pk=fresh.pk).update(batch=locked, batch_position=member.batch_position)
        void(locked, user, f"{partition.name} changed (to {destination.name})")


def void(batch: Batch, user, reason: str) -> None:
    """Void the batch's approval and every member's, send approved members back for approval; the batch waits
    for approval again, with its new hash."""

    with transaction.atomic():
        BatchApproval.objects.filter(batch=batch, voided_at__isnull=True).update(
            voided_at=timezone.now(), void_reason=reason[:200])
        for m in members(batch):
            void_approvals(m, f"batch #{batch.pk} changed: {reason}")
            if m.status == MigrationStatus.APPROVED:
                transition(m, "batch_voided", actor=user, outcome="")
        transition_batch(batch, "edit", actor=user, content_hash=batch_hash(batch), parallelism=None,
                         not_before=None, not_after=None, outcome=f"Changed: {reason}. Waiting for approval again.")
