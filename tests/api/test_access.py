"""The access matrix through the API: every endpoint × role × own/other team gives the answer the pages give (404
for another team's objects, 403 for a role that does not allow the page); a read-scope token cannot write; expired
and revoked tokens are refused; over the rate limit the answer is 429 with Retry-After."""

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mobility.models import ApiToken, AuditEvent, Migration
from tests.api.conftest import bearer, token_for

pytestmark = pytest.mark.django_db
ROLES = ("rita", "alex", "omar", "audrey", "adam")


@pytest.fixture(autouse=True)
def fresh_rate_counts():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def tokens(personas):
    return {name: token_for(personas[name]) for name in ROLES}


def _api(client, secret, method, path, body=None, **headers):
    call = getattr(client, method.lower())
    if method == "GET":
        return call(path, **bearer(secret), **headers)
    return call(path, body or {}, content_type="application/json", **bearer(secret), **headers)


def _page(personas, name, path) -> int:
    browser = Client()
    browser.force_login(personas[name])
    return browser.get(path).status_code


def _pairs(estate, own: Migration, other: Migration):
    """(API path, the page that shows the same thing) for each object kind and team."""
    pairs = []
    for m in (own, other):
        p = m.partition
        pairs += [
            (f"/api/v1/partitions/{p.pk}/", reverse("mobility:partition_detail", args=[p.pk])),
            (f"/api/v1/partitions/{p.pk}/destinations/", reverse("mobility:plan_new") + f"?partition={p.pk}"),
            (f"/api/v1/migrations/{m.pk}/", reverse("mobility:migration_live", args=[m.pk])),
            (f"/api/v1/migrations/{m.pk}/events/", reverse("mobility:migration_live", args=[m.pk])),
            (f"/api/v1/migrations/{m.pk}/plan/", reverse("mobility:plan_detail", args=[m.pk])),
            (f"/api/v1/approvals/{m.pk}/", reverse("mobility:approval", args=[m.pk])),
            (f"/api/v1/history/{m.pk}/timeline/", reverse("mobility:history_timeline", args=[m.pk])),
        ]
    pairs += [
        ("/api/v1/consoles/", reverse("mobility:consoles")),
        (f"/api/v1/servers/{estate.a.pk}/", reverse("mobility:system_detail", args=[estate.a.pk])),
        ("/api/v1/approvals/", reverse("mobility:approvals")),
        ("/api/v1/history/", reverse("mobility:history")),
        ("/api/v1/history/stats/", reverse("mobility:history_stats")),
        ("/api/v1/history/export.csv", reverse("mobility:history_export", args=["csv"])),
        ("/api/v1/history/export.json", reverse("mobility:history_export", args=["json"])),
        ("/api/v1/audit/", reverse("mobility:audit_log")),
        ("/api/v1/audit/status/", reverse("mobility:audit_log")),
    ]
    return pairs


def test_every_read_answers_as_its_page_does_for_every_role_and_team(estate, personas, tokens,
                                                                     requests_of_both_teams):
    own, other = requests_of_both_teams
    client = Client()
    differences = []
    for api_path, page_path in _pairs(estate, own, other):
        for name in ROLES:
            api = _api(client, tokens[name], "GET", api_path).status_code
            page = _page(personas, name, page_path)
            if api != page:
                differences.append(f"{name} {api_path}: API {api}, page {page_path} {page}")
    assert not differences, "\n".join(differences)


def test_the_matrix_has_the_answers_the_policy_gives(estate, personas, tokens, requests_of_both_teams):
    """A few cells spelled out, so that the comparison above cannot pass with both sides wrong."""
    own, other = requests_of_both_teams
    client = Client()

    def status(name, path):
        return _api(client, tokens[name], "GET", path).status_code

    assert status("rita", f"/api/v1/migrations/{own.pk}/") == 200
    assert status("rita", f"/api/v1/migrations/{other.pk}/") == 404
    assert status("omar", f"/api/v1/partitions/{own.partition_id}/") == 404
    assert status("audrey", f"/api/v1/migrations/{other.pk}/") == 200
    assert status("alex", "/api/v1/approvals/") == 200 and status("rita", "/api/v1/approvals/") == 403
    assert status("audrey", "/api/v1/history/") == 200 and status("adam", "/api/v1/history/") == 403
    assert status("adam", "/api/v1/consoles/") == 200 and status("audrey", "/api/v1/consoles/") == 403
    listed = _api(client, tokens["rita"], "GET", "/api/v1/migrations/").json()
    assert [m["id"] for m in listed["results"]] == [own.pk]
    listed = _api(client, tokens["omar"], "GET", "/api/v1/partitions/").json()
    assert {p["name"] for p in listed["results"]} == {"ana01"}


