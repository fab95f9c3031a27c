"""Four-eyes approval of one exact plan version, and whether a migration may run.

A vote binds to the content hash of the migration's latest plan version. Approvers of the
partition's owning team vote (approve or reject, always with a comment); neither the requester nor
the author of any plan version votes, whatever their roles (``mobility.policy``), and nobody votes
twice on a plan. Editing the plan
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

from mobility import policy
from mobility.choices import MigrationStatus
from mobility.governance import audit
from mobility.models import Approval, Migration, PlanVersion

COMMENT_MAX = 2000


class ApprovalRefused(Exception):
    """A vote that is not allowed; the message says why, in words a person can act on."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


def approval_ttl() -> timedelta:
    return timedelta(hours=settings.IVMWEB_APPROVAL_TTL_H)


def current_plan(migration: Migration) -> PlanVersion | None:
    """The latest plan version (``mobility.plans.latest_plan`` when that module is present)."""
    try:
        from mobility.plans import latest_plan
    except ImportError:
        return migration.plans.order_by("-version").first()
    try:
        return latest_plan(migration)
    except PlanVersion.DoesNotExist:
        return None


def request_expires_at(plan: PlanVersion) -> datetime:
    """A request waits for votes at most the TTL after its latest plan version was written."""
    return plan.created_at + approval_ttl()


def _refusal(migration: Migration, plan: PlanVersion | None, user, comment: str,
             not_before, not_after, now: datetime) -> str | None:
    """Why this vote is not allowed, or None. Order matters: the most specific reason first."""
    who = policy.refusal(user, "vote", migration)  # roles, team and four eyes
    if who is not None:
        return who
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


def _vote(migration: Migration, user, comment: str, decision: str, not_before=None, not_after=None) -> Approval:
    comment = comment or ""
    refusal = None
    with transaction.atomic():
        # Lock the request: two approvers voting at once must not both move its status.
        migration = (Migration.objects.select_for_update(of=("self",), no_key=True)
                     .select_related("partition__team", "requester").get(pk=migration.pk))
        plan = current_plan(migration)
        now = timezone.now()
        refusal = _refusal(migration, plan, user, comment, not_before, not_after, now)
        if refusal is None:
            approval = Approval.objects.create(
                migration=migration, plan=plan, content_hash=plan.content_hash, approver=user,
                decision=decision, comment=comment.strip(), not_before=not_before, not_after=not_after,
                created_at=now, expires_at=now + approval_ttl(),
            )
            new_status = (MigrationStatus.APPROVED if decision == Approval.Decision.APPROVED
                          else MigrationStatus.REJECTED)
            changes = {"status": new_status}
            if new_status == MigrationStatus.REJECTED:
                changes.update(finished_at=now, outcome=f"Rejected by {user.get_username()}: {comment.strip()}")
            Migration.objects.filter(pk=migration.pk, status=MigrationStatus.PENDING_APPROVAL).update(**changes)
            audit.record(f"approval.{decision}", actor=user, obj=migration, data={
                "plan_version": plan.version, "content_hash": plan.content_hash, "comment": approval.comment,
                "not_before": not_before, "not_after": not_after, "expires_at": approval.expires_at,
            })
            from mobility import notifications

            notifications.notify_decision(approval)
            return approval
    audit.record("approval.refused", actor=user if getattr(user, "pk", None) else None, obj=migration, data={
        "decision": decision, "reason": refusal, "comment": comment[:COMMENT_MAX],
    })
    raise ApprovalRefused(refusal)


def approve(migration: Migration, user, comment: str, *, not_before: datetime | None = None,
            not_after: datetime | None = None) -> Approval:
    """Approve the latest plan version; the migration becomes APPROVED. Raises ApprovalRefused."""
    return _vote(migration, user, comment, Approval.Decision.APPROVED, not_before, not_after)


