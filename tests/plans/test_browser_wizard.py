"""A requester plans a migration in Chromium: five steps, one changed mapping, IVM validation, submit."""

import re

import pytest
from playwright.sync_api import expect

from mobility.inventory.estate import load_system
from mobility.models import Migration
from tests.conftest import login
from tests.plans.conftest import lpar, server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_requester_goes_through_the_five_steps_changes_a_mapping_validates_and_submits(
        estate, asgi_server, job_worker, page, requester):
    requester.set_password("pw-rita")
    requester.save()
    dest = server("ivm2")
    vios = load_system(dest).management_partition
    taken = max(s for s in vios.used_slots if s > 10)
    free = next(s for s in range(170, 199) if s not in vios.used_slots)

    login(page, asgi_server, "rita")
    page.wait_for_url(re.compile(r"/inventory/$"))
    page.goto(f"{asgi_server}/plan/new/")

    # 1. partition: only her team's, with the mode
    row = page.locator('tr[data-partition="db01"]')
    expect(row).to_contain_text("active")
    expect(page.locator('tr[data-partition="app21"]')).to_have_count(0)
    row.get_by_role("link", name="db01").click()
    expect(page.get_by_test_id("chosen-partition")).to_contain_text("db01")
    expect(page).to_have_url(re.compile(rf"\?partition={lpar('db01').pk}$"))

    # 2. destination: ranked with reasons; the 256 MB LMB server is listed but not selectable
    expect(page.locator(f'li[data-system="{server("ivm4").name}"]')).to_contain_text("not eligible")
    expect(page.locator(f'li[data-system="{server("ivm4").name}"] a')).to_have_count(0)
    candidate = page.locator(f'li[data-system="{dest.name}"]')
    expect(candidate.locator('[data-reason="memory_headroom"]')).to_contain_text("free after the move")
    candidate.get_by_role("link", name=dest.name).click()
    expect(page.get_by_test_id("chosen-destination")).to_contain_text(dest.name)

    # the back button returns to the ranked list, forward to the mappings
    page.go_back()
    expect(page.locator(f'li[data-system="{dest.name}"] a')).to_be_visible()
    page.go_forward()
    slot = page.get_by_label("SCSI client slot 3: server slot")
    expect(slot).to_be_visible()

    # 3. mappings: a taken slot is flagged inline, a free one accepted
    slot.fill(str(taken))
    slot.press("Tab")
    expect(page.locator('tr[data-row="scsi-3"] [data-problem="slot_taken"]')).to_be_visible()
    expect(page.get_by_role("button", name="Validate with IVM")).to_be_disabled()
    page.get_by_label("SCSI client slot 3: server slot").fill(str(free))
    page.get_by_label("SCSI client slot 3: server slot").press("Tab")
    expect(page.locator('tr[data-row="scsi-3"] [data-problem]')).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"slot-scsi-3={free}"))

    # 4. validate with IVM: a worker asks it; the answer arrives over the job's socket, without a reload
    page.evaluate("() => { window.__notReloaded = true; }")
    page.get_by_role("button", name="Validate with IVM").click()
    expect(page.get_by_test_id("validation")).to_contain_text("IVM validated the migration", timeout=30_000)
    assert page.evaluate("() => window.__notReloaded") is True

    # 5. submit
    page.get_by_label("Reason for the migration").fill("Firmware update on the source server")
    page.get_by_role("button", name="Submit for approval").click()
    page.wait_for_url(re.compile(r"/migrations/\d+/plan/$"))
    expect(page.get_by_test_id("status")).to_have_text("Waiting for approval")

    migration = Migration.objects.get(partition__name="db01")
    scsi = migration.plans.get().mappings.get(kind="scsi")
    assert scsi.dest_slot == free
    expect(page.get_by_test_id("hash-1")).to_have_text(migration.plans.get().content_hash)
