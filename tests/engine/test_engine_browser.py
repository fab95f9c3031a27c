"""Chromium watches an approved migration from start to "Completed": the steps turn over without a reload."""

import pytest

from mobility.choices import steps_for
from tests.conftest import login
from tests.engine.conftest import approved_migration

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.browser]


def test_the_live_page_follows_a_migration_to_completed_without_reload(estate, personas, engine, asgi_server, page,
                                                                       fleet):
    from django.urls import reverse

    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    login(page, asgi_server, "rita")
    # The socket alone: the page's polling fallback (the whole panel from the server after 5 quiet seconds, as while
    # the transfer is held below) is refused.
    page.route(f"{asgi_server}{reverse('mobility:migration_state', args=[m.pk])}**", lambda route: route.abort())
    page.goto(f"{asgi_server}/migrations/{m.pk}/live/")
    page.evaluate("window.__sameDocument = true")
    status = page.get_by_test_id("status")
    assert status.inner_text() == "Approved"
    # The IVM holds the transfer (step 6) until the page has shown the steps before it done while the migration still
    # runs: each step's own push turned it over, not the whole panel pushed when the migration ends (which alone
    # would satisfy a wait for "done" at any time).
    held = "precopy" if m.mode == "active" else "transfer"
    before_the_transfer = [str(step.number) for step in steps_for(m.mode) if step.number < 6]
    assert fleet.ssh("ivm1", f"ivmsim-fault add hold-phase phase={held} lpar=app01")[0] == 0
    try:
        engine()
        page.locator('.step[data-step="6"][data-status="running"]').wait_for(timeout=60_000)
        assert status.inner_text() == "Running"
        shown = page.locator(".step").evaluate_all("els => els.map(e => [e.dataset.step, e.dataset.status])")
        assert [number for number, state in shown if state == "done"] == before_the_transfer, shown
    finally:
        fleet.ssh("ivm1", "ivmsim-fault clear all")
    page.locator('.step[data-step="6"][data-status="done"]').wait_for(timeout=60_000)
    page.wait_for_function("() => document.querySelector('[data-testid=status]').textContent === 'Completed'",
                           timeout=90_000)
    assert page.evaluate("window.__sameDocument") is True  # never reloaded
    assert page.locator('.step[data-step="9"]').get_attribute("data-status") == "done"
    assert "last update" in page.get_by_test_id("freshness").inner_text()


def test_the_dashboard_shows_progress_status_and_rows_leaving_without_reload(estate, personas, engine, asgi_server,
                                                                            page):
    from django.urls import reverse

    # Two rows: the first to finish is removed by its own delta, the last by the whole rows ("nothing running").
    m = approved_migration(personas, "app02", "ivm1", "ivm2", ivm_picks_slots=True)
    other = approved_migration(personas, "db01", "ivm1", "ivm2", ivm_picks_slots=True)
    login(page, asgi_server, "rita")
    page.goto(asgi_server + reverse("mobility:dashboard"))
    page.evaluate("window.__sameDocument = true")
    # Sample the row's status and percent cells as they change (the migration is quick at the fleet's time scale).
    page.evaluate(f"""window.__pct = []; window.__status = []; setInterval(() => {{
        const c = document.querySelector('#dash-{m.pk}-pct');
        if (c) window.__pct.push(parseFloat(c.textContent));
        const s = document.querySelector('#dash-{m.pk} [data-testid=dash-status]');
        if (s && window.__status.at(-1) !== s.textContent) window.__status.push(s.textContent);
        const body = document.getElementById('dashboard-rows'), rows = body.querySelectorAll('tr[id]').length;
        const tables = window.__tables || (window.__tables = []), last = tables.at(-1);
        if (!last || last[0] !== rows || last[1] !== body.dataset.rendered) tables.push([rows, body.dataset.rendered]);
        }}, 20)""")
    assert page.locator(f"#dash-{m.pk}").count() == 1 and page.locator(f"#dash-{other.pk}").count() == 1
    engine()
    for row in (m, other):
        page.locator(f"#dash-{row.pk}").wait_for(state="detached", timeout=90_000)  # completed: off the dashboard
    page.get_by_text("Nothing running or queued.").wait_for(timeout=10_000)
    seen = [p for p in page.evaluate("window.__pct") if p == p]  # NaN-free
    assert seen and max(seen) > 0 and seen == sorted(seen), seen  # it moved, and never backwards
    assert page.evaluate("window.__status")[:2] == ["Approved", "Running"]  # its row swapped in place
    tables = page.evaluate("window.__tables")  # [rows shown, when the table was rendered] as they changed
    pairs = zip(tables, tables[1:], strict=False)
    assert any(a == [2, b[1]] and b[0] == 1 for a, b in pairs), tables  # one row removed, the table kept
    assert tables[-1][0] == 0 and tables[-1][1] != tables[-2][1], tables  # then the table again, saying nothing runs
    assert page.evaluate("window.__sameDocument") is True  # never reloaded


