"""Approvals (team approvers vote; auditors read) and the auditors' history, timeline, figures and exports.

Roles are checked on every view. A migration the person may not see answers 404, the same as one
that does not exist, so ids leak nothing. Business rules live in ``mobility.governance``; these
views only parse input, call them and render (whole page, or the changed part for htmx).
"""

from django.contrib import messages
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from mobility import lifecycle, policy
from mobility.access import allowed
from mobility.batches import figures
from mobility.forms.governance import AuditLogFilterForm, HistoryFilterForm, VoteForm
from mobility.governance import approvals as approval_rules
from mobility.governance import audit, checkpoints
from mobility.governance import history as history_rules
from mobility.models import BatchStatus, Migration
from mobility.twin import rehearsals


def _approval_scope(user):
    """Migrations the approvals pages show this person (``policy.approvals``), with what a card shows."""
    return policy.approvals(user, Migration.objects.select_related(
        "partition__team", "source", "destination", "requester"))


def _checks_of(snapshot) -> list[dict]:
    """The requirement checks stored in a plan snapshot, whichever shape the planner wrote them in."""
    checks = snapshot.get("checks") if isinstance(snapshot, dict) else None
    if isinstance(checks, dict):
        checks = checks.get("checks")
    return [check for check in checks or [] if isinstance(check, dict)]


def _card(request, migration, form=None, error=""):
    """What one pending request shows: the plan (hash, mappings, checks), its votes and a vote form."""
    plan = approval_rules.current_plan(migration)
    waiting = lifecycle.refusal("approve", migration) is None
    why_not = policy.refusal(request.user, "vote", migration)
    can_vote = (waiting and why_not is None
                and plan is not None and not plan.approvals.filter(approver=request.user).exists())
    return {
        "m": migration,
        "plan": plan,
        "mappings": list(plan.mappings.all()) if plan else [],
        "checks": _checks_of(plan.snapshot) if plan else [],
        "votes": migration.approvals.select_related("approver", "plan").order_by("created_at"),
        "can_vote": can_vote,
        "waiting": waiting,
        # Why an approver of the team may not vote on this one (their own request, a plan version they wrote).
        "why_not": why_not if policy.may(request.user, "vote") else None,
        "form": form or VoteForm(),
        "error": error,
        "expires_at": approval_rules.request_expires_at(plan) if plan else None,
        "runnable": approval_rules.check_runnable(migration) if plan else (False, ""),
        "rehearsal": rehearsals.latest(migration),  # the approver sees how the plan ran on a twin (or that it did not)
    }


@require_GET
@allowed("read_approvals")
def approvals(request):
    """Requests waiting for a vote: an approver's teams', or (read-only) all of them for an auditor."""
    # A batch's members are voted on together, on the batch's page (a vote on one alone is refused): one card each.
    pending = approval_rules.waiting_alone(_approval_scope(request.user)).order_by("created_at")
    cards = [_card(request, migration) for migration in pending[:100]]
    waiting_batches = (policy.batches(request.user).filter(status=BatchStatus.PENDING_APPROVAL)
                       .select_related("team", "source", "requester").order_by("created_at"))
    batch_cards = [_batch_card(request, batch) for batch in waiting_batches[:100]]
    return render(request, "mobility/approvals.html", {"cards": cards, "batch_cards": batch_cards,
                                                       "now": timezone.now(),
                                                       "read_only": not policy.may(request.user, "vote")})


def _batch_card(request, batch) -> dict:
    """What one batch waiting for its vote shows: its members summed up, and whether this person may vote on it."""
    why_not = policy.refusal(request.user, "vote", batch)
    return {"batch": batch, "summary": figures.approval_summary(batch), "can_vote": why_not is None,
            "why_not": why_not if policy.may(request.user, "vote") else None}


@require_GET
@allowed("read_approvals")
def approval_detail(request, pk: int):
    """One request's plan and votes (any status), for its team's approvers and for auditors."""
    migration = get_object_or_404(_approval_scope(request.user), pk=pk)
    template = "mobility/approvals_card.html" if request.htmx else "mobility/approvals_detail.html"
    return render(request, template, {"card": _card(request, migration)})


@require_POST
def vote(request, pk: int):
    """Record an approve/reject vote. Every refusal is audited; foreign requests answer 404."""
    refusal = policy.refusal(request.user, "vote")
    if refusal is not None:
        audit.record("approval.refused", actor=request.user, data={"migration": pk, "reason": refusal})
        return HttpResponse(refusal, status=403)
    migration = _approval_scope(request.user).filter(pk=pk).first()
    if migration is None:
        if Migration.objects.filter(pk=pk).exists():
            audit.record("approval.refused", actor=request.user,
                         data={"migration": pk, "reason": "not an approver of the owning team"})
        raise Http404("No such request.")
    form = VoteForm(request.POST)
    status, error = 200, ""
    if not form.is_valid():
        error = " ".join(message for errors in form.errors.values() for message in errors)
        audit.record("approval.refused", actor=request.user, obj=migration,
                     data={"reason": error, "decision": request.POST.get("decision", "")[:20]})
        status = 400
    else:
        data = form.cleaned_data
        try:
            if data["decision"] == "approved":
                approval_rules.approve(migration, request.user, data["comment"], plan_hash=data["plan_hash"],
                                       not_before=data["not_before"], not_after=data["not_after"])
            else:
                approval_rules.reject(migration, request.user, data["comment"], plan_hash=data["plan_hash"])
        except approval_rules.ApprovalRefused as refused:
            error, status = refused.message, 400
    if not request.htmx:
        if error:
            messages.error(request, error)
        else:
            messages.success(request, f"Your vote on #{migration.pk} ({migration.partition.name}) is recorded.")
        return redirect("mobility:approvals")
    migration = _approval_scope(request.user).get(pk=pk)
    return render(request, "mobility/approvals_card.html",
                  {"card": _card(request, migration, form=form if error else None, error=error)}, status=status)


