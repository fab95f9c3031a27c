"""The auditors' view of what happened: filtered migration history, one migration's timeline,
figures per server pair, and streamed CSV/JSON exports of exactly what a filter shows.

Everything here reads; nothing changes a row. Exports walk the rows with ``.iterator()`` so that
memory stays flat whatever the number of migrations.

Query shapes are kept to what the PostgreSQL indexes of migrations 0005/0006 serve: the duration sort
orders by exactly the indexed expression ``finished_at - started_at`` (NULLS FIRST, as PostgreSQL
always sorted it) unless a selective filter makes sorting its own rows cheaper, and the timeline finds
IVM commands by the indexed ``data -> 'migration'``.
"""

import csv
import json
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import (
    BooleanField,
    DurationField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    OuterRef,
    Q,
    QuerySet,
    StringAgg,
    Subquery,
    Value,
)
from django.db.models.functions import Concat
from django.template.defaultfilters import date as date_filter
from django.utils.timezone import template_localtime

from mobility import readable
from mobility.choices import MigrationStatus, StepStatus
from mobility.models import Approval, AuditEvent, Migration, MigrationEvent, MigrationStep, Partition

# Sort keys offered to people -> (label, ORDER BY); the id breaks ties so pages never overlap.
# Rows without a duration or suspend window (never ran) come first, as PostgreSQL's DESC always put them;
# saying so makes SQLite agree and matches the indexes migration_duration_idx / migration_suspend_idx.
SORTS: dict[str, tuple[str, tuple]] = {
    "-created": ("Newest first", ("-created_at", "-id")),
    "created": ("Oldest first", ("created_at", "id")),
    "partition": ("Partition", ("partition__name", "-created_at", "-id")),
    "status": ("Outcome", ("status", "-created_at", "-id")),
    "-duration": ("Longest first", (F("duration").desc(nulls_first=True), "-id")),
    "-suspend": ("Longest suspend first", (F("suspend_window_s").desc(nulls_first=True), "-id")),
}
# Filters that keep a few thousand migrations at most (one team, person, partition or server): their own
# index finds the rows, and sorting just those is cheap (~5 ms at 100,000 migrations).
_SELECTIVE_FILTERS = ("requester", "approver", "team", "partition", "source", "destination")
# The same sorts for a selective filter. Adding zero keeps the order (NULL + 0 is still NULL) but is no
# longer the indexed expression, so PostgreSQL cannot walk migration_duration_idx / migration_suspend_idx
# and skip the rows of everyone else (a walk of up to the whole index when the filter's rows sit far down
# it); it reads the filter's rows and sorts those.
_OWN_ROWS_SORTS = {
    "-duration": ((F("duration") + Value(timedelta(0))).desc(nulls_first=True), "-id"),
    "-suspend": ((F("suspend_window_s") + Value(0.0)).desc(nulls_first=True), "-id"),
}
DEFAULT_SORT = "-created"
PAGE_SIZE = 50
EXPORT_COLUMNS = ("id", "requested_at", "requester", "team", "partition", "source", "destination", "mode",
                  "status", "approvers", "started_at", "finished_at", "duration_s", "suspend_window_s",
                  "suspend_window_bound", "outcome")
# Kinds of MigrationEvent too frequent to list one by one in a timeline.
_NOISY_EVENTS = {"progress"}


def _day_start(day) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _day_after(day) -> datetime | None:
    """The first moment after ``day``, or None after the calendar's last day (nothing is later)."""
    return None if day == date.max else _day_start(day + timedelta(days=1))


def _duration():
    """How long it ran; the very expression indexed by migration_duration_idx (PostgreSQL)."""
    return ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField())


class _AnyOf(Func):
    """``column = ANY(ARRAY(SELECT ...))`` as a filter (PostgreSQL)."""

    output_field = BooleanField()

    def as_sql(self, compiler, connection, **extra):
        (column, column_params), (array, array_params) = (compiler.compile(e) for e in self.get_source_expressions())
        return f"{column} = ANY({array})", (*column_params, *array_params)


