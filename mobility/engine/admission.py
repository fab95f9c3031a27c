"""The per-IVM migration limits (``lslparmigr -r sys``) and the queue of approved migrations waiting for a slot.

Admission is decided inside one transaction that locks both servers' rows (``SELECT … FOR UPDATE``; SQLite
serialises writers anyway), so two workers cannot both take the last slot. A migration starts only when it is
first in the queue among those sharing its source or destination, so the queue is served in order.
"""

import threading
from datetime import timedelta
from typing import NamedTuple

from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from mobility.choices import MigrationStatus, StepStatus
from mobility.engine import ivmside
from mobility.engine.claim import ADMITTED, HOLDING, LOOKAHEAD, WAITING
from mobility.lifecycle.writer import transition
from mobility.models import Batch, BatchStatus, ManagedSystem, Migration, MigrationStep
from mobility.models.migrations import shares_a_server

# --- batches: members start in the batch's order, never more at once than its parallelism ---------------------------

# A slot freed in this process (step 9 saw the IVMs done with a member), or a wake-up from another process: the
# members waiting in line here look again at once instead of at their next poll (``Driver._run``). Only a hint: they
# read the line from the database either way, and still poll (a wake-up from another process may go to another one).
_freed = threading.Condition()
_freed_count = 0


def slot_freed() -> None:
    global _freed_count
    with _freed:
        _freed_count += 1
        _freed.notify_all()


def freed_count() -> int:
    return _freed_count


def wait_for_slot(seen: int, timeout: float) -> None:
    """Until a slot frees after ``freed_count()`` was ``seen`` (one freed meanwhile ends it at once), or ``timeout``."""
    with _freed:
        _freed.wait_for(lambda: _freed_count != seen, timeout)


class Line(NamedTuple):
    """Where a batch's member stands in its batch's line: ``why`` it waits (None: its batch lets it start now, the
    IVMs' limits are asked next) and how many waiting members are ``ahead`` of it (None: it is not a member of a
    running batch)."""

    why: str | None
    ahead: int | None

    @property
    def close(self) -> bool:
        """Among the batch's next members to start (``LOOKAHEAD``): its driver waits in place for a slot."""
        return self.ahead is not None and self.ahead <= LOOKAHEAD


def _line(batch_id: int | None, batch: Batch | None, position: int | None) -> Line:
    """The one batch-turn rule (``batch_line`` and ``waits_in_line`` read the rows it needs): a member of a running
    batch starts when a slot of the batch is free for it, i.e. fewer of the members before it wait than slots are
    free. Two queries: the batch's row (the caller's), then its slots held and members ahead in one."""
    if batch_id is None:
        return Line(None, None)
    if batch is None or batch.status != BatchStatus.RUNNING:
        state = BatchStatus(batch.status).label.lower() if batch else "gone"
        return Line(f"Waiting: batch #{batch_id} is {state}.", None)
    counts = Migration.objects.filter(batch_id=batch_id).aggregate(
        held=Count("pk", filter=HOLDING), ahead=Count("pk", filter=Q(status__in=WAITING, batch_position__lt=position)))
    held, ahead = counts["held"], counts["ahead"]
    free = (batch.parallelism or 1) - held
    if free <= 0:
        return Line(f"Waiting for a slot of batch #{batch_id} ({held} of {batch.parallelism} running).", ahead)
    if ahead >= free:
        return Line(f"Waiting for its turn in batch #{batch_id} ({ahead} member(s) before it).", ahead)
    return Line(None, ahead)


def batch_line(m: Migration) -> Line:
    """Member ``m``'s place in its batch's line (``Line``); a migration in no batch never waits for one."""
    if m.batch_id is None:
        return Line(None, None)
    return _line(m.batch_id, Batch.objects.filter(pk=m.batch_id).only("status", "parallelism").first(),
                 m.batch_position)


def waits_in_line(migration_id: int) -> bool:
    """A batch's member not admitted yet whose turn has not come, among the next ones in line: what its driver asks
    ten times a second while it waits in place (``Driver._still_in_line``), in two queries."""
    m = (Migration.objects.select_related("batch").only("status", "batch_id", "batch_position", "batch__status",
                                                        "batch__parallelism").filter(pk=migration_id).first())
    if m is None or m.status not in WAITING or m.batch_id is None:
        return False
    line = _line(m.batch_id, m.batch, m.batch_position)
    return line.why is not None and line.close


def batch_holds(m: Migration) -> str | None:
    """Why a member admitted already must not start now (its batch was paused or stopped meanwhile), or None."""
    if m.batch_id is None:
        return None
    status = Batch.objects.filter(pk=m.batch_id).values_list("status", flat=True).first()
    if status == BatchStatus.RUNNING:
        return None
    return f"Not started: batch #{m.batch_id} is {BatchStatus(status).label.lower() if status else 'gone'}."


def queued_at(m: Migration):
    """A member queues in its batch's order (the batch's start, plus its position in microseconds), so the queue
    of a server serves the batch's members as the batch orders them; anything else queues now."""
    if m.batch_id is not None:
        started = Batch.objects.filter(pk=m.batch_id).values_list("started_at", flat=True).first()
        if started is not None:
            return started + timedelta(microseconds=m.batch_position or 0)
    return timezone.now()


