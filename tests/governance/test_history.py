"""The auditors' history: filters, bad filters, sorting and pages, exports equal to the filter, timeline, figures."""

import csv
import io
import json
import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from mobility.choices import MigrationStatus, StepStatus
from mobility.governance import audit, history
from mobility.governance.approvals import approve, reject
from mobility.models import AuditEvent, Migration, MigrationStep
from tests.governance.conftest import make_request, revise

pytestmark = pytest.mark.django_db
DAY = timedelta(days=1)


def _finish(migration, status, *, minutes, suspend=None, at=None):
    start = (at or migration.created_at) + timedelta(hours=1)
    Migration.objects.filter(pk=migration.pk).update(
        status=status, started_at=start, finished_at=start + timedelta(minutes=minutes),
        suspend_window_s=suspend, outcome=f"{status} after {minutes} min")


@pytest.fixture
def past(estate, requester, approver, personas):
    """Six finished or pending migrations over ten days, two teams, three servers."""
    omar = personas["omar"]
    now = timezone.now()
    rows = {}
    rows["m1"] = make_request(estate.app01, requester, estate.b, created_at=now - 10 * DAY)
    approve(rows["m1"], approver, "ok", plan_hash=rows["m1"].latest_plan().content_hash)
    _finish(rows["m1"], MigrationStatus.COMPLETED, minutes=10, suspend=1.5)
    rows["m2"] = make_request(estate.app01, requester, estate.c, created_at=now - 8 * DAY)
    approve(rows["m2"], approver, "ok", plan_hash=rows["m2"].latest_plan().content_hash)
    _finish(rows["m2"], MigrationStatus.FAILED, minutes=3)
    rows["m3"] = make_request(estate.app02, requester, estate.b, created_at=now - 5 * DAY, mode="inactive")
    approve(rows["m3"], approver, "ok", plan_hash=rows["m3"].latest_plan().content_hash)
    _finish(rows["m3"], MigrationStatus.COMPLETED, minutes=20, suspend=None)
    rows["m4"] = make_request(estate.db01, requester, estate.a, created_at=now - 3 * DAY)
    reject(rows["m4"], approver, "no", plan_hash=rows["m4"].latest_plan().content_hash)
    rows["m5"] = make_request(estate.ana01, omar, estate.b, created_at=now - 2 * DAY)
    Migration.objects.filter(pk=rows["m5"].pk).update(status=MigrationStatus.COMPLETED)
    _finish(rows["m5"], MigrationStatus.COMPLETED, minutes=30, suspend=2.5)
    rows["m6"] = make_request(estate.app01, requester, estate.b, created_at=now - DAY / 2)
    return {key: Migration.objects.get(pk=m.pk) for key, m in rows.items()}


def ids(page_or_rows):
    return [getattr(row, "pk", None) or row["id"] for row in page_or_rows]


def get(client, name, query="", **kwargs):
    return client.get(reverse(name, **kwargs) + (f"?{query}" if query else ""))


@pytest.fixture
def auditor_client(client, auditor):
    client.force_login(auditor)
    return client


@pytest.mark.parametrize(("query", "expected"), [
    ("", ["m6", "m5", "m4", "m3", "m2", "m1"]),
    ("status=completed", ["m5", "m3", "m1"]),
    ("team=Payments&status=completed", ["m3", "m1"]),
    ("requester=omar", ["m5"]),
    ("approver=alex", ["m4", "m3", "m2", "m1"]),
    ("partition=app01", ["m6", "m2", "m1"]),
    ("source=Server-A&destination=Server-B", ["m6", "m5", "m3", "m1"]),
    ("mode=inactive", ["m3"]),
    ("sort=created", ["m1", "m2", "m3", "m4", "m5", "m6"]),
    ("sort=-duration&status=completed", ["m5", "m3", "m1"]),
])
def test_history_filters_and_sorts(auditor_client, past, query, expected):
    response = get(auditor_client, "mobility:history", query)
    assert response.status_code == 200
    assert ids(response.context["page"]) == [past[k].pk for k in expected]


