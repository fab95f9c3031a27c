"""Writing, sealing and verifying the hash-chained audit trail.

Each event's hash is SHA-256 over the previous event's hash and a canonical JSON of its own fields,
so rewriting any row breaks every hash after it.

Two phases, so that no business transaction waits on the chain: ``record`` inserts the event as part of the
transaction that made the change (atomic with it, no lock); ``seal`` then chains what is committed, in its own
short transaction, in the process's sealer thread woken by that commit (``on_commit``), and again from every
engine worker's housekeeping and before every verification, so an event whose writer died after its commit is sealed
too. Chaining inside the business transactions serialised all of them on one lock held until their commit, and
deadlocked with their row locks (50 migrations at once). Only sealers take the append lock (an advisory lock on
PostgreSQL; SQLite's IMMEDIATE transactions serialise writers already), and a sealer touches audit rows only.

A row is tamper-evident from its sealing on, normally within a quarter second of its commit; the database
triggers let an unsealed row be sealed once (its chain columns only), never changed otherwise, deleted or truncated.

Time does not go backwards along the chain. A writer stamps ``at`` just before its insert and commits a little later,
so concurrent writers commit out of ``at`` order by the length of their transactions: a sealer orders what is ready by
(at, id), and refuses (leaves unsealed, for ``verify_audit`` to report) a row whose ``at`` is more than
IVMWEB_AUDIT_CLOCK_TOLERANCE_S behind the latest ``at`` already sealed, or that far in the future. An honest row
lies behind by at most its own transaction's length after its stamp (the sealed row it is compared with was sealed
before this row committed, so its ``at`` is earlier than this commit) plus the clock skew between hosts: the
tolerance must exceed both, and any back-dating beyond it is refused. Rows sealed in one turn are in order exactly.

What the chain cannot show on its own, rows cut off its end, checkpoints show (``governance.checkpoints``).
"""

import hashlib
import json
import logging
import os
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max, Q
from django.utils import timezone

from mobility.bulk import insert_rows
from mobility.models import AuditEvent

logger = logging.getLogger("mobility.audit")
GENESIS = "0" * 64
_LOCK_KEY = 0x1F_A0D1  # arbitrary, constant: the advisory lock that orders sealing
SEAL_BATCH = 1000
# After a turn, the sealer gathers for this long before the next: under 50 migrations a commit every few ms each woke
# a sealing transaction of its own; now a turn seals what a quarter second brought (tamper-evident that much later).
SEAL_GATHER_S = 0.25


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


def new_event(action: str, *, actor=None, obj=None, data: dict | None = None, actor_name: str = "",
              object_type: str = "", object_id: str = "") -> AuditEvent:
    """An unsaved event; ``record`` and ``record_many`` store it, ``seal`` chains it once committed."""
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
    """Store one event. Call inside the transaction that made the change it records: it commits (or rolls back)
    with that change."""
    return record_many([new_event(action, actor=actor, obj=obj, data=data, actor_name=actor_name)])[0]


# What an unsealed event's insert writes (the chain columns stay NULL until it is sealed).
_EVENT_COLUMNS = ("at", "actor_id", "actor_name", "action", "object_type", "object_id", "data")


def record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Store events built with ``new_event``, in order, with one insert; they are sealed after the commit."""
    with transaction.atomic(savepoint=False):  # no savepoint: the caller's change and its record fail together
        if len(events) == 1:
            events[0].save()
        elif events:
            # In one COPY (an inventory sync records ~60 commands per IVM); ids in order, as bulk_create gives them.
            rows = [tuple(getattr(event, column) for column in _EVENT_COLUMNS) for event in events]
            for event, pk in zip(events, insert_rows(AuditEvent, _EVENT_COLUMNS, rows, {}), strict=True):
                event.pk = pk
                event._state.adding, event._state.db = False, connection.alias
        transaction.on_commit(_sealer.poke)
    return events


class _Sealer:
    """One thread per process seals what its writers committed: a writer only wakes it (no round trip, no lock
    in the writer's thread), and the events committed while it seals are sealed together on its next turn."""

    def __init__(self):
        self._lock, self._wake, self._thread = threading.Lock(), threading.Event(), None

    def poke(self) -> None:
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="audit-sealer", daemon=True)
                self._thread.start()
        self._wake.set()

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            try:
                sealed = seal()
            except Exception:  # noqa: BLE001 — committed events stay unsealed until the next turn (or housekeeping)
                sealed = 0
                logger.warning("sealing the audit trail failed", exc_info=True)
            finally:
                connection.close()  # this thread's connection, back to the pool between turns
            if sealed:
                time.sleep(SEAL_GATHER_S)


_sealer = _Sealer()
os.register_at_fork(after_in_child=_sealer.__init__)  # the thread does not survive a fork; the child starts its own


def _tolerance() -> timedelta:
    return timedelta(seconds=settings.IVMWEB_AUDIT_CLOCK_TOLERANCE_S)


def _sealed_latest_at() -> datetime | None:
    """The latest ``at`` in the chain (its high-water mark), which later events may not lie far behind."""
    return AuditEvent.objects.filter(position__isnull=False).aggregate(latest=Max("at"))["latest"]


def _in_time(latest_at: datetime | None) -> Q:
    """Unsealed events that sealing accepts: not back-dated behind ``latest_at`` nor dated in the future, both beyond
    the tolerance (see the module's docstring)."""
    window = Q(at__lte=timezone.now() + _tolerance())
    return window & Q(at__gte=latest_at - _tolerance()) if latest_at is not None else window


