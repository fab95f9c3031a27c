"""The sequenced event stream of a migration, and the step/status changes that write to it.

Every change goes through ``emit``: it takes the next ``Migration.last_seq`` with an atomic UPDATE (the row lock
orders concurrent writers), stores a ``MigrationEvent`` with that seq in the same transaction, and schedules the
live push for after the commit, so a browser never sees an event the database could still roll back.
"""

import logging
import threading

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from mobility import live
from mobility.choices import StepStatus
from mobility.governance.audit import record
from mobility.models import Migration, MigrationEvent, MigrationStep

logger = logging.getLogger("mobility.engine")

OUTPUT_LIMIT = 4000  # characters of command output kept in an event
# The worker driving the migration in this thread, stamped on every event it writes (who did what).
current = threading.local()


def emit(migration_id: int, kind: str, payload: dict) -> int:
    """Append one event; returns its seq. Pushed to browsers when the enclosing transaction commits."""
    worker = getattr(current, "worker", None)
    if worker:
        payload = {**payload, "worker": worker}
    # No savepoint (two round trips less per event): a failure here fails the caller's whole transaction anyway.
    with transaction.atomic(savepoint=False):
        seq = _next_seq(migration_id)
        event = MigrationEvent.objects.create(migration_id=migration_id, seq=seq, kind=kind, payload=payload)
        transaction.on_commit(lambda: live.push_migration(migration_id, event))
    return seq


def _next_seq(migration_id: int) -> int:
    """Take the migration's next seq: one UPDATE … RETURNING where the database can (a round trip less per event)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Migration._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s "
                           "RETURNING last_seq", [migration_id])
            row = cursor.fetchone()
        if row is None:
            raise Migration.DoesNotExist(f"migration {migration_id}")
        return row[0]
    Migration.objects.filter(pk=migration_id).update(last_seq=F("last_seq") + 1)
    return Migration.objects.filter(pk=migration_id).values_list("last_seq", flat=True).get()


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
        record("engine.step", actor=actor, obj=migration,
               data={"step": number, "key": step.key, "status": status, "detail": step.detail})
        emit(migration.pk, "step", {"number": number, "key": step.key, "status": status,
                                    "detail": step.detail, "at": now.isoformat()})  # last: see status_change
    return step


def step_data(migration: Migration, number: int, **data) -> None:
    """Merge facts into a step's ``data`` without changing its status (no event: it is bookkeeping)."""
    with transaction.atomic():
        step = MigrationStep.objects.select_for_update(no_key=True).get(migration=migration, number=number)
        step.data = {**step.data, **data}
        step.save(update_fields=["data"])


def status_change(migration: Migration, status: str, outcome: str | None = None, actor=None, **fields) -> None:
    """Set the migration's status (and any other fields), emit a ``status`` event and audit it."""
    now = timezone.now()
    with transaction.atomic():
        values = {"status": status, **fields}
        if outcome is not None:
            values["outcome"] = outcome
        if status in ("completed", "failed", "stopped") and "finished_at" not in fields:
            values["finished_at"] = now
        Migration.objects.filter(pk=migration.pk).update(**values)
        for key, value in values.items():
            setattr(migration, key, value)
        record(f"engine.{status}", actor=actor, obj=migration,
               data={"status": status, "outcome": migration.outcome})
        # The event last (its row lock on the migration is then held only until the commit, and its ``at`` is
        # the commit's time, give or take the commit itself), its push before the mail (on_commit runs in order).
        emit(migration.pk, "status", {"status": status, "outcome": migration.outcome, "at": now.isoformat()})
        _notify(migration, status, started="started_at" in fields)


def _notify(migration: Migration, status: str, *, started: bool) -> None:
    """Mail the requester at the points they care about (sent on commit)."""
    from mobility import notifications

    if status == "running" and started:
        notifications.notify_started(migration)
    elif status == "completed":
        notifications.notify_completed(migration)
    elif status == "failed":
        notifications.notify_failed(migration)


def command_event(migration: Migration, console_name: str, command: str, exit_status: int | None,
                  output: str, error: str = "") -> None:
    """The IVM command the engine ran, with its exit status and (truncated) output; secrets are already redacted."""
    emit(migration.pk, "command", {"ivm": console_name, "command": command, "exit": exit_status,
                                   "output": output[-OUTPUT_LIMIT:], "error": error,
                                   "at": timezone.now().isoformat()})
