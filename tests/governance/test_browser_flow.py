"""Four eyes, end to end in Chromium: rita plans and submits a migration, alex (same team) approves it with a
comment, the engine runs it to "Completed" against ivmsim over SSH, and audrey finds it in the history, reads its
timeline (steps, votes, IVM commands) and downloads the CSV that holds its row.

Each person has a browser context of their own (separate cookies), as three people at three desks would.
"""

import csv
import re

import pytest
from playwright.sync_api import expect

from mobility.models import Migration
from tests.conftest import login
from tests.engine.conftest import lpar, server, status_of, wait_for
from tests.simfleet import DEMO_FLEET, SimFleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# High enough that the transfer of app01 takes a few seconds, low enough that the engine still sees it move.
TIME_SCALE = 50.0
COMMENT = "Four eyes: mappings and validation checked, go ahead"


@pytest.fixture(scope="module")
def sim():
    """This module's own demo fleet (its own ports and state directory)."""
    with SimFleet(DEMO_FLEET, time_scale=TIME_SCALE, seed=1) as fleet:
        yield fleet


@pytest.fixture
def fleet_estate(transactional_db, sim, personas):
    """Every IVM registered and synced (committed, so daphne and the engine see it), owned as in the demo."""
    from mobility.inventory import sync_console
    from mobility.inventory.connections import close_all_clients
    from mobility.management.commands.register_fleet import assign_demo_teams, register_entry

    consoles = {e["name"]: register_entry(e)[0] for e in sim.ivms}
    results = [sync_console(c) for c in consoles.values()]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assign_demo_teams()
    yield consoles
    close_all_clients()


@pytest.fixture
def engine(fleet_estate):
    """An engine in this process (threads), polling fast; stopped before the database is flushed."""
    from mobility.engine.config import EngineConfig
    from mobility.engine.worker import Engine

    running = Engine(worker_id="browser-flow", cfg=EngineConfig(lease_s=5.0, poll_s=0.2, threads=4)).start()
    yield running
    running.stop(timeout=15)


@pytest.fixture
def person(chromium, asgi_server):
    """person(username[, page]) -> a signed-in page, in a browser context of its own unless one is given."""
    contexts = []

    def sign_in(username: str, page=None):
        if page is None:
            context = chromium.new_context(accept_downloads=True)
            contexts.append(context)
            page = context.new_page()
        page.set_default_timeout(20_000)
        login(page, asgi_server, username)
        page.wait_for_url(lambda url: "/login/" not in url)  # signed in: sent on to the home page
        return page

    yield sign_in
    for context in contexts:
        context.close()


