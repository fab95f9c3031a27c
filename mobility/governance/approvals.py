"""Four-eyes approval of one exact plan version, and whether a migration may run.

A vote carries the content hash of the plan version the approver was shown, and binds to it only while it is still
the latest: a plan revised meanwhile refuses the vote (``PlanChanged``) and shows the new one. Approvers of the
partition's owning team vote (approve or reject, always with a comment); neither the requester nor the author of
any plan version of the request votes on it, whatever their roles (``mobility.policy``), and nobody votes twice on a plan. Editing the plan
(``mobility.plans.revise_plan``) voids every vote through ``void_approvals``. An approval is in force
only inside its window and until it expires; ``check_runnable`` is what the engine asks before it
starts, and it says why not.

Every refused vote is audited in its own transaction, so the refusal is on record even though the
caller sees an exception.
"""

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, Max, OuterRef, Q
from django.utils import timezone

from mobility import notifications, policy
from mobility.choices import MigrationStatus
from mobility.governance import audit
from mobility.lifecycle import TransitionRefused
from mobility.lifecycle.writer import transition
from mobility.models import Approval, Batch, BatchStatus, Migration, PlanVersion

COMMENT_MAX = 2000


class ApprovalRefused(Exception):
    """A vote that is not allowed; the message says why, in words a person can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class PlanChanged(ApprovalRefused):
    """The approver voted on a plan version that is no longer the latest: they must read the new one."""


def waiting_alone(qs):
    """Requests that wait for a vote of their own: pending approval and in no batch (a batch's members are voted on
    together, on the batch). The approvals page, the API's list and the navigation's count all ask this."""
    return qs.filter(status=MigrationStatus.PENDING_APPROVAL, batch__isnull=True)


def waiting_count(user) -> int:
    """What waits for this approver's vote: requests they may vote on (never their own), and batches."""
    alone = policy.votable(user, waiting_alone(Migration.objects.all())).count()
    return alone + policy.votable_batches(user, Batch.objects.filter(status=BatchStatus.PENDING_APPROVAL)).count()


def approval_ttl() -> timedelta:
    return timedelta(hours=settings.IVMWEB_APPROVAL_TTL_H)


def current_plan(migration: Migration) -> PlanVersion | None:
    """The latest plan version: the one a vote binds to and the engine runs."""
    return migration.latest_plan()


def request_expires_at(plan: PlanVersion) -> datetime:
    """A request waits for votes at most the TTL after its latest plan version was written."""
    return plan.created_at + approval_ttl()


def _refusal(migration: Migration, plan: PlanVersion | None, user, comment: str,
             not_before, not_after, now: datetime, batch_id: int | None = None) -> str | None:
    """Why this vote is not allowed, or None. Order matters: the most specific reason first."""
    who = policy.refusal(user, "vote", migration)  # roles, team and four eyes
    if who is not None:
        return who
    if migration.batch_id is not None and batch_id != migration.batch_id:
        return f"This request is a member of batch #{migration.batch_id}: vote on the batch as a whole."
    if plan is None:
        return "This request has no plan to vote on."
    if Approval.objects.filter(plan=plan, approver=user).exists():
        return "You have already voted on this plan version."
    if migration.status != MigrationStatus.PENDING_APPROVAL:
        return f"This request is not waiting for approval (it is {migration.get_status_display().lower()})."
    if request_expires_at(plan) <= now:
        return f"This request expired at {request_expires_at(plan):%Y-%m-%d %H:%M} UTC; ask for it again."
    if not comment.strip():
        return "A comment is required."
    if len(comment) > COMMENT_MAX:
        return f"The comment is longer than {COMMENT_MAX} characters."
    if not_before and not_after and not_after <= not_before:
        return "The window must end after it begins."
    if not_after and not_after <= now:
        return "The window must end in the future."
    if not_before and not_before >= now + approval_ttl():
        return "The window must open before the approval expires."
    return None


