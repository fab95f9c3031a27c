"""The batch pages through Django's test client (who sees and does what, bad input) and Chromium (the batch page
follows a whole evacuation live, without a reload)."""

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from mobility.batches import approval, planning
from mobility.models import Batch, BatchApproval
from tests.batches.conftest import MEMBERS, server, wait_batch
from tests.batches.fleet import write_fleet
from tests.conftest import login
from tests.simfleet import SimFleet

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fleet(tmp_path):
    from tests.batches.conftest import TIME_SCALE

    with SimFleet(write_fleet(tmp_path / "evacuate.toml", MEMBERS, limit=4), time_scale=TIME_SCALE, seed=5) as sim:
        yield sim


def test_pages_show_and_refuse_as_the_policy_says(payments, personas, fleet, workers, client):
    workers("w1")
    batch = wait_batch(planning.evacuate(personas["rita"], server("ivm1"), reason="firmware").pk,
                       "pending_approval", timeout=90)
    page = reverse("mobility:batch", args=[batch.pk])

    client.force_login(personas["rita"])
    html = client.get(page).content.decode()
    assert "bad-physio" in html and "Fix:" in html and "You cannot approve or reject your own request" in html
    assert 'data-testid="vote-form"' not in html
    # The requester's own vote, forged: refused, nothing recorded.
    client.post(reverse("mobility:batch_vote", args=[batch.pk]), {
        "decision": "approved", "comment": "mine", "batch_hash": batch.content_hash, "time_zone": "UTC"})
    assert not BatchApproval.objects.exists()
    # Bad input: a clear error, nothing changed, never a 5xx.
    response = client.post(reverse("mobility:evacuate", args=[server("ivm1").pk]), {"reason": ""})
    assert response.status_code == 400 and Batch.objects.count() == 1
    assert client.get(reverse("mobility:evacuate", args=[999999])).status_code == 404
    assert client.post(reverse("mobility:batch_vote", args=[batch.pk]), {"decision": "x"}).status_code == 302
    assert client.get(reverse("mobility:batches_export")).status_code == 403  # auditors export

    client.force_login(personas["omar"])  # Analytics: not his team's batch
    assert client.get(page).status_code == 404
    assert client.post(reverse("mobility:batch_pause", args=[batch.pk])).status_code == 404

    client.force_login(personas["alex"])
    html = client.get(page).content.decode()
    assert 'data-testid="vote-form"' in html
    response = client.post(reverse("mobility:batch_vote", args=[batch.pk]), {
        "decision": "approved", "comment": "CHG-7", "batch_hash": batch.content_hash, "time_zone": "Europe/Paris",
        "not_before": "2099-01-01T10:00", "parallelism": "2"})
    assert response.status_code == 302
    assert Batch.objects.get(pk=batch.pk).status == "pending_approval"  # a window past the approval's life: refused
    opens = datetime.now(ZoneInfo("Europe/Paris")) + timedelta(hours=1)  # nothing runs in this test
    response = client.post(reverse("mobility:batch_vote", args=[batch.pk]), {
        "decision": "approved", "comment": "CHG-7", "batch_hash": batch.content_hash, "time_zone": "Europe/Paris",
        "not_before": opens.strftime("%Y-%m-%dT%H:%M"), "parallelism": "2"})
    batch.refresh_from_db()
    assert batch.status == "approved" and batch.parallelism == 2
    vote = BatchApproval.objects.get(batch=batch)
    assert vote.time_zone == "Europe/Paris" and batch.not_before == opens.replace(second=0, microsecond=0)
    html = client.get(page).content.decode()
    assert batch.not_before.strftime("%Y-%m-%dT%H:%M") in html and "(set in Europe/Paris)" in html
    assert "Batches" in client.get(reverse("mobility:dashboard")).content.decode()

    client.force_login(personas["audrey"])
    csv = client.get(reverse("mobility:batches_export")).content.decode()
    assert csv.count("\n") == 1 + MEMBERS + 1 and "alex" in csv and "stayed" in csv


@pytest.mark.browser
def test_the_batch_page_follows_an_evacuation_live(payments, personas, fleet, workers, asgi_server, page):
    workers("w1")
    batch = wait_batch(planning.evacuate(personas["rita"], server("ivm1"), reason="firmware").pk,
                       "pending_approval", timeout=90)
    login(page, asgi_server, "rita")
    page.goto(asgi_server + reverse("mobility:batch", args=[batch.pk]))
    page.evaluate("window.__sameDocument = true")
    page.evaluate("""window.__moved = []; window.__status = []; setInterval(() => {
        const m = document.querySelector('[data-testid=moved]'), s = document.querySelector('[data-testid=batch-status]');
        if (m && window.__moved.at(-1) !== m.textContent) window.__moved.push(m.textContent);
        if (s && window.__status.at(-1) !== s.textContent) window.__status.push(s.textContent);
        }, 20)""")
    assert page.get_by_test_id("batch-status").inner_text() == "Waiting for approval"
    approval.approve(batch, personas["alex"], "go", batch_hash_seen=batch.content_hash, parallelism=3)
    # Read by the recorder itself: it notes the totals and the status in one tick, so the last totals are in
    # window.__moved once it has noted "Finished" (the DOM can show it a tick before the recorder has seen it).
    page.wait_for_function("() => window.__status.at(-1) === 'Finished'", timeout=240_000)
    assert page.evaluate("window.__sameDocument") is True
    moved = [int(x) for x in page.evaluate("window.__moved")]
    ended = list(Batch.objects.get(pk=batch.pk).migrations.values_list("partition__name", "status", "outcome"))
    assert moved[0] == 0 and moved[-1] == MEMBERS and moved == sorted(moved) and len(moved) > 3, (moved, ended)
    statuses = page.evaluate("window.__status")
    assert "Running" in statuses, statuses
    remaining = page.get_by_test_id("remaining").inner_text()
    assert "bad-physio" in remaining and "physical" in remaining.lower()
    assert page.locator("tr[data-member][data-status=completed]").count() == MEMBERS
