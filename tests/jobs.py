"""IVM jobs in tests that use Django's test client: run what the pages queued, here, as a worker would."""

from mobility.jobs.runner import run_pending
from mobility.live.presenters import job_html
from mobility.models import IVMJob


def run_jobs() -> int:
    """Claim and run every queued job in this thread (inside the test's transaction); returns how many ran."""
    return run_pending("test")


def latest(kind: str) -> IVMJob:
    return IVMJob.objects.filter(kind=kind).select_related("console__system").latest("pk")


def pushed(kind: str) -> str:
    """Run the queued jobs, then the fragment the page receives for the latest job of this kind."""
    run_jobs()
    return job_html(latest(kind))


def answer(client, kind: str, **headers) -> str:
    """Run the queued jobs, then what the page fetches for the latest job of this kind once it has ended."""
    run_jobs()
    job = latest(kind)
    return client.get(job.params["then"], headers={"HX-Request": "true", **headers}).content.decode()
