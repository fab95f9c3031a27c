"""What people ask of a migration: withdraw the request, stop it, recover it, tick a follow-up task.

Each is a move of ``mobility.lifecycle`` (whose table says from which status, and what the migration must show) by
a person whom ``mobility.policy`` allows. Stop and Recover do not talk to the IVM here: they record the request (a
``request`` event, the status, the audit trail) and wake the engine; the worker that drives the migration sends
``migrlpar -o s|r`` from its thread.
"""

from django.db import transaction
from django.utils import timezone

from mobility import policy
from mobility.choices import MigrationStatus, StepStatus
from mobility.engine.events import emit, step_change
from mobility.governance.approvals import void_approvals
from mobility.governance.audit import record
from mobility.lifecycle import TransitionRefused, allowed_actions, refusal
from mobility.lifecycle.writer import transition
from mobility.live.publish import wake_workers
from mobility.models import Migration, MigrationEvent

REASON_MAX = 500


class ControlRefused(TransitionRefused):
    """The request is not allowed now; the message says why."""


def _check(user, action: str, m: Migration) -> None:
    why = policy.refusal(user, action, m)
    if why is not None:
        raise ControlRefused(why)


def latest_request(m: Migration) -> dict:
    event = MigrationEvent.objects.filter(migration=m, kind="request").order_by("-seq").first()
    return event.payload if event else {}


def _locked(m: Migration) -> Migration:
    return Migration.objects.select_for_update(no_key=True).select_related("partition").get(pk=m.pk)


def _ask(m: Migration, move: str, user, request: dict, outcome: str, **fields) -> None:
    """Inside the caller's transaction: the move's refusal, or the request event and the move itself."""
    why = refusal(move, m)
    if why:
        raise ControlRefused(why)
    emit(m.pk, "request", {**request, "by": user.get_username(), "at": timezone.now().isoformat()})
    transition(m, move, actor=user, outcome=outcome, **fields)


def request_stop(m: Migration, user) -> None:
    _check(user, "stop", m)
    with transaction.atomic():
        m = _locked(m)
        name = user.get_username()
        if m.status in (MigrationStatus.APPROVED, MigrationStatus.QUEUED):
            _ask(m, "stop_unstarted", user, {"action": "stop"},
                 f"Stopped by {name} before it started; nothing was sent to IVM.")
            return
        _ask(m, "stop", user, {"action": "stop"}, f"Stop requested by {name}")
    wake_engine()


def request_recover(m: Migration, user, force: bool = False) -> None:
    _check(user, "force_recover" if force else "recover", m)
    with transaction.atomic():
        m = _locked(m)
        _ask(m, "recover", user, {"action": "recover", "force": force, "previous": m.status},
             f"Recover{' (forced)' if force else ''} requested by {user.get_username()}", finished_at=None)
    wake_engine()


def withdraw(m: Migration, user, reason: str) -> None:
    """The request goes before anything ran: cancelled, its votes voided, who and why on record."""
    reason = (reason or "").strip()
    _check(user, "withdraw", m)
    if not reason:
        raise ControlRefused("Say why the request is withdrawn.")
    if len(reason) > REASON_MAX:
        raise ControlRefused(f"The reason is longer than {REASON_MAX} characters.")
    with transaction.atomic():
        m = _locked(m)
        _ask(m, "withdraw", user, {"action": "withdraw", "reason": reason},
             f"Withdrawn by {user.get_username()}: {reason}", claimed_by="", lease_until=None)
        void_approvals(m, f"request withdrawn by {user.get_username()}")


def tick_task(m: Migration, user, index: int, done: bool) -> None:
    """Step 11: tick (or untick) one follow-up task; the step is done when every task is."""
    _check(user, "tick_task", m)
    with transaction.atomic():
        m = _locked(m)
        step = m.steps.select_for_update(no_key=True).filter(key="postrequisites").first()
        tasks = list(step.data.get("tasks", [])) if step else []
        if "tick_task" not in allowed_actions(m) or not 0 <= index < len(tasks):
            raise ControlRefused("There is no such follow-up task to tick.")
        tasks[index] = {**tasks[index], "done": bool(done), "by": user.get_username(),
                        "at": timezone.now().isoformat()}
        finished = all(t["done"] for t in tasks)
        step_change(m, step.number, StepStatus.DONE if finished else StepStatus.RUNNING,
                    "Every follow-up task is done" if finished else "Tick off the follow-up tasks",
                    {"tasks": tasks}, actor=user)
        record("engine.task", actor=user, obj=m, data={"task": tasks[index]["text"], "done": bool(done)})


def wake_engine() -> None:
    """A hint for the workers (at most once, may be lost): they also find due work by polling."""
    wake_workers()
