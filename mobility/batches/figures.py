"""What a batch's page shows beside its members: the totals, the batch's ETA, the source server's partitions still on
it and why those stayed (read from the database: the same for every viewer and every push)."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mobility.choices import MigrationStatus as S
from mobility.models import Batch, Partition

WAITING = (S.PENDING_APPROVAL, S.APPROVED, S.QUEUED)
RUNNING = (S.RUNNING, S.STOPPING, S.RECOVERING)


def totals(batch: Batch) -> dict:
    rows = list(batch.migrations.exclude(status=S.CANCELLED).values_list("status", "outcome"))
    count = lambda *statuses: sum(1 for s, _ in rows if s in statuses)  # noqa: E731
    return {
        "members": len(rows),
        "moved": count(S.COMPLETED),
        "running": count(*RUNNING),
        "waiting": count(*WAITING),
        "failed": count(S.FAILED),
        "not_started": count(S.EXPIRED, S.STOPPED, S.REJECTED),
        "stayed": len(batch.immovable or []),
    }


def eta(batch: Batch):
    """When the batch should end: the waiting members' share of the slots at the pace of the members done so far
    (or None before any has ended)."""
    t = totals(batch)
    if t["waiting"] + t["running"] == 0 or batch.status not in ("running", "paused"):
        return None
    done = list(batch.migrations.filter(status=S.COMPLETED, started_at__isnull=False, finished_at__isnull=False)
                .values_list("started_at", "finished_at"))
    if not done:
        return None
    mean = sum(((f - s).total_seconds() for s, f in done), 0.0) / len(done)
    slots = max(1, batch.parallelism or 1)
    rounds = (t["waiting"] + t["running"]) / slots
    return timezone.now() + timedelta(seconds=mean * max(1.0, rounds))


def remaining_on_source(batch: Batch) -> list[dict]:
    """The source server's client partitions that are still on it (an evacuation), with why they stayed."""
    if batch.source_id is None:
        return []
    why = {row["partition"]: row["reasons"] for row in batch.immovable or []}
    member_status = {m.partition.name: m for m in batch.migrations.exclude(status=S.CANCELLED).select_related("partition")}
    found = []
    for p in (Partition.objects.filter(system_id=batch.source_id, vanished_at__isnull=True)
              .exclude(env="vioserver").order_by("name")):
        m = member_status.get(p.name)
        reasons = why.get(p.name) or ([{"why": m.outcome or m.get_status_display(), "fix": ""}] if m else [])
        found.append({"partition": p.name, "state": p.state, "member": m.pk if m else None,
                      "status": m.get_status_display() if m else "not in the batch", "reasons": reasons})
    return found


def approval_summary(batch: Batch) -> dict:
    """A batch waiting for its one vote, as the approvals page sums it up: how many members, in which mode, to which
    servers, how much memory moves, and how many partitions stay behind."""
    rows = list(batch.migrations.exclude(status=S.CANCELLED)
                .values_list("mode", "destination__name", "partition__memory_mb"))
    modes, destinations = {}, {}
    for mode, destination, _memory in rows:
        modes[mode] = modes.get(mode, 0) + 1
        destinations[destination] = destinations.get(destination, 0) + 1
    return {"members": len(rows), "modes": sorted(modes.items()), "destinations": sorted(destinations.items()),
            "memory_gb": round(sum(memory or 0 for *_, memory in rows) / 1024, 1),
            "stayed": len(batch.immovable or [])}