# --- history ----------------------------------------------------------------------------------------

def _filter(request, where: str):
    """(cleaned filter, form); (None, form) after auditing refused values. No parameters: everything."""
    if not request.GET:
        return {}, HistoryFilterForm()
    form = HistoryFilterForm(request.GET)
    if form.is_valid():
        return form.cleaned_data, form
    audit.record("history.filter_refused", actor=request.user, data={
        "where": where, "query": request.GET.urlencode()[:1000],
        "errors": {field: [str(e) for e in errors] for field, errors in form.errors.items()},
    })
    return None, form


def _filter_query(request) -> str:
    query = request.GET.copy()
    query.pop("page", None)
    return query.urlencode()


@require_GET
@allowed("read_history")
def history_list(request):
    """Migrations filtered by date, people, team, partition, servers, mode and outcome; sorted, paginated."""
    filters, form = _filter(request, "history")
    # One reverse() per page instead of one per row: rows link to "<prefix><id>/".
    timeline_prefix = reverse("mobility:history_timeline", args=[0]).removesuffix("0/")
    context = {"form": form, "query": _filter_query(request), "timeline_prefix": timeline_prefix}
    status = 200
    if filters is None:
        status = 400
        context["page"] = None
    else:
        context["page"] = history_rules.history_page(filters, filters.get("page") or 1)
    template = "mobility/history_results.html" if request.htmx else "mobility/history.html"
    return render(request, template, context, status=status)


@require_GET
@allowed("export")
def history_export(request, fmt: str):
    """Exactly what the filter shows (every page), streamed as CSV or JSON. Audited."""
    filters, form = _filter(request, f"export.{fmt}")
    if filters is None:
        errors = "; ".join(str(e) for errs in form.errors.values() for e in errs)
        return HttpResponse(f"The filter is not valid: {errors}\n", status=400, content_type="text/plain")
    filters = {**filters, "page": None}
    queryset = history_rules.filtered_migrations(filters)
    audit.record("history.exported", actor=request.user,
                 data={"format": fmt, "query": _filter_query(request)[:1000]})
    stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
    if fmt == "csv":
        response = StreamingHttpResponse(history_rules.stream_csv(queryset), content_type="text/csv; charset=utf-8")
    else:
        response = StreamingHttpResponse(history_rules.stream_json(queryset), content_type="application/json")
    response["Content-Disposition"] = f'attachment; filename="ivmweb-history-{stamp}.{fmt}"'
    return response


@require_GET
@allowed("read_history")
def history_stats(request):
    """Count, success rate, p50/p95 duration and suspend window per server pair, for the same filter."""
    filters, form = _filter(request, "stats")
    pairs = history_rules.pair_stats(history_rules.filtered_migrations(filters)) if filters is not None else None
    return render(request, "mobility/history_stats.html",
                  {"form": form, "pairs": pairs, "query": _filter_query(request)},
                  status=200 if filters is not None else 400)


@require_GET
@allowed("read_history")
def migration_timeline(request, pk: int):
    """Everything recorded about one migration, oldest first."""
    migration = get_object_or_404(policy.history(request.user, Migration.objects.select_related(
        "partition__team", "source", "destination", "requester")), pk=pk)
    return render(request, "mobility/history_timeline.html", {
        "m": migration,
        "entries": history_rules.timeline(migration),
        "duration": history_rules.ran_for(migration),
        "back": reverse("mobility:history"),
    })


@require_GET
@allowed("read_audit")
def audit_log(request):
    """The raw audit trail, newest first, filtered by action and actor; older pages by id."""
    form = AuditLogFilterForm(request.GET)
    if not form.is_valid():
        audit.record("history.filter_refused", actor=request.user, data={
            "where": "audit", "query": request.GET.urlencode()[:1000],
            "errors": {field: [str(e) for e in errors] for field, errors in form.errors.items()}})
        return render(request, "mobility/history_audit.html", {"form": form, "events": None}, status=400)
    events, older = history_rules.audit_log_page(form.cleaned_data, policy.audit_records(request.user))
    query = request.GET.copy()
    query.pop("before", None)
    return render(request, "mobility/history_audit.html",
                  {"form": form, "events": events, "older": older, "query": query.urlencode(),
                   "anchor": checkpoints.anchor_facts()})


# The lead's URL name `mobility:history` points at `governance.history`.
history = history_list
