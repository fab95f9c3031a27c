"""The API's door to batches (``/api/v1/batches/``) through real workers (the members' IVM validation jobs): create an
evacuation, read it with its members and totals, the four eyes and the hash as the pages hold them (the same
services: 403 with the policy's words, 409 with the lifecycle's), bad input answered 400 with nothing changed, a vote
with a window and a knob, then stop before the window opens. On the way: the approvals page shows the batch as one card
(its members are not listed one by one) and its approvers get one request mail for the batch, not one per member."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from mobility.models import Batch, BatchApproval
from tests.api.conftest import bearer, token_for
from tests.api.test_live_flow import ivmctl
from tests.batches.conftest import MEMBERS, server, wait_batch, wait_for

pytestmark = pytest.mark.django_db(transaction=True)
API = "/api/v1/batches/"


def _post(client, url, body, headers):
    return client.post(url, data=json.dumps(body), content_type="application/json", **headers)


def test_batches_through_the_api(payments, personas, fleet, workers, mailoutbox, asgi_server, tmp_path):
    worker = workers("w1", env={"EMAIL_BACKEND": "django.core.mail.backends.console.EmailBackend"})
    client = Client()
    rita, alex = bearer(token_for(personas["rita"])), bearer(token_for(personas["alex"]))
    omar = bearer(token_for(personas["omar"]))  # Analytics: sees none of Payments' batches
    read_only = bearer(token_for(personas["rita"], scope="read"))
    ivm1 = server("ivm1")

    # Bad input: 400 with the field, nothing created; a read-scope token changes nothing; an unknown server is 404.
    before = Batch.objects.count()
    r = _post(client, API + "evacuate/", {"server": ivm1.pk}, rita)
    assert r.status_code == 400 and "reason" in r.content.decode()
    assert _post(client, API + "evacuate/", {"server": ivm1.pk, "reason": "x"}, read_only).status_code == 403
    assert _post(client, API + "evacuate/", {"server": 999999, "reason": "x"}, rita).status_code == 404
    assert _post(client, API + "pick/", {"partitions": [999999], "reason": "x"}, rita).status_code == 404
    assert Batch.objects.count() == before

    r = _post(client, API + "evacuate/", {"server": ivm1.pk, "reason": "firmware of ivm1"}, rita)
    assert r.status_code == 201, r.content
    pk = r.json()["id"]
    assert r.json()["status"] == "validating" and r.json()["kind"] == "evacuate"
    wait_batch(pk, "pending_approval", timeout=90)

    body = client.get(f"{API}{pk}/", **rita).json()
    assert len(body["members"]) == MEMBERS and body["totals"]["members"] == MEMBERS
    assert [m["batch_position"] for m in body["members"]] == sorted(m["batch_position"] for m in body["members"])
    assert [x["partition"] for x in body["immovable"]] == ["bad-physio"] and body["immovable"][0]["reasons"]
    assert "withdraw" in body["actions"] and "approve" not in body["actions"]  # the requester does not vote
    assert "approve" in client.get(f"{API}{pk}/", **alex).json()["actions"]
    listed = client.get(API + "?status=pending_approval", **rita).json()
    assert [b["id"] for b in listed["results"]] == [pk] and listed["results"][0]["totals"]["waiting"] == MEMBERS
    assert client.get(API + "?status=nonsense", **rita).status_code == 400
    assert client.get(f"{API}{pk}/", **omar).status_code == 404 and client.get(API, **omar).json()["results"] == []

    # One request mail for the batch (sent by the worker whose validation job settled it), none per member.
    def subjects():
        return [line for line in worker.output().splitlines() if line.startswith("Subject: [ivmweb]")]
    wait_for(subjects, 10, 0.2, what="the request mail (sent after the commit)")
    assert subjects() == [f"Subject: [ivmweb] Approval requested: batch #{pk}"], subjects()
    # The approvals page: one card for the batch, with its members summed up; no member's own card.
    page = Client()
    page.force_login(personas["alex"])
    html = page.get("/approvals/").content.decode()
    assert f'data-testid="approval-batch-{pk}"' in html and 'data-testid="vote-on-batch"' in html
    assert f"{MEMBERS} partitions:" in html and 'data-testid="approval-' + str(body["members"][0]["id"]) not in html

    vote = {"decision": "approved", "comment": "CHG-9", "batch_hash": body["content_hash"], "parallelism": 2,
            "time_zone": "Europe/Paris", "not_before": (timezone.now() + timedelta(hours=2)).isoformat()}
    r = _post(client, f"{API}{pk}/vote/", vote, rita)  # four eyes, in the policy's own words
    assert r.status_code == 403 and "your own request" in r.json()["detail"]
    assert _post(client, f"{API}{pk}/vote/", {**vote, "batch_hash": "0" * 64}, alex).status_code == 409
    assert _post(client, f"{API}{pk}/vote/", {**vote, "time_zone": "Mars/Olympus"}, alex).status_code == 400
    r = _post(client, f"{API}{pk}/vote/", {**vote, "parallelism": body["parallelism_cap"] + 1}, alex)
    assert r.status_code == 409 and "between 1 and" in r.json()["detail"]
    assert not BatchApproval.objects.filter(batch_id=pk).exists()

    r = _post(client, f"{API}{pk}/vote/", vote, alex)
    assert r.status_code == 200, r.content
    body = r.json()
    assert body["status"] == "approved" and body["parallelism"] == 2
    assert body["last_vote"]["approver"] == "alex" and body["last_vote"]["time_zone"] == "Europe/Paris"
    assert {m["status"] for m in body["members"]} == {"approved"}
    assert [(m.subject, m.to) for m in mailoutbox] == [(f"[ivmweb] Batch approved: #{pk}", ["rita@example.com"])]

    # Not open yet (the window starts in two hours): pausing is refused by the lifecycle; stopping ends it. Through
    # ivmctl, against a served ivmweb, as a script would.
    r = _post(client, f"{API}{pk}/pause/", {}, rita)
    assert r.status_code == 409 and "cannot be paused" in r.json()["detail"]
    assert _post(client, f"{API}{pk}/stop/", {}, omar).status_code == 404
    assert ivmctl(tmp_path, "login", asgi_server, "--token", token_for(personas["rita"])).returncode == 0
    shown = ivmctl(tmp_path, "batch", "show", str(pk))
    assert shown.returncode == 0 and f"Batch {pk} (evacuate, {ivm1.name}): approved" in shown.stdout, shown
    paused = ivmctl(tmp_path, "batch", "pause", str(pk))
    assert paused.returncode == 1 and "cannot be paused" in paused.stderr
    stopped = ivmctl(tmp_path, "batch", "stop", str(pk), "--stop-running", "--json")
    # (the workers' supervisor may have ended it already: every member stopped before it started)
    assert stopped.returncode == 0 and json.loads(stopped.stdout)["status"] in ("stopping", "stopped"), stopped
    wait_batch(pk, "stopped", timeout=30)
    body = client.get(f"{API}{pk}/", **rita).json()
    assert body["totals"]["not_started"] == MEMBERS and body["actions"] == []
    r = _post(client, f"{API}{pk}/move-back/", {}, rita)
    assert r.status_code == 409 and "finished evacuation" in r.json()["detail"]
