"""The plan page of one migration: its versions with hashes, mappings, checks and validation; drift since the
plan was made; re-validation; and editing the mappings into a new version (requester or owning team only)."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from mobility import planning, plans, policy
from mobility.forms.plans import DigestForm, MappingForm
from mobility.models import Migration
from mobility.views.plan import mapping_rows, validation_rows

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
               "may_validate": _may_validate(request.user, migration)}
    if latest is None:
        return context
    drift, ctx, problems = plans.plan_drift(latest)
    context.update(drift=drift, fresh=ctx, stored_problems=problems)
    if context["may_revise"] and ctx is not None:
        rows = plans.mappings_from_snapshot(latest.snapshot)
        form = MappingForm(rows, data=data)
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


def _render(request, context, status=200):
    """The whole page, or for htmx the block its target names (#plan-edit, #plan-validation)."""
    part = None
    if request.htmx and not request.htmx.history_restore_request:
        part = {"plan-edit": "#edit", "plan-validation": "#validation"}.get(request.htmx.target)
    return render(request, TEMPLATE + (part or ""), context, status=status)


@require_http_methods(["GET"])
def plan_detail(request, pk: int):
    """The plan page; with mapping values in the query it checks them inline (htmx, target #plan-edit)."""
    migration = visible_migration(request, pk)
    data = request.GET if any(k.startswith(("slot-", "port-")) for k in request.GET) else None
    return _render(request, _page_context(request, migration, data=data))


@require_POST
def plan_revalidate(request, pk: int):
    """Run `migrlpar -o v` for the latest version now, and show it with the drift since the plan was made."""
    migration = visible_migration(request, pk)
    if not _may_validate(request.user, migration):
        raise PermissionDenied("Your role does not allow validating plans.")
    latest = plans.latest_plan(migration)
    result = plans.validate_plan(migration.partition, migration.destination,
                                 plans.mappings_from_snapshot(latest.snapshot), user=request.user,
                                 migration=migration)
    context = _page_context(request, migration)
    checks = context["fresh"].checks if context.get("fresh") else []
    context.update(revalidation=result, revalidation_rows=validation_rows(checks, result))
    return _render(request, context)


@require_POST
def plan_revise(request, pk: int):
    """Store the edited mappings as the next plan version (approvals void)."""
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
        unchanged = [r.to_dict() for r in rows] == current["mappings"]
        # The new version is validated by IVM before it is stored, as the first one was.
        validation = None if unchanged else plans.validate_plan(
            migration.partition, migration.destination, rows, user=request.user, migration=migration)
        try:
            if validation is not None and not validation["ok"]:
                context.update(revalidation=validation,
                               revalidation_rows=validation_rows(context["fresh"].checks, validation))
                raise plans.PlanRefused("IVM refused the changed plan; see its answer below. Nothing was saved.")
            plans.revise_plan(migration, user=request.user, mappings=rows, validation=validation,
                              digest=digest.cleaned_data["digest"])
        except plans.PlanRefused as exc:
            context["refused"] = str(exc)
            status = 409
        else:
            target = reverse("mobility:plan_detail", args=[migration.pk])
            if request.htmx:
                return HttpResponse(status=204, headers={"HX-Redirect": target})
            return redirect(target)
    return _render(request, context, status=200 if request.htmx else status)