def test_writes_are_refused_as_the_policy_says_and_change_nothing(estate, personas, tokens, requests_of_both_teams):
    own, other = requests_of_both_teams
    client = Client()
    plan_hash = own.latest_plan().content_hash
    vote = {"decision": "approved", "plan_hash": plan_hash, "comment": "ok"}
    cases = [
        ("omar", "POST", f"/api/v1/migrations/{own.pk}/withdraw/", {"reason": "mine now"}, 404),
        ("audrey", "POST", f"/api/v1/migrations/{own.pk}/withdraw/", {"reason": "no"}, 403),
        ("rita", "POST", f"/api/v1/migrations/{other.pk}/stop/", {}, 404),
        ("audrey", "POST", f"/api/v1/migrations/{own.pk}/stop/", {}, 403),
        ("rita", "POST", f"/api/v1/approvals/{own.pk}/vote/", vote, 403),
        ("audrey", "POST", f"/api/v1/approvals/{own.pk}/vote/", vote, 403),
        ("adam", "POST", f"/api/v1/approvals/{own.pk}/vote/", vote, 403),
        ("alex", "POST", f"/api/v1/approvals/{other.pk}/vote/", vote, 404),
        ("omar", "PUT", f"/api/v1/migrations/{own.pk}/plan/", {"mappings": []}, 404),
        ("alex", "PUT", f"/api/v1/migrations/{own.pk}/plan/", {"mappings": []}, 403),
        ("audrey", "POST", "/api/v1/plans/draft/", {"partition": own.partition_id, "destination": estate.c.pk}, 403),
        ("omar", "POST", "/api/v1/plans/draft/", {"partition": own.partition_id, "destination": estate.c.pk}, 404),
        ("rita", "POST", f"/api/v1/migrations/{own.pk}/stop/", {}, 409),  # pending: nothing to stop
    ]
    for name, method, path, body, expected in cases:
        response = _api(client, tokens[name], method, path, body)
        assert response.status_code == expected, (name, method, path, response.status_code, response.content)
        assert response["Content-Type"] == "application/problem+json"
        problem = response.json()
        assert problem["status"] == expected and problem["title"] and problem["detail"], problem
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.status == other.status == "pending_approval"
    assert not own.approvals.exists() and not other.approvals.exists()
    assert AuditEvent.objects.filter(action="approval.refused").count() == 4


def test_a_vote_with_the_hash_read_is_recorded_and_a_changed_plan_is_refused(estate, personas, tokens,
                                                                             requests_of_both_teams):
    from tests.governance.conftest import revise

    own, _ = requests_of_both_teams
    client = Client()
    old_hash = own.latest_plan().content_hash
    revise(own, personas["rita"])
    refused = _api(client, tokens["alex"], "POST", f"/api/v1/approvals/{own.pk}/vote/",
                   {"decision": "approved", "plan_hash": old_hash, "comment": "fine"})
    assert refused.status_code == 409 and refused.json()["type"] == "urn:ivmweb:problem:plan-changed"
    card = _api(client, tokens["alex"], "GET", f"/api/v1/approvals/{own.pk}/").json()
    assert card["can_vote"] and card["plan"]["version"] == 2
    accepted = _api(client, tokens["alex"], "POST", f"/api/v1/approvals/{own.pk}/vote/",
                    {"decision": "approved", "plan_hash": card["plan"]["content_hash"], "comment": "fine"})
    assert accepted.status_code == 200, accepted.content
    own.refresh_from_db()
    assert own.status == "approved"


def test_invalid_input_is_a_problem_with_field_errors(estate, personas, tokens, requests_of_both_teams):
    own, _ = requests_of_both_teams
    client = Client()
    response = _api(client, tokens["alex"], "POST", f"/api/v1/approvals/{own.pk}/vote/",
                    {"decision": "maybe", "plan_hash": "x" * 64})
    assert response.status_code == 400
    problem = response.json()
    fields = {e["field"] for e in problem["errors"]}
    assert {"decision", "comment"} <= fields, problem
    assert all(e["pointer"].startswith("/") for e in problem["errors"])
    bad_filter = _api(client, tokens["audrey"], "GET", "/api/v1/history/?requester=nobody-here")
    assert bad_filter.status_code == 400 and bad_filter.json()["errors"][0]["field"] == "requester"
    bad_page = _api(client, tokens["rita"], "GET", "/api/v1/migrations/?page=x")
    assert bad_page.status_code == 400


