"""A requester rehearses her plan in Chromium: a worker process runs it on a twin; the result arrives over the job's
socket without a reload; the approver then reads it on the approval card."""

import re

import pytest
from playwright.sync_api import expect

from mobility.models import Rehearsal
from tests.conftest import login
from tests.engine.conftest import submitted_migration

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_rehearsal_clicked_in_chromium_arrives_without_reload(estate, fleet, personas, asgi_server, job_worker,
                                                                page):
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

    page.context.clear_cookies()
    login(page, asgi_server, "alex")
    page.goto(f"{asgi_server}/approvals/")
    card = page.get_by_test_id(f"approval-{migration.pk}")
    expect(card.get_by_test_id("rehearsal")).to_have_attribute("data-outcome", "recovered")
    expect(card).to_contain_text("Failure during the transfer")
