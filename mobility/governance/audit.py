"""Writing and verifying the hash-chained audit trail.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON of its own fields,
so rewriting any row breaks every hash after it. Appends are serialised (an advisory lock on
PostgreSQL; SQLite's IMMEDIATE transactions serialise writers already).
"""

import hashlib
import json
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from mobility.models import AuditEvent

GENESIS = "0" * 64
_LOCK_KEY = 0x1F_A0D1  # arbitrary, constant: the advisory lock that orders audit appends


def _canonical(event: AuditEvent) -> bytes:
    body = {
        "at": event.at.isoformat(timespec="microseconds"),
        "actor": event.actor_name,
        "action": event.action,
        "object_type": event.object_type,
        "object_id": event.object_id,
        "data": event.data,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), default=str).encode()


def compute_hash(prev_hash: str, event: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + b"\n" + _canonical(event)).hexdigest()


def lock() -> None:
    """Take the append lock now, until the transaction ends (PostgreSQL; SQLite serialises writers anyway).

    A transaction that will append to the trail and also locks rows should call this FIRST: the order is then
    always "append lock, then rows". Taking it last (inside ``record``) after rows were locked deadlocks with a
    transaction that holds the lock and wants one of those rows (seen with 50 migrations at once).

    Django's foreign keys are DEFERRABLE INITIALLY DEFERRED: the key checks of the rows inserted so far (KEY
    SHARE locks on the rows they point to) would run at COMMIT, while the lock is held. SET CONSTRAINTS ALL
    IMMEDIATE runs them now, before the lock, and makes the rest immediate."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])  # re-entrant within a session


def _head_locked() -> str:
    """Take the append lock (until the transaction ends) and return the chain's head hash."""
    lock()
    return AuditEvent.objects.order_by("-id").values_list("hash", flat=True).first() or GENESIS


def new_event(action: str, *, actor=None, obj=None, data: dict | None = None, actor_name: str = "",
              object_type: str = "", object_id: str = "") -> AuditEvent:
    """An unsaved, unchained event; ``record`` and ``record_many`` chain and store it."""
    has_actor = getattr(actor, "pk", None) is not None
    return AuditEvent(
        at=timezone.now(),
        actor=actor if has_actor else None,
        actor_name=actor_name or (actor.get_username() if has_actor else "system"),
        action=action,
        object_type=obj._meta.model_name if obj is not None else object_type,
        object_id=str(obj.pk) if obj is not None else object_id,
        # Round-trip through JSON so the hash covers exactly what the database will return.
        data=json.loads(json.dumps(data or {}, default=str)),
    )


def record(action: str, *, actor=None, obj=None, data: dict | None = None, actor_name: str = "") -> AuditEvent:
    """Append one event to the chain. Call inside the transaction that made the change it records."""
    return record_many([new_event(action, actor=actor, obj=obj, data=data, actor_name=actor_name)])[0]


def record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Chain and append events built with ``new_event``, in order, with one bulk insert."""
    with transaction.atomic():
        prev = _head_locked()
        for event in events:
            event.prev_hash = prev
            event.hash = prev = compute_hash(prev, event)
        if len(events) == 1:
            events[0].save()
        else:
            AuditEvent.objects.bulk_create(events, batch_size=500)
    return events


@dataclass
class Verification:
    ok: bool
    checked: int
    head: str
    first_bad_id: int | None = None
    problem: str = ""


def verify_chain(batch: int = 5000) -> Verification:
    """Walk the whole chain in id order, in constant memory; report the first event that does not match."""
    prev = GENESIS
    checked = 0
    for event in AuditEvent.objects.order_by("id").iterator(chunk_size=batch):
        if event.prev_hash != prev:
            return Verification(False, checked, prev, event.id, "its prev_hash does not match the event before it")
        if compute_hash(prev, event) != event.hash:
            return Verification(False, checked, prev, event.id, "its content does not match its hash")
        prev = event.hash
        checked += 1
    return Verification(True, checked, prev)
