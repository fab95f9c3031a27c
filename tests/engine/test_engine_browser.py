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


def test_the_dashboard_shows_a_migration_progress_and_leave_without_reload(estate, personas, engine, asgi_server,
                                                                          page):
    from django.urls import reverse

    m = approved_migration(personas, "app02", "ivm1", "ivm2")
    login(page, asgi_server, "rita")
    page.goto(asgi_server + reverse("mobility:dashboard"))
    page.evaluate("window.__sameDocument = true")
    # Sample the row's percent cell as it changes (the migration is quick at the fleet's time scale).
    page.evaluate(f"""window.__pct = []; setInterval(() => {{
        const c = document.querySelector('#dash-{m.pk}-pct');
        if (c) window.__pct.push(parseFloat(c.textContent)); }}, 20)""")
    engine()
    page.locator(f"#dash-{m.pk}").wait_for(timeout=60_000)
    page.locator(f"#dash-{m.pk}").wait_for(state="detached", timeout=90_000)  # completed: off the dashboard
    seen = [p for p in page.evaluate("window.__pct") if p == p]  # NaN-free
    assert seen and max(seen) > 0 and seen == sorted(seen), seen  # it moved, and never backwards
    assert page.evaluate("window.__sameDocument") is True  # never reloaded
