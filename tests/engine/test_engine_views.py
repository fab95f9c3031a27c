"""The engine's pages: who sees the live page, Stop behind a POST confirmation, auditors never control."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from mobility.live.presenters import CHART_POINTS, live_context
from mobility.models import AuditEvent, Migration, MigrationEvent, Team
from tests.factories import make_partition, make_system

pytestmark = pytest.mark.django_db


@pytest.fixture
def migration(requester):
    src, dst = make_system(), make_system()
    part = make_partition(src, "app88", 8, team=Team.objects.get(name="Payments"))
    m = Migration.objects.create(partition=part, source=src, destination=dst, mode="active", requester=requester,
                                 status="approved")
    m.create_steps()
    return m


def test_the_live_page_shows_the_applicable_steps_to_the_team(client, requester, migration):
    client.force_login(requester)
    page = client.get(reverse("mobility:migration_live", args=[migration.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-step="1" data-status="pending"' in html and 'data-step="7" data-status="pending"' in html
    # The steps an active move skips are shown, with why (all 11 in order).
    assert [int(n) for n in re.findall(r'data-step="(\d+)"', html)] == list(range(1, 12))
    assert 'data-step="2" data-status="not-applicable"' in html and "it is never shut down" in html
    assert 'data-step="10" data-status="not-applicable"' in html and "nothing to activate" in html
    assert 'ws-connect="/ws/live/"' in html and "js/live.js" in html
    state = client.get(reverse("mobility:migration_state", args=[migration.pk]))
    assert state.status_code == 200 and f'id="live-state-{migration.pk}"' in state.content.decode()


def test_another_team_gets_404(client, personas, migration):
    client.force_login(personas["omar"])
    assert client.get(reverse("mobility:migration_live", args=[migration.pk])).status_code == 404
    assert client.post(reverse("mobility:migration_stop", args=[migration.pk]), {"confirm": "yes"}).status_code == 404
    assert Migration.objects.get(pk=migration.pk).status == "approved"


def test_stop_needs_a_confirmed_post(client, requester, migration):
    client.force_login(requester)
    url = reverse("mobility:migration_stop", args=[migration.pk])
    assert "Yes, stop" in client.get(url).content.decode()
    client.post(url, {})
    assert Migration.objects.get(pk=migration.pk).status == "approved"
    client.post(url, {"confirm": "yes"})
    m = Migration.objects.get(pk=migration.pk)
    assert m.status == "stopped" and "before it started" in m.outcome
    assert AuditEvent.objects.filter(action="migration.stopped", object_id=str(m.pk)).exists()


def test_an_auditor_may_watch_but_never_stop(client, auditor, migration):
    client.force_login(auditor)
    page = client.get(reverse("mobility:migration_live", args=[migration.pk]))
    # The pushed panel carries the actions the status allows; the page shows only the user's (may-<action>).
    assert page.status_code == 200 and 'id="live" class="live"' in page.content.decode()
    client.post(reverse("mobility:migration_stop", args=[migration.pk]), {"confirm": "yes"})
    assert Migration.objects.get(pk=migration.pk).status == "approved"


def test_the_dashboard_lists_running_and_queued_migrations(client, requester, migration):
    client.force_login(requester)
    Migration.objects.filter(pk=migration.pk).update(status="queued")
    html = client.get(reverse("mobility:dashboard")).content.decode()
    assert "app88" in html and 'id="dashboard-rows"' in html


def test_the_state_panel_reads_only_the_progress_points_its_chart_shows(migration):
    MigrationEvent.objects.bulk_create(
        MigrationEvent(migration=migration, seq=i, kind="progress",
                       payload={"sent": i * 10**7, "remaining": (500 - i) * 10**7, "percent": i / 5, "rate": i,
                                "at": f"2026-01-01T00:{i // 60:02d}:{i % 60:02d}+00:00"})
        for i in range(1, 501))
    with CaptureQueriesContext(connection) as queries:
        context = live_context(migration)
    progress_query = next(q["sql"] for q in queries.captured_queries if '"kind" = ' in q["sql"])
    assert f"LIMIT {CHART_POINTS}" in progress_query
    assert context["latest"]["sent"] == 500 * 10**7  # the last point, not the first
    assert len(context["chart"].sent.split()) == CHART_POINTS
    points = [tuple(map(float, p.split(","))) for p in context["chart"].sent.split()]
    assert points[-1] == (max(x for x, _ in points), min(y for _, y in points))  # the last of the last 120: latest, most sent