def _on_partitions(partitions: QuerySet):
    """Migrations of these partitions. On PostgreSQL as ``partition_id = ANY(ARRAY(SELECT ...))``: the ids
    are found first, then the migrations by their partition_id index (a bitmap scan of just those rows);
    a join or ``IN (SELECT ...)`` is planned as a hash join over a sequential scan of every migration."""
    if connection.vendor == "postgresql":
        return _AnyOf(F("partition_id"), ArraySubquery(partitions.order_by().values("pk")))
    return Q(partition__in=partitions)


def filter_migrations(queryset: QuerySet, filters: dict) -> QuerySet:
    """Migrations of ``queryset`` that match cleaned filters (the history page's, the API's list): days
    (``date_from``/``date_to``) or moments (``created_after``/``created_before``), people (user rows), team,
    partition name, servers (rows or ids), mode, and status (one value, or several)."""
    if filters.get("date_from"):
        queryset = queryset.filter(created_at__gte=_day_start(filters["date_from"]))
    if filters.get("date_to") and _day_after(filters["date_to"]) is not None:
        queryset = queryset.filter(created_at__lt=_day_after(filters["date_to"]))
    if filters.get("created_after"):
        queryset = queryset.filter(created_at__gte=filters["created_after"])
    if filters.get("created_before"):
        queryset = queryset.filter(created_at__lt=filters["created_before"])
    if filters.get("requester"):
        queryset = queryset.filter(requester=filters["requester"])
    if filters.get("approver"):
        queryset = queryset.filter(Exists(Approval.objects.filter(migration=OuterRef("pk"),
                                                                  approver=filters["approver"])))
    if filters.get("team"):
        queryset = queryset.filter(_on_partitions(Partition.objects.filter(team=filters["team"])))
    if filters.get("partition"):
        queryset = queryset.filter(partition__name=filters["partition"])
    if filters.get("source"):
        queryset = queryset.filter(source=filters["source"])
    if filters.get("destination"):
        queryset = queryset.filter(destination=filters["destination"])
    if filters.get("mode"):
        queryset = queryset.filter(mode=filters["mode"])
    status = filters.get("status")
    if status:
        queryset = (queryset.filter(status=status) if isinstance(status, str)
                    else queryset.filter(status__in=sorted(status)))
    return queryset


def _matching(filters: dict) -> QuerySet:
    """Migrations matching cleaned filters, sorted; no joins beyond what filtering and sorting need."""
    queryset = filter_migrations(Migration.objects.annotate(duration=_duration()), filters)
    sort = filters.get("sort") if filters.get("sort") in SORTS else DEFAULT_SORT
    if sort in _OWN_ROWS_SORTS and any(filters.get(name) for name in _SELECTIVE_FILTERS):
        return queryset.order_by(*_OWN_ROWS_SORTS[sort])
    return queryset.order_by(*SORTS[sort][1])


def filtered_migrations(filters: dict | None = None) -> QuerySet:
    """Migrations matching cleaned filters (``HistoryFilterForm.cleaned_data``), sorted, with what a row shows."""
    return (_matching(filters or {}).select_related("partition__team", "source", "destination", "requester")
            .annotate(votes_text=_standing_votes()))


_STATUS_LABELS = {value: str(label) for value, label in MigrationStatus.choices}


class HistoryRow:
    """One line of the history table as plain values, with its cells already written as the page shows
    them (no model instances, no look-ups or filters left for the template: it only prints)."""

    __slots__ = ("pk", "created_at", "requester", "team", "partition", "source", "destination", "mode",
                 "status", "status_label", "votes", "duration", "suspend_window_s", "requested",
                 "suspend_window_bound", "duration_text", "suspend_text")
    # The same value paths as the export's columns (_EXPORT_VALUES), so page and export agree.
    VALUES = ("id", "created_at", "requester__username", "partition__team__name", "partition__name",
              "source__name", "destination__name", "mode", "status", "votes_text", "duration",
              "suspend_window_s", "suspend_window_bound")

    def __init__(self, values: tuple):
        (self.pk, self.created_at, self.requester, team, self.partition, self.source, self.destination,
         self.mode, self.status, votes, self.duration, self.suspend_window_s, self.suspend_window_bound) = values
        self.team = team or "—"
        self.votes = votes or ""
        self.status_label = _STATUS_LABELS.get(self.status, self.status)
        # Django's own filter, so the text is what {{ x|date:"Y-m-d H:i" }} wrote; durations in words, "—" unknown.
        self.requested = date_filter(template_localtime(self.created_at), "Y-m-d H:i")
        self.duration_text = readable.duration(self.duration)
        self.suspend_text = readable.duration(self.suspend_window_s)
        if self.suspend_window_bound and self.suspend_window_s is not None:  # no poll saw "Suspended": a bound
            self.suspend_text = f"at most {self.suspend_text}"


