"""What is pushed, as the pages show it: the state panel of a migration (steps, figures, chart), its event rows, and
the dashboard's rows, row changes and progress cells, each as a context or an HTML fragment.

The publisher renders them once in the producer for every socket, the sockets' repairs render them from the
database, and the engine's pages render the same contexts: views import these, never the other way, and nothing
here knows the engine (the queue position is read beside the model).
"""

from django.template.loader import render_to_string
from django.utils import timezone

from mobility import lifecycle, policy
from mobility.choices import MigrationStatus, steps_for
from mobility.models import Migration, MigrationEvent
from mobility.models.migrations import queue_position

CHART_W, CHART_H = 300, 80
CHART_POINTS = 120  # progress points the chart shows (the last ones): all the page reads of the progress events

DASHBOARD_STATUSES = frozenset({*MigrationStatus.active(), MigrationStatus.QUEUED, MigrationStatus.APPROVED})


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
    """The whole state panel. ``allowed``: what the lifecycle lets a person do now, rendered once for every viewer;
    the page hides what its own user may not do (``page_actions``), so each viewer sees the intersection."""
    steps = list(migration.steps.order_by("number"))
    return {
        **figures_context(migration), "steps": steps, "queue_position": queue_position(migration),
        "rendered_at": timezone.now(), "applicable": [s.number for s in steps_for(migration.mode)],
        "allowed": lifecycle.allowed_actions(migration), "moving": migration.status in DASHBOARD_STATUSES,
        "tasks": next((s.data.get("tasks") for s in steps if s.key == "postrequisites" and s.data.get("tasks")), None),
    }


def page_actions(user, migration: Migration) -> list[str]:
    """The actions this user may ever do on this migration (``mobility.policy``): the live page's ``may-<action>``
    classes, which show the buttons the pushed panel carries for the actions its status allows."""
    return [action for action in lifecycle.PAGE_ACTIONS if policy.may(user, action, migration)]


def state_html(migration: Migration) -> str:
    """The out-of-band state panel: steps, figures, chart, outcome."""
    return render_to_string("mobility/engine/_state.html", {**live_context(migration), "oob": True})


def figures_html(migration: Migration) -> str:
    """The state panel's figures and chart alone (out of band): all that a progress event changes."""
    return render_to_string("mobility/engine/_state_figures.html", {**figures_context(migration), "oob": True})


def events_html(migration: Migration, events) -> str:
    return render_to_string("mobility/engine/_events.html", {"migration": migration, "events": events, "oob": True})


def missed_html(migration_id: int, after_seq: int) -> tuple[str, int]:
    """Every event after ``after_seq`` and the current state, as one message; returns (html, last seq sent)."""
    migration = Migration.objects.select_related("partition", "source", "destination").get(pk=migration_id)
    events = list(MigrationEvent.objects.filter(migration_id=migration_id, seq__gt=after_seq).order_by("seq"))
    last = events[-1].seq if events else after_seq
    return events_html(migration, events) + state_html(migration), last


def dashboard_queryset(user):
    return policy.migrations(user).filter(status__in=DASHBOARD_STATUSES).select_related(
        "partition", "source", "destination").order_by("queued_at", "started_at", "pk")


def dashboard_rows(user) -> tuple[str, dict[int, tuple[int, int | None]]]:
    """The user's rows (out of band, for the socket) and what they show: {migration id: (seq, queue position)}."""
    rows = [(m, queue_position(m)) for m in dashboard_queryset(user)]
    html = render_to_string("mobility/engine/_dashboard_rows.html",
                            {"rows": rows, "oob": True, "rendered_at": timezone.now()})
    return html, {m.pk: (m.last_seq, position) for m, position in rows}


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


def job_html(job, *, oob: bool = True) -> str:
    """An IVM job as its page shows it (``mobility/jobs/_job.html``): pushed out of band to its place on the page."""
    return render_to_string("mobility/jobs/_job.html", {"job": job, "oob": oob})
