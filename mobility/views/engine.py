"""The engine's pages: the live page of one migration (websocket + polling fallback), the dashboard of running
and queued migrations, and the Stop / Recover / follow-up-task forms (POST, behind a confirmation)."""

from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST

from mobility import policy
from mobility.choices import MigrationStatus, steps_for
from mobility.engine import control
from mobility.engine.admission import queue_position
from mobility.models import Migration, MigrationEvent

CHART_W, CHART_H = 300, 80
CHART_POINTS = 120  # progress points the chart shows (the last ones): all the page reads of the progress events


def _get(request, pk) -> Migration:
    migration = policy.migrations(request.user).select_related(
        "partition", "source", "destination", "requester").filter(pk=pk).first()
    if migration is None:
        raise Http404("No such migration.")
    return migration


def _chart(progress: list[dict]) -> str:
    """SVG polyline points of bytes sent over time (what the page's script keeps extending)."""
    if not progress:
        return ""
    top = max(p["sent"] + p["remaining"] for p in progress) or 1
    n = len(progress)
    return " ".join(f"{(i * CHART_W / max(n - 1, 1)):.1f},{CHART_H - p['sent'] * CHART_H / top:.1f}"
                    for i, p in enumerate(progress))


def figures_context(migration: Migration) -> dict:
    """The figures and the chart: what a progress event changes. Only the progress points the chart shows are read
    (pushed on every event: a long transfer has thousands of progress events)."""
    recent = MigrationEvent.objects.filter(migration=migration, kind="progress").order_by("-seq")
    progress = list(recent.values_list("payload", flat=True)[:CHART_POINTS])[::-1]
    return {"migration": migration, "latest": progress[-1] if progress else {}, "chart": _chart(progress),
            "chart_w": CHART_W, "chart_h": CHART_H}


def live_context(migration: Migration) -> dict:
    steps = list(migration.steps.order_by("number"))
    return {
        **figures_context(migration), "steps": steps, "queue_position": queue_position(migration),
        "rendered_at": timezone.now(), "applicable": [s.number for s in steps_for(migration.mode)],
    }


def migration_live(request, pk):
    migration = _get(request, pk)
    events = MigrationEvent.objects.filter(migration=migration).order_by("seq")
    # Stop, Recover and the follow-up tasks are granted alike (policy.ACTIONS); which of them the status allows
    # is the lifecycle's.
    return render(request, "mobility/engine/live.html", {
        **live_context(migration), "events": events, "may_control": policy.may(request.user, "stop", migration)})


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
        messages.error(request, str(exc))
    return redirect("mobility:migration_live", pk=pk)


DASHBOARD_STATUSES = frozenset({*MigrationStatus.active(), MigrationStatus.QUEUED, MigrationStatus.APPROVED})


def dashboard_queryset(user):
    return policy.migrations(user).filter(status__in=DASHBOARD_STATUSES).select_related(
        "partition", "source", "destination").order_by("queued_at", "started_at", "pk")


def dashboard_rows(user) -> tuple[str, dict[int, tuple[int, int | None]]]:
    """The user's rows (out of band, for the socket) and what they show: {migration id: (seq, queue position)}."""
    rows = [(m, queue_position(m)) for m in dashboard_queryset(user)]
    html = render_to_string("mobility/engine/_dashboard_rows.html",
                            {"rows": rows, "oob": True, "rendered_at": timezone.now()})
    return html, {m.pk: (m.last_seq, position) for m, position in rows}


def dashboard_rows_html(user) -> str:
    return dashboard_rows(user)[0]


def dashboard_row_change(migration: Migration) -> dict:
    """A status change as a delta of its row, rendered once in the producer for every socket that shows the row:
    the row swapped out of band, or its removal when the migration has left the dashboard. ``queued``: it has a
    queue position (the sockets then need their whole rows: the other rows' positions move too)."""
    gone = migration.status not in DASHBOARD_STATUSES
    if gone:
        html, position = f'<tr id="dash-{migration.pk}" hx-swap-oob="delete"></tr>', None
    else:
        position = queue_position(migration)
        html = render_to_string("mobility/engine/_dashboard_row.html",
                                {"m": migration, "position": position, "row_oob": True})
    return {"seq": migration.last_seq, "html": html, "gone": gone, "queued": position is not None}


def dashboard_cell_html(migration: Migration) -> str:
    """One row's progress cell as an out-of-band delta (rendered once in the producer for every socket)."""
    return render_to_string("mobility/engine/_dashboard_cell.html", {"m": migration, "delta": True})


def dashboard(request):
    rows = [(m, queue_position(m)) for m in dashboard_queryset(request.user)]
    return render(request, "mobility/engine/dashboard.html", {"rows": rows, "rendered_at": timezone.now()})


