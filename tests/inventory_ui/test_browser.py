"""In Chromium: an admin registers an IVM, confirms its fingerprint, tests, syncs, and finds its partitions."""

import pytest

from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_admin_registers_confirms_syncs_and_sees_the_partitions(fleet, asgi_server, job_worker, page, admin_user):
    entry = fleet.ivm("ivmf1")
    login(page, asgi_server, "adam")
    page.wait_for_url(f"{asgi_server}/inventory/")
    assert page.get_by_test_id("empty-inventory").is_visible()

    page.goto(f"{asgi_server}/consoles/")
    page.get_by_role("link", name="Register an IVM").click()
    page.get_by_label("Name", exact=True).fill(entry["name"])
    page.get_by_label("Address", exact=True).fill(entry["host"])
    page.get_by_label("Port", exact=True).fill(str(entry["port"]))
    page.get_by_label("User", exact=True).fill(entry["user"])
    page.get_by_label("Password", exact=True).fill(entry["password"])
    page.get_by_role("button", name="Register and scan host key").click()

    page.wait_for_url("**/host-key/")
    assert page.get_by_test_id("offered-fingerprint").inner_text() == entry["fingerprint"]
    assert page.get_by_test_id("offered-type").inner_text() == "ssh-ed25519"
    page.get_by_role("button", name="Confirm this fingerprint").click()

    page.wait_for_url("**/consoles/*/")
    assert entry["fingerprint"] in page.get_by_test_id("pinned-fingerprint").inner_text()
    assert entry["password"] not in page.content()
    # A worker runs the test and the sync; their answers arrive over the job's socket, without a reload.
    page.evaluate("() => { window.__notReloaded = true; }")
    page.get_by_test_id("test-connection").click()
    page.get_by_text("Connection ok").wait_for()
    page.get_by_test_id("sync-now").click()
    page.get_by_text("Synced:").wait_for(timeout=30_000)
    assert page.evaluate("() => window.__notReloaded") is True

    page.goto(f"{asgi_server}/inventory/")
    partitions = page.locator("#partition-table tbody tr[data-partition]")
    assert sorted(partitions.evaluate_all("rows => rows.map(r => r.dataset.partition)")) == [
        "ana01", "pay01", "pay02", "phys01", "viosf1"]

    # live search: the table narrows, the URL can be shared, and Back returns to the full list
    page.get_by_role("searchbox", name="Search partitions").press_sequentially("pay")
    # htmx pushes the URL with the History API (no page load), so watch location itself
    page.wait_for_function("() => new URLSearchParams(location.search).get('q') === 'pay'")
    page.wait_for_function("() => document.querySelectorAll('#partition-table tr[data-partition]').length === 2")
    page.go_back()
    page.wait_for_function("() => location.pathname === '/inventory/' && location.search === ''")
    page.wait_for_function("() => document.querySelectorAll('#partition-table tr[data-partition]').length === 5")
