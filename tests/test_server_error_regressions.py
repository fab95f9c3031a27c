"""The server errors issue 17 found, each now answered with a 4xx (or the right page) and nothing changed;
CSV exports that a spreadsheet cannot run as formulas."""

import json

import pytest
from django.test import Client
from django.urls import reverse

from mobility.choices import MigrationStatus
from mobility.models import AuditEvent, Migration, MigrationStep
from tests.factories import make_partition
from tests.governance import conftest as governance
from tests.governance.conftest import make_request

pytestmark = pytest.mark.django_db
estate = governance.estate  # the governance tests' small estate, as a fixture here too


def client_of(user) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return client


@pytest.mark.parametrize("htmx", [True, False])
def test_ticking_a_task_of_a_migration_without_steps(estate, requester, htmx):
    migration = make_request(estate.app01, requester, estate.b, status=MigrationStatus.COMPLETED)
    assert not MigrationStep.objects.filter(migration=migration).exists()
    client = client_of(requester)
    before = AuditEvent.objects.count()
    response = client.post(reverse("mobility:migration_task", args=[migration.pk, 0]), {"done": "on"},
                           headers={"HX-Request": "true"} if htmx else {})
    if htmx:
        assert response.status_code == 409 and "no such follow-up task" in response.content.decode()
    else:
        assert response.status_code == 302
    assert AuditEvent.objects.count() == before


@pytest.mark.parametrize("raw", ["²", "٣", "１２", "1²"])
def test_a_non_ascii_digit_partition_id_is_not_found(estate, requester, raw):
    response = client_of(requester).get(reverse("mobility:plan_new"), {"partition": raw})
    assert response.status_code == 404


CALENDAR = {"date_from": "0001-01-01", "date_to": "9999-12-31"}


def test_history_dates_at_the_calendars_ends_show_everything(estate, requester, auditor):
    migration = make_request(estate.app01, requester, estate.b)
    client = client_of(auditor)
    page = client.get(reverse("mobility:history"), CALENDAR)
    assert page.status_code == 200
    assert reverse("mobility:history_timeline", args=[migration.pk]) in page.content.decode()
    stats = client.get(reverse("mobility:history_stats"), CALENDAR)
    assert stats.status_code == 200 and "Server-A" in stats.content.decode()
    for fmt in ("csv", "json"):
        export = client.get(reverse("mobility:history_export", args=[fmt]), CALENDAR)
        assert export.status_code == 200
        assert estate.app01.name in b"".join(export.streaming_content).decode()


# Bodies that declare a charset other than UTF-8. DEBUG on (as daphne ran, unset) made Django's refusal a 500.
ODD_CHARSETS = [
    ("application/x-www-form-urlencoded; charset=utf-7", b"confirm=yes&reason=+AGE-"),
    ("application/x-www-form-urlencoded; charset=rot13", b"confirm=yes&reason=x"),
    ("multipart/form-data; boundary=xx; charset=rot13",
     b'--xx\r\nContent-Disposition: form-data; name="confirm"\r\n\r\nyes\r\n'
     b'--xx\r\nContent-Disposition: form-data; name="reason"\r\n\r\nx\r\n--xx--\r\n'),
    ("application/x-www-form-urlencoded; charset=nonexistent", b"confirm=yes&reason=x"),
]


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize(("content_type", "body"), ODD_CHARSETS)
def test_a_form_posted_in_another_charset_is_refused(estate, requester, settings, debug, content_type, body):
    settings.DEBUG = debug
    migration = make_request(estate.app01, requester, estate.b)
    response = client_of(requester).post(reverse("mobility:migration_withdraw", args=[migration.pk]),
                                         data=body, content_type="text/plain", CONTENT_TYPE=content_type)
    assert response.status_code == 400
    assert "UTF-8" in response.content.decode()
    migration.refresh_from_db()
    assert migration.status == MigrationStatus.PENDING_APPROVAL