def test_the_duration_sorts_put_what_never_ran_first_then_longest_and_break_ties_by_newest(
        auditor_client, past, estate, requester):
    # m4 (rejected) and m6 (pending) never ran: no duration, no suspend window.
    tie = make_request(estate.app02, requester, estate.c, created_at=timezone.now() - DAY)
    _finish(tie, MigrationStatus.COMPLETED, minutes=10, suspend=1.5)  # as long as m1, and newer
    rows = {**past, "tie": tie}
    expected = {
        "sort=-duration": ["m6", "m4", "m5", "m3", "tie", "m1", "m2"],
        "sort=-suspend": ["m6", "m4", "m3", "m2", "m5", "tie", "m1"],
    }
    for query, keys in expected.items():
        page = get(auditor_client, "mobility:history", query).context["page"]
        assert ids(page) == [rows[k].pk for k in keys], query
        export = _json_rows(get(auditor_client, "mobility:history_export", query, args=["json"]))
        assert [row["id"] for row in export] == ids(page), query


@pytest.mark.parametrize("sort", ["-duration", "-suspend"])
@pytest.mark.parametrize("query", [
    "team=Payments", "requester=rita", "approver=alex", "partition=app01", "source=Server-A",
    "team=Payments&destination=Server-B",
])
def test_a_selective_filter_sorts_its_own_rows_exactly_as_the_whole_history_does(
        auditor_client, past, estate, requester, query, sort):
    # Such a filter sorts by the duration / suspend window plus zero (not the indexed expression): the same
    # order, what never ran first, ties by newest id.
    tie = make_request(estate.app02, requester, estate.c, created_at=timezone.now() - DAY)
    _finish(tie, MigrationStatus.COMPLETED, minutes=10, suspend=1.5)  # as long as m1, and newer
    rows = {**past, "tie": tie}
    whole = ids(get(auditor_client, "mobility:history", f"sort={sort}").context["page"])
    matching = set(ids(get(auditor_client, "mobility:history", query).context["page"]))
    page = ids(get(auditor_client, "mobility:history", f"{query}&sort={sort}").context["page"])
    assert page == [pk for pk in whole if pk in matching], (query, sort)
    if query == "team=Payments":
        expected = {"-duration": ["m6", "m4", "m3", "tie", "m1", "m2"], "-suspend": ["m6", "m4", "m3", "m2", "tie", "m1"]}
        assert page == [rows[k].pk for k in expected[sort]]
    export = _json_rows(get(auditor_client, "mobility:history_export", f"{query}&sort={sort}", args=["json"]))
    assert [row["id"] for row in export] == page


def test_history_filters_by_date_range(auditor_client, past):
    today = timezone.now().date()
    query = f"date_from={today - timedelta(days=8)}&date_to={today - timedelta(days=3)}"
    assert ids(get(auditor_client, "mobility:history", query).context["page"]) == [
        past[k].pk for k in ("m4", "m3", "m2")]


@pytest.mark.parametrize(("query", "message"), [
    ("date_from=2026-13-45", "Enter a valid date."),
    ("date_from=2026-05-02&date_to=2026-05-01", "The start date is after the end date."),
    ("requester=nobody", "There is no user named “nobody”."),
    ("team=Sales", "There is no team named “Sales”."),
    ("source=Server-Z", "There is no server named “Server-Z”."),
    ("partition=zz99", "There is no partition named “zz99”."),
    ("status=exploded", "Select a valid choice."),
    ("sort=password", "Select a valid choice."),
    ("page=0", "greater than or equal to 1"),
])
def test_a_bad_filter_shows_a_clear_message_changes_nothing_and_is_audited(auditor_client, past, query, message):
    before = Migration.objects.order_by("pk").values_list("pk", "status", "updated_at")
    before = list(before)
    response = get(auditor_client, "mobility:history", query)
    assert response.status_code == 400
    assert message in response.text and 'data-testid="filter-error"' in response.text
    assert list(Migration.objects.order_by("pk").values_list("pk", "status", "updated_at")) == before
    event = AuditEvent.objects.get(action="history.filter_refused")
    assert event.actor_name == "audrey" and query.split("=")[0] in event.data["query"]
    export = get(auditor_client, "mobility:history_export", query, args=["csv"])
    assert export.status_code == 400 and message in export.text
    assert not AuditEvent.objects.filter(action="history.exported").exists()


