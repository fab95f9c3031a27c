"""What asks an IVM through the API runs as an IVM job, never inside the request: validation, revision and
re-validation answer 202 with the job (``Location``), which only its requester sees; the submit relies on a recent
validation job of exactly the same plan, as the wizard does. The demo fleet in ivmsim answers over SSH; the jobs run
here in-process, as a worker would run them (``tests.jobs.run_jobs``)."""

import pytest
from django.test import Client

from mobility.jobs.kinds import PLAN_CHANGED
from mobility.models import AuditEvent, IVMJob, Migration
from tests.api.conftest import bearer, token_for
from tests.jobs import run_jobs
from tests.plans.conftest import estate, fleet, lpar, personas, server  # noqa: F401 — the planning tests' fleet

pytestmark = pytest.mark.django_db
ROLES = ("rita", "alex", "omar", "audrey", "adam")


@pytest.fixture
def tokens(personas):  # noqa: F811
    return {name: token_for(personas[name]) for name in ROLES}


def call(secret, method, path, body=None, **headers):
    client = Client()
    if method == "GET":
        return client.get(path, **bearer(secret), headers=headers)
    return getattr(client, method.lower())(path, body or {}, content_type="application/json", **bearer(secret),
                                           headers=headers)


def accepted(response) -> dict:
    assert response.status_code == 202, response.content[:2000]
    job = response.json()
    assert response["Location"] == job["url"] == f"/api/v1/jobs/{job['id']}/"
    assert int(response["Retry-After"]) >= 1 and job["status"] == "queued" and not job["finished"]
    return job


def finished(secret, job: dict) -> dict:
    run_jobs()
    response = call(secret, "GET", job["url"])
    assert response.status_code == 200 and "Retry-After" not in response
    done = response.json()
    assert done["finished"] and done["status"] == "done", done
    return done


def validated(secret, body) -> dict:
    job = accepted(call(secret, "POST", "/api/v1/plans/validate/", body))
    done = finished(secret, job)
    assert done["result"]["ok"], done["result"]
    return done


def test_validation_is_a_job_and_the_submit_uses_its_answer(estate, tokens):  # noqa: F811
    rita = tokens["rita"]
    body = {"partition": lpar("db01").pk, "destination": server("ivm2").pk}
    draft = call(rita, "POST", "/api/v1/plans/draft/", body).json()
    assert draft["ready"], draft
    submit = {**body, "reason": "firmware", "digest": draft["digest"]}
    refused = call(rita, "POST", "/api/v1/plans/submit/", submit)
    assert refused.status_code == 409 and refused.json()["type"] == "urn:ivmweb:problem:validation-needed"

    job = accepted(call(rita, "POST", "/api/v1/plans/validate/", {**body, "digest": draft["digest"]}))
    assert job["kind"] == "validate" and job["migration"] is None and job["result"] == {}
    assert not AuditEvent.objects.filter(action="plan.validated").exists()  # nobody asked IVM yet
    waiting = call(rita, "GET", job["url"])
    assert waiting.status_code == 200 and waiting.json()["status"] == "queued" and waiting["Retry-After"] == "1"
    for name in ("alex", "omar", "audrey", "adam"):  # a job is its requester's alone, as on the pages
        other = call(tokens[name], "GET", job["url"])
        assert other.status_code == 404 and other["Content-Type"] == "application/problem+json", name
    assert call(rita, "POST", "/api/v1/plans/submit/", submit).status_code == 409  # not answered yet

    done = finished(rita, job)
    assert done["result"]["ok"] and done["result"]["command"].startswith("migrlpar -o v")
    assert done["started_at"] and done["finished_at"] and done["error"] == ""
    assert AuditEvent.objects.filter(action="plan.validated").count() == 1

    row = draft["mappings"][0]
    other_plan = {**submit, "mappings": [{"kind": row["kind"], "client_slot": row["client_slot"], "vios_slot": None}]}
    assert call(rita, "POST", "/api/v1/plans/submit/", other_plan).json()["type"] == \
        "urn:ivmweb:problem:validation-needed"  # IVM answered for another plan
    made = call(rita, "POST", "/api/v1/plans/submit/", submit)
    assert made.status_code == 201, made.content[:2000]
    migration = Migration.objects.get(pk=made.json()["id"])
    assert migration.latest_plan().snapshot["validation"]["ok"] is True


