"""Chromium with the Content-Security-Policy enforced: every page each role can reach, the plan wizard's htmx steps
and the Django admin raise no `securitypolicyviolation`, and the live page still updates over its websocket (and,
with the socket cut, through the polling fallback that no longer needs eval)."""

import re
from collections import Counter, deque
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from tests.conftest import login
from tests.engine import conftest as engine_fixtures
from tests.engine.conftest import approved_migration, lpar, server, submitted_migration
from tests.markers import redis_only

fleet, estate = engine_fixtures.fleet, engine_fixtures.estate  # the engine tests' synced demo estate

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Every violation of the document, pushed to Python as it happens (window.__violations dies with each navigation).
WATCH = """window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
    const v = {page: location.pathname, directive: e.effectiveDirective, blocked: e.blockedURI,
               source: e.sourceFile, line: e.lineNumber, sample: e.sample};
    window.__violations.push(v);
    window.__cspViolation(v);
});"""

SKIP_VIEWS = {"logout", "admin:logout", "mobility:history_export", "mobility:batches_export", "csp_report",
              "api:schema"}  # sign-out, downloads
PER_VIEW = 2  # pages visited per URL pattern (partitions, systems, admin rows...): the templates, not the rows


@pytest.fixture
def watched(page):
    """The page with every CSP violation and CSP console error collected in ``page.csp`` from the first request."""
    found = []
    page.context.expose_function("__cspViolation", lambda violation: found.append(violation))
    page.context.add_init_script(WATCH)
    page.on("console", lambda msg: msg.type == "error" and "Content Security Policy" in msg.text
            and found.append({"page": page.url, "console": msg.text}))
    page.csp = found
    return page


def crawl(page, base: str, start: list[str], limit: int = 200) -> Counter:
    """Visit the same-origin pages linked from ``start``, breadth first, at most PER_VIEW per URL pattern."""
    visited, per_view, queue = set(), Counter(), deque(start)
    while queue and len(visited) < limit:
        path = queue.popleft()
        if path in visited:
            continue
        try:
            view = resolve(urlsplit(path).path).view_name
        except Resolver404:
            continue
        if view in SKIP_VIEWS or per_view[view] >= PER_VIEW:
            continue
        visited.add(path)
        response = page.goto(base + path)
        assert response.status < 400, (path, response.status)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        assert "content-security-policy" in response.headers, path  # enforced, not report-only
        per_view[view] += 1
        if page.locator("#swagger-ui").count():  # its violations come once it has rendered, after the load
            page.locator("#swagger-ui .information-container").wait_for()
            page.wait_for_load_state("networkidle")
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(urljoin(page.url, href))
            if f"{url.scheme}://{url.netloc}" == base:
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return per_view


EXPECTED_VIEWS = {
    "rita": {"mobility:inventory", "mobility:plan_new", "mobility:dashboard", "mobility:migrations",
             "mobility:migration_live", "mobility:plan_detail", "mobility:system_detail", "mobility:partition_detail"},
    "alex": {"mobility:approvals", "mobility:approval", "mobility:migration_live", "mobility:plan_detail"},
    "audrey": {"mobility:history", "mobility:audit_log", "mobility:history_stats", "mobility:history_timeline",
               "mobility:migration_live"},
    "adam": {"mobility:consoles", "mobility:console_detail", "mobility:console_register", "admin:index",
             "admin:auth_user_changelist", "admin:auth_user_change", "admin:mobility_migration_changelist",
             "admin:mobility_migration_change"},
}


@pytest.mark.parametrize("username", ["rita", "alex", "audrey", "adam"])
def test_every_page_of_each_role_loads_without_a_csp_violation(estate, personas, asgi_server, watched, username):
    approved_migration(personas, "app01", "ivm1", "ivm2")
    submitted_migration(personas, "db01", "ivm1", "ivm2", ivm_picks_slots=True)
    login(watched, asgi_server, username)
    watched.wait_for_url(re.compile(r"/inventory/$"))
    start = ["/inventory/"] + (["/admin/"] if username == "adam" else [])
    visited = crawl(watched, asgi_server, start)
    assert EXPECTED_VIEWS[username] <= set(visited), sorted(visited)
    assert watched.csp == [], watched.csp


def test_the_plan_wizard_steps_and_inventory_search_swap_in_without_a_csp_violation(estate, personas, asgi_server,
                                                                                   job_worker, watched):
    login(watched, asgi_server, "rita")
    watched.wait_for_url(re.compile(r"/inventory/$"))
    watched.get_by_label("Search partitions").press_sequentially("db0")  # htmx: keyup changed delay
    expect(watched.locator('tr[data-partition="app01"]')).to_have_count(0)
    watched.goto(f"{asgi_server}/plan/new/?partition={lpar('db01').pk}")
    dest = server("ivm2")
    watched.locator(f'li[data-system="{dest.name}"]').get_by_role("link", name=dest.name).click()
    slot = watched.get_by_label("SCSI client slot 3: server slot")
    slot.fill("199")
    slot.press("Tab")  # htmx: the mappings form re-rendered on change
    expect(watched).to_have_url(re.compile(r"slot-scsi-3=199"))
    watched.get_by_role("button", name="Validate with IVM").click()
    expect(watched.get_by_test_id("validation")).to_contain_text("IVM validated the migration", timeout=30_000)
    assert watched.csp == [], watched.csp


def _withdraw_from_elsewhere(migration, personas):
    from mobility.engine.control import withdraw

    withdraw(migration, personas["rita"], "pushed by the CSP test")


@redis_only  # the push crosses from this process to daphne's
def test_the_live_page_updates_over_its_websocket_under_the_policy(estate, personas, asgi_server, watched):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    login(watched, asgi_server, "rita")
    watched.goto(f"{asgi_server}/migrations/{m.pk}/live/")
    watched.evaluate("window.__sameDocument = true")
    expect(watched.get_by_test_id("status")).to_have_text("Approved")
    expect(watched.get_by_test_id("freshness")).to_have_attribute("data-live", "1")  # connect-src 'self' let ws in
    _withdraw_from_elsewhere(m, personas)
    expect(watched.get_by_test_id("status")).to_have_text("Cancelled", timeout=10_000)
    assert watched.evaluate("window.__sameDocument") is True
    assert watched.csp == [], watched.csp


def test_with_the_socket_cut_the_live_page_polls_without_eval(estate, personas, asgi_server, watched):
    m = approved_migration(personas, "app01", "ivm1", "ivm2")
    watched.route_web_socket(re.compile(r"/ws/live/$"), lambda ws: ws.close())  # never reaches the server
    login(watched, asgi_server, "rita")
    polls = []
    watched.on("request", lambda r: r.url.endswith(f"/migrations/{m.pk}/live/state/") and polls.append(r.url))
    watched.goto(f"{asgi_server}/migrations/{m.pk}/live/")
    watched.evaluate("window.__sameDocument = true")
    expect(watched.get_by_test_id("freshness")).to_contain_text("Socket down")
    _withdraw_from_elsewhere(m, personas)
    expect(watched.get_by_test_id("status")).to_have_text("Cancelled", timeout=10_000)
    assert polls and watched.evaluate("window.__sameDocument") is True
    assert watched.csp == [], watched.csp
