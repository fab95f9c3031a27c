"""The plan page of one migration: its versions with hashes, mappings, checks and validation; drift since the
plan was made; re-validation; a rehearsal on a twin of its servers; and editing the mappings into a new version
(requester or owning team only)."""

from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from mobility import jobs, planning, plans, policy
from mobility.forms.plans import DigestForm, MappingForm
from mobility.models import IVMJob, Migration
from mobility.twin import rehearsals
from mobility.views.plan import validation_rows
from mobility.wizard import mapping_rows

TEMPLATE = "mobility/plan/detail.html"


def visible_migration(request, pk: int) -> Migration:
    """The migration if the user may see its partition; 404 otherwise (nothing leaks)."""
    migration = policy.migrations(request.user, Migration.objects.select_related(
        "partition__system__console", "partition__team", "source", "destination__console", "requester")
    ).filter(pk=pk).first()
    if migration is None:
        raise Http404("No such migration.")
    return migration


def _page_context(request, migration: Migration, *, data=None) -> dict:
    versions = list(migration.plans.select_related("created_by").prefetch_related("mappings").order_by("-version"))
    latest = versions[0] if versions else None
    context = {"migration": migration, "versions": versions, "latest": latest,
               "may_revise": _may_revise(request.user, migration),
               "may_validate": _may_validate(request.user, migration),
               "may_rehearse": may_rehearse(request.user, migration), "rehearsal": rehearsals.latest(migration),
               "rehearse_faults": rehearsals.FAULTS}
    if latest is None:
        return context
    drift, ctx, problems = plans.plan_drift(latest)
    context.update(drift=drift, fresh=ctx, stored_problems=problems)
    if context["may_revise"] and ctx is not None:
        rows = plans.mappings_from_snapshot(latest.snapshot)
        form = MappingForm(rows, data=data, vios=ctx.destination.management_partition,
                           fc_ports=ctx.destination.fc_ports, destination_name=ctx.destination.name)
        edited = form.rows() if form.is_bound and form.is_valid() else rows
        context.update(form=form, edited_rows=edited, digest=ctx.digest,
                       edit_problems=planning.check_mappings(ctx.partition, ctx.destination, edited)
                       if form.is_bound and form.is_valid() else ())
        context["mapping_rows"] = mapping_rows(form, context["edit_problems"])
    return context


def _may_revise(user, migration: Migration) -> bool:
    return plans.revisable(migration) and policy.may(user, "revise", migration)


def _may_validate(user, migration: Migration) -> bool:
    # Validation sends a command to IVM: never auditors (policy), and only while the plan may change.
    return plans.revisable(migration) and policy.may(user, "validate", migration)


def may_rehearse(user, migration: Migration) -> bool:
    # A rehearsal talks only to a twin, but it is the validation's kind of question: who may validate may rehearse
    # (never an auditor); when is the rehearsal's own rule (a plan not yet run).
    return rehearsals.refusal(migration) is None and policy.may(user, "validate", migration)


def _render(request, context, status=200):
    """The whole page, or for htmx the block its target names (#plan-edit, #plan-validation, #plan-rehearsal)."""
    part = None
    if request.htmx and not request.htmx.history_restore_request:
        part = {"plan-edit": "#edit", "plan-validation": "#validation",
                "plan-rehearsal": "#rehearsal"}.get(request.htmx.target)
    return render(request, TEMPLATE + (part or ""), context, status=status)


def _job(request, migration: Migration, kind: str, raw: str | None) -> IVMJob | None:
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    return policy.jobs(request.user).filter(pk=int(raw), kind=kind, migration=migration).first()


def _enqueue(request, migration: Migration, kind: str, rows, *, target: str, answer: str, **params) -> IVMJob:
    """A validation (or revision) job for this migration's plan; its page fetches the answer at ``?<answer>=<job>``."""
    job = jobs.enqueue(kind, user=request.user, migration=migration, params={
        "partition": migration.partition_id, "destination": migration.destination_id,
        "mappings": [row.to_dict() for row in rows], "target": target, **params})
    job.params["then"] = reverse("mobility:plan_detail", args=[migration.pk]) + f"?{answer}={job.pk}"
    job.save(update_fields=["params"])
    return job


@require_http_methods(["GET"])
def plan_detail(request, pk: int):
    """The plan page; with mapping values in the query it checks them inline (htmx, target #plan-edit); with
    ``?revalidation=<job>`` or ``?revision=<job>`` it shows what a worker's job answered."""
    migration = visible_migration(request, pk)
    if "revision" in request.GET:
        return _revision_answer(request, migration, _job(request, migration, IVMJob.Kind.REVISE,
                                                         request.GET["revision"]))
    data = request.GET if any(k.startswith(("slot-", "port-")) for k in request.GET) else None
    context = _page_context(request, migration, data=data)
    job = _job(request, migration, IVMJob.Kind.VALIDATE, request.GET.get("revalidation"))
    if job is not None:
        _show_job(context, job, "revalidation")
    rehearsing = _job(request, migration, IVMJob.Kind.REHEARSE, request.GET.get("rehearsal"))
    if rehearsing is not None:
        # Running: its place; ended: the rehearsal it stored is the latest (shown anyway), or why it failed.
        if not rehearsing.finished:
            context.update(rehearsal_job=rehearsing, job_groups=[str(rehearsing.group)])
        elif rehearsing.status != IVMJob.Status.DONE:
            context["rehearsal_error"] = rehearsing.error
    return _render(request, context)