def test_a_stale_or_unready_plan_is_refused_before_any_job(estate, tokens):  # noqa: F811
    body = {"partition": lpar("db01").pk, "destination": server("ivm2").pk}
    stale = call(tokens["rita"], "POST", "/api/v1/plans/validate/", {**body, "digest": "0" * 64})
    assert stale.status_code == 409 and stale.json()["type"] == "urn:ivmweb:problem:inventory-changed"
    assert call(tokens["audrey"], "POST", "/api/v1/plans/validate/", body).status_code == 403
    assert call(tokens["omar"], "POST", "/api/v1/plans/validate/", body).status_code == 404
    assert not IVMJob.objects.exists()


def _submitted(secret) -> int:
    body = {"partition": lpar("db01").pk, "destination": server("ivm2").pk}
    done = validated(secret, body)
    digest = call(secret, "POST", "/api/v1/plans/draft/", body).json()["digest"]
    made = call(secret, "POST", "/api/v1/plans/submit/", {**body, "reason": "rebalance", "digest": digest})
    assert made.status_code == 201 and done["result"]["ok"]
    return made.json()["id"]


def test_a_revision_is_a_job_that_stores_the_version_only_if_the_plan_is_still_the_one_read(estate, tokens):  # noqa: F811
    rita = tokens["rita"]
    m_id = _submitted(rita)
    read = call(rita, "GET", f"/api/v1/migrations/{m_id}/plan/")
    etag, row = read["ETag"], read.json()["latest"]["mappings"][0]
    same = {"mappings": [row]}
    unchanged = call(rita, "PUT", f"/api/v1/migrations/{m_id}/plan/", same, **{"If-Match": etag})
    assert unchanged.status_code == 409 and "Nothing changed" in unchanged.json()["detail"]
    change = {"mappings": [{"kind": row["kind"], "client_slot": row["client_slot"], "vios_slot": None}]}
    assert call(rita, "PUT", f"/api/v1/migrations/{m_id}/plan/", change).status_code == 428
    first = accepted(call(rita, "PUT", f"/api/v1/migrations/{m_id}/plan/", change, **{"If-Match": etag}))
    # A second editor who read the same version, before the first revision has run:
    alex_like = accepted(call(rita, "PUT", f"/api/v1/migrations/{m_id}/plan/", change, **{"If-Match": etag}))
    assert first["kind"] == "revise" and first["migration"] == m_id
    assert call(rita, "GET", f"/api/v1/migrations/{m_id}/plan/")["ETag"] == etag  # nothing stored yet

    run_jobs()
    one, two = (call(rita, "GET", j["url"]).json() for j in (first, alex_like))
    assert one["status"] == "done" and one["result"]["version"] == 2 and one["result"]["validation"]["ok"]
    assert two["status"] == "done" and two["result"]["refused"] == PLAN_CHANGED and "version" not in two["result"]
    plan = call(rita, "GET", f"/api/v1/migrations/{m_id}/plan/")
    assert plan.json()["latest"]["version"] == 2 and plan["ETag"] != etag
    assert call(rita, "PUT", f"/api/v1/migrations/{m_id}/plan/", change,
                **{"If-Match": etag}).status_code == 412


def test_revalidation_is_a_job_for_the_plan_in_force(estate, tokens):  # noqa: F811
    m_id = _submitted(tokens["rita"])
    assert call(tokens["audrey"], "POST", f"/api/v1/migrations/{m_id}/plan/validate/").status_code == 403
    job = accepted(call(tokens["alex"], "POST", f"/api/v1/migrations/{m_id}/plan/validate/"))
    assert job["kind"] == "validate" and job["migration"] == m_id
    assert call(tokens["rita"], "GET", job["url"]).status_code == 404  # alex asked, not rita
    done = finished(tokens["alex"], job)
    assert done["result"]["ok"], done["result"]