def reject(migration: Migration, user, comment: str) -> Approval:
    """Reject the latest plan version; the migration becomes REJECTED (final). Raises ApprovalRefused."""
    return _vote(migration, user, comment, Approval.Decision.REJECTED)


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


def runnable_approval(migration: Migration, now: datetime | None = None) -> Approval | None:
    """The approval in force: not voided, bound to the latest plan's hash, not expired, inside its window."""
    now = now or timezone.now()
    plan = current_plan(migration)
    if plan is None:
        return None
    return (Approval.objects.filter(_in_force(now), migration=migration, plan=plan,
                                    content_hash=plan.content_hash)
            .filter(Q(not_before__isnull=True) | Q(not_before__lte=now))
            .select_related("approver").order_by("-created_at").first())


def _plan_hash_holds(plan: PlanVersion) -> bool:
    """The stored snapshot still hashes to the stored hash (checked when mobility.plans is present)."""
    try:
        from mobility.plans import content_hash
    except ImportError:
        return True
    return content_hash(plan.snapshot) == plan.content_hash


def check_runnable(migration: Migration, now: datetime | None = None) -> tuple[bool, str]:
    """Whether the engine may start this migration now, and if not, why (in words)."""
    now = now or timezone.now()
    # Read the status fresh from the database without touching the caller's object.
    row = Migration.objects.filter(pk=migration.pk).values("status", "outcome").first()
    if row is None:
        return False, "The migration does not exist."
    status = row["status"]
    if status == MigrationStatus.REJECTED:
        return False, row["outcome"] or "The request was rejected."
    if status == MigrationStatus.EXPIRED:
        return False, "The request or its approval expired; ask for it again."
    if status in MigrationStatus.terminal():
        return False, f"The migration is {MigrationStatus(status).label.lower()}."
    if status == MigrationStatus.PENDING_APPROVAL:
        return False, "The request is waiting for approval."
    plan = current_plan(migration)
    if plan is None:
        return False, "The migration has no plan."
    if not _plan_hash_holds(plan):
        return False, f"Plan version {plan.version} no longer matches its hash."
    if runnable_approval(migration, now) is not None:
        return True, "Approved."
    votes = Approval.objects.filter(migration=migration, decision=Approval.Decision.APPROVED)
    latest = votes.order_by("-created_at").first()
    if latest is None:
        return False, "Nobody approved this plan."
    if latest.voided_at is not None:
        return False, f"The approval was voided: {latest.void_reason or 'the plan changed'}."
    if latest.plan_id != plan.pk or latest.content_hash != plan.content_hash:
        return False, f"The approval is for another plan version than the current one (v{plan.version})."
    if latest.expires_at <= now:
        return False, f"The approval expired at {latest.expires_at:%Y-%m-%d %H:%M} UTC."
    if latest.not_after and latest.not_after <= now:
        return False, f"The approval window closed at {latest.not_after:%Y-%m-%d %H:%M} UTC."
    if latest.not_before and latest.not_before > now:
        return False, f"The approval window opens at {latest.not_before:%Y-%m-%d %H:%M} UTC."
    return False, "No approval is in force."


def expire_stale(now: datetime | None = None) -> int:
    """Mark EXPIRED the pending requests and approved migrations whose time ran out; return how many.

    Called periodically by the worker. Each change is a conditional UPDATE (a concurrent vote or
    start wins) and is audited in the same transaction.
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
    for status, queryset, why in (
        (MigrationStatus.PENDING_APPROVAL, pending, "The request was not decided in time."),
        (MigrationStatus.APPROVED, approved, "The approval expired before the migration started."),
    ):
        for pk in list(queryset.values_list("pk", flat=True)):
            with transaction.atomic():
                changed = Migration.objects.filter(pk=pk, status=status).update(
                    status=MigrationStatus.EXPIRED, finished_at=now, outcome=why)
                if changed:
                    audit.record("migration.expired", obj=Migration(pk=pk), data={"was": status, "reason": why})
                    expired += 1
    return expired