def test_pages_cover_the_filter_without_overlap(auditor_client, past, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 4)
    first = get(auditor_client, "mobility:history", "")
    second = get(auditor_client, "mobility:history", "page=2")
    assert ids(first.context["page"]) + ids(second.context["page"]) == [
        past[k].pk for k in ("m6", "m5", "m4", "m3", "m2", "m1")]
    assert "page=2" in first.text


def _csv_rows(response):
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def _json_rows(response):
    return json.loads(b"".join(response.streaming_content))


@pytest.mark.parametrize("query", ["", "status=completed", "team=Payments&sort=created", "approver=alex&mode=active",
                                   "source=Server-A&sort=-duration"])
def test_exports_equal_the_filtered_history(auditor_client, past, query, monkeypatch):
    monkeypatch.setattr(history, "PAGE_SIZE", 2)  # the export is every page, not just the first
    shown, number = [], 1
    while True:
        page = get(auditor_client, "mobility:history", f"{query}&page={number}".lstrip("&")).context["page"]
        shown += ids(page)
        if not page.has_next():
            break
        number += 1
    as_csv = get(auditor_client, "mobility:history_export", query, args=["csv"])
    as_json = get(auditor_client, "mobility:history_export", query, args=["json"])
    assert as_csv.streaming and as_json.streaming
    assert as_csv["Content-Type"].startswith("text/csv") and "attachment" in as_csv["Content-Disposition"]
    csv_rows, json_rows = _csv_rows(as_csv), _json_rows(as_json)
    assert [int(row["id"]) for row in csv_rows] == [row["id"] for row in json_rows] == shown
    # Same values in both formats (CSV writes None as an empty cell).
    for a, b in zip(csv_rows, json_rows, strict=True):
        assert a == {k: "" if v is None else str(v) for k, v in b.items()}
    exported = AuditEvent.objects.filter(action="history.exported")
    assert sorted(exported.values_list("data__format", flat=True)) == ["csv", "json"]


def test_an_export_row_carries_the_facts_an_auditor_needs(auditor_client, past):
    row = next(r for r in _json_rows(get(auditor_client, "mobility:history_export", args=["json"]))
               if r["id"] == past["m1"].pk)
    assert row["requester"] == "rita" and row["team"] == "Payments" and row["approvers"] == "alex:approved"
    assert row["source"] == "Server-A" and row["destination"] == "Server-B" and row["status"] == "completed"
    assert row["duration_s"] == 600.0 and row["suspend_window_s"] == 1.5


def test_figures_per_server_pair(auditor_client, past):
    response = get(auditor_client, "mobility:history_stats")
    pairs = {(p.source, p.destination): p for p in response.context["pairs"]}
    ab = pairs[("Server-A", "Server-B")]
    assert ab.count == 4 and ab.completed == 3 and ab.failed == 0 and ab.success_rate == 1.0
    assert ab.duration_p50 == 1200.0 and ab.duration_p95 == 1800.0
    assert ab.suspend_p50 == 1.5 and ab.suspend_p95 == 2.5
    ac = pairs[("Server-A", "Server-C")]
    assert ac.count == 1 and ac.success_rate == 0.0 and ac.duration_p50 is None
    assert "Server-C" in response.text
    filtered = get(auditor_client, "mobility:history_stats", "team=Analytics").context["pairs"]
    assert [(p.source, p.destination, p.count) for p in filtered] == [("Server-A", "Server-B", 1)]


def test_percentile_is_nearest_rank():
    values = [float(v) for v in range(1, 21)]
    assert history.percentile(values, 0.5) == 10.0
    assert history.percentile(values, 0.95) == 19.0
    assert history.percentile([], 0.5) is None
    assert history.percentile([7.0], 0.95) == 7.0