def _vote(migration: Migration, user, comment: str, decision: str, plan_hash: str, not_before=None,
          not_after=None, batch_id: int | None = None) -> Approval:
    comment = comment or ""
    with transaction.atomic():
        # Lock the request: two approvers voting at once must not both move its status, and a revision cannot slip
        # in between the hash check and the vote (revise_plan locks the same row).
        migration = (Migration.objects.select_for_update(of=("self",), no_key=True)
                     .select_related("partition__team", "requester").get(pk=migration.pk))
        plan = current_plan(migration)
        now = timezone.now()
        refusal = _refusal(migration, plan, user, comment, not_before, not_after, now, batch_id)
        changed = refusal is None and plan_hash != plan.content_hash
        if changed:
            refusal = (f"The plan changed since you read it: it is now version {plan.version} "
                       f"({plan.content_hash[:12]}). Read the new plan and vote again.")
        if refusal is None:
            approval = Approval.objects.create(
                migration=migration, plan=plan, content_hash=plan.content_hash, approver=user,
                decision=decision, comment=comment.strip(), not_before=not_before, not_after=not_after,
                created_at=now, expires_at=now + approval_ttl(),
            )
            audit.record(f"approval.{decision}", actor=user, obj=migration, data={
                "plan_version": plan.version, "content_hash": plan.content_hash, "comment": approval.comment,
                "not_before": not_before, "not_after": not_after, "expires_at": approval.expires_at,
            })
            if decision == Approval.Decision.APPROVED:
                transition(migration, "approve", actor=user)
            else:
                transition(migration, "reject", actor=user,
                           outcome=f"Rejected by {user.get_username()}: {comment.strip()}")

            if batch_id is None:  # a batch's vote is mailed once, for the batch (``notify_batch_decision``)
                notifications.notify_decision(approval)
            return approval
    audit.record("approval.refused", actor=user if getattr(user, "pk", None) else None, obj=migration, data={
        "decision": decision, "reason": refusal, "comment": comment[:COMMENT_MAX], "plan_hash": plan_hash[:64],
    })
    raise (PlanChanged if changed else ApprovalRefused)(refusal)


def approve(migration: Migration, user, comment: str, *, plan_hash: str, not_before: datetime | None = None,
            not_after: datetime | None = None, batch_id: int | None = None) -> Approval:
    """Approve the plan version whose hash the approver was shown (it must still be the latest); the migration
    becomes APPROVED. Raises ApprovalRefused (PlanChanged when the plan was revised meanwhile). A batch's member is
    approved only with its batch (``batch_id``: ``mobility.batches.approval``)."""
    return _vote(migration, user, comment, Approval.Decision.APPROVED, plan_hash, not_before, not_after, batch_id)


def reject(migration: Migration, user, comment: str, *, plan_hash: str, batch_id: int | None = None) -> Approval:
    """Reject the plan version the approver was shown; the migration becomes REJECTED (final)."""
    return _vote(migration, user, comment, Approval.Decision.REJECTED, plan_hash, batch_id=batch_id)


def void_approvals(migration: Migration, reason: str) -> int:
    """Void every standing vote on a migration (its plan changed); return how many. Audited."""
    with transaction.atomic():
        count = Approval.objects.filter(migration=migration, voided_at__isnull=True).update(
            voided_at=timezone.now(), void_reason=reason[:200])
        if count:
            audit.record("approval.voided", obj=migration, data={"count": count, "reason": reason[:200]})
    return count


def _in_force(now: datetime) -> Q:
    return (Q(decision=Approval.Decision.APPROVED, voided_at__isnull=True, expires_at__gt=now)
            & (Q(not_after__isnull=True) | Q(not_after__gt=now)))


def _four_eyes_hold(approval: Approval, migration: Migration) -> bool:
    """The approver may still vote on it: an active approver of the owning team, neither its requester nor the
    author of any of its plan versions (``mobility.policy``'s answer, asked again at start)."""
    return approval.approver.is_active and policy.may(approval.approver, "vote", migration)


