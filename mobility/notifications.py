"""E-mail to the people a migration concerns, sent only after the change commits.

Approvers of the owning team hear of a new request; the requester hears of the decision, the start,
the completion and the failure. Each mail carries a link built on ``settings.SITE_URL``. Mail goes
through Django's mailer (the console in development), queued with ``transaction.on_commit`` so that
a rolled-back change never sends mail.
"""

import logging

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.urls import NoReverseMatch, reverse

from mobility import policy

logger = logging.getLogger(__name__)


def _link(*candidates: tuple[str, tuple]) -> str:
    """The first URL that resolves, absolute on SITE_URL (other areas' detail pages may not exist yet)."""
    for name, args in candidates:
        try:
            return settings.SITE_URL.rstrip("/") + reverse(name, args=args)
        except NoReverseMatch:
            continue
    return settings.SITE_URL


def _migration_link(migration) -> str:
    return _link(("mobility:migration", (migration.pk,)), ("mobility:migration_detail", (migration.pk,)),
                 ("mobility:migrations", ()))


def _describe(migration) -> str:
    return (f"Migration #{migration.pk}: {migration.partition.name} from {migration.source.name} "
            f"to {migration.destination.name} ({migration.get_mode_display().lower()})")


def _send_on_commit(subject: str, body: str, recipients: list[str]) -> None:
    recipients = sorted({address for address in recipients if address})
    if not recipients:
        return

    def send():
        try:
            EmailMessage(subject=f"[ivmweb] {subject}", body=body, to=recipients).send()
        except Exception:  # a mail server outage must never undo or block a migration
            logger.exception("could not send %r to %s", subject, recipients)

    transaction.on_commit(send)


def notify_new_request(migration) -> None:
    """Tell the owning team's approvers that a request waits for them."""
    recipients = list(policy.approvers(migration).values_list("email", flat=True))
    link = _link(("mobility:approval", (migration.pk,)), ("mobility:approvals", ()))
    _send_on_commit(
        f"Approval requested: {migration.partition.name}",
        f"{_describe(migration)}\nrequested by {migration.requester.get_username()}.\n\n"
        f"Reason: {migration.reason or '-'}\n\nReview the plan and vote: {link}\n",
        recipients,
    )


def notify_decision(approval) -> None:
    """Tell the requester that their request was approved or rejected, and why."""
    migration = approval.migration
    window = ""
    if approval.not_before or approval.not_after:
        window = (f"Window: {approval.not_before or 'now'} to {approval.not_after or approval.expires_at}\n")
    _send_on_commit(
        f"Request {approval.get_decision_display().lower()}: {migration.partition.name}",
        f"{_describe(migration)}\nwas {approval.get_decision_display().lower()} by "
        f"{approval.approver.get_username()} (plan v{approval.plan.version}).\n\n"
        f"Comment: {approval.comment}\n{window}Approval expires: {approval.expires_at:%Y-%m-%d %H:%M} UTC\n\n"
        f"{_migration_link(migration)}\n",
        [migration.requester.email],
    )


def _notify_requester(migration, what: str, detail: str = "") -> None:
    _send_on_commit(
        f"Migration {what}: {migration.partition.name}",
        f"{_describe(migration)} {what}.\n{detail}\n{_migration_link(migration)}\n",
        [migration.requester.email],
    )


def notify_started(migration) -> None:
    _notify_requester(migration, "started")


def notify_completed(migration) -> None:
    suspend = (f"Suspend window: {migration.suspend_window_s:.1f} s\n"
               if migration.suspend_window_s is not None else "")
    _notify_requester(migration, "completed", suspend)


def notify_failed(migration) -> None:
    _notify_requester(migration, "failed", f"Outcome: {migration.outcome or 'unknown'}\n")


# --- batches: one mail for the batch, not one per member ------------------------------------------------------------

def _batch_link(batch) -> str:
    return _link(("mobility:batch", (batch.pk,)), ("mobility:batches", ()))


def _describe_batch(batch) -> str:
    members = batch.migrations.exclude(status="cancelled").select_related("partition", "destination")
    lines = [f"  {m.partition.name} -> {m.destination.name} ({m.get_mode_display().lower()})"
             for m in members.order_by("batch_position")]
    where = f" of {batch.source.name}" if batch.source_id else ""
    stayed = len(batch.immovable or [])
    return (f"Batch #{batch.pk}: {batch.get_kind_display().lower()}{where}, {len(lines)} partition(s)"
            + (f", {stayed} staying behind" if stayed else "") + ":\n" + "\n".join(lines))


def notify_batch_request(batch) -> None:
    """Tell the batch's approvers (four eyes applied) once that the whole batch waits for their vote."""
    recipients = list(policy.batch_approvers(batch).values_list("email", flat=True))
    _send_on_commit(
        f"Approval requested: batch #{batch.pk}",
        f"{_describe_batch(batch)}\n\nrequested by {batch.requester.get_username()}.\n"
        f"Reason: {batch.reason or '-'}\n\nReview the batch and vote once for all of it: {_batch_link(batch)}\n",
        recipients,
    )


def notify_batch_decision(vote) -> None:
    """Tell the batch's requester once that it was approved (with its window and parallelism) or rejected."""
    batch = vote.batch
    window = ""
    if vote.decision == "approved":
        window = (f"Window: {vote.not_before or 'now'} to {vote.not_after or 'open'} (approver's zone "
                  f"{vote.time_zone}); at most {vote.parallelism} at once\n")
    _send_on_commit(
        f"Batch {vote.get_decision_display().lower()}: #{batch.pk}",
        f"{_describe_batch(batch)}\n\nwas {vote.get_decision_display().lower()} by {vote.approver.get_username()}."
        f"\n\nComment: {vote.comment}\n{window}\n{_batch_link(batch)}\n",
        [batch.requester.email],
    )
