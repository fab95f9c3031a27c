"""The whole flow through the API alone, against a live daphne on PostgreSQL and Redis, the simulated IVMs over SSH
and a real worker (``manage.py run_engine``): a requester's token (made on the token page) plans, validates (an IVM
job the worker runs: 202, then the job is polled) and submits on that answer; an approver's token votes with the plan hash; the worker runs it; the requester follows the events to
completed; an auditor reads the history, the exports and the audit trail. Then ``ETag``/``If-Match`` on a plan
revision, and ``ivmctl`` against the same server: login, plan, submit, approve as another user, watch to completed
(exit 0), and a migration failed by an injected IVM fault (non-zero exit)."""

import csv
import io
import json
import os
import re
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from mobility.models import ApiToken, AuditEvent
from tests.api.conftest import token_for
from tests.engine.conftest import estate, fleet, lpar, server, workers  # noqa: F401 — the engine tests' fixtures

pytestmark = pytest.mark.django_db(transaction=True)
CLI = Path(__file__).resolve().parents[2] / "cli"  # this checkout's ivmctl (the venv's may be another checkout's)
FINAL = {"completed", "failed", "stopped", "rejected", "expired", "cancelled"}


def api(base: str, secret: str) -> httpx.Client:
    return httpx.Client(base_url=f"{base}/api/v1/", headers={"Authorization": f"Bearer {secret}"}, timeout=60)


def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:2000])
    return response.json()