def _show_job(context, job: IVMJob, name: str) -> None:
    """A running job's place on the page, or IVM's answer once it is done."""
    if not job.finished:
        context.update({f"{name}_job": job, "job_groups": [str(job.group)]})
        return
    result = job.result.get("validation", job.result) if job.kind == IVMJob.Kind.REVISE else job.result
    if job.status != IVMJob.Status.DONE:
        result = {"ok": False, "error": job.error, "checks": {}, "ivm_says": []}
    checks = context["fresh"].checks if context.get("fresh") else []
    context.update({name: result, f"{name}_rows": validation_rows(checks, result)})


@require_POST
def plan_revalidate(request, pk: int):
    """A worker runs `migrlpar -o v` for the latest version; the page shows it with the drift since the plan was made."""
    migration = visible_migration(request, pk)
    if not _may_validate(request.user, migration):
        raise PermissionDenied("Your role does not allow validating plans.")
    latest = plans.latest_plan(migration)
    job = _enqueue(request, migration, IVMJob.Kind.VALIDATE, plans.mappings_from_snapshot(latest.snapshot),
                   target="#plan-validation", answer="revalidation")
    context = _page_context(request, migration)
    context.update(revalidation_job=job, started_job=job)
    return _render(request, context)


@require_POST
def plan_revise(request, pk: int):
    """Store the edited mappings as the next plan version (approvals void), once a worker has had IVM validate them."""
    migration = visible_migration(request, pk)
    if not _may_revise(request.user, migration):
        plans.refuse(request.user, migration.partition, f"revise of migration {migration.pk} not allowed")
        raise PermissionDenied("Only the requester or the owning team may change this plan, before it runs.")
    context = _page_context(request, migration, data=request.POST)
    digest = DigestForm(request.POST)
    form = context.get("form")
    status = 200
    if form is None or not form.is_valid() or not digest.is_valid() or context["edit_problems"]:
        status = 400
    elif digest.cleaned_data["digest"] != context["digest"]:
        context["stale"] = True
        status = 409
    else:
        rows = form.rows()
        current = plans.latest_plan(migration).snapshot
        if [r.to_dict() for r in rows] == current["mappings"]:
            context["refused"] = f"Nothing changed: the plan is the same as version {context['latest'].version}."
            status = 409
        else:
            # The new version is validated by IVM before it is stored, as the first one was: a worker does both.
            job = _enqueue(request, migration, IVMJob.Kind.REVISE, rows, target="#plan-edit", answer="revision",
                           digest=digest.cleaned_data["digest"])
            context.update(revision_job=job, started_job=job)
    return _render(request, context, status=200 if request.htmx else status)


def _revision_answer(request, migration: Migration, job: IVMJob | None):
    if job is None:
        raise Http404("No such revision.")
    if job.finished and job.status == IVMJob.Status.DONE and "version" in job.result:
        target = reverse("mobility:plan_detail", args=[migration.pk])
        if request.htmx:
            return HttpResponse(status=204, headers={"HX-Redirect": target})
        return redirect(target)
    context = _page_context(request, migration)
    if not job.finished:
        context.update(revision_job=job, job_groups=[str(job.group)])
    else:
        context["refused"] = job.result.get("refused") or f"The plan was not changed: {job.error}"
        _show_job(context, job, "revision")
    return _render(request, context)


@require_POST
def plan_rehearse(request, pk: int):
    """A worker rehearses the latest version on a twin of both servers (``mobility.twin.rehearse``), with the faults
    ticked; the page follows the job and shows the rehearsal it stored."""
    migration = visible_migration(request, pk)
    if not policy.may(request.user, "validate", migration):
        raise PermissionDenied("Your role does not allow rehearsing plans.")
    context = _page_context(request, migration)
    why = rehearsals.refusal(migration)
    form = RehearseForm(request.POST)
    if why is not None:
        context["rehearsal_error"] = why
        return _render(request, context, status=200 if request.htmx else 409)
    if not form.is_valid():
        context["rehearsal_error"] = "Choose faults from the list only."
        return _render(request, context, status=200 if request.htmx else 400)
    faults = form.cleaned_data["faults"]
    job = jobs.enqueue(IVMJob.Kind.REHEARSE, user=request.user, migration=migration,
                       params={"faults": faults, "target": "#plan-rehearsal"},
                       timeout_s=rehearsals.bound_s(migration, faults))
    job.params["then"] = reverse("mobility:plan_detail", args=[migration.pk]) + f"?rehearsal={job.pk}"
    job.save(update_fields=["params"])
    context.update(rehearsal_job=job, started_job=job)
    return _render(request, context)


class RehearseForm(forms.Form):
    faults = forms.MultipleChoiceField(choices=list(rehearsals.FAULTS.items()), required=False)
