"""Chromium watches an approved migration from start to "Completed": the steps turn over without a reload."""

import pytest

from tests.conftest import login
from tests.engine.conftest import approved_migration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_live_page_follows_a_migration_to_completed_without_reload(estate, personas, engine, asgi_server, page):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    login(page, asgi_server, "rita")
    page.goto(f"{asgi_server}/migrations/{m.pk}/live/")
    page.evaluate("window.__sameDocument = true")
    status = page.get_by_test_id("status")
    assert status.inner_text() == "Approved"
    engine()
    page.locator('.step[data-step="1"][data-status="done"]').wait_for(timeout=60_000)
    page.locator('.step[data-step="6"][data-status="done"]').wait_for(timeout=60_000)
    page.wait_for_function("document.querySelector('[data-testid=status]').textContent === 'Completed'",
                           timeout=90_000)
    assert page.evaluate("window.__sameDocument") is True  # never reloaded
    assert page.locator('.step[data-step="9"]').get_attribute("data-status") == "done"
    assert "last update" in page.get_by_test_id("freshness").inner_text()

