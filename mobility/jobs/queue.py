"""The job rows: enqueue (in the request), claim and finish (in a worker), each write conditional on the claim.

A claim is one conditional UPDATE, as a migration's is (``mobility.engine.claim``): a queued job, or a running one
whose lease ran out (its worker died), gets the worker's name, a lease and the next fencing token. Every later
write of that worker (progress, the result) is conditional on the token and on the job still running, so a worker
that was paused past its lease, or whose job was already marked timed out, writes nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from mobility.live.publish import push_job, wake_workers
from mobility.models import IVMJob

logger = logging.getLogger("mobility.jobs")

Status = IVMJob.Status
MAX_ATTEMPTS = 3  # a job whose worker died this many times fails rather than killing a fourth


def timeout_s(own: float | None = None) -> float:
    """How long a job may run before the page is told it timed out (the IVM client's own timeouts come later):
    the job's own bound if its kind gave it one (``IVMJob.timeout_s``), else ``IVMWEB_JOB_TIMEOUT_S``."""
    return float(own) if own else float(settings.IVMWEB_JOB_TIMEOUT_S)


def lease_s(own: float | None = None) -> float:
    # Longer than the job may run: a live worker always finishes (or times out) its job before the lease ends.
    return timeout_s(own) + 15.0


def enqueue(kind: str, *, user, console=None, migration=None, params: dict | None = None,
            group: uuid.UUID | None = None, timeout_s: float | None = None) -> IVMJob:
    """Store a job for the workers and wake them once the row is committed; ``timeout_s``: a bound of its own."""
    job = IVMJob.objects.create(kind=kind, requested_by=user, console=console, migration=migration,
                                params=params or {}, group=group or uuid.uuid4(), timeout_s=timeout_s)
    wake_workers()
    return job


def _due(now) -> Q:
    return Q(status=Status.QUEUED) | Q(status=Status.RUNNING, lease_until__lt=now)


def due_ids(limit: int) -> list[int]:
    """Jobs a worker could claim now, oldest first."""
    if limit <= 0:
        return []
    return list(IVMJob.objects.filter(_due(timezone.now())).order_by("pk").values_list("pk", flat=True)[:limit])


def claim(job_id: int, worker: str) -> int | None:
    """Take the job with a new fencing token; the token, or None when another worker has it (or it ended)."""
    now = timezone.now()
    own = IVMJob.objects.filter(pk=job_id).values_list("timeout_s", flat=True).first()  # fixed at enqueue
    taken = IVMJob.objects.filter(_due(now), pk=job_id).update(
        status=Status.RUNNING, claimed_by=worker, lease_until=now + timedelta(seconds=lease_s(own)),
        fence=F("fence") + 1, attempts=F("attempts") + 1, started_at=now)
    if not taken:
        return None
    # Ours until the lease ends (lease_s() from now), so nobody else can have changed the token since.
    job = IVMJob.objects.only("fence", "attempts", "group").get(pk=job_id)
    if job.attempts > MAX_ATTEMPTS:
        finish(job_id, job.fence, Status.FAILED,
               error=f"The worker running this job stopped {MAX_ATTEMPTS} times; ask again.")
        return None
    push_job(job)
    return job.fence


def progress(job_id: int, token: int, text: str) -> bool:
    """A progress line for the page; False when the job is no longer ours (then stop)."""
    with transaction.atomic():
        updated = IVMJob.objects.filter(pk=job_id, fence=token, status=Status.RUNNING).update(progress=text[:200])
        if updated:
            push_job(IVMJob.objects.only("group").get(pk=job_id))
    return bool(updated)


def finish(job_id: int, token: int, status: str, *, result: dict | None = None, error: str = "") -> bool:
    """The job's end (done, failed or timed out), written only by the claim that ran it; False if refused."""
    with transaction.atomic():
        updated = IVMJob.objects.filter(pk=job_id, fence=token, status=Status.RUNNING).update(
            status=status, result=result or {}, error=error, progress="", finished_at=timezone.now(),
            lease_until=None)
        if updated:
            push_job(IVMJob.objects.only("group").get(pk=job_id))
        else:
            logger.warning("job %s: result not written (no longer held under token %s)", job_id, token)
    return bool(updated)
