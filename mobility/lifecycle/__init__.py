"""The lifecycle of a migration: every move its status may make, who may cause it, and the one writer of status.

``MOVES`` declares each move: the statuses it leaves, the one it reaches, who causes it (a person, through an action
that ``mobility.policy`` grants; the engine, holding the migration's fencing token; or housekeeping) and the guard
the migration must pass. ``transition`` (``mobility.lifecycle.writer``) is the only code that writes
``Migration.status``: one conditional UPDATE
(``WHERE status IN <sources>``, and ``AND fence = <token>`` for the engine), the ``status`` event and the audit record
in the same transaction, the push and the mail after the commit. A move whose UPDATE finds no row did not happen:
``TransitionRefused`` (or ``FenceLost`` for a worker whose token is stale) says why, and nothing was written.

The actions a page offers (``allowed_actions``) come from the same table, so a page never offers what the server
refuses: this module is the table alone (it imports only the models), so the presenters of pushed pages read it
without importing the writer. Why a table of our own rather than django-fsm-2 or viewflow's fsm: their transitions are model methods that
save the instance (``save()`` of a stale copy, no conditional UPDATE, no fencing), and a dozen rows read as easily as
decorators; what we need from a library (guards, a declared graph) is these thirty lines.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mobility.choices import MigrationStatus as S
from mobility.models import Batch, Migration
from mobility.models import BatchStatus as B

PERSON, ENGINE, HOUSEKEEPING = "person", "engine", "housekeeping"


class TransitionRefused(Exception):
    """The move is not allowed from the migration's status now; the message says why, for a person."""


def _started(m: Migration) -> str | None:
    return None if m.start_intent_at is not None else "Nothing was sent to IVM for this migration."


def _not_started(m: Migration) -> str | None:
    return "The migration has started." if m.start_intent_at is not None else None


def _batch_editable(m: Migration) -> str | None:
    """A member of a batch changes only while its batch may change (then through the batch, which voids its
    approval); once the batch runs, its members' plans stay as approved."""
    if m.batch_id is None:
        return None
    status = Batch.objects.filter(pk=m.batch_id).values_list("status", flat=True).first()
    if status in (B.PENDING_APPROVAL, B.APPROVED):
        return None
    return f"This migration is a member of batch #{m.batch_id}, which is {B(status).label.lower()}."


def _recover_needed(m: Migration) -> str | None:
    if m.start_intent_at is None:
        return "Nothing was sent to IVM for this migration: there is nothing to recover."
    if not m.recover_needed:
        return "The IVM did not leave this partition half-moved: there is nothing to recover."
    if Migration.objects.filter(partition_id=m.partition_id, status__in=S.unfinished()).exclude(pk=m.pk).exists():
        return "Another migration of this partition is under way."
    return None


@dataclass(frozen=True)
class Move:
    name: str
    sources: frozenset[S]
    target: S
    by: str
    action: str | None = None  # the ``mobility.policy`` action a person needs for it
    guard: Callable[[Migration], str | None] | None = None  # why not, or None


def _move(name, sources, target, by, action=None, guard=None) -> Move:
    return Move(name, frozenset(sources), target, by, action, guard)


UNSTARTED = (S.PENDING_APPROVAL, S.APPROVED, S.QUEUED)
MOVES: dict[str, Move] = {m.name: m for m in (
    # Four eyes and the request's own life.
    _move("approve", [S.PENDING_APPROVAL], S.APPROVED, PERSON, "vote"),
    _move("reject", [S.PENDING_APPROVAL], S.REJECTED, PERSON, "vote"),
    _move("revise", [S.PENDING_APPROVAL, S.APPROVED], S.PENDING_APPROVAL, PERSON, "revise", _batch_editable),
    _move("withdraw", UNSTARTED, S.CANCELLED, PERSON, "withdraw", _not_started),
    _move("expire", [S.PENDING_APPROVAL, S.APPROVED], S.EXPIRED, HOUSEKEEPING),
    # People steer a run; the engine carries the request out.
    _move("stop", [S.RUNNING], S.STOPPING, PERSON, "stop"),
    _move("stop_unstarted", [S.APPROVED, S.QUEUED], S.STOPPED, PERSON, "stop", _not_started),
    _move("recover", [S.FAILED, S.STOPPED], S.RECOVERING, PERSON, "recover", _recover_needed),
    # The engine, under its fencing token.
    _move("queue", [S.APPROVED], S.QUEUED, ENGINE),
    _move("admit", [S.APPROVED, S.QUEUED], S.RUNNING, ENGINE),
    _move("not_started", [S.RUNNING], S.APPROVED, ENGINE),  # step 1: the approval is no longer in force
    _move("ivm_busy", [S.RUNNING], S.QUEUED, ENGINE),  # step 3: the IVM refused -o m at its migration limit
    _move("drifted", [S.RUNNING], S.PENDING_APPROVAL, ENGINE),  # step 1: the estate changed; approve again
    _move("complete", [S.RUNNING], S.COMPLETED, ENGINE),
    _move("fail", [S.RUNNING, S.STOPPING], S.FAILED, ENGINE),
    _move("time_out", [S.RUNNING], S.STOPPING, ENGINE),
    _move("stopped", [S.STOPPING], S.STOPPED, ENGINE),
    _move("resume", [S.STOPPING], S.RUNNING, ENGINE),  # the stop came too late, or the IVM refused it
    _move("recovered", [S.RECOVERING], S.FAILED, ENGINE),
    _move("recovered_stopped", [S.RECOVERING], S.STOPPED, ENGINE),
    _move("recover_failed", [S.RECOVERING], S.FAILED, ENGINE),
    # Members of a batch (``BATCH_MOVES`` below): the batch's approval voided when one member changed sends the others
    # back for approval; those its window left unstarted end (they can be planned again into a new batch).
    _move("batch_voided", [S.APPROVED], S.PENDING_APPROVAL, PERSON, "revise", _not_started),
    _move("window_closed", [S.APPROVED, S.QUEUED], S.EXPIRED, HOUSEKEEPING, guard=_not_started),
    _move("batch_halted", [S.APPROVED, S.QUEUED], S.STOPPED, HOUSEKEEPING, guard=_not_started),
)}
# What a person may do that is not a move of the status: tick a follow-up task of a completed migration.
TASKS_OPEN = frozenset({S.COMPLETED})
# The actions a migration's page offers, each a ``mobility.policy`` action.
PAGE_ACTIONS = ("withdraw", "stop", "recover", "tick_task")


