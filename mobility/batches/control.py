"""What people ask of a batch: pause (no new starts), resume, stop (no new starts; running members stopped too
when asked, each by its own ``stop`` move), withdraw before it runs. Who may: ``mobility.policy`` (``stop``,
``withdraw``), on the batch as on a migration; when: the lifecycle's ``BATCH_MOVES``."""

from __future__ import annotations

from django.db import transaction

from mobility import lifecycle, policy
from mobility.batches import BatchRefused
from mobility.batches.approval import members
from mobility.choices import MigrationStatus
from mobility.engine import control as migration_control
from mobility.governance.approvals import void_approvals
from mobility.lifecycle import TransitionRefused
from mobility.lifecycle.writer import transition, transition_batch
from mobility.models import Batch, BatchEvent

REASON_MAX = 500


def _check(user, action: str, move: str, batch: Batch) -> None:
    why = policy.refusal(user, action, batch) or lifecycle.batch_refusal(move, batch)
    if why is not None:
        raise BatchRefused(why)


def _locked(batch: Batch) -> Batch:
    return Batch.objects.select_for_update(no_key=True).get(pk=batch.pk)


def pause(batch: Batch, user) -> None:
    _check(user, "stop", "pause", batch)
    with transaction.atomic():
        locked = _locked(batch)
        _check(user, "stop", "pause", locked)
        transition_batch(locked, "pause", actor=user,
                         outcome=f"Paused by {user.get_username()}: running members go on, no new member starts.")
    batch.refresh_from_db()


def resume(batch: Batch, user) -> None:
    _check(user, "stop", "resume", batch)
    with transaction.atomic():
        locked = _locked(batch)
        _check(user, "stop", "resume", locked)
        transition_batch(locked, "resume", actor=user, outcome=f"Resumed by {user.get_username()}.")
    migration_control.wake_engine()
    batch.refresh_from_db()


def stop(batch: Batch, user, *, stop_running: bool = False) -> None:
    """No member starts any more: the waiting ones are stopped before they start; the running ones finish, or are
    stopped too (``stop_running``: each member's own ``stop`` move, which the engine carries out)."""
    _check(user, "stop", "stop", batch)
    name = user.get_username()
    with transaction.atomic():
        locked = _locked(batch)
        _check(user, "stop", "stop", locked)
        transition_batch(locked, "stop", actor=user, outcome=f"Stopped by {name}" + (
            ": running members are being stopped." if stop_running else ": running members finish."))
        BatchEvent.objects.create(batch=locked, kind="request", payload={"action": "stop", "by": name,
                                                                         "stop_running": stop_running})
    for m in members(batch):
        try:
            if m.status in (MigrationStatus.APPROVED, MigrationStatus.QUEUED):
                migration_control.request_stop(m, user)
            elif stop_running and m.status == MigrationStatus.RUNNING:
                migration_control.request_stop(m, user)
        except TransitionRefused:
            continue  # it started or ended meanwhile: the supervisor settles the batch from what happened
    migration_control.wake_engine()
    batch.refresh_from_db()


def withdraw(batch: Batch, user, reason: str) -> None:
    reason = (reason or "").strip()
    _check(user, "withdraw", "withdraw", batch)
    if not reason:
        raise BatchRefused("Say why the batch is withdrawn.")
    if len(reason) > REASON_MAX:
        raise BatchRefused(f"The reason is longer than {REASON_MAX} characters.")

    with transaction.atomic():
        locked = _locked(batch)
        _check(user, "withdraw", "withdraw", locked)
        for m in members(locked):
            void_approvals(m, f"batch #{locked.pk} withdrawn by {user.get_username()}")
            transition(m, "withdraw", actor=user, outcome=f"Withdrawn with batch #{locked.pk}: {reason}")
        transition_batch(locked, "withdraw", actor=user, outcome=f"Withdrawn by {user.get_username()}: {reason}")
    batch.refresh_from_db()
