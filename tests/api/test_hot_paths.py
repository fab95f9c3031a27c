"""The API's hot paths answer what its serializers would, faster: the migrations list builds its rows from plain
values (``migration_row``) and the events from dicts; a big list's count stops at a cap (``count_capped``) and its
pages are still whole and ordered."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mobility.api import pagination
from mobility.api.serializers import EventSerializer, MigrationSerializer
from mobility.choices import MigrationStatus
from mobility.models import Migration, MigrationEvent
from tests.api.conftest import bearer, make_request, token_for

pytestmark = pytest.mark.django_db


def _get(secret, path, **params):
    response = Client().get(path, params, **bearer(secret))
    assert response.status_code == 200, response.content[:500]
    return response.json()


@pytest.fixture
def history(estate, personas):
    """rita's pending request, three finished ones (figures and times filled in), and omar's."""
    now = timezone.now()
    done = [make_request(estate.app01, personas["rita"], estate.b, status=MigrationStatus.COMPLETED,
                         created_at=now - timedelta(days=n), started_at=now - timedelta(days=n, hours=-1),
                         finished_at=now - timedelta(days=n, hours=-2), percent=100, bytes_transmitted=2**40 + n,
                         bytes_remaining=0, suspend_window_s=1.25, last_seq=3, outcome="done")
            for n in (1, 2, 3)]
    return [make_request(estate.app02, personas["rita"], estate.c), *done,
            make_request(estate.ana01, personas["omar"], estate.b)]


def test_the_list_rows_are_what_the_serializer_shapes(history, personas):
    listed = _get(token_for(personas["audrey"]), "/api/v1/migrations/")
    shaped = MigrationSerializer(Migration.objects.order_by("-created_at", "-id"), many=True).data
    assert listed["results"] == [dict(row) for row in shaped]
    assert listed["count"] == 5 and listed["count_capped"] is False and listed["next"] is None


def test_the_events_are_what_the_serializer_shapes(history, personas):
    m = history[1]
    for seq, kind in enumerate(("status", "progress", "step"), 1):
        MigrationEvent.objects.create(migration=m, seq=seq, kind=kind, payload={"percent": seq * 33.3, "n": [seq]})
    page = _get(token_for(personas["rita"]), f"/api/v1/migrations/{m.pk}/events/", after=1, limit=1)
    assert page["results"] == [dict(e) for e in EventSerializer(m.events.filter(seq=2), many=True).data]
    assert page["more"] and page["after"] == 2 and page["last_seq"] == 3 and page["status"] == "completed"


def test_a_count_stops_at_its_cap_and_the_pages_still_follow(history, personas, monkeypatch):
    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    secret = token_for(personas["rita"])
    first = _get(secret, "/api/v1/migrations/", page_size=2)
    assert first["count"] == 2 and first["count_capped"] is True and first["next"] and first["previous"] is None
    second = _get(secret, "/api/v1/migrations/", page_size=2, page=2)
    assert second["count_capped"] and second["next"] is None and second["previous"]
    mine = [m.pk for m in sorted(history[:4], key=lambda m: (m.created_at, m.pk), reverse=True)]
    assert [r["id"] for r in first["results"] + second["results"]] == mine  # omar's is not rita's to see
    last = Client().get("/api/v1/migrations/", {"page": "last", "page_size": 2}, **bearer(secret))
    assert last.status_code == 400 and "filter further" in last.json()["detail"]
    beyond = Client().get("/api/v1/migrations/", {"page": 3, "page_size": 2}, **bearer(secret))
    assert beyond.status_code == 404
    monkeypatch.setattr(pagination, "COUNT_CAP", 10_000)
    exact = _get(secret, "/api/v1/migrations/", page="last", page_size=3)
    assert exact["count"] == 4 and not exact["count_capped"] and [r["id"] for r in exact["results"]] == mine[3:]


def test_the_list_filters_are_the_history_filters(history, personas, estate):
    """The API's list filters through ``governance.history.filter_migrations``: several statuses, a requester by
    name (nobody by that name: nothing), servers by id, moments."""
    secret = token_for(personas["audrey"])

    def ids(**params):
        return sorted(row["id"] for row in _get(secret, "/api/v1/migrations/", **params)["results"])

    pending, *done, omars = history
    assert ids(status=["completed"]) == sorted(m.pk for m in done)
    assert ids(status=["completed", "pending_approval"]) == sorted(m.pk for m in history)
    assert ids(requester="omar") == [omars.pk] and ids(requester="nobody-here") == []
    assert ids(destination=estate.c.pk) == [pending.pk]
    assert ids(created_before=(timezone.now() - timedelta(days=1, hours=12)).isoformat()) == sorted(
        m.pk for m in done[1:])
    assert ids(created_after=(timezone.now() - timedelta(hours=12)).isoformat(), requester="rita") == [pending.pk]
