"""Running one claimed job in a worker, bounded in time.

The job's work runs on its own thread; the runner waits at most ``timeout_s``. An IVM that hangs therefore costs
the page a "timed out" answer at the deadline, not the client's longer SSH timeouts; the late thread's result is
refused by the fencing of ``queue.finish`` (the job is no longer running).
"""

from __future__ import annotations

import logging
import threading

from django.db import close_old_connections

from mobility.jobs import queue
from mobility.jobs.kinds import AFTER, RUN, JobFailed
from mobility.models import IVMJob

logger = logging.getLogger("mobility.jobs")
Status = IVMJob.Status


def _work(job: IVMJob, token: int, outcome: dict, on_thread: bool = True) -> None:
    try:
        outcome["result"] = RUN[job.kind](job, lambda text: queue.progress(job.pk, token, text))
    except JobFailed as exc:
        outcome.update(error=str(exc), result=exc.result)
    except Exception as exc:  # a bug must still end the job with words, never leave the page waiting
        logger.exception("job %s (%s) failed", job.pk, job.kind)
        outcome.update(error=f"internal error: {type(exc).__name__}", result={})
    finally:
        if on_thread:
            close_old_connections()


def run(job_id: int, token: int, timeout_s: float | None = None, *, inline: bool = False) -> str:
    """Run the job claimed under ``token``; returns the status written. ``inline`` runs it on this thread, in this
    thread's transaction and without the time bound (``run_pending``)."""
    job = IVMJob.objects.select_related("console", "requested_by", "migration").get(pk=job_id)
    timeout_s = queue.timeout_s(job.timeout_s) if timeout_s is None else timeout_s
    outcome: dict = {}
    thread = None
    if inline:
        _work(job, token, outcome, on_thread=False)
    else:
        thread = threading.Thread(target=_work, args=(job, token, outcome), name=f"job-{job_id}", daemon=True)
        thread.start()
        thread.join(timeout_s)
    if thread is not None and thread.is_alive():
        status, error = Status.TIMED_OUT, f"No answer within {timeout_s:g} s: the IVM may be hung or unreachable."
        written = queue.finish(job_id, token, status, error=error)
    elif "error" in outcome:
        status = Status.FAILED
        written = queue.finish(job_id, token, status, result=outcome["result"], error=outcome["error"])
    else:
        status = Status.DONE
        written = queue.finish(job_id, token, status, result=outcome["result"])
    logger.info("job %s (%s): %s", job_id, job.kind, status)
    if written and job.kind in AFTER:
        AFTER[job.kind](job)
    return status


def run_claimed(job_id: int, token: int) -> None:
    """A worker thread's entry: run, then give the thread's database connection back."""
    try:
        run(job_id, token)
    except Exception:
        logger.exception("job %s could not be run", job_id)
    finally:
        close_old_connections()


def run_pending(worker: str = "in-process") -> int:
    """Claim and run every due job here, inline, one after another (tests, and a shell without workers); returns
    how many ran."""
    ran = 0
    for job_id in queue.due_ids(limit=1000):
        token = queue.claim(job_id, worker)
        if token is not None:
            run(job_id, token, inline=True)
            ran += 1
    return ran
