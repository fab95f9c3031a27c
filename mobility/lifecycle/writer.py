"""The one writer of ``Migration.status``: ``transition`` makes a move of the lifecycle's table happen, or refuses it.

One conditional UPDATE (``WHERE status IN <sources>``, and ``AND fence = <token>`` under the engine's token), the
``status`` event and the audit record in the same transaction, the push and the mail after the commit.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from mobility import notifications
from mobility.choices import MigrationStatus as S
from mobility.governance.audit import record
from mobility.jobs.queue import wake_workers
from mobility.journal import FenceLost, emit, fence_in_force
from mobility.lifecycle import BATCH_MOVES, ENGINE, MOVES, Move, TransitionRefused, batch_refusal, refusal
from mobility.live.publish import push_batch
from mobility.models import Batch, BatchEvent, BatchStatus, Migration


def transition(m: Migration, move: str, *, actor=None, outcome: str | None = None, **fields) -> None:
    """Make ``move`` happen to ``m`` (and write ``fields`` with it), or raise; ``m`` is updated in place.

    Call it inside the caller's transaction when other writes belong with the move: all of them commit or none.
    """
    spec = MOVES[move]
    token = fence_in_force()
    if spec.by == ENGINE and token is None:
        raise RuntimeError(f"the engine's move {move!r} needs the migration's fencing token")
    now = timezone.now()
    values = {"status": spec.target, **fields}
    if outcome is not None:
        values["outcome"] = outcome
    if spec.target in S.terminal() and "finished_at" not in fields:
        values["finished_at"] = now
    with transaction.atomic():
        rows = Migration.objects.filter(pk=m.pk, status__in=spec.sources)
        if token is not None:
            rows = rows.filter(fence=token)
        before = m.status
        if rows.update(**values) != 1:
            _why_not(m, spec, token)
        for key, value in values.items():
            setattr(m, key, value)
        record(f"migration.{spec.target}", actor=actor, obj=m,
               data={"move": move, "from": before, "to": spec.target, "outcome": m.outcome,
                     **({"fence": token} if token is not None else {})})
        # The event last (its row lock on the migration is then held only until the commit, and its ``at`` is the
        # commit's time, give or take the commit itself), its push before the mail (on_commit runs in order).
        emit(m.pk, "status", {"status": spec.target, "move": move, "outcome": m.outcome, "at": now.isoformat()})
        _notify(m, spec.target)
        if m.batch_id is not None:  # its batch's page shows every member's status
            push_batch(m.batch_id)
            if spec.target in S.terminal() or spec.target == S.APPROVED:
                # The next member may start now, not at the next poll: a member approved again, or one that ended
                # before step 9 freed its slot (``ivm_done_at`` unset) frees it now.
                wake_workers(slot_freed=spec.target in S.terminal() and m.ivm_done_at is None)


def _why_not(m: Migration, spec: Move, token: int | None):
    fresh = Migration.objects.filter(pk=m.pk).first()
    if fresh is None:
        raise TransitionRefused("The migration does not exist.")
    if token is not None and fresh.fence != token:
        raise FenceLost(m.pk, token)
    raise TransitionRefused(refusal(spec, fresh) or f"The migration changed meanwhile (it is {fresh.status}).")


def _notify(m: Migration, status: str) -> None:
    """Mail the requester how it ended (sent on commit). The start mail goes from step 3, once IVM accepted it."""
    if status == S.COMPLETED:
        notifications.notify_completed(m)
    elif status == S.FAILED:
        notifications.notify_failed(m)


def transition_batch(batch: Batch, move: str, *, actor=None, outcome: str | None = None, **fields) -> None:
    """Make the batch move ``move`` happen (and write ``fields`` with it), or raise ``TransitionRefused``: one
    conditional UPDATE, the event and the audit record in the caller's transaction, the push after the commit."""
    spec = BATCH_MOVES[move]
    now = timezone.now()
    values = {"status": spec.target, **fields}
    if outcome is not None:
        values["outcome"] = outcome
    if spec.target in BatchStatus.terminal() and "finished_at" not in fields:
        values["finished_at"] = now
    with transaction.atomic():
        before = batch.status
        if Batch.objects.filter(pk=batch.pk, status__in=spec.sources).update(**values) != 1:
            fresh = Batch.objects.filter(pk=batch.pk).first()
            if fresh is None:
                raise TransitionRefused("The batch does not exist.")
            raise TransitionRefused(batch_refusal(spec, fresh) or f"The batch changed meanwhile (it is {fresh.status}).")
        for key, value in values.items():
            setattr(batch, key, value)
        record(f"batch.{spec.target}", actor=actor, obj=batch,
               data={"move": move, "from": before, "to": spec.target, "outcome": batch.outcome})
        BatchEvent.objects.create(batch=batch, at=now, kind="status", payload={
            "status": spec.target, "move": move, "outcome": batch.outcome,
            "by": actor.get_username() if getattr(actor, "pk", None) else "ivmweb"})
        push_batch(batch.pk)
