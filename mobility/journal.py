"""A migration's journal: its sequenced events, and the fence that keeps a worker who lost it from writing there.

Every event goes through ``emit``: it takes the next ``Migration.last_seq`` with an atomic UPDATE (the row lock
orders concurrent writers), stores a ``MigrationEvent`` with that seq in the same transaction, and schedules the
live push for after the commit, so a browser never sees an event the database could still roll back.

Fencing: a worker that claims a migration gets a new token (``Migration.fence``, a counter that only grows) and runs
its driver inside ``driving(worker, token)``. While a token is in force on the thread, the seq UPDATE is conditional
on it: a driver that was paused past its lease and whose migration was claimed again by another worker has its
next write refused (``FenceLost``) and the whole transaction rolled back, so nothing it does lands. The check costs
no extra round trip: every step, status and progress write already takes the seq.
"""

import threading
from contextlib import contextmanager

from django.db import connection, transaction
from django.db.models import F

from mobility import live
from mobility.models import Migration, MigrationEvent
from mobility.observability import metrics

# The worker driving a migration on this thread and its fencing token (set by ``driving``, read by every write).
current = threading.local()


class FenceLost(Exception):
    """This worker's token is no longer the migration's: another worker claimed it. Stop at once."""

    def __init__(self, migration_id: int, token: int):
        super().__init__(f"migration {migration_id}: fencing token {token} is no longer in force")
        self.migration_id, self.token = migration_id, token


@contextmanager
def driving(worker: str, token: int, lease_s: float, lost: threading.Event):
    """Stamp events with ``worker`` and fence every write of this thread with ``token`` (a lease of ``lease_s``);
    ``lost`` is set by the driver's heartbeat when the lease is gone, and ends any wait on the IVM at once."""
    keys = ("worker", "fence", "lease_s", "lost")
    before = {key: getattr(current, key, None) for key in keys}
    current.worker, current.fence, current.lease_s, current.lost = worker, token, lease_s, lost
    try:
        yield
    finally:
        for key, value in before.items():
            setattr(current, key, value)


def fence_in_force() -> int | None:
    return getattr(current, "fence", None)


def emit(migration_id: int, kind: str, payload: dict) -> int:
    """Append one event; returns its seq. Pushed to browsers when the enclosing transaction commits."""
    worker = getattr(current, "worker", None)
    if worker:
        payload = {**payload, "worker": worker}
    # No savepoint (two round trips less per event): a failure here fails the caller's whole transaction anyway.
    with transaction.atomic(savepoint=False):
        seq = _next_seq(migration_id, fence_in_force())
        event = MigrationEvent.objects.create(migration_id=migration_id, seq=seq, kind=kind, payload=payload)
        transaction.on_commit(lambda: live.push_migration(migration_id, event))
    return seq


def _next_seq(migration_id: int, token: int | None) -> int:
    """Take the migration's next seq (one UPDATE … RETURNING where the database can), fenced by ``token``."""
    fenced = "" if token is None else " AND fence = %s"
    params = [migration_id] if token is None else [migration_id, token]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {Migration._meta.db_table} SET last_seq = last_seq + 1 WHERE id = %s{fenced} "
                           "RETURNING last_seq", params)
            row = cursor.fetchone()
        if row is None:
            _refused(migration_id, token)
        return row[0]
    rows = Migration.objects.filter(pk=migration_id, **({} if token is None else {"fence": token}))
    if rows.update(last_seq=F("last_seq") + 1) != 1:
        _refused(migration_id, token)
    return Migration.objects.filter(pk=migration_id).values_list("last_seq", flat=True).get()


def _refused(migration_id: int, token: int | None):
    if token is not None and Migration.objects.filter(pk=migration_id).exists():
        metrics.fenced_write_refused()
        raise FenceLost(migration_id, token)
    raise Migration.DoesNotExist(f"migration {migration_id}")


def fenced(migration_id: int):
    """The migration's row as a queryset, narrowed to the token in force: ``fenced(pk).update(...)`` must touch one
    row (``guarded_update``)."""
    token = fence_in_force()
    return Migration.objects.filter(pk=migration_id, **({} if token is None else {"fence": token}))


def check_fence(migration_id: int) -> None:
    """Raise ``FenceLost`` unless the token in force (if any) is still the migration's."""
    if fence_in_force() is not None and not fenced(migration_id).exists():
        _refused(migration_id, fence_in_force())


def guarded_update(migration_id: int, **values) -> None:
    """Write fields of a migration (not its status: ``lifecycle.transition`` owns that) under the fence in force."""
    if "status" in values:
        raise ValueError("the status is written by mobility.lifecycle.transition only")
    if fenced(migration_id).update(**values) != 1:
        _refused(migration_id, fence_in_force())
