"""What the pages know of rehearsals without running one: which faults may be chosen, which plans may be rehearsed
now, how long one may take (the job's time bound), and the latest of a migration. Running one is
``mobility.twin.rehearse``'s, in a worker.
"""

from __future__ import annotations

from mobility.choices import MigrationMode, MigrationStatus
from mobility.models import Batch, BatchRehearsal, BatchStatus, Migration, Rehearsal

# The faults a rehearsal may inject (``Rehearsal.Fault``), each on the source IVM as ivmsim/FLEET.md describes.
SLOW_LINK_FACTOR = 0.25
UNREACHABLE_DROPS = 1_000_000  # every connection to the source IVM closed, for the whole rehearsal
FAULTS = dict(Rehearsal.Fault.choices)
# Statuses a plan is rehearsed in: its plan is settled enough to ask for a vote, and nothing has run yet.
REHEARSABLE = (MigrationStatus.PENDING_APPROVAL, MigrationStatus.APPROVED, MigrationStatus.QUEUED)
# A batch is rehearsed once its members are planned and before any of them has started.
BATCH_REHEARSABLE = (BatchStatus.PENDING_APPROVAL, BatchStatus.APPROVED)

# The twin's clock runs fast enough for a rehearsal to take seconds, not so fast that a poll's round trip on the
# wall clock hides the suspend window (ivmsim's default MSP link: 80 MB/s; pre-copy sends at most ~3× the memory).
MSP_MB_S = 80.0
TARGET_WALL_S = 8.0
MIN_SCALE, MAX_SCALE = 20.0, 100.0
RETRIES = 3  # an IVM that cannot be reached this many passes in a row ends the rehearsal (the engine would go on)


class RehearsalRefused(Exception):
    """The plan cannot be rehearsed now (wrong status, no plan, nothing synced to make a twin of)."""


def estimate_s(memory_mb: int, mode: str, faults=()) -> float:
    """Simulated seconds the move may take on the twin, at worst."""
    if mode == MigrationMode.INACTIVE:
        return 60.0  # shutdown, the definition's copy, activation: fixed design values of ivmsim
    rate = MSP_MB_S * (SLOW_LINK_FACTOR if "slow_link" in faults else 1.0)
    return 30.0 + 3.0 * max(memory_mb, 256) / rate


def time_scale_for(memory_mb: int, mode: str, faults=()) -> float:
    return min(MAX_SCALE, max(MIN_SCALE, estimate_s(memory_mb, mode, faults) / TARGET_WALL_S))


def bound_s(migration: Migration, faults=()) -> float:
    """The job's time bound: the simulator's start and the inventory reads, then the move on the twin's clock."""
    memory = migration.partition.memory_mb
    scale = time_scale_for(memory, migration.mode, faults)
    return 45.0 + 3.0 * estimate_s(memory, migration.mode, faults) / scale


def refusal(migration: Migration) -> str | None:
    """Why this migration's plan cannot be rehearsed now, or None. (Who may is ``policy``'s: "validate".)"""
    if migration.status not in REHEARSABLE:
        return f"A {migration.get_status_display().lower()} migration is not rehearsed: it has run or will not run."
    if not migration.plans.exists():
        return "This migration has no plan to rehearse."
    return None


def latest(migration: Migration) -> Rehearsal | None:
    return migration.rehearsals.select_related("plan", "requested_by").order_by("-pk").first()


# --- batches -----------------------------------------------------------------------------------------------------

def batch_members(batch: Batch) -> list[Migration]:
    """The members a batch's rehearsal runs, in the batch's order (a replaced member is not one any more)."""
    return list(batch.migrations.exclude(status=MigrationStatus.CANCELLED)
                .select_related("partition", "source__console", "destination__console").order_by("batch_position"))


def batch_scale(members: list[Migration], faults=()) -> float:
    """One clock for the whole twin: the fastest any member needs, so that the largest stays within its target."""
    return max(time_scale_for(m.partition.memory_mb, m.mode, faults) for m in members)


def batch_bound_s(batch: Batch, faults=()) -> float:
    """The batch job's time bound: the simulator's start, then every member's move on the twin's clock, one after
    another, each with the inventory reads of its steps 1 and 9."""
    members = batch_members(batch)
    if not members:
        return 45.0
    scale = batch_scale(members, faults)
    return 45.0 + sum(15.0 + 3.0 * estimate_s(m.partition.memory_mb, m.mode, faults) / scale for m in members)


def batch_refusal(batch: Batch) -> str | None:
    """Why this batch cannot be rehearsed now, or None. (Who may is ``policy``'s: "validate" on the batch.)"""
    if batch.status not in BATCH_REHEARSABLE:
        return (f"A batch that is {batch.get_status_display().lower()} is not rehearsed: only a planned batch "
                "that has not started is.")
    members = batch_members(batch)
    if not members:
        return "This batch has no member to rehearse."
    for m in members:
        why = refusal(m)
        if why:
            return f"{m.partition.name}: {why}"
    return None


def latest_of_batch(batch: Batch) -> BatchRehearsal | None:
    return batch.rehearsals.select_related("requested_by").order_by("-pk").first()
