"""The content hash of a batch, which its one approval binds to."""

from mobility.models import Batch
from mobility.models.migrations import content_hash


def batch_hash(batch: Batch) -> str:
    """SHA-256 over the members' plan hashes in start order, and what the batch does on a failure: the approval
    binds to it, so a member's changed plan (or order) is a different batch."""
    rows = []
    for m in batch.migrations.exclude(status__in=("cancelled",)).order_by("batch_position"):
        plan = m.latest_plan()
        rows.append([m.batch_position, m.partition.name, plan.content_hash if plan else ""])
    return content_hash({"members": rows, "stop_at_first_failure": batch.stop_at_first_failure})