# The actions each status allows rita (requester of Payments), as the lifecycle's table and the policy say.
RITA_ACTIONS = {"Approved": ["stop", "withdraw"], "Running": ["stop"], "Completed": ["tick_task"],
                "Failed": ["recover"]}
RECORD_ACTIONS = """window.__seen = []; setInterval(() => {
    const status = document.querySelector('[data-testid=status]').textContent;
    const shown = [...document.querySelectorAll('[data-action]')].filter(e => e.checkVisibility())
        .map(e => e.dataset.action).sort().join(' ');
    const last = window.__seen.at(-1);
    if (!last || last[0] !== status || last[1] !== shown) window.__seen.push([status, shown]);
    }, 20)"""


def _route(name):
    """Where the partition is now (the module's fleet keeps the moves of earlier tests), and the other server."""
    from mobility.models import Partition

    here = Partition.objects.get(name=name, vanished_at__isnull=True).system.console.name
    return here, {"ivm1": "ivm2", "ivm2": "ivm1"}[here]


@pytest.fixture
def app02_fails(estate, fleet):
    source = _route("app02")[0]
    fleet.ssh(source, "ivmsim-fault add fail-migration phase=precopy lpar=app02")
    yield
    fleet.ssh(source, "ivmsim-fault clear all")


def test_the_buttons_shown_are_the_allowed_actions_at_each_status_without_reload(estate, personas, engine, app02_fails,
                                                                                asgi_server, page):
    # side by side to the same server: IVM picks the slots
    done = approved_migration(personas, "app01", *_route("app01"), ivm_picks_slots=True)
    failed = approved_migration(personas, "app02", *_route("app02"), ivm_picks_slots=True)
    login(page, asgi_server, "rita")
    pages = {done.pk: page, failed.pk: page.context.new_page()}
    for pk, tab in pages.items():
        tab.goto(f"{asgi_server}/migrations/{pk}/live/")
        tab.evaluate("window.__sameDocument = true")
        tab.evaluate(RECORD_ACTIONS)
    engine()
    for pk, end in ((done.pk, "Completed"), (failed.pk, "Failed")):
        pages[pk].wait_for_function(f"() => document.querySelector('[data-testid=status]').textContent === '{end}'",
                                    timeout=90_000)
        pages[pk].wait_for_timeout(100)  # one more sample of the recorder
        seen = pages[pk].evaluate("window.__seen")
        assert [status for status, _ in seen][0] == "Approved" and seen[-1][0] == end, seen
        for status, shown in seen:  # every status shown, with exactly the actions allowed then
            assert shown.split() == RITA_ACTIONS[status], (status, shown, seen)
        assert pages[pk].evaluate("window.__sameDocument") is True
    # The checklist came with the push: ticking a task shows who ticked it, again without a reload.
    page.locator("[data-testid=tasks] input[type=checkbox]").first.check()
    page.locator("[data-testid=tasks]").get_by_text("(rita)").wait_for(timeout=15_000)
    assert page.evaluate("window.__sameDocument") is True
    # An auditor watching the failed one sees no button at all: the policy gives auditors no action.
    auditor = page.context.browser.new_context().new_page()
    login(auditor, asgi_server, "audrey")
    auditor.goto(f"{asgi_server}/migrations/{failed.pk}/live/")
    assert auditor.get_by_test_id("status").inner_text() == "Failed"
    assert auditor.locator("[data-action]").evaluate_all("els => els.filter(e => e.checkVisibility()).length") == 0
    auditor.context.close()
