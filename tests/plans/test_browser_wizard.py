"""A requester plans a migration in Chromium: the steps, one changed mapping (a bad slot first, named in a sentence),
IVM's validation with a slow IVM (busy, and not twice), the reason, the review, submit and its confirmation; focus
stays where the person was after each swap."""

import re

import pytest
from playwright.sync_api import expect

from mobility.inventory.estate import load_system
from mobility.models import IVMJob, Migration
from tests.conftest import login
from tests.plans.conftest import lpar, server

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def focused(page) -> str:
    """The focused element, as "TAG#id" (BODY when focus was dropped)."""
    return page.evaluate("() => document.activeElement.tagName + '#' + document.activeElement.id")


def test_a_requester_goes_through_the_steps_changes_a_mapping_validates_reviews_and_submits(
        estate, fleet, asgi_server, job_worker, page, requester):
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
    # the link is gone with the swap: focus goes to the step now current, not to <body>
    expect(page.get_by_role("heading", name="2. Destination")).to_be_focused()

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

    # 3. mappings: a taken slot is flagged inline in a sentence that names it, a free one accepted; the keyboard
    # focus stays on the field Tab moved to, across the swap
    slot.fill(str(taken))
    slot.press("Tab")
    problem = page.locator('tr[data-row="scsi-3"] [data-problem="slot_taken"]')
    expect(problem).to_contain_text(f"Virtual slot {taken} on {vios.name} is already in use by")
    expect(problem).to_contain_text("for the virtual SCSI adapter in client slot 3")
    expect(problem.locator("code")).to_be_hidden()  # the migrlpar -i text is a detail, folded
    expect(page.get_by_role("button", name="Validate with IVM")).to_be_disabled()
    assert focused(page) == "INPUT#id_slot-fc-4"
    expect(page.get_by_label("FC client slot 4: port")).to_have_value(re.compile(r"^fcs\d+$"))
    page.get_by_label("SCSI client slot 3: server slot").fill(str(free))
    page.get_by_label("SCSI client slot 3: server slot").press("Tab")
    expect(page.locator('tr[data-row="scsi-3"] [data-problem]')).to_have_count(0)
    expect(page).to_have_url(re.compile(rf"slot-scsi-3={free}"))

    # 4. validate with a slow IVM (its migrlpar answers after 2 s): a worker asks it; meanwhile the button is
    # disabled with a busy line, and a double click asks once; the answer arrives over the job's socket, no reload
    page.evaluate("() => { window.__notReloaded = true; }")
    asked_before = IVMJob.objects.filter(kind=IVMJob.Kind.VALIDATE).count()
    assert fleet.ssh("ivm1", "ivmsim-fault add hang command=migrlpar seconds=2")[0] == 0
    try:
        page.get_by_role("button", name="Validate with IVM").dblclick()
        expect(page.locator('#step-validate .job .busy')).to_be_visible()
        expect(page.get_by_role("button", name="Validate with IVM")).to_be_disabled()
        expect(page.get_by_test_id("validated")).to_contain_text("IVM validated this plan", timeout=30_000)
    finally:
        fleet.ssh("ivm1", "ivmsim-fault clear all")
    assert IVMJob.objects.filter(kind=IVMJob.Kind.VALIDATE).count() == asked_before + 1
    expect(page.get_by_role("heading", name="5. Reason")).to_be_focused()  # the next thing to do, not <body>
    assert page.evaluate("() => window.__notReloaded") is True
    # the finished steps fold to a line, which can be reopened
    expect(page.get_by_test_id("mappings-summary")).to_contain_text(f"virtual SCSI 3 → slot {free}")
    expect(page.get_by_label("SCSI client slot 3: server slot")).to_be_hidden()
    page.locator("#step-mappings summary", has_text="Reopen the mappings").click()
    expect(page.get_by_label("SCSI client slot 3: server slot")).to_be_visible()

    # 5. the reason, then 6. the review shows exactly what will be stored, and its button submits it
    page.get_by_label("Reason for the migration").fill("Firmware update on the source server")
    page.get_by_role("button", name="Review the request").click()
    review = page.get_by_test_id("review-panel")
    expect(review.get_by_test_id("review-reason")).to_have_text("Firmware update on the source server")
    expect(review.get_by_test_id("review-destination")).to_contain_text(dest.name)
    expect(page.get_by_role("heading", name="6. Review and submit")).to_be_focused()
    reviewed = review.get_by_test_id("review-hash").inner_text()
    assert not Migration.objects.filter(partition__name="db01").exists()  # a review stores nothing
    review.get_by_role("button", name="Submit for approval").click()
    page.wait_for_url(re.compile(r"/migrations/\d+/plan/$"))
    expect(page.get_by_test_id("status")).to_have_text("Waiting for approval")

    migration = Migration.objects.get(partition__name="db01")
    expect(page.locator(".messages")).to_contain_text(f"Submitted: migration #{migration.pk} asks to move db01")
    scsi = migration.plans.get().mappings.get(kind="scsi")
    assert scsi.dest_slot == free
    assert migration.plans.get().content_hash == reviewed
    expect(page.get_by_test_id("hash-1")).to_have_text(reviewed)