def refusal(move: str | Move, m: Migration) -> str | None:
    """Why ``move`` cannot happen to ``m`` as it is (status and guard), or None."""
    spec = MOVES[move] if isinstance(move, str) else move
    if m.status not in spec.sources:
        return f"A {m.get_status_display().lower()} migration cannot be {_PAST.get(spec.name, spec.name)}."
    return spec.guard(m) if spec.guard else None


_PAST = {"batch_voided": "sent back for approval", "window_closed": "closed", "approve": "approved", "reject": "rejected", "revise": "revised", "withdraw": "withdrawn",
         "stop": "stopped", "stop_unstarted": "stopped", "recover": "recovered", "expire": "expired"}


def allowed_actions(m: Migration) -> frozenset[str]:
    """The policy actions the migration's status allows a person now (who may is ``mobility.policy``'s answer)."""
    found = {spec.action for spec in MOVES.values() if spec.by == PERSON and refusal(spec, m) is None}
    if m.status in TASKS_OPEN:
        found.add("tick_task")
    return frozenset(found)


# --- batches ------------------------------------------------------------------------------------------------------
# A batch's own status (``mobility.models.batches``): the same kind of table, written by
# ``mobility.lifecycle.writer.transition_batch``. Its members keep their own moves above; the batch only says when they
# may start (``mobility.engine.admission``).

@dataclass(frozen=True)
class BatchMove:
    name: str
    sources: frozenset[B]
    target: B
    by: str
    action: str | None = None


def _batch_move(name, sources, target, by, action=None) -> BatchMove:
    return BatchMove(name, frozenset(sources), target, by, action)


BATCH_MOVES: dict[str, BatchMove] = {m.name: m for m in (
    _batch_move("planned", [B.VALIDATING], B.PENDING_APPROVAL, HOUSEKEEPING),  # every member's validation ended
    _batch_move("nothing_to_move", [B.VALIDATING], B.CANCELLED, HOUSEKEEPING),
    _batch_move("approve", [B.PENDING_APPROVAL], B.APPROVED, PERSON, "vote"),
    _batch_move("reject", [B.PENDING_APPROVAL], B.REJECTED, PERSON, "vote"),
    _batch_move("edit", [B.PENDING_APPROVAL, B.APPROVED], B.PENDING_APPROVAL, PERSON, "revise"),
    _batch_move("withdraw", [B.VALIDATING, B.PENDING_APPROVAL, B.APPROVED], B.CANCELLED, PERSON, "withdraw"),
    _batch_move("pause", [B.RUNNING], B.PAUSED, PERSON, "stop"),
    _batch_move("resume", [B.PAUSED], B.RUNNING, PERSON, "stop"),
    _batch_move("stop", [B.APPROVED, B.RUNNING, B.PAUSED], B.STOPPING, PERSON, "stop"),
    # Housekeeping of the engine's workers (conditional updates: any worker may make them, once).
    _batch_move("open", [B.APPROVED], B.RUNNING, HOUSEKEEPING),  # the window opened
    _batch_move("halt", [B.RUNNING, B.PAUSED], B.STOPPING, HOUSEKEEPING),  # a member failed: "stop at first failure"
    _batch_move("finish", [B.RUNNING, B.PAUSED], B.FINISHED, HOUSEKEEPING),  # every member ended
    _batch_move("stopped", [B.STOPPING], B.STOPPED, HOUSEKEEPING),
)}
BATCH_PAGE_ACTIONS = ("vote", "revise", "withdraw", "stop")
_BATCH_PAST = {"approve": "approved", "reject": "rejected", "edit": "changed", "withdraw": "withdrawn",
               "pause": "paused", "resume": "resumed", "stop": "stopped"}


def batch_refusal(move: str | BatchMove, batch: Batch) -> str | None:
    """Why ``move`` cannot happen to ``batch`` now, or None."""
    spec = BATCH_MOVES[move] if isinstance(move, str) else move
    if batch.status not in spec.sources:
        return f"A batch that is {batch.get_status_display().lower()} cannot be {_BATCH_PAST.get(spec.name, spec.name)}."
    return None


def batch_allowed_moves(batch: Batch) -> frozenset[str]:
    """The person's moves the batch's status allows now (who may: ``mobility.policy``)."""
    return frozenset(spec.name for spec in BATCH_MOVES.values() if spec.by == PERSON and batch.status in spec.sources)