def test_rita_submits_alex_approves_the_engine_completes_and_audrey_exports_it(
        fleet_estate, engine, asgi_server, page, person, tmp_path):
    source, dest = lpar("app01"), server("ivm2")

    # --- rita, requester: the wizard with the recommended mappings, validated by IVM, submitted --------------
    rita = person("rita", page)
    rita.goto(f"{asgi_server}/plan/new/")
    rita.locator('tr[data-partition="app01"]').get_by_role("link", name="app01").click()
    expect(rita.get_by_test_id("chosen-partition")).to_contain_text("app01")
    rita.locator(f'li[data-system="{dest.name}"]').get_by_role("link", name=dest.name).click()
    expect(rita.get_by_test_id("chosen-destination")).to_contain_text(dest.name)
    rita.get_by_role("button", name="Validate with IVM").click()
    expect(rita.get_by_test_id("validation")).to_contain_text("IVM validated the migration", timeout=30_000)
    rita.get_by_label("Reason for the migration").fill("Firmware update on the source server")
    rita.get_by_role("button", name="Review the request").click()
    rita.get_by_role("button", name="Submit for approval").click()
    rita.wait_for_url(re.compile(r"/migrations/\d+/plan/$"))
    expect(rita.get_by_test_id("status")).to_have_text("Waiting for approval")
    pk = int(re.search(r"/migrations/(\d+)/plan/", rita.url).group(1))
    migration = Migration.objects.get(pk=pk)
    assert (migration.partition_id, migration.destination_id, migration.requester.username) == (
        source.pk, dest.pk, "rita")
    plan_hash = migration.plans.get().content_hash
    # The engine is running, but a request without an approval is never started.
    assert status_of(pk) == "pending_approval"

    # --- alex, approver of Payments: votes on the approvals page, with a comment -----------------------------
    alex = person("alex")
    alex.goto(f"{asgi_server}/approvals/")
    card = alex.get_by_test_id(f"approval-{pk}")
    expect(card).to_contain_text("app01")
    expect(card.get_by_test_id("plan-hash")).to_have_text(plan_hash)
    expect(card).to_contain_text("Firmware update on the source server")
    card.get_by_label("Comment (required)").fill(COMMENT)
    card.get_by_role("button", name="Approve").click()
    # htmx swaps the card: the vote is listed and the form is gone (one vote per person).
    expect(card.locator(".gov-votes")).to_contain_text("alex approved v1")
    expect(card.locator(".gov-votes")).to_contain_text(COMMENT)
    expect(card.get_by_role("button", name="Approve")).to_have_count(0)

    # --- the engine takes the approved request and runs it to the end ---------------------------------------
    wait_for(lambda: status_of(pk) in ("completed", "failed", "stopped"), timeout=180, every=0.5,
             what="the migration to finish")
    migration.refresh_from_db()
    assert migration.status == "completed", (migration.outcome,
                                             list(migration.events.values_list("kind", "payload")))
    rita.goto(f"{asgi_server}/migrations/{pk}/live/")
    expect(rita.get_by_test_id("status")).to_have_text("Completed")

    # --- audrey, auditor: the history, the timeline, the CSV -------------------------------------------------
    audrey = person("audrey")
    audrey.goto(f"{asgi_server}/history/")
    row = audrey.get_by_test_id("history-table").locator("tbody tr").filter(
        has=audrey.get_by_role("link", name=str(pk), exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text("app01")
    expect(row).to_contain_text("Completed")
    expect(row).to_contain_text("alex:approved")
    row.get_by_role("link", name=str(pk), exact=True).click()
    audrey.wait_for_url(re.compile(rf"/history/migrations/{pk}/$"))

    timeline = audrey.get_by_test_id("timeline")
    expect(timeline).to_contain_text("Requested by rita")
    expect(timeline).to_contain_text(f"sha256 {plan_hash}")
    vote = timeline.locator("li.gov-tl-vote")
    expect(vote).to_have_count(1)
    expect(vote).to_contain_text("Approved plan v1")
    expect(vote).to_contain_text("by alex")
    expect(vote).to_contain_text(COMMENT)
    steps = timeline.locator("li.gov-tl-step")
    for number in (1, 3, 6, 9):  # its start and its end are two sealed events, each told once
        expect(steps.filter(has_text=f"Step {number}:").filter(has_text="— Done")).to_have_count(1)
    commands = timeline.locator("li.gov-tl-command")  # the sealed audit line, once (no journal twin beside it)
    expect(commands.filter(has_text="migrlpar -o m")).to_have_count(1)
    expect(timeline.locator("li.gov-tl-event").filter(has_text="migrlpar")).to_have_count(0)
    expect(timeline.locator("li.gov-tl-result")).to_contain_text("Completed")

    audrey.get_by_role("link", name="← History").click()
    audrey.wait_for_url(re.compile(r"/history/$"))
    with audrey.expect_download() as info:
        audrey.get_by_test_id("export-csv").click()
    download = info.value
    assert re.fullmatch(r"ivmweb-history-\d{8}-\d{6}\.csv", download.suggested_filename)
    saved = tmp_path / download.suggested_filename
    download.save_as(saved)
    with saved.open(newline="", encoding="utf-8") as handle:
        rows = [r for r in csv.DictReader(handle) if r["id"] == str(pk)]
    assert len(rows) == 1, saved.read_text()
    exported = rows[0]
    assert {k: exported[k] for k in ("requester", "team", "partition", "source", "destination", "mode", "status",
                                     "approvers")} == {
        "requester": "rita", "team": "Payments", "partition": "app01", "source": source.system.name,
        "destination": dest.name, "mode": "active", "status": "completed", "approvers": "alex:approved"}
    assert exported["started_at"] and exported["finished_at"] and float(exported["duration_s"]) > 0
