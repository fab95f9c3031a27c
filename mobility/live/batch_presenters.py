"""What a batch's page and the dashboard show of a batch, rendered from the database: the page's panel (status,
window, totals, ETA, every member's status, step and progress, the source server's remaining partitions) and the
dashboard's row. The batch socket (``mobility.consumers.BatchConsumer``) sends them again whenever they change."""

from __future__ import annotations

from django.template.loader import render_to_string
from django.utils import timezone

from mobility.batches import figures
from mobility.choices import StepStatus
from mobility.lifecycle import batch_allowed_moves
from mobility.models import Batch, BatchApproval, BatchStatus, IVMJob, MigrationStep

LIVE = (BatchStatus.VALIDATING, BatchStatus.PENDING_APPROVAL, BatchStatus.APPROVED, BatchStatus.RUNNING,
        BatchStatus.PAUSED, BatchStatus.STOPPING)


def member_rows(batch: Batch) -> list[dict]:
    members = list(batch.migrations.select_related("partition", "destination", "source").order_by("batch_position"))
    current = {}
    for step in (MigrationStep.objects.filter(migration__in=members).exclude(status=StepStatus.PENDING)
                 .order_by("migration_id", "number")):
        if step.status != StepStatus.DONE or step.migration_id not in current:
            current[step.migration_id] = step
    rows = []
    for m in members:
        step = current.get(m.pk)
        rows.append({"m": m, "step": f"{step.number}. {step.title}" if step else "", "percent": round(m.percent or 0),
                     "replaced": m.status == "cancelled"})
    return rows


def batch_context(batch: Batch) -> dict:
    vote = BatchApproval.objects.filter(batch=batch).select_related("approver").order_by("-created_at").first()
    jobs = list(IVMJob.objects.filter(group=batch.job_group).exclude(status__in=IVMJob.Status.finished())
                .order_by("pk")) if batch.job_group else []
    return {
        "batch": batch, "members": member_rows(batch), "totals": figures.totals(batch), "eta": figures.eta(batch),
        "remaining": figures.remaining_on_source(batch), "vote": vote, "jobs_open": len(jobs),
        "moves": batch_allowed_moves(batch), "rendered_at": timezone.now(),
        "ended": batch.status in BatchStatus.terminal(),
    }


def panel_html(batch: Batch) -> str:
    return render_to_string("mobility/batches/_panel.html", batch_context(batch))


def row_html(batch: Batch) -> str:
    return render_to_string("mobility/batches/_row.html", {"batch": batch, "totals": figures.totals(batch)})


def state_key(batch: Batch) -> tuple:
    """What changes the panel: a cheap fingerprint the socket compares before rendering again."""
    members = tuple(batch.migrations.order_by("pk").values_list("pk", "status", "last_seq"))
    jobs = IVMJob.objects.filter(group=batch.job_group).exclude(status__in=IVMJob.Status.finished()).count() \
        if batch.job_group else 0
    return batch.status, batch.outcome, batch.content_hash, members, jobs, len(batch.immovable or [])