def ready_to_seal():
    """The committed, unsealed events that sealing accepts now, in chain order. Read through the index of unsealed
    rows by time: the window bounds the scan, whatever the length of the trail."""
    return AuditEvent.objects.filter(_in_time(_sealed_latest_at()), hash__isnull=True).order_by("at", "id")


def seal(wait: bool = True) -> int:
    """Chain every committed, unsealed event that is in time, in (at, id) order, after the chain's head; returns how
    many. Events out of time stay unsealed: ``refused_events`` lists them.

    ``wait=False`` (a worker's housekeeping) gives up at once when another sealer holds the lock: what that one did
    not see is sealed by the next turn of some sealer."""
    sealed = 0
    while True:
        with transaction.atomic():
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    if wait:
                        cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_LOCK_KEY])
                    else:
                        cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_LOCK_KEY])
                        if not cursor.fetchone()[0]:
                            return sealed
            batch = [_Unsealed(*row) for row in ready_to_seal().values_list(*_UNSEALED)[:SEAL_BATCH]]
            if not batch:
                return sealed
            head = (AuditEvent.objects.filter(position__isnull=False).order_by("-position")
                    .values_list("position", "hash").first()) or (0, GENESIS)
            position, prev = head
            for event in batch:
                position += 1
                event.position, event.prev_hash = position, prev
                event.hash = prev = compute_hash(prev, event)
            _write_seals(batch)
            sealed += len(batch)
            if len(batch) < SEAL_BATCH:
                return sealed


@dataclass(slots=True)
class _Unsealed:
    """What sealing reads of an event: the fields ``compute_hash`` reads (as of a model instance), without building
    a model instance per row (a third of a sealing turn's CPU), and the chain columns it fills."""

    pk: int
    at: datetime
    actor_name: str
    action: str
    object_type: str
    object_id: str
    data: dict
    position: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


_UNSEALED = ("pk", "at", "actor_name", "action", "object_type", "object_id", "data")


def _write_seals(batch: list[_Unsealed]) -> None:
    """Store the chain columns of a sealed batch. On PostgreSQL one ``UPDATE … FROM (VALUES …)``: Django's
    ``bulk_update`` builds a CASE/WHEN expression per row and column, which cost the engine workers more CPU than
    the hashing (a tenth of a worker's samples under 50 migrations)."""
    if connection.vendor != "postgresql":
        AuditEvent.objects.bulk_update(
            [AuditEvent(pk=e.pk, position=e.position, prev_hash=e.prev_hash, hash=e.hash) for e in batch],
            ["position", "prev_hash", "hash"])
        return
    rows = ", ".join(["(%s::bigint, %s::bigint, %s, %s)"] * len(batch))
    params = [v for e in batch for v in (e.pk, e.position, e.prev_hash, e.hash)]
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {AuditEvent._meta.db_table} AS a SET position = v.position, prev_hash = v.prev_hash, "
                       f"hash = v.hash FROM (VALUES {rows}) AS v(id, position, prev_hash, hash) WHERE a.id = v.id",
                       params)
        if cursor.rowcount != len(batch):  # the batch was read under the lock: every row must still be there
            raise RuntimeError(f"sealing updated {cursor.rowcount} of {len(batch)} audit rows")


@dataclass
class Verification:
    ok: bool
    checked: int
    head: str
    first_bad_id: int | None = None
    problem: str = ""
    position: int = 0  # the last verified event's place in the chain (0: none)


def walk(after: int = 0, prev: str = GENESIS, latest_at: datetime | None = None, batch: int = 5000) -> Verification:
    """Walk the sealed chain from after position ``after`` (whose hash is ``prev``, the latest ``at`` up to it
    ``latest_at``) to its head, in constant memory; report the first event that does not match."""
    checked, position, tolerance = 0, after, _tolerance()
    events = AuditEvent.objects.filter(position__gt=after).order_by("position")
    for event in events.iterator(chunk_size=batch):
        if event.prev_hash != prev:
            return Verification(False, checked, prev, event.id, "its prev_hash does not match the event before it",
                                position)
        if compute_hash(prev, event) != event.hash:
            return Verification(False, checked, prev, event.id, "its content does not match its hash", position)
        if latest_at is not None and event.at < latest_at - tolerance:
            return Verification(False, checked, prev, event.id,
                                f"its time is earlier than {latest_at.isoformat()} of an event before it (back-dated)",
                                position)
        latest_at = event.at if latest_at is None else max(latest_at, event.at)
        prev, position = event.hash, event.position
        checked += 1
    return Verification(True, checked, prev, position=position)


def refused_events() -> tuple[int, AuditEvent | None]:
    """How many committed events sealing refuses as back-dated or future-dated, and the first of them."""
    latest_at = _sealed_latest_at()
    out_of_time = Q(at__gt=timezone.now() + _tolerance())
    if latest_at is not None:
        out_of_time |= Q(at__lt=latest_at - _tolerance())
    refused = AuditEvent.objects.filter(out_of_time, hash__isnull=True).order_by("id")
    return refused.count(), refused.first()


def verify_chain(batch: int = 5000) -> Verification:
    """Seal what is committed, then walk the whole chain in order, in constant memory; report the first event that
    does not match, else the first event that sealing refused for its time."""
    seal()
    result = walk(batch=batch)
    if not result.ok:
        return result
    count, first = refused_events()
    if count:
        return Verification(False, result.checked, result.head, first.id,
                            f"sealing refused it and {count - 1} other event(s): dated outside the chain's time "
                            f"({first.at.isoformat()}, more than {settings.IVMWEB_AUDIT_CLOCK_TOLERANCE_S} s behind "
                            f"the latest sealed event or ahead of now)", result.position)
    return result