def _limits(m: Migration) -> list[tuple[int, int]]:
    """(supported, in progress on the IVM) for the migration's mode, on the source and on the destination.

    A batch's member is admitted on the inventory's limits and ivmweb's own count (no SSH: a slot handed over in
    milliseconds, not two round trips to busy IVMs), since the IVM still enforces its limit: a refusal at ``-o m``, or
    the IVMs' own counts at step 1, send the member back to wait (``steps._ivm_busy``). A member sent back so once,
    and any other migration, asks the IVMs' counts, which include migrations started outside ivmweb."""
    field = f"{m.mode}_migrations_supported"
    known = [getattr(system, field) for system in (m.source, m.destination)]
    if m.batch_id is not None and all(known) and not m.steps.filter(data__has_key="ivm_busy_at").exists():
        return [(supported, 0) for supported in known]
    return ivm_counts(m)


def ivm_counts(m: Migration) -> list[tuple[int, int]]:
    """(supported, in progress) for the migration's mode, as the source's and the destination's IVMs count them now
    (``lslparmigr -r sys``, one round trip each)."""
    found = []
    for system in (m.source, m.destination):
        counts = ivmside.migration_limits(m, system.console)
        found.append((counts[f"num_{m.mode}_migrations_supported"], counts[f"num_{m.mode}_migrations_in_progress"]))
    return found


def _fresh_steps(m: Migration) -> None:
    """The step rows of the run that starts, written before the status event that starts it: that event's push
    renders the whole panel with them, and each step event after it pushes its own row alone, which a page open
    since the approval must already have. Fenced by the caller's transaction: the ``admit`` transition that follows
    in it refuses a stale fence (``FenceLost``), and the rollback takes these writes back with it."""
    if m.start_intent_at is None:  # a fresh run (again after a re-approval): every step starts pending
        if not MigrationStep.objects.filter(migration=m).update(status=StepStatus.PENDING, started_at=None,
                                                                 finished_at=None):
            m.create_steps()
    elif not m.steps.exists():
        m.create_steps()


def _competition(m: Migration) -> dict:
    """In one query over the migrations sharing a server with ``m``: the slots of ``m``'s mode held on its source
    (``source``) and on its destination (``destination``), and the queued migrations ahead of ``m`` (``ahead``: those
    queued before it, or every queued one when ``m`` has not queued yet)."""
    def on(system_id):
        return Q(source_id=system_id) | Q(destination_id=system_id)

    holding = HOLDING & Q(mode=m.mode)
    ahead = Q(status=MigrationStatus.QUEUED)
    if m.queued_at is not None:
        ahead &= Q(queued_at__lt=m.queued_at) | Q(queued_at=m.queued_at, pk__lt=m.pk)
    return Migration.objects.filter(shares_a_server(m)).aggregate(
        source=Count("pk", filter=holding & on(m.source_id)),
        destination=Count("pk", filter=holding & on(m.destination_id)), ahead=Count("pk", filter=ahead))


def admit(m: Migration, line: Line | None = None) -> bool:
    """Start ``m`` (status RUNNING) if both IVMs have a free slot, nothing queued is ahead and (a batch's member) its
    batch lets it; else queue it. ``line``: its ``batch_line`` as the caller just read it (asked again under the
    locks before it starts).

    Every admission sharing a server waits for these locks (an evacuation's members all share the source), and on
    a busy worker each round trip can wait for the interpreter: the locked section asks in as few queries as it can."""
    if (line or batch_line(m)).why is not None:  # not its batch's turn: no need to ask the IVMs
        return False
    limits = _limits(m)  # SSH outside the transaction: never hold row locks across the network
    with transaction.atomic():
        # FOR NO KEY UPDATE (as every row lock here): it orders admissions, and does not block the foreign-key
        # checks (KEY SHARE) of other transactions inserting rows that point at these systems (that deadlocked).
        list(ManagedSystem.objects.select_for_update(no_key=True)
             .filter(pk__in=[m.source_id, m.destination_id]).order_by("pk"))
        # The batch's slots are counted under its row's lock (read here once, for its line below).
        batch = (Batch.objects.select_for_update(no_key=True).only("status", "parallelism").filter(pk=m.batch_id)
                 .first() if m.batch_id is not None else None)
        m.refresh_from_db()
        if m.status not in (MigrationStatus.APPROVED, MigrationStatus.QUEUED):
            return m.status in ADMITTED
        if _line(m.batch_id, batch, m.batch_position).why is not None:
            return False
        held = _competition(m)
        free = all(max(ours, ivm_in_progress) < supported for ours, (supported, ivm_in_progress)
                   in zip((held["source"], held["destination"]), limits, strict=True))
        # First in the queue: queued, none before it; not queued yet, none queued at all. (Approved again with
        # its old place, it queues anew first.)
        first = held["ahead"] == 0 and (m.queued_at is None or m.status == MigrationStatus.QUEUED)
        if free and first:
            _fresh_steps(m)
            transition(m, "admit", outcome="", started_at=timezone.now(), ivm_done_at=None)
            return True
        if m.status != MigrationStatus.QUEUED:
            transition(m, "queue", outcome="Waiting for a free migration slot on "
                       f"{m.source.name} or {m.destination.name}.", queued_at=queued_at(m))
        return False
