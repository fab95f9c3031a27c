"""Step changes and command events of a migration, written to its journal (``mobility.journal``).

A step change is its step row, an audit record and a ``step`` event in one transaction; the event's seq UPDATE is
fenced by the driver's token, so a worker that lost the migration has the whole change rolled back. Status changes
are ``mobility.lifecycle.transition``'s alone.
"""

import logging

from django.db import transaction
from django.utils import timezone

from mobility.choices import StepStatus
from mobility.governance.audit import record
from mobility.journal import check_fence, emit
from mobility.models import Migration, MigrationStep
from mobility.observability import metrics

logger = logging.getLogger("mobility.engine")

OUTPUT_LIMIT = 4000  # characters of command output kept in an event


def step_change(migration: Migration, number: int, status: str, detail: str | None = None,
                data: dict | None = None, actor=None) -> MigrationStep:
    """Move one step to ``status`` (stamping its times), emit a ``step`` event and audit it, in one transaction."""
    now = timezone.now()
    with transaction.atomic():
        step = MigrationStep.objects.select_for_update(no_key=True).get(migration=migration, number=number)
        if status == StepStatus.RUNNING and step.started_at is None:
            step.started_at = now
        if status in StepStatus.terminal():
            step.started_at = step.started_at or now
            step.finished_at = now
        step.status = status
        if detail is not None:
            step.detail = detail
        if data:
            step.data = {**step.data, **data}
        step.save()
        transaction.on_commit(lambda: metrics.step_changed(step, migration.mode))
        record("engine.step", actor=actor, obj=migration,
               data={"step": number, "key": step.key, "status": status, "detail": step.detail})
        emit(migration.pk, "step", {"number": number, "key": step.key, "status": status,
                                    "detail": step.detail, "at": now.isoformat()})  # last: see transition
    return step


def step_data(migration: Migration, number: int, **data) -> None:
    """Merge facts into a step's ``data`` without changing its status (no event: it is bookkeeping)."""
    with transaction.atomic():
        step = MigrationStep.objects.select_for_update(no_key=True).get(migration=migration, number=number)
        check_fence(migration.pk)  # bookkeeping of the driver holding the migration, like all its writes
        step.data = {**step.data, **data}
        step.save(update_fields=["data"])


def command_event(migration: Migration, console_name: str, command: str, exit_status: int | None,
                  output: str, error: str = "") -> None:
    """The IVM command the engine ran, with its exit status and (truncated) output; secrets are already redacted."""
    emit(migration.pk, "command", {"ivm": console_name, "command": command, "exit": exit_status,
                                   "output": output[-OUTPUT_LIMIT:], "error": error,
                                   "at": timezone.now().isoformat()})