def history_page(filters: dict | None, number: int = 1, per_page: int | None = None) -> Page:
    """One page of the filtered history, as ``HistoryRow``s.

    The page's ids are found first (filters and sort only: an index can serve them), then just those
    rows are read with their names and votes: a deep page then skips ids, not built rows.
    """
    filters = filters or {}
    page = Paginator(_matching(filters).values_list("pk", flat=True), per_page or PAGE_SIZE).get_page(number)
    ids = list(page.object_list)
    found = (Migration.objects.filter(pk__in=ids).order_by()
             .annotate(duration=_duration(), votes_text=_standing_votes()).values_list(*HistoryRow.VALUES))
    rows = {values[0]: HistoryRow(values) for values in found}
    page.object_list = [rows[pk] for pk in ids if pk in rows]
    return page


def _standing_votes():
    """"alex:approved, ..." of the votes not voided, as one column (no prefetch: pages and exports stay
    one query per page or chunk)."""
    # Older SQLite cannot order inside an aggregate; there votes come in row order (creation order).
    ordered = {"order_by": "created_at"} if connection.features.supports_aggregate_order_by_clause else {}
    votes = (Approval.objects.filter(migration=OuterRef("pk"), voided_at__isnull=True)
             .order_by().values("migration")
             .annotate(text=StringAgg(Concat("approver__username", Value(":"), "decision"), Value(", "), **ordered))
             .values("text"))
    return Subquery(votes)


def _iso(value) -> str:
    return value.isoformat() if value else ""


def approvers_of(migration) -> str:
    """"alex:approved, ..." for the votes still standing (voided votes are in the timeline)."""
    if hasattr(migration, "votes_text"):
        return migration.votes_text or ""
    votes = migration.approvals.filter(voided_at__isnull=True).select_related("approver").order_by("created_at")
    return ", ".join(f"{vote.approver.get_username()}:{vote.decision}" for vote in votes)


# Export column -> the value path read with .values() (no model instance per row: exports stay fast).
_EXPORT_VALUES = {
    "id": "id", "requested_at": "created_at", "requester": "requester__username",
    "team": "partition__team__name", "partition": "partition__name", "source": "source__name",
    "destination": "destination__name", "mode": "mode", "status": "status", "approvers": "votes_text",
    "started_at": "started_at", "finished_at": "finished_at", "duration_s": "duration",
    "suspend_window_s": "suspend_window_s", "suspend_window_bound": "suspend_window_bound", "outcome": "outcome",
}


def _export_value(column: str, value):
    if column == "duration_s":
        return round(value.total_seconds(), 3) if value is not None else None
    if column in ("requested_at", "started_at", "finished_at"):
        return _iso(value)
    if column in ("team", "approvers"):
        return value or ""
    return value


def iter_export_rows(queryset: QuerySet, chunk_size: int = 2000):
    """Rows (dicts of EXPORT_COLUMNS) in the queryset's order, fetched in chunks (a server-side cursor on
    PostgreSQL), so memory does not grow with the number of migrations."""
    paths = [_EXPORT_VALUES[column] for column in EXPORT_COLUMNS]
    for values in queryset.values_list(*paths).iterator(chunk_size=chunk_size):
        yield {column: _export_value(column, value) for column, value in zip(EXPORT_COLUMNS, values, strict=True)}


class _Line:
    """A file-like object whose write() returns the text, for csv.writer in a generator."""

    def write(self, value: str) -> str:
        return value