def test_the_timeline_tells_the_whole_story(auditor_client, estate, requester, approver):
    migration = make_request(estate.app01, requester, estate.b)
    approve(migration, approver, "first look ok", plan_hash=migration.latest_plan().content_hash)
    revise(migration, requester)
    approve(migration, approver, "second version ok", plan_hash=migration.latest_plan().content_hash)
    migration.create_steps()
    start = timezone.now()
    MigrationStep.objects.filter(migration=migration, number=1).update(
        status=StepStatus.DONE, started_at=start, finished_at=start + timedelta(seconds=5), detail="all checks ok")
    audit.record("ivm.command", data={"migration": migration.pk, "command": "migrlpar -o m -m Server-A",
                                      "exit_status": 0})
    audit.record("ivm.command", data={"migration": migration.pk + 1000, "command": "lssyscfg -r sys"})
    Migration.objects.filter(pk=migration.pk).update(status=MigrationStatus.COMPLETED, started_at=start,
                                                     finished_at=start + timedelta(minutes=4),
                                                     suspend_window_s=1.8, outcome="moved")
    response = get(auditor_client, "mobility:history_timeline", args=[migration.pk])
    kinds = [entry.kind for entry in response.context["entries"]]
    titles = " | ".join(entry.title for entry in response.context["entries"])
    for kind in ("request", "plan", "vote", "void", "step", "command", "result"):
        assert kind in kinds
    assert kinds[0] == "request" and kinds[-1] == "result"
    assert "Plan version 1" in titles and "Plan version 2" in titles
    assert "Approved plan v1" in titles and "Approved plan v2" in titles
    assert "Step 1: Confirm every requirement is met — Done" in titles
    assert "migrlpar -o m" in response.text and "lssyscfg" not in response.text
    assert "Suspend window 1.8 s" in response.text


def test_history_shows_nothing_but_reads(auditor_client, past):
    before = AuditEvent.objects.count()
    get(auditor_client, "mobility:history", "status=completed")
    get(auditor_client, "mobility:history_stats")
    get(auditor_client, "mobility:history_timeline", args=[past["m1"].pk])
    assert AuditEvent.objects.count() == before
    assert not User.objects.filter(username="audrey", groups__name="approver").exists()


def test_the_audit_trail_page_filters_and_pages_back_by_id(auditor_client, past, monkeypatch):
    monkeypatch.setattr(history, "AUDIT_PAGE_SIZE", 3)
    votes = list(AuditEvent.objects.filter(action__startswith="approval.").order_by("-id").values_list("id", flat=True))
    assert len(votes) == 4
    first = get(auditor_client, "mobility:audit_log", "action=approval.")
    assert [e.pk for e in first.context["events"]] == votes[:3]
    assert first.context["older"] == votes[2] and f"before={votes[2]}" in first.text
    second = get(auditor_client, "mobility:audit_log", f"action=approval.&before={votes[2]}")
    assert [e.pk for e in second.context["events"]] == votes[3:] and second.context["older"] is None
    mine = get(auditor_client, "mobility:audit_log", "actor=alex")
    assert {e.actor_name for e in mine.context["events"]} == {"alex"}


def test_the_audit_trail_page_refuses_a_bad_filter(auditor_client, past):
    response = get(auditor_client, "mobility:audit_log", "before=yesterday")
    assert response.status_code == 400 and "Enter a whole number." in response.text
    assert AuditEvent.objects.filter(action="history.filter_refused", data__where="audit").count() == 1


def test_a_history_row_shows_what_the_migration_is(auditor_client, past):
    response = get(auditor_client, "mobility:history", "partition=app01")
    rows = {row.pk: row for row in response.context["page"]}
    m1, m6 = rows[past["m1"].pk], rows[past["m6"].pk]
    requested = timezone.localtime(past["m1"].created_at).strftime("%Y-%m-%d %H:%M")
    assert (f'<a href="/history/migrations/{m1.pk}/">{m1.pk}</a></td><td>{requested}</td><td>rita</td>'
            "<td>Payments</td><td>app01</td><td>Server-A</td><td>Server-B</td><td>active</td>"
            '<td><span class="gov-status gov-completed">Completed</span></td><td>alex:approved</td>'
            "<td>10 min 00 s</td><td>1.5 s</td></tr>") in response.text
    assert m6.status_label == "Waiting for approval" and m6.votes == "" and m6.duration is None
    assert (f"<td>{m6.votes}</td><td>—</td><td>—</td></tr>") in response.text  # never ran: unknown
    past["m6"].partition.team = None
    past["m6"].partition.save(update_fields=["team"])
    assert 'gov-pending_approval">Waiting for approval</span></td><td></td><td>—</td><td>—</td>' in get(
        auditor_client, "mobility:history", "partition=app01").text
    assert get(auditor_client, "mobility:history", "partition=app01").context["page"][0].team == "—"