def test_a_read_scope_token_reads_but_cannot_write(estate, personas, requests_of_both_teams):
    own, _ = requests_of_both_teams
    client = Client()
    secret = token_for(personas["alex"], scope="read")
    assert _api(client, secret, "GET", f"/api/v1/approvals/{own.pk}/").status_code == 200
    response = _api(client, secret, "POST", f"/api/v1/approvals/{own.pk}/vote/",
                    {"decision": "approved", "plan_hash": own.latest_plan().content_hash, "comment": "ok"})
    assert response.status_code == 403 and "scope is read" in response.json()["detail"]
    own.refresh_from_db()
    assert own.status == "pending_approval"


def test_expired_revoked_unknown_and_missing_tokens_are_refused(personas):
    from mobility.api import tokens

    client = Client()
    expired = token_for(personas["rita"])
    ApiToken.objects.filter(user=personas["rita"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    revoked = token_for(personas["alex"])
    tokens.revoke(personas["alex"], ApiToken.objects.get(user=personas["alex"]).pk)
    for secret, why in ((expired, "expired"), (revoked, "revoked"), ("ivm_0000_nope", "not known"),
                        ("not-a-token", "not an ivmweb")):
        response = _api(client, secret, "GET", "/api/v1/me/")
        assert response.status_code == 401 and why in response.json()["detail"], (why, response.content)
        assert response["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/api/v1/me/").status_code == 401
    assert AuditEvent.objects.filter(action="api_token.revoked").count() == 1


def test_a_token_used_from_a_new_address_is_audited_once_per_address(personas):
    client = Client()
    secret = token_for(personas["rita"])
    for address in ("10.0.0.1", "10.0.0.1", "10.0.0.2"):
        assert client.get("/api/v1/me/", REMOTE_ADDR=address, **bearer(secret)).status_code == 200
    moves = AuditEvent.objects.filter(action="api_token.new_address").order_by("id")
    assert [e.data["address"] for e in moves] == ["10.0.0.1", "10.0.0.2"]
    token = ApiToken.objects.get(user=personas["rita"])
    assert token.last_address == "10.0.0.2" and token.last_used_at is not None
    me = client.get("/api/v1/me/", REMOTE_ADDR="10.0.0.2", **bearer(secret)).json()
    assert me["username"] == "rita" and me["token"]["scope"] == "write" and "requester" in me["roles"]


def test_over_the_rate_limit_the_answer_is_429_with_retry_after(personas, settings):
    settings.IVMWEB_API_RATE = "3/minute"
    client = Client()
    secret, other = token_for(personas["rita"]), token_for(personas["omar"])
    assert [_api(client, secret, "GET", "/api/v1/me/").status_code for _ in range(3)] == [200] * 3
    limited = _api(client, secret, "GET", "/api/v1/me/")
    assert limited.status_code == 429 and int(limited["Retry-After"]) > 0
    assert limited.json()["type"] == "urn:ivmweb:problem:rate-limited"
    assert _api(client, other, "GET", "/api/v1/me/").status_code == 200  # per token


def test_the_browser_session_works_and_needs_csrf_for_writes(personas, requests_of_both_teams):
    own, _ = requests_of_both_teams
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(personas["rita"])
    assert browser.get(f"/api/v1/migrations/{own.pk}/").status_code == 200
    response = browser.post(f"/api/v1/migrations/{own.pk}/withdraw/", {"reason": "x"},
                            content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


def test_an_ivm_job_is_seen_by_who_asked_for_it_alone(estate, personas, tokens, requests_of_both_teams):
    """A request that asks an IVM answers 202 with the job; only its requester reads it (404 for everyone else, as
    for an unknown id); the policy refuses before any job is queued."""
    from mobility.models import IVMJob

    own, other = requests_of_both_teams
    client = Client()
    asked = _api(client, tokens["rita"], "POST", f"/api/v1/migrations/{own.pk}/plan/validate/")
    assert asked.status_code == 202 and asked["Location"] == f"/api/v1/jobs/{asked.json()['id']}/"
    seen = {name: _api(client, tokens[name], "GET", asked["Location"]).status_code for name in ROLES}
    assert seen == {"rita": 200, "alex": 404, "omar": 404, "audrey": 404, "adam": 404}
    assert _api(client, tokens["rita"], "GET", "/api/v1/jobs/999999/").status_code == 404
    refused = [("rita", other, 404), ("audrey", own, 403), ("omar", own, 404)]
    for name, migration, expected in refused:
        response = _api(client, tokens[name], "POST", f"/api/v1/migrations/{migration.pk}/plan/validate/")
        assert response.status_code == expected, (name, response.content)
    read_only = token_for(personas["rita"], scope="read")
    assert _api(client, read_only, "POST", f"/api/v1/migrations/{own.pk}/plan/validate/").status_code == 403
    assert _api(client, read_only, "GET", asked["Location"]).status_code == 200
    assert IVMJob.objects.count() == 1
