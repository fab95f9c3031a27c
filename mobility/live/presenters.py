"""What is pushed, as the pages show it: the state panel of a migration (steps, figures, chart), its event rows, and
the dashboard's rows, row changes and progress cells, each as a context or an HTML fragment.

The publisher renders them once in the producer for every socket, the sockets' repairs render them from the
database, and the engine's pages render the same contexts: views import these, never the other way, and nothing
here knows the engine (the queue position is read beside the model).
"""

from datetime import datetime, timedelta

from django.template.loader import render_to_string
from django.utils import timezone

from mobility import lifecycle, policy
from mobility.choices import STEPS, MigrationMode, MigrationStatus, steps_for
from mobility.live import chart, wording
from mobility.models import Migration, MigrationEvent, MigrationStep
from mobility.models.migrations import queue_position

CHART_POINTS = 120  # progress points the chart shows (the last ones): all the page reads of the progress events

DASHBOARD_STATUSES = frozenset({*MigrationStatus.active(), MigrationStatus.QUEUED, MigrationStatus.APPROVED})


def _suspend_window(migration: Migration):
    """Where the suspend window lies in time, for the chart: (start, end, a bound?) or None (active moves only)."""
    if migration.mode != MigrationMode.ACTIVE or migration.suspend_window_s is None:
        return None
    data = MigrationStep.objects.filter(migration=migration, number=7).values_list("data", flat=True).first() or {}
    window = timedelta(seconds=migration.suspend_window_s)
    try:
        if not migration.suspend_window_bound:  # measured from the first poll that saw "Suspended"
            start = datetime.fromisoformat(data["suspended_seen_at"])
            return start, start + window, False
        end = datetime.fromisoformat(data["completed_seen_at"])  # a bound: it ends at the poll that saw the end
        return end - window, end, True
    except (KeyError, TypeError, ValueError):
        return None


def figures_context(migration: Migration) -> dict:
    """The figures and the chart: what a progress event changes. Only the progress points the chart shows are read
    (pushed on every event: a long transfer has thousands of progress events). Once the migration stops moving the
    figures are frozen and labelled: no rate, ETA or "converging" that no longer holds."""
    recent = MigrationEvent.objects.filter(migration=migration, kind="progress").order_by("-seq")
    progress = list(recent.values_list("payload", flat=True)[:CHART_POINTS])[::-1]
    latest = progress[-1] if progress else {}
    frozen = wording.frozen_label(migration.status) if progress else None
    window = _suspend_window(migration) if progress else None
    return {"migration": migration, "latest": latest, "frozen": frozen,
            "eta_words": "" if frozen else wording.eta_words(latest.get("eta")),
            "chart": chart.build(progress, window[:2] if window else None, bool(window and window[2]))}


def _steps(migration: Migration, rows) -> list:
    """All 11 steps in order: the migration's rows, and the steps its mode skips, each with why."""
    by_number = {row.number: row for row in rows}
    steps = []
    for definition in STEPS:
        if definition.number in by_number:
            steps.append(by_number[definition.number])
        elif (why := wording.NOT_APPLICABLE.get((migration.mode, definition.number))) is not None:
            steps.append({"number": definition.number, "title": definition.title, "not_applicable": why})
    return steps


def live_context(migration: Migration) -> dict:
    """The whole state panel. ``allowed``: what the lifecycle lets a person do now, rendered once for every viewer;
    the page hides what its own user may not do (``page_actions``), so each viewer sees the intersection."""
    rows = list(migration.steps.order_by("number"))
    return {
        **figures_context(migration), "steps": _steps(migration, rows), "queue_position": queue_position(migration),
        "rendered_at": timezone.now(), "applicable": [s.number for s in steps_for(migration.mode)],
        "allowed": lifecycle.allowed_actions(migration), "moving": migration.status in DASHBOARD_STATUSES,
        "tasks": next((s.data.get("tasks") for s in rows if s.key == "postrequisites" and s.data.get("tasks")), None),
    }


def page_actions(user, migration: Migration) -> list[str]:
    """The actions this user may ever do on this migration (``mobility.policy``): the live page's ``may-<action>``
    classes, which show the buttons the pushed panel carries for the actions its status allows."""
    return [action for action in lifecycle.PAGE_ACTIONS if policy.may(user, action, migration)]


def state_html(migration: Migration) -> str:
    """The out-of-band state panel: steps, figures, chart, outcome."""
    return render_to_string("mobility/engine/_state.html", {**live_context(migration), "oob": True})


def step_html(migration: Migration, step: MigrationStep) -> str:
    """One step of the state panel (out of band): all that a step event changes, but for the follow-up tasks."""
    return render_to_string("mobility/engine/_step.html", {"migration": migration, "step": step, "oob": True})


def figures_html(migration: Migration) -> str:
    """The state panel's figures and chart alone (out of band): all that a progress event changes."""
    return render_to_string("mobility/engine/_state_figures.html", {**figures_context(migration), "oob": True})


def event_rows(events) -> list[dict]:
    """Events as the log shows them: one sentence each; a command with its answer ("No results" in words)."""
    rows = []
    for e in events:
        row = {"seq": e.seq, "at": e.at, "kind": e.kind, "payload": e.payload}
        if e.kind == "command":
            row.update(wording.command_answer(e.payload))
        else:
            row["line"] = wording.event_line(e.kind, e.payload)
        rows.append(row)
    return rows


def events_html(migration: Migration, events) -> str:
    return render_to_string("mobility/engine/_events.html",
                            {"migration": migration, "events": event_rows(events), "oob": True})


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