def runnable_approval(migration: Migration, now: datetime | None = None, *,
                      plan: PlanVersion | None = None) -> Approval | None:
    """The approval in force: not voided, bound to the latest plan's hash, not expired, inside its window, by an
    approver who may still give it (four eyes checked again, against every plan version). ``plan``: the latest plan
    version as the caller has just read it (else read here)."""
    now = now or timezone.now()
    plan = plan or current_plan(migration)
    if plan is None:
        return None
    votes = (Approval.objects.filter(_in_force(now), migration=migration, plan=plan, content_hash=plan.content_hash)
             .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
             .select_related("approver").order_by("-created_at"))
    return next((vote for vote in votes if _four_eyes_hold(vote, migration)), None)


def check_runnable(migration: Migration, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the engine may start this migration now, and if not, why (in words)."""
    now = now or timezone.now()
    # Read the migration fresh from the database without touching the caller's object.
    fresh = Migration.objects.select_related("partition__team").filter(pk=migration.pk).first()
    if fresh is None:
        return False, "The migration does not exist."
    status = fresh.status
    if status == MigrationStatus.REJECTED:
        return False, fresh.outcome or "The request was rejected."
    if status == MigrationStatus.EXPIRED:
        return False, "The request or its approval expired; ask for it again."
    if status in MigrationStatus.terminal():
        return False, f"The migration is {MigrationStatus(status).label.lower()}."
    if status == MigrationStatus.PENDING_APPROVAL:
        return False, "The request is waiting for approval."
    plan = current_plan(fresh)
    if plan is None:
        return False, "The migration has no plan."
    if not plan.hash_holds:
        return False, f"Plan version {plan.version} no longer matches its hash."
    if runnable_approval(fresh, now, plan=plan) is not None:
        return True, "Approved."
    votes = Approval.objects.filter(migration=fresh, decision=Approval.Decision.APPROVED)
    latest = votes.select_related("approver").order_by("-created_at").first()
    if latest is None:
        return False, "Nobody approved this plan."
    if latest.voided_at is not None:
        return False, f"The approval was voided: {latest.void_reason or 'the plan changed'}."
    if latest.plan_id != plan.pk or latest.content_hash != plan.content_hash:
        return False, f"The approval is for another plan version than the current one (v{plan.version})."
    if not _four_eyes_hold(latest, fresh):
        return False, (f"The approval by {latest.approver.get_username()} does not hold: an approver of the owning "
                       "team who neither asked for the migration nor wrote a version of its plan must approve it.")
    if latest.expires_at <= now:
        return False, f"The approval expired at {latest.expires_at:%Y-%m-%d %H:%M} UTC."
    if latest.not_after and latest.not_after <= now:
        return False, f"The approval window closed at {latest.not_after:%Y-%m-%d %H:%M} UTC."
    if latest.not_before and latest.not_before > now:
        return False, f"The approval window opens at {latest.not_before:%Y-%m-%d %H:%M} UTC."
    return False, "No approval is in force."


def expire_stale(now: datetime | None = None) -> int:
    """Mark EXPIRED the pending requests and approved migrations whose time ran out; return how many.

    Called periodically by the worker. Each is the lifecycle's ``expire`` move: a conditional UPDATE (a
    concurrent vote or start wins), with its event and audit record.
    """
    now = now or timezone.now()
    pending = (Migration.objects.filter(status=MigrationStatus.PENDING_APPROVAL)
               .annotate(last_plan_at=Max("plans__created_at"))
               .filter(last_plan_at__lte=now - approval_ttl()))
    approved = (Migration.objects.filter(status=MigrationStatus.APPROVED)
                .filter(Exists(Approval.objects.filter(migration=OuterRef("pk"), voided_at__isnull=True,
                                                       decision=Approval.Decision.APPROVED)))
                .exclude(Exists(Approval.objects.filter(_in_force(now), migration=OuterRef("pk")))))
    expired = 0
    for queryset, why in (
        (pending, "The request was not decided in time."),
        (approved, "The approval expired before the migration started."),
    ):
        for migration in list(queryset.only("pk", "status", "outcome")):
            try:  # a vote, a start or a withdrawal that came first wins: the move then finds no row
                transition(migration, "expire", outcome=why)
            except TransitionRefused:
                continue
            expired += 1
    return expired