def test_a_page_is_three_queries_whatever_it_shows(past, django_assert_num_queries):
    for filters in ({}, {"sort": "-duration"}, {"status": "completed", "sort": "partition"}):
        with django_assert_num_queries(3):  # count, the page's ids, its rows (names and votes joined)
            page = history.history_page(filters)
            assert [row.requester for row in page]


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql",
                                     reason="the history indexes of migration 0006 are PostgreSQL's")


def _plan_without_seqscan(queryset) -> str:
    """The plan PostgreSQL would use if the tables were large (a test table is small enough to scan)."""
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # the test's transaction ends it
    return queryset.explain()


@postgresql_only
@pytest.mark.parametrize(("filters", "index"), [
    ({"sort": "-duration"}, "migration_duration_idx"),
    ({"sort": "-suspend"}, "migration_suspend_idx"),
    ({}, "migration_created_idx"),
])
def test_the_page_ids_are_read_from_the_index_of_their_sort(past, filters, index):
    plan = _plan_without_seqscan(history._matching(filters).values_list("pk", flat=True)[:50])
    assert index in plan and "Sort" not in plan.split(index)[0], plan


@postgresql_only
def test_the_timeline_finds_its_ivm_commands_by_index(past):
    plan = _plan_without_seqscan(history.audit_events_about(past["m1"]))
    for index in ("audit_object_idx", "audit_data_migration_idx", "audit_data_migration_id_idx"):
        assert index in plan, plan


@postgresql_only
@pytest.mark.parametrize(("sort", "index"), [("-duration", "migration_duration_idx"),
                                             ("-suspend", "migration_suspend_idx")])
def test_a_team_sorts_its_own_rows_while_the_whole_history_walks_the_sort_index(past, sort, index):
    # A team's migrations may sit anywhere in the global index: walking it to skip everyone else's rows
    # costs up to the whole index; the team's rows are found by partition instead, then sorted.
    team = past["m1"].partition.team
    with connection.cursor() as cursor:
        # Sorting disabled too: wherever the index could serve the ORDER BY, the planner now takes it.
        cursor.execute("SET LOCAL enable_sort = off")
    plan = _plan_without_seqscan(history._matching({"sort": sort}).values_list("pk", flat=True)[:50])
    assert index in plan and "Sort" not in plan.split(index)[0], plan
    for filters in ({"team": team}, {"team": team, "status": "completed"}):
        plan = _plan_without_seqscan(history._matching({"sort": sort, **filters}).values_list("pk", flat=True)[:50])
        assert index not in plan and "Sort" in plan, plan
    plan = _plan_without_seqscan(history._matching({"sort": sort, "team": team}).values_list("pk", flat=True)[:50])
    assert "Index Cond: (partition_id = ANY" in plan, plan  # the team's rows by the partition_id index


def test_a_suspend_window_known_only_as_a_bound_reads_at_most_on_the_page_and_in_the_export(auditor_client, past):
    """No poll saw "Suspended": the engine stores an upper bound and says so; the auditor reads it as a bound."""
    Migration.objects.filter(pk=past["m1"].pk).update(suspend_window_bound=True)
    rows = {r.pk: r for r in get(auditor_client, "mobility:history").context["page"].object_list}
    assert rows[past["m1"].pk].suspend_text == "at most 1.5 s"
    row = next(r for r in _json_rows(get(auditor_client, "mobility:history_export", args=["json"]))
               if r["id"] == past["m1"].pk)
    assert row["suspend_window_s"] == 1.5 and row["suspend_window_bound"] is True
    timeline = get(auditor_client, "mobility:history_timeline", args=[past["m1"].pk]).content.decode()
    assert re.search(r'data-testid="suspend">at most 1\.5 s<', timeline)