# A cell a spreadsheet would run as a formula starts with one of these (OWASP, CSV injection).
_FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value):
    """A text cell that starts like a formula gets a leading single quote, so that a spreadsheet shows it
    as text (usernames and names may start with ``+``, ``-`` or ``@``); numbers and dates pass unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_LEADS):
        return "'" + value
    return value


def stream_csv(queryset: QuerySet):
    """The rows as CSV, every cell quoted and formula-leading text neutralised (OWASP's CSV injection advice)."""
    writer = csv.writer(_Line(), quoting=csv.QUOTE_ALL)
    yield writer.writerow(EXPORT_COLUMNS)
    for row in iter_export_rows(queryset):
        yield writer.writerow(["" if row[c] is None else spreadsheet_safe(row[c]) for c in EXPORT_COLUMNS])


def stream_json(queryset: QuerySet):
    """A JSON array, one object per line, written as it is read."""
    yield "[\n"
    first = True
    for row in iter_export_rows(queryset):
        yield ("" if first else ",\n") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "\n]\n"


# --- the raw audit trail ------------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 100


def audit_log_page(filters: dict, events: QuerySet) -> tuple[list, int | None]:
    """Newest of these events (the reader's ``policy.audit_records``) first, filtered; keyset-paged by id (no
    count over a million rows).

    Returns the events and the id to pass as `before` for the next (older) page, or None."""
    events = events.order_by("-id")
    if filters.get("action"):
        events = events.filter(action__startswith=filters["action"])
    if filters.get("actor"):
        events = events.filter(actor_name=filters["actor"])
    if filters.get("before"):
        events = events.filter(id__lt=filters["before"])
    rows = list(events[:AUDIT_PAGE_SIZE + 1])
    older = rows[AUDIT_PAGE_SIZE - 1].id if len(rows) > AUDIT_PAGE_SIZE else None
    return rows[:AUDIT_PAGE_SIZE], older


# --- figures per server pair ------------------------------------------------------------------------

def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile of sorted values (None when there are none)."""
    if not values:
        return None
    rank = math.ceil(round(fraction * len(values), 9))  # round: 0.95 * 20 must be 19, not 19.000000000000004
    return values[min(max(rank, 1), len(values)) - 1]


@dataclass
class PairStats:
    source: str
    destination: str
    count: int = 0
    completed: int = 0
    failed: int = 0  # failed or stopped: ran and did not complete
    durations: list | None = None
    suspends: list | None = None

    @property
    def success_rate(self) -> float | None:
        finished = self.completed + self.failed
        return self.completed / finished if finished else None

    def figure(self, values, fraction):
        return percentile(sorted(values or []), fraction)

    @property
    def duration_p50(self):
        return self.figure(self.durations, 0.50)

    @property
    def duration_p95(self):
        return self.figure(self.durations, 0.95)

    @property
    def suspend_p50(self):
        return self.figure(self.suspends, 0.50)

    @property
    def suspend_p95(self):
        return self.figure(self.suspends, 0.95)


def pair_stats(queryset: QuerySet) -> list[PairStats]:
    """Count, success rate, p50/p95 duration and suspend window per (source, destination)."""
    pairs: dict[tuple[str, str], PairStats] = {}
    rows = queryset.order_by().values_list("source__name", "destination__name", "status", "duration",
                                           "suspend_window_s")
    for source, destination, status, duration, suspend in rows.iterator(chunk_size=5000):
        stats = pairs.get((source, destination))
        if stats is None:
            stats = pairs[(source, destination)] = PairStats(source, destination, durations=[], suspends=[])
        stats.count += 1
        if status == MigrationStatus.COMPLETED:
            stats.completed += 1
            if duration is not None:
                stats.durations.append(duration.total_seconds())
            if suspend is not None:
                stats.suspends.append(suspend)
        elif status in (MigrationStatus.FAILED, MigrationStatus.STOPPED):
            stats.failed += 1
    return sorted(pairs.values(), key=lambda s: (s.source, s.destination))


# --- one migration's timeline -----------------------------------------------------------------------

@dataclass
class TimelineEntry:
    """One line of a timeline: one recorded event, in words, with its data as key/value pairs and its seal."""

    at: datetime | None
    kind: str  # request, plan, vote, void, step, command, status, event, audit, result
    title: str
    detail: str = ""
    actor: str = ""
    facts: list | None = None  # (key, text) pairs
    seal: str | None = None  # the audit event's hash; None while it is being sealed, or for a journal line
    sealed_event: int | None = None  # the audit event's id; None for a line read from the journal or the rows
    command: str = ""  # an IVM command line, shown as code

    @property
    def in_chain(self) -> bool:
        return self.sealed_event is not None


def _about(migration) -> Q:
    """Audit events about a migration: recorded on it, or naming it in their data (IVM commands).

    Each branch has its index on PostgreSQL (audit_object_idx, audit_data_migration_idx,
    audit_data_migration_id_idx), so the OR is a BitmapOr of three index scans, not a scan of the trail."""
    return (Q(object_type="migration", object_id=str(migration.pk))
            | Q(data__migration=migration.pk) | Q(data__migration_id=migration.pk))


def audit_events_about(migration) -> QuerySet:
    """The audit events of one migration's timeline, oldest first."""
    return AuditEvent.objects.filter(_about(migration)).order_by("id")


_STEP_LABELS = {value: str(label) for value, label in StepStatus.choices}
# Journal kinds whose every occurrence has its audit event (engine.step, migration.<status>, ivm.command): the
# timeline shows the sealed one. A command's journal line only lends its output to the audit line of that command.
_JOURNAL_TWINS = {"step", "status", "command"}


def _requested(migration, data: dict) -> tuple[str, str]:
    where = (f"{data.get('partition', migration.partition.name)}: {data.get('source', migration.source.name)} → "
             f"{data.get('destination', migration.destination.name)}, "
             f"{data.get('mode', migration.mode)}.")
    reason = data.get("reason", migration.reason)
    return "Requested", f"{where} {reason}".strip()


def _line(event: AuditEvent, migration, steps: dict, outputs: dict) -> TimelineEntry:
    """An audit event in words: its kind, a title, a detail sentence and the rest of its data as pairs."""
    data = event.data if isinstance(event.data, dict) else {}
    action, kind, title, detail, skip = event.action, "audit", event.action, "", ("migration", "migration_id")
    if action == "plan.submitted":
        kind, (title, detail) = "request", _requested(migration, data)
        skip += ("partition", "source", "destination", "mode", "reason")
    elif action == "plan.version":
        kind, title, detail = "plan", f"Plan version {data.get('version')}", f"sha256 {data.get('hash', '')}"
        skip += ("version", "hash")
    elif action == "plan.revised":
        kind, title = "plan", f"Plan revised to version {data.get('version')}"
        skip += ("version",)
    elif action in ("approval.approved", "approval.rejected"):
        kind, title = "vote", f"{action.split('.')[1].capitalize()} plan v{data.get('plan_version')}"
        detail = f"“{data['comment']}”" if data.get("comment") else ""
        skip += ("plan_version", "comment")
    elif action == "approval.voided":
        kind, title, detail = "void", "Votes voided", data.get("reason", "")
        skip += ("reason",)
    elif action == "engine.step":
        number = data.get("step")
        kind = "step"
        title = (f"Step {number}: {steps.get(number, data.get('key', ''))} — "
                 f"{_STEP_LABELS.get(data.get('status'), data.get('status'))}")
        detail = data.get("detail") or ""
        skip += ("step", "key", "status", "detail")
    elif action == "ivm.command":
        kind, title = "command", f"IVM command on {data.get('console', '?')}"
        queued = outputs.get(data.get("command"))
        detail = (queued.pop(0) if queued else "") or ""
        skip += ("console", "command")
    elif action.startswith("migration."):
        before, after = data.get("from"), data.get("to", action.split(".", 1)[1])
        kind = "result" if after in MigrationStatus.terminal() else "status"
        title = (_STATUS_LABELS.get(after, after) if kind == "result"
                 else f"{_STATUS_LABELS.get(before, before)} → {_STATUS_LABELS.get(after, after)}")
        detail = data.get("outcome") or ""
        if kind == "result" and migration.suspend_window_s is not None:
            detail = f"{detail} Suspend window {readable.duration(migration.suspend_window_s)}.".strip()
        skip += ("from", "to", "outcome")
    # What was not recorded is not told (the audit trail page shows every key, empty or not).
    facts = [(key, text) for key, text in readable.pairs(data, skip=skip) if text != readable.UNKNOWN]
    if action == "ivm.command" and data.get("duration_s") is not None:
        facts = [(key, readable.duration(data["duration_s"]) if key == "duration_s" else text) for key, text in facts]
    return TimelineEntry(event.at, kind, title, detail, event.actor_name if event.actor_name != "system" else "",
                         facts, event.hash, event.pk, data.get("command", "") if kind == "command" else "")


def _journal_line(event: MigrationEvent) -> TimelineEntry:
    """A journal event with no audit twin (a suspend window, a stop request, a stall): shown, marked unsealed."""
    payload = {key: value for key, value in (event.payload or {}).items() if key not in ("at", "worker")}
    title, skip = event.kind.capitalize(), ()
    if event.kind == "suspend":
        title, skip = f"Suspend window {readable.duration(payload.get('window_s'))}", ("window_s",)
    elif event.kind == "request":
        title, skip = f"{str(payload.get('action', 'action')).capitalize()} asked by {payload.get('by', '?')}", (
            "action", "by")
    return TimelineEntry(event.at, "event", title, "", "", readable.pairs(payload, skip=skip))


def ran_for(migration) -> timedelta | None:
    """How long it ran (start to end); None before it ended or when it never started."""
    if migration.started_at and migration.finished_at:
        return migration.finished_at - migration.started_at
    return None


def timeline(migration) -> list[TimelineEntry]:
    """Everything recorded about one migration, oldest first, one line per event.

    The sealed audit trail is the record: each of its events is one line, with its seal. The journal (the live
    page's events) adds only what the trail does not hold (suspend windows, stop requests); the rows add only
    what neither recorded (a request, a step or an end written without an audit event, as older data may be)."""
    steps = {step.number: step for step in MigrationStep.objects.filter(migration=migration).order_by("number")}
    titles = {number: step.title for number, step in steps.items()}
    journal = list(MigrationEvent.objects.filter(migration=migration).exclude(kind__in=_NOISY_EVENTS).order_by("seq"))
    outputs: dict[str, list[str]] = {}
    for event in journal:
        if event.kind == "command":
            payload = event.payload or {}
            outputs.setdefault(payload.get("command"), []).append(payload.get("output") or payload.get("error") or "")
    entries = [_line(event, migration, titles, outputs) for event in audit_events_about(migration)]
    entries += [_journal_line(event) for event in journal if event.kind not in _JOURNAL_TWINS]
    kinds = {entry.kind for entry in entries}
    if "request" not in kinds:
        title, detail = _requested(migration, {})
        entries.append(TimelineEntry(migration.created_at, "request", title, detail,
                                     migration.requester.get_username()))
    plans_told = {entry.title for entry in entries if entry.kind == "plan"}
    for plan in migration.plans.select_related("created_by").order_by("version"):
        if f"Plan version {plan.version}" not in plans_told:
            entries.append(TimelineEntry(plan.created_at, "plan", f"Plan version {plan.version}",
                                         f"sha256 {plan.content_hash}", plan.created_by.get_username()))
    told = {entry.title.split(":")[0] for entry in entries if entry.kind == "step"}
    for number, step in steps.items():
        if (step.started_at or step.finished_at) and f"Step {number}" not in told:
            entries.append(TimelineEntry(step.started_at or step.finished_at, "step",
                                         f"Step {number}: {step.title} — {step.get_status_display()}", step.detail))
    if (migration.is_terminal or migration.finished_at) and "result" not in kinds:
        suspend = (f" Suspend window {readable.duration(migration.suspend_window_s)}."
                   if migration.suspend_window_s is not None else "")
        entries.append(TimelineEntry(migration.finished_at, "result", migration.get_status_display(),
                                     f"{migration.outcome}{suspend}".strip()))
    far_future = datetime.max.replace(tzinfo=UTC)
    return sorted(entries, key=lambda entry: (entry.at or far_future, entry.sealed_event or 0))