def test_utf8_forms_still_work(estate, requester):
    migration = make_request(estate.app01, requester, estate.b)
    response = client_of(requester).post(reverse("mobility:migration_withdraw", args=[migration.pk]),
                                         data=b"confirm=yes&reason=d%C3%A9j%C3%A0+vu", content_type="text/plain",
                                         CONTENT_TYPE="application/x-www-form-urlencoded; charset=UTF-8")
    assert response.status_code == 302
    assert Migration.objects.get(pk=migration.pk).status == MigrationStatus.CANCELLED


@pytest.mark.parametrize("lead", ["=", "+", "-", "@", "\t", "\r"])
def test_csv_export_neutralises_formula_leading_names(estate, auditor, personas, lead):
    """A username and a partition name that start like a formula are exported as text; JSON keeps them."""
    user = personas["rita"]
    user.username = f"{lead}rita"
    user.save()
    partition = make_partition(estate.a, f"{lead}cmd|' /C calc'!A0", 9, team=estate.payments)
    make_request(partition, user, estate.b)
    client = client_of(auditor)
    csv_text = b"".join(client.get(reverse("mobility:history_export", args=["csv"])).streaming_content).decode()
    assert f"\"'{lead}rita\"" in csv_text
    assert f"\"'{lead}cmd|' /C calc'!A0\"" in csv_text
    json_text = b"".join(client.get(reverse("mobility:history_export", args=["json"])).streaming_content).decode()
    assert f'"requester": {json.dumps(lead + "rita")}' in json_text



@pytest.mark.parametrize(("who", "url", "query"), [
    ("adam", "/admin/mobility/migration/", {"status__exact": "a\x00b"}),
    ("adam", "/admin/mobility/auditevent/", {"action__exact": "a\x00b"}),
    ("audrey", "/history/", {"mode": "a\x00b"}),
    ("audrey", "/history/export.csv", {"mode": "a\x00b"}),
    ("audrey", "/history/stats/", {"team\x00": "x"}),
])
def test_a_nul_in_a_query_is_refused(estate, personas, who, url, query):
    """PostgreSQL stores no NUL: the admin's list filters and the audit of a refused filter were 500s."""
    client = client_of(personas[who])
    before = AuditEvent.objects.count()
    response = client.get(url, query)
    assert response.status_code == 400 and "NUL" in response.content.decode()
    assert AuditEvent.objects.count() == before


def test_a_nul_in_a_vote_is_refused(estate, requester, approver):
    migration = make_request(estate.app01, requester, estate.b)
    response = client_of(approver).post(reverse("mobility:approval_vote", args=[migration.pk]), {
        "decision": "a\x00b", "comment": "ok", "plan_hash": migration.latest_plan().content_hash})
    assert response.status_code == 400 and "NUL" in response.content.decode()
    assert Migration.objects.get(pk=migration.pk).status == MigrationStatus.PENDING_APPROVAL


def test_a_failed_sign_in_with_a_very_long_name_is_audited(personas):
    response = Client(raise_request_exception=False).post(reverse("login"), {"username": "x" * 10_000,
                                                                             "password": "nope"})
    assert response.status_code == 200
    failed = AuditEvent.objects.filter(action="auth.login_failed").latest("pk")
    assert failed.actor_name == f"anonymous ({'x' * 138})" and failed.data["username"] == "x" * 150


@pytest.mark.asyncio
@pytest.mark.parametrize(("method", "query", "content_type", "body"), [
    ("GET", "team=Payments", "text/plain; charset=rot13", b""),  # daphne reads the query as UTF-8 regardless
    ("POST", "", "multipart/form-data; boundary=xx; charset=rot13",
     b'--xx\r\nContent-Disposition: form-data; name="username"\r\n\r\nx\r\n--xx--\r\n'),
    ("GET", "q=a%00b", "", b""),
])
async def test_the_asgi_handler_refuses_the_same(method, query, content_type, body):
    """ivmweb is served by daphne: the check runs in the async chain too, before the session is read."""
    from django.test import AsyncClient

    headers = {"Content-Type": content_type} if content_type and not body else {}
    response = await AsyncClient(raise_request_exception=False).generic(
        method, f"/login/?{query}", body, content_type=content_type or "text/plain", headers=headers)
    assert response.status_code == 400
