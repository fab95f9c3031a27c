"""A requester rehearses her plan, then a batch, in Chromium: a worker process runs each on a twin; the result arrives
over the job's socket without a reload; the approver then reads them on the approval card and the batch's page."""

import re

import pytest
from playwright.sync_api import expect

from mobility.batches import planning
from mobility.models import Batch, BatchRehearsal, Rehearsal
from tests.conftest import login
from tests.engine.conftest import lpar, submitted_migration, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rehearsal_clicked_in_chromium_arrives_without_reload(estate, fleet, personas, asgi_server, job_worker,
                                                                page):
    # A batch of two (IVM validates its members in the worker), planned first: its members hold their planned slots.
    batch = planning.pick(personas["rita"], [lpar("app02"), lpar("web01")], reason="browser")
    # The last member job to end settles the batch, even when both end together (this worker runs jobs only: no
    # supervisor would settle it later).
    wait_for(lambda: Batch.objects.get(pk=batch.pk).status != "validating", 60, 0.2, what="the members' validation")
    settled = Batch.objects.get(pk=batch.pk)
    assert settled.status == "pending_approval" and settled.migrations.count() == 2, (
        settled.status, [r["why"] for x in settled.immovable for r in x["reasons"]], settled.outcome)
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    before = {e["name"]: len(fleet.command_log(e["name"])) for e in fleet.ivms}
    login(page, asgi_server, "rita")
    page.wait_for_url(re.compile(r"/inventory/$"))
    page.goto(f"{asgi_server}/migrations/{migration.pk}/plan/")
    expect(page.get_by_test_id("no-rehearsal")).to_be_visible()
    page.evaluate("() => { window.__notReloaded = true; }")
    page.get_by_label("Failure during the transfer").check()
    page.get_by_role("button", name="Rehearse").click()
    # The worker runs with IVMWEB_JOB_TIMEOUT_S=5: the rehearsal's own bound carries it past that.
    expect(page.get_by_test_id("rehearsal")).to_have_attribute("data-outcome", "recovered", timeout=60_000)
    expect(page.get_by_test_id("rehearsal-summary")).to_contain_text("Recover: app01 is back on")
    expect(page.get_by_test_id("rehearsal-messages")).to_contain_text("[VIOSE0104A00B-0005] The migration of partition app01 failed")
    assert page.evaluate("() => window.__notReloaded") is True
    assert Rehearsal.objects.get().outcome == "recovered"
    assert {e["name"]: len(fleet.command_log(e["name"])) for e in fleet.ivms} == before

    # The batch of two planned above, rehearsed from its page the same way.
    page.goto(f"{asgi_server}/batches/{batch.pk}/")
    expect(page.get_by_test_id("no-batch-rehearsal")).to_be_visible()
    page.evaluate("() => { window.__notReloaded = true; }")
    page.get_by_role("button", name="Rehearse the batch").click()
    expect(page.get_by_test_id("batch-rehearsal")).to_have_attribute("data-outcome", "completed", timeout=60_000)
    expect(page.get_by_test_id("batch-rehearsal-summary")).to_contain_text("2 of 2 members completed")
    assert page.evaluate("() => window.__notReloaded") is True
    assert BatchRehearsal.objects.get().members.count() == 2
    assert {e["name"]: len(fleet.command_log(e["name"])) for e in fleet.ivms} == before

    page.context.clear_cookies()
    login(page, asgi_server, "alex")
    page.goto(f"{asgi_server}/approvals/")
    card = page.get_by_test_id(f"approval-{migration.pk}")
    expect(card.get_by_test_id("rehearsal")).to_have_attribute("data-outcome", "recovered")
    expect(card).to_contain_text("Failure during the transfer")
    page.goto(f"{asgi_server}/batches/{batch.pk}/")  # the batch's vote, with its rehearsal beside it
    expect(page.get_by_test_id("vote-form")).to_be_visible()
    expect(page.get_by_test_id("batch-rehearsal-members").locator("tr[data-outcome=completed]")).to_have_count(2)