def token_from_the_page(base: str, username: str, scope: str = "write") -> str:
    """Sign in as a person would and make a token on the page 'API tokens'; the page shows it once."""
    with httpx.Client(base_url=base, timeout=30, follow_redirects=True) as browser:
        browser.get("/login/")
        browser.post("/login/", data={"username": username, "password": f"pw-{username}",
                                      "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
                     headers={"Referer": f"{base}/login/"})
        page = browser.get("/account/api-tokens/")
        assert page.status_code == 200 and "API tokens" in page.text
        made = browser.post("/account/api-tokens/", data={
            "name": "pipeline", "scope": scope, "days": "30", "csrfmiddlewaretoken": browser.cookies["csrftoken"]},
            headers={"Referer": f"{base}/account/api-tokens/"})
        assert made.status_code == 200 and made.headers["Cache-Control"] == "no-store"
        secret = re.search(r'data-testid="new-token">([^<]+)<', made.text).group(1)
        assert secret not in browser.get("/account/api-tokens/").text  # shown once
    return secret


def job_done(client: httpx.Client, accepted: httpx.Response, deadline_s: float = 60) -> dict:
    """The job a 202 answer names (``Location``), polled until it has finished."""
    job = ok(accepted, 202)
    assert accepted.headers["Location"] == job["url"]
    deadline = time.monotonic() + deadline_s
    while not job["finished"]:
        assert time.monotonic() < deadline, f"job {job['id']} still {job['status']} after {deadline_s} s"
        time.sleep(0.2)
        job = ok(client.get(job["url"].removeprefix("/api/v1/")))
    assert job["status"] == "done", job
    return job


def follow(client: httpx.Client, migration_id: int, deadline_s: float = 120) -> tuple[str, list[dict]]:
    """Poll the events endpoint after the last sequence number seen, until the status is final."""
    after, events, status = 0, [], ""
    deadline = time.monotonic() + deadline_s
    while time.monotonic() < deadline:
        page = ok(client.get(f"migrations/{migration_id}/events/", params={"after": after}))
        events += page["results"]
        after, status = page["after"], page["status"]
        if status in FINAL and not page["more"]:
            return status, events
        if not page["more"]:
            time.sleep(0.3)
    raise AssertionError(f"migration {migration_id} still {status} after {deadline_s} s")


def test_the_whole_flow_through_the_api_alone(estate, personas, workers, asgi_server):  # noqa: F811
    rita = api(asgi_server, token_from_the_page(asgi_server, "rita"))
    alex = api(asgi_server, token_for(personas["alex"]))
    audrey = api(asgi_server, token_for(personas["audrey"], scope="read"))
    assert AuditEvent.objects.filter(action="api_token.created", actor_name="rita").exists()

    partition = next(p for p in ok(rita.get("partitions/", params={"q": "app02"}))["results"]
                     if p["name"] == "app02" and p["mode"] == "active")
    ranked = ok(rita.get(f"partitions/{partition['id']}/destinations/"))
    target = server("ivm2")
    best = next(d for d in ranked["destinations"] if d["server"]["id"] == target.pk)
    assert best["eligible"] and best["reasons"], best
    assert any(not d["eligible"] and d["blocking"] for d in ranked["destinations"]) or len(ranked["destinations"]) >= 2

    body = {"partition": partition["id"], "destination": target.pk}
    draft = ok(rita.post("plans/draft/", json=body))
    assert draft["ready"] and draft["mappings"] and draft["validation"] is None
    submit = {**body, "reason": "firmware on the source", "digest": draft["digest"]}
    assert rita.post("plans/submit/", json=submit).status_code == 409  # IVM has not validated it yet
    workers("api-flow")  # runs the IVM jobs, and later the migration
    validated = job_done(rita, rita.post("plans/validate/", json={**body, "digest": draft["digest"]}))
    assert validated["kind"] == "validate" and validated["result"]["ok"], validated
    assert alex.get(validated["url"].removeprefix("/api/v1/")).status_code == 404  # rita's job
    submitted = ok(rita.post("plans/submit/", json=submit), 201)
    assert submitted["status"] == "pending_approval" and submitted["plan_version"] == 1
    m_id = submitted["id"]

    waiting = ok(alex.get("approvals/"))["results"]
    card = next(a for a in waiting if a["migration"]["id"] == m_id)
    assert card["can_vote"] and card["plan"]["content_hash"] == submitted["plan_hash"]
    refused = alex.post(f"approvals/{m_id}/vote/", json={"decision": "approved", "plan_hash": "0" * 64,
                                                          "comment": "wrong plan"})
    assert refused.status_code == 409 and refused.headers["content-type"] == "application/problem+json"
    voted = ok(alex.post(f"approvals/{m_id}/vote/", json={
        "decision": "approved", "plan_hash": card["plan"]["content_hash"], "comment": "CHG-1 approved"}))
    assert voted["migration"]["status"] == "approved"

    status, events = follow(rita, m_id)
    assert status == "completed", events[-5:]
    seqs = [e["seq"] for e in events]
    assert seqs == list(range(1, len(seqs) + 1))
    assert any(e["kind"] == "progress" for e in events)
    done = ok(rita.get(f"migrations/{m_id}/"))
    assert done["status"] == "completed" and isinstance(done["bytes_transmitted"], int) and done["bytes_transmitted"] > 0
    assert done["finished_at"].endswith(("Z", "+00:00")) and done["steps"][0]["status"] == "done"

    history = ok(audrey.get("history/", params={"partition": "app02"}))
    assert [r["status"] for r in history["results"] if r["id"] == m_id] == ["completed"]
    assert "alex:approved" in next(r for r in history["results"] if r["id"] == m_id)["approvers"]
    exported = audrey.get("history/export.csv", params={"partition": "app02"})
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [r["status"] for r in rows if r["id"] == str(m_id)] == ["completed"]
    as_json = json.loads(audrey.get("history/export.json", params={"partition": "app02"}).text)
    assert any(r["id"] == m_id for r in as_json)
    stats = ok(audrey.get("history/stats/"))
    assert any(s["completed"] >= 1 for s in stats)
    trail = ok(audrey.get("audit/", params={"action": "approval.", "page_size": 5}))
    assert {e["action"] for e in trail["results"]} >= {"approval.approved"}
    assert ok(audrey.get("audit/status/"))["checkpoint_ok"] in (True, False)
    assert audrey.post(f"migrations/{m_id}/stop/").status_code == 403  # read scope, and an auditor
    assert ApiToken.objects.get(user=personas["rita"]).last_used_at is not None


def test_a_plan_revision_needs_the_etag_it_read(estate, personas, job_worker, asgi_server):  # noqa: F811
    rita = api(asgi_server, token_for(personas["rita"]))
    partition, target = lpar("db01"), server("ivm2")
    body = {"partition": partition.pk, "destination": target.pk}
    assert job_done(rita, rita.post("plans/validate/", json=body))["result"]["ok"]
    digest = ok(rita.post("plans/draft/", json=body))["digest"]
    m = ok(rita.post("plans/submit/", json={**body, "reason": "rebalance", "digest": digest}), 201)
    read = rita.get(f"migrations/{m['id']}/plan/")
    etag = ok(read) and read.headers["ETag"]
    assert etag == f'"{m["plan_hash"]}"'
    row = read.json()["latest"]["mappings"][0]
    change = {"mappings": [{"kind": row["kind"], "client_slot": row["client_slot"], "vios_slot": None}]}
    assert rita.put(f"migrations/{m['id']}/plan/", json=change).status_code == 428
    assert rita.put(f"migrations/{m['id']}/plan/", json=change, headers={"If-Match": '"abc"'}).status_code == 412
    revision = job_done(rita, rita.put(f"migrations/{m['id']}/plan/", json=change, headers={"If-Match": etag}))
    assert revision["kind"] == "revise" and revision["result"]["version"] == 2, revision
    revised = rita.get(f"migrations/{m['id']}/plan/")
    assert ok(revised)["latest"]["version"] == 2 and revised.headers["ETag"] != etag
    assert rita.put(f"migrations/{m['id']}/plan/", json=change, headers={"If-Match": etag}).status_code == 412
    bad = rita.put(f"migrations/{m['id']}/plan/", json={"mappings": [{"kind": "scsi", "client_slot": 999}]},
                   headers={"If-Match": revised.headers["ETag"]})
    assert bad.status_code == 400 and bad.json()["errors"][0]["field"].startswith("mappings.0")
    withdrawn = ok(rita.post(f"migrations/{m['id']}/withdraw/", json={"reason": "not needed"}))
    assert withdrawn["status"] == "cancelled"


# --- ivmctl ------------------------------------------------------------------------------------------------------

def ivmctl(home: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "XDG_CONFIG_HOME": str(home), "COLUMNS": "200", "NO_COLOR": "1",
           "PYTHONPATH": os.pathsep.join([str(CLI), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("IVMCTL_CONFIG_DIR", None)
    return subprocess.run([sys.executable, "-m", "ivmctl.main", *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def test_ivmctl_plans_submits_approves_and_watches_to_the_outcome(estate, personas, workers, asgi_server, fleet,  # noqa: F811
                                                                  tmp_path):
    rita_home, alex_home = tmp_path / "rita", tmp_path / "alex"
    logged = ivmctl(rita_home, "login", asgi_server, "--token", token_for(personas["rita"]))
    assert logged.returncode == 0 and "as rita" in logged.stdout, logged.stderr
    saved = rita_home / "ivmctl" / "config.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert ivmctl(alex_home, "login", asgi_server, "--token", token_for(personas["alex"])).returncode == 0
    assert ivmctl(tmp_path / "x", "login", asgi_server, "--token", "ivm_bad_token").returncode == 1
    with socket.socket() as closed:  # a port nothing listens on: words and exit 1, not a traceback
        closed.bind(("127.0.0.1", 0))
        nowhere = ivmctl(tmp_path / "y", "login", f"http://127.0.0.1:{closed.getsockname()[1]}", "--token", "t")
    assert nowhere.returncode == 1 and "cannot reach" in nowhere.stderr and "Traceback" not in nowhere.stderr, (
        nowhere.stderr)

    listed = ivmctl(rita_home, "partitions", "--json")
    assert listed.returncode == 0 and "web01" in {p["name"] for p in json.loads(listed.stdout)}
    dest = ivmctl(rita_home, "destinations", "web01")
    assert dest.returncode == 0 and server("ivm2").name in dest.stdout, dest.stderr

    def move(partition: str) -> int:
        planned = ivmctl(rita_home, "plan", partition, "--to", server("ivm2").name)
        assert planned.returncode == 0 and "IVM validated the plan" in planned.stdout, (planned.stdout, planned.stderr)
        as_job = ivmctl(rita_home, "plan", partition, "--to", server("ivm2").name, "--json")
        job = json.loads(as_job.stdout)
        assert as_job.returncode == 0 and job["kind"] == "validate" and job["status"] == "done", as_job.stderr
        assert job["result"]["ok"] and ivmctl(rita_home, "job", str(job["id"])).returncode == 0
        submitted = ivmctl(rita_home, "submit", "--reason", "ivmctl test", "--json")
        assert submitted.returncode == 0, submitted.stderr
        m_id = json.loads(submitted.stdout)["id"]
        waiting = ivmctl(alex_home, "approvals", "--json")
        assert m_id in [a["migration"]["id"] for a in json.loads(waiting.stdout)]
        own = ivmctl(rita_home, "approve", str(m_id), "--comment", "my own")
        assert own.returncode == 1 and "Only approvers" in own.stderr  # the policy's words
        approved = ivmctl(alex_home, "approve", str(m_id), "--comment", "CHG-2")
        assert approved.returncode == 0 and "approved" in approved.stdout, approved.stderr
        return m_id

    workers("ivmctl")
    good = move("web01")
    watched = ivmctl(rita_home, "watch", str(good), "--interval", "0.3", "--timeout", "150")
    assert watched.returncode == 0, (watched.stdout, watched.stderr)
    assert f"Migration {good} completed" in watched.stdout and "step 6" in watched.stderr

    status, out, _ = fleet.ssh("ivm1", "ivmsim-fault add fail-migration phase=precopy lpar=app01")
    assert status == 0, out
    try:
        bad = move("app01")
        failed = ivmctl(rita_home, "watch", str(bad), "--interval", "0.3", "--timeout", "150")
    finally:
        fleet.ssh("ivm1", "ivmsim-fault clear all")
    assert failed.returncode == 1 and f"Migration {bad} failed" in failed.stdout, (failed.stdout, failed.stderr)

    audrey_home = tmp_path / "audrey"
    ivmctl(audrey_home, "login", asgi_server, "--token", token_for(personas["audrey"], scope="read"))
    exported = ivmctl(audrey_home, "history", "--csv")
    assert exported.returncode == 0
    statuses = {r["id"]: r["status"] for r in csv.DictReader(io.StringIO(exported.stdout))}
    assert statuses[str(good)] == "completed" and statuses[str(bad)] == "failed"
    assert ivmctl(rita_home, "history").returncode == 1  # requesters do not read the history
