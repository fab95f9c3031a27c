"""IVM's answer to a plan, as the doors that submit plans use it (the wizard's page and the API).

A submit never asks IVM itself (no SSH inside a web request): it relies on a validation job that the same person
asked for, that ended DONE, for exactly the same plan (``key``: partition, destination, the inventory's digest and
the mappings), within ``REUSE_S`` seconds. ``mobility.plans.submit_plan`` then refuses an answer that did not pass.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from mobility import planning, plans, policy
from mobility.jobs.queue import enqueue
from mobility.models import IVMJob

# IVM's answer to a validation is what the submit of the very same plan relies on, within this time.
REUSE_S = 600


def key(partition, destination, digest: str, rows) -> str:
    """What a validation answers for: the same partition, destination, inventory (digest) and mappings."""
    return "|".join([str(partition.pk), str(destination.pk), digest,
                     plans.canonical_json(planning.format_mappings(rows))])


def key_of(context: dict) -> str:
    """The key of a plan as the wizard builds it (``build_wizard``'s context at step 3)."""
    return key(context["partition"], context["destination"], context["digest"], context["rows"])


def recalled(user, plan_key: str) -> dict | None:
    """IVM's answer (a validation job ``user`` asked for) to exactly this plan, if recent enough to submit on."""
    since = timezone.now() - timedelta(seconds=REUSE_S)
    job = (policy.jobs(user).filter(kind=IVMJob.Kind.VALIDATE, status=IVMJob.Status.DONE, params__key=plan_key,
                                    finished_at__gte=since).order_by("-pk").first())
    return job.result if job else None


def unfinished(user, plan_key: str) -> IVMJob | None:
    """A validation of exactly this plan that ``user`` asked for and no worker has finished yet: asking again (a
    second click, a second tab) follows that one instead of sending IVM the same question twice."""
    return (policy.jobs(user).filter(kind=IVMJob.Kind.VALIDATE, params__key=plan_key)
            .exclude(status__in=IVMJob.Status.finished()).order_by("-pk").first())


def enqueue_validation(user, context: dict, **params) -> IVMJob:
    """A validation job for the wizard's plan in ``context``, keyed so that its submit finds the answer."""
    return enqueue(IVMJob.Kind.VALIDATE, user=user, params={
        "partition": context["partition"].pk, "destination": context["destination"].pk,
        "mappings": [row.to_dict() for row in context["rows"]], "key": key_of(context),
        "digest": context["digest"], **params})
