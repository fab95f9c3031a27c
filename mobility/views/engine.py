"""The engine's pages: the live page of one migration (websocket + polling fallback), the dashboard of running
and queued migrations, and the Withdraw / Stop / Recover / follow-up-task forms (POST, behind a confirmation)."""

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from mobility import policy
from mobility.batches.figures import totals
from mobility.engine import control
from mobility.live.batch_presenters import LIVE
from mobility.live.presenters import dashboard_queryset, event_rows, live_context, page_actions
from mobility.models import Migration, MigrationEvent
from mobility.models.migrations import queue_position


def _get(request, pk) -> Migration:
    migration = policy.migrations(request.user).select_related(
        "partition", "source", "destination", "requester").filter(pk=pk).first()
    if migration is None:
        raise Http404("No such migration.")
    return migration


def migration_live(request, pk):
    migration = _get(request, pk)
    events = MigrationEvent.objects.filter(migration=migration).order_by("seq")
    return render(request, "mobility/engine/live.html", {
        **live_context(migration), "events": event_rows(events), "may": page_actions(request.user, migration)})


def migration_state(request, pk):
    """The polling fallback: the state panel (the page asks for it every 2 s only while its socket is down)."""
    migration = _get(request, pk)
    return render(request, "mobility/engine/_state.html", live_context(migration))


def _confirm(request, migration, action: str):
    return render(request, "mobility/engine/confirm.html", {
        "migration": migration, "action": action, "may_force": policy.may(request.user, "force_recover", migration)})


def migration_stop(request, pk):
    migration = _get(request, pk)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return _confirm(request, migration, "stop")
    try:
        control.request_stop(migration, request.user)
        messages.success(request, "Stop requested; the engine sends migrlpar -o s.")
    except control.ControlRefused as exc:
        messages.error(request, str(exc))
    return redirect("mobility:migration_live", pk=pk)


def migration_withdraw(request, pk):
    migration = _get(request, pk)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return _confirm(request, migration, "withdraw")
    try:
        control.withdraw(migration, request.user, request.POST.get("reason", ""))
    except control.ControlRefused as exc:
        return render(request, "mobility/engine/confirm.html", {
            "migration": migration, "action": "withdraw", "error": str(exc),
            "reason": request.POST.get("reason", "")[:control.REASON_MAX]}, status=400)
    messages.success(request, "The request is withdrawn; its approvals are void.")
    return redirect("mobility:migration_live", pk=pk)


def migration_recover(request, pk):
    migration = _get(request, pk)
    if request.method != "POST" or request.POST.get("confirm") != "yes":
        return _confirm(request, migration, "recover")
    try:
        control.request_recover(migration, request.user, force=request.POST.get("force") == "on")
        messages.success(request, "Recover requested; the engine sends migrlpar -o r.")
    except control.ControlRefused as exc:
        messages.error(request, str(exc))
    return redirect("mobility:migration_live", pk=pk)


@require_POST
def migration_task(request, pk, index):
    migration = _get(request, pk)
    try:
        control.tick_task(migration, request.user, index, request.POST.get("done") == "on")
    except control.ControlRefused as exc:
        if request.htmx:
            return HttpResponse(str(exc), status=409, content_type="text/plain")
        messages.error(request, str(exc))
    if request.htmx:  # the push of the step change shows the tick to every viewer, this one included
        return HttpResponse(status=204)
    return redirect("mobility:migration_live", pk=pk)


def dashboard(request):

    rows = [(m, queue_position(m)) for m in dashboard_queryset(request.user)]
    batches = [(b, totals(b)) for b in policy.batches(request.user).filter(status__in=LIVE).select_related("source")]
    return render(request, "mobility/engine/dashboard.html", {"rows": rows, "rendered_at": timezone.now(),
                                                              "batches": batches})


