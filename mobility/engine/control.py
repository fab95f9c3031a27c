"""What people ask of a running migration: Stop, Recover, tick a follow-up task. Used by the views.

Stop and Recover do not talk to the IVM here: they record the request (status, a ``request`` event, the audit
trail) and wake the engine; the worker that drives the migration sends ``migrlpar -o s|r`` from its thread.
"""

from django.db import transaction
from django.utils import timezone

from mobility import policy
from mobility.choices import MigrationStatus, StepStatus
from mobility.engine.events import emit, status_change, step_change
from mobility.governance.audit import record
from mobility.models import Migration, MigrationEvent


class ControlRefused(Exception):
    """The request is not allowed now; the message says why."""


def _check(user, action: str, m: Migration) -> None:
    refusal = policy.refusal(user, action, m)
    if refusal is not None:
        raise ControlRefused(refusal)


def latest_request(m: Migration) -> dict:
    event = MigrationEvent.objects.filter(migration=m, kind="request").order_by("-seq").first()
    return event.payload if event else {}


def request_stop(m: Migration, user) -> None:
    _check(user, "stop", m)
    with transaction.atomic():
        m = Migration.objects.select_for_update(no_key=True).get(pk=m.pk)
        if m.status in (MigrationStatus.APPROVED, MigrationStatus.QUEUED):
            emit(m.pk, "request", {"action": "stop", "by": user.get_username(), "at": timezone.now().isoformat()})
            status_change(m, MigrationStatus.STOPPED, actor=user,
                          outcome=f"Stopped by {user.get_username()} before it started; nothing was sent to IVM.")
            return
        if m.status != MigrationStatus.RUNNING:
            raise ControlRefused(f"A {m.get_status_display().lower()} migration cannot be stopped.")
        emit(m.pk, "request", {"action": "stop", "by": user.get_username(), "at": timezone.now().isoformat()})
        status_change(m, MigrationStatus.STOPPING, actor=user, outcome=f"Stop requested by {user.get_username()}")
    wake_engine()


def request_recover(m: Migration, user, force: bool = False) -> None:
    _check(user, "force_recover" if force else "recover", m)
    with transaction.atomic():
        m = Migration.objects.select_for_update(no_key=True).get(pk=m.pk)
        if m.status not in (MigrationStatus.FAILED, MigrationStatus.RUNNING, MigrationStatus.STOPPED):
            raise ControlRefused(f"A {m.get_status_display().lower()} migration cannot be recovered.")
        if m.start_intent_at is None:
            raise ControlRefused("Nothing was sent to IVM for this migration: there is nothing to recover.")
        if Migration.objects.filter(partition=m.partition, status__in=MigrationStatus.unfinished()).exclude(
                pk=m.pk).exists():
            raise ControlRefused("Another migration of this partition is under way.")
        emit(m.pk, "request", {"action": "recover", "force": force, "by": user.get_username(),
                               "previous": m.status, "at": timezone.now().isoformat()})
        status_change(m, MigrationStatus.RECOVERING, actor=user,
                      outcome=f"Recover{' (forced)' if force else ''} requested by {user.get_username()}",
                      finished_at=None)
    wake_engine()


def tick_task(m: Migration, user, index: int, done: bool) -> None:
    """Step 11: tick (or untick) one follow-up task; the step is done when every task is."""
    _check(user, "tick_task", m)
    with transaction.atomic():
        step = m.steps.select_for_update(no_key=True).get(key="postrequisites")
        tasks = list(step.data.get("tasks", []))
        if m.status != MigrationStatus.COMPLETED or not 0 <= index < len(tasks):
            raise ControlRefused("There is no such follow-up task to tick.")
        tasks[index] = {**tasks[index], "done": bool(done), "by": user.get_username(),
                        "at": timezone.now().isoformat()}
        finished = all(t["done"] for t in tasks)
        step_change(m, step.number, StepStatus.DONE if finished else StepStatus.RUNNING,
                    "Every follow-up task is done" if finished else "Tick off the follow-up tasks",
                    {"tasks": tasks}, actor=user)
        if finished:
            step.refresh_from_db()
        record("engine.task", actor=user, obj=m, data={"task": tasks[index]["text"], "done": bool(done)})


def wake_engine() -> None:
    """A hint for the workers (at most once, may be lost): they also find due work by polling."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer
    from django.conf import settings

    def send():
        try:
            async_to_sync(get_channel_layer().send)(settings.IVMWEB_WORKER_CHANNEL, {"type": "engine.wake"})
        except Exception:  # noqa: BLE001 — a lost wake-up only delays the work until the next poll
            pass

    transaction.on_commit(send)
