"""A batch's rehearsal on a twin (``mobility.twin.batch_rehearse``) from the batch page: start one (an IVM job that a
worker runs; never an IVM conversation in the request), and the part of the page that shows the latest, which the
page fetches again once the job has ended. Who may is ``policy``'s ("validate" on the batch, as for a plan's
rehearsal); when is ``rehearsals.batch_refusal``'s."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mobility import jobs, policy
from mobility.models import Batch, IVMJob
from mobility.twin import rehearsals

PART = "mobility/batches/_rehearsal_result.html"


class RehearseForm(forms.Form):
    faults = forms.MultipleChoiceField(choices=list(rehearsals.FAULTS.items()), required=False)


def _batch(request, pk: int) -> Batch:
    batch = policy.batches(request.user).filter(pk=pk).first()
    if batch is None:
        raise Http404("No such batch.")
    return batch


def may_rehearse(user, batch: Batch) -> bool:
    return policy.may(user, "validate", batch) and rehearsals.batch_refusal(batch) is None


def context(user, batch: Batch, job: IVMJob | None = None) -> dict:
    """What the batch page's rehearsal part shows: the latest rehearsal with its members, or the job running one
    (this person's: a job is seen only by who asked for it)."""
    if job is None:
        job = (policy.jobs(user).filter(kind=IVMJob.Kind.REHEARSE_BATCH, params__batch=batch.pk)
               .exclude(status__in=IVMJob.Status.finished()).order_by("-pk").first())
    latest = rehearsals.latest_of_batch(batch)
    members = (list(latest.members.select_related("migration__partition", "plan")
                    .order_by("migration__batch_position")) if latest else [])
    running = job if job is not None and not job.finished else None
    return {"batch": batch, "may_rehearse": may_rehearse(user, batch), "rehearse_faults": rehearsals.FAULTS,
            "batch_rehearsal": latest, "rehearsal_members": members, "rehearsal_job": running,
            "rehearsal_error": job.error if job is not None and job.status in (IVMJob.Status.FAILED,
                                                                               IVMJob.Status.TIMED_OUT) else "",
            **({"job_groups": [str(running.group)]} if running else {})}


@require_POST
def start(request, pk: int):
    """Queue the batch's rehearsal with the faults ticked; the page follows the job over its socket."""
    batch = _batch(request, pk)
    if not policy.may(request.user, "validate", batch):
        raise PermissionDenied(policy.refusal(request.user, "validate", batch))
    form = RehearseForm(request.POST)
    why = rehearsals.batch_refusal(batch)
    status = 409 if why else (400 if not form.is_valid() else 200)
    if status != 200:
        part = {**context(request.user, batch), "rehearsal_error": why or "Choose faults from the list only."}
        return render(request, PART, part, status=200 if request.htmx else status)
    faults = form.cleaned_data["faults"]
    job = jobs.enqueue(IVMJob.Kind.REHEARSE_BATCH, user=request.user, params={
        "batch": batch.pk, "faults": faults, "target": "#batch-rehearsal"},
        timeout_s=rehearsals.batch_bound_s(batch, faults))
    job.params["then"] = reverse("mobility:batch_rehearsal", args=[batch.pk]) + f"?job={job.pk}"
    job.save(update_fields=["params"])
    if not request.htmx:
        return redirect("mobility:batch", pk=batch.pk)
    return render(request, PART, {**context(request.user, batch, job), "started_job": job})


@require_GET
def result(request, pk: int):
    """The rehearsal part alone: the latest rehearsal, or why the job named by ``?job=`` did not store one."""
    batch = _batch(request, pk)
    raw = request.GET.get("job", "")
    job = (policy.jobs(request.user).filter(pk=int(raw), kind=IVMJob.Kind.REHEARSE_BATCH, params__batch=batch.pk)
           .first() if raw.isascii() and raw.isdigit() else None)
    return render(request, PART, context(request.user, batch, job))
