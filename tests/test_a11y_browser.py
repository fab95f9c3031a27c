"""Any screen, any person: Chromium walks every page each role reaches (requester, approver, auditor, admin) once at
1400×900 and once at 390×844; no page is wider than the window, and axe-core (tests/vendor/axe-core, injected by the
test, never served) finds no serious or critical violation. On the way the auditor filters the history and checks
that both exports hold exactly the rows the filtered page shows.

One walk per viewport: while the requester's, approver's and admin's pages are visited the engine runs a real
migration over SSH on ivmsim, so the auditor then reads a finished one (steps, commands, suspend window)."""

import csv
import io
import json
import re
from collections import Counter, deque
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
from django.urls import Resolver404, resolve
from playwright.sync_api import expect

from tests.conftest import login
from tests.engine.conftest import approved_migration, estate, status_of, submitted_migration, wait_for  # noqa: F401
from tests.simfleet import DEMO_FLEET, SimFleet

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

AXE = next(Path(__file__).with_name("vendor").joinpath("axe-core").glob("axe-*.min.js")).read_text()
# The phone also reads in the dark colour scheme (prefers-color-scheme), so that axe checks the dark palette's contrast.
VIEWPORTS = {"desktop": ({"width": 1400, "height": 900}, "light"), "phone": ({"width": 390, "height": 844}, "dark")}
# Sign-out, downloads, the API's machine pages: not pages a person reads.
SKIP_VIEWS = {"logout", "admin:logout", "mobility:history_export", "mobility:batches_export", "csp_report",
              "api:schema", "admin:jsi18n", "django.views.generic.base.RedirectView"}
# Django's admin is dozens of pages from a handful of templates: these stand for them all.
ADMIN_VIEWS = {"admin:index", "admin:mobility_migration_changelist", "admin:mobility_migration_change"}
ROLES = {  # who, and where the walk starts
    "rita": ["/inventory/"],
    "alex": ["/approvals/"],
    "adam": ["/consoles/", "/admin/"],
    "audrey": ["/history/"],
}
# Every template should be seen at least once; the walk fails if one of these was never reached.
EXPECTED_VIEWS = {
    "rita": {"mobility:inventory", "mobility:plan_new", "mobility:dashboard", "mobility:migrations",
             "mobility:migration_live", "mobility:plan_detail", "mobility:system_detail", "mobility:partition_detail",
             "mobility:api_tokens", "mobility:batches"},
    "alex": {"mobility:approvals", "mobility:approval", "mobility:plan_detail"},
    "adam": {"mobility:consoles", "mobility:console_detail", "mobility:console_register", *ADMIN_VIEWS},
    "audrey": {"mobility:history", "mobility:audit_log", "mobility:history_stats", "mobility:history_timeline"},
}
# At the phone's width the DOM is the desktop's (the stylesheet alone adapts): axe's rules about markup (names,
# labels, ARIA, landmarks) answer the same, so only those whose answer depends on layout run again there.
LAYOUT_RULES = ["color-contrast", "target-size", "scrollable-region-focusable", "meta-viewport", "css-orientation-lock"]
# Django's own admin markup and stylesheet (not our templates): the filter_horizontal widget's help icon is a
# <span aria-label>, the change form's inline tables scroll in a .wrapper without a focusable element, and on a phone
# the changelist's filter links are 20 px tall. Django's to fix; the admin's other rules still count.
DJANGO_ADMIN_KNOWN = {("aria-prohibited-attr", ".help-tooltip"), ("scrollable-region-focusable", ".wrapper"),
                      ("target-size", "details[data-filter-title")}
# What is measured on every page: the overflow, and axe's serious and critical findings (rule, target, summary).
# An overflow names the innermost elements that stick out, to say where to look; a header link or button outside
# the bar's box has fallen off it.
CHECK = """async (rules) => {
    const width = {scroll: document.documentElement.scrollWidth, window: window.innerWidth};
    if (width.scroll > width.window) {
        const out = [...document.body.querySelectorAll("*")].filter(e => e.getBoundingClientRect().right > innerWidth
            && ![...e.children].some(c => c.getBoundingClientRect().right > innerWidth));
        width.culprits = out.slice(0, 4).map(e => e.tagName + "." + e.className + " " + e.textContent.slice(0, 40));
    }
    const bar = document.querySelector(".topbar")?.getBoundingClientRect();  // ours, not the admin's
    width.offBar = !bar ? [] : [...document.querySelectorAll(".topbar a, .topbar button")].filter(e => {
        const r = e.getBoundingClientRect();
        return r.left < bar.left || r.right > bar.right || r.top < bar.top || r.bottom > bar.bottom;
    }).map(e => e.textContent.trim());
    const only = rules ? {runOnly: {type: "rule", values: rules}} : {};
    const result = await axe.run(document, {resultTypes: ["violations"], ...only});
    const bad = result.violations.filter(v => v.impact === "serious" || v.impact === "critical");
    return {width, violations: bad.map(v => ({rule: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.slice(0, 3).map(n => n.target.join(" ") + " — " + n.failureSummary.split("\\n")[1])}))};
}"""


@pytest.fixture(scope="module")
def fleet():
    """The demo fleet, fast enough that a migration ends while the other roles' pages are walked."""
    with SimFleet(DEMO_FLEET, time_scale=50.0, seed=1) as sim:
        yield sim


@pytest.fixture
def running(estate, personas):  # noqa: F811
    """A migration the engine (in this process) runs to its end; others waiting for approval and approved."""
    from mobility.engine.config import EngineConfig
    from mobility.engine.worker import Engine

    submitted_migration(personas, "db01", "ivm1", "ivm2", ivm_picks_slots=True)
    moving = approved_migration(personas, "app01", "ivm1", "ivm2", ivm_picks_slots=True)
    engine = Engine(worker_id="a11y", cfg=EngineConfig(lease_s=5.0, poll_s=0.2, threads=2)).start()
    yield moving
    engine.stop(timeout=15)


def _known(path: str, violation: dict) -> bool:
    return urlsplit(path).path.startswith("/admin/") and any(
        violation["rule"] == rule and any(where in node for node in violation["nodes"])
        for rule, where in DJANGO_ADMIN_KNOWN)


def _check(page, problems: list, path: str):
    width = page.viewport_size["width"]
    found = page.evaluate(CHECK, None if width >= 1000 else LAYOUT_RULES)
    if found["width"]["scroll"] > found["width"]["window"]:
        problems.append((f"{width}px {path}", "overflow", found["width"]))
    if found["width"]["offBar"]:
        problems.append((f"{width}px {path}", "off the header bar", found["width"]["offBar"]))
    problems.extend((f"{width}px {path}", v["rule"], v["impact"], v["help"], v["nodes"])
                    for v in found["violations"] if not _known(path, v))


def walk(page, base: str, start: list[str], problems: list, checked: set) -> Counter:
    """Visit the same-origin pages linked from ``start``, breadth first, one per URL pattern, checking each; a
    pattern already ``checked`` at this viewport (by another role) is not visited again."""
    visited, per_view, queue = set(), Counter(), deque(start)
    while queue:
        path = queue.popleft()
        if path in visited:
            continue
        try:
            view = resolve(urlsplit(path).path).view_name
        except Resolver404:
            continue
        if (view in SKIP_VIEWS or view in checked or per_view[view]
                or (view.startswith("admin:") and view not in ADMIN_VIEWS)):
            continue
        visited.add(path)
        response = page.goto(base + path)
        assert response.status < 400, (path, response.status)
        if "text/html" not in response.headers.get("content-type", ""):
            continue
        per_view[view] += 1
        checked.add(view)
        _check(page, problems, path)
        for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
            url = urlsplit(urljoin(page.url, href))
            if f"{url.scheme}://{url.netloc}" == base:
                queue.append(url.path + (f"?{url.query}" if url.query else ""))
    return per_view


def _exports_hold_what_the_filter_shows(page, base: str, problems: list, status: str):
    """Filter the history (htmx swaps the results), then download both exports through their links."""
    page.goto(f"{base}/history/")
    page.locator("select[name=status]").select_option(status)
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(rf"status={status}"))
    _check(page, problems, page.url)
    shown = page.get_by_test_id("history-table").locator("tbody tr td:first-child a").all_inner_texts()
    assert shown, f"the filter {status} shows no row"
    as_csv = page.request.get(page.get_by_test_id("export-csv").evaluate("a => a.href")).text()
    as_json = page.request.get(page.get_by_test_id("export-json").evaluate("a => a.href")).json()
    assert [row["id"] for row in csv.DictReader(io.StringIO(as_csv))] == shown
    assert [str(row["id"]) for row in as_json] == shown
    assert all(row["status"] == status for row in as_json), json.dumps(as_json)[:300]


def _the_finished_migration_reads_well(page, base: str, migration):
    """Its history row says how long in words; its timeline shows each of its audit events once, sealed, and no
    raw timedelta or Python dict anywhere."""
    from mobility.governance.history import audit_events_about

    page.goto(f"{base}/history/?partition={migration.partition.name}")
    row = page.get_by_test_id("history-table").locator("tbody tr").filter(
        has=page.get_by_role("link", name=str(migration.pk), exact=True))
    duration = row.locator("td").nth(10).inner_text()
    assert re.fullmatch(r"\d+(\.\d)? s|\d+ min \d\d s", duration), duration
    page.goto(f"{base}/history/migrations/{migration.pk}/")
    lines = page.get_by_test_id("timeline").locator("li[data-event]")
    shown = [int(n) for n in lines.evaluate_all("els => els.map(e => e.dataset.event)")]
    assert shown == sorted(set(shown))  # one line per event
    assert set(shown) == set(audit_events_about(migration).values_list("pk", flat=True))
    text = page.locator("main").inner_text()
    assert not re.search(r"\b\d:\d\d:\d\d\.\d|\{'", text), text[:2000]  # str(timedelta), str(dict)


def test_every_page_of_every_role_fits_a_phone_and_a_desktop_and_passes_axe(running, chromium, asgi_server):
    problems, seen = [], {}
    for viewport, (size, scheme) in VIEWPORTS.items():
        checked = set()
        for username, start in ROLES.items():
            if username == "audrey":  # the auditor reads the finished migration
                wait_for(lambda: status_of(running.pk) in ("completed", "failed", "stopped"), timeout=90,
                         what="the migration to finish")
            context = chromium.new_context(viewport=size, color_scheme=scheme)
            context.add_init_script(AXE)  # by the debugging protocol: the pages' CSP (no inline script) allows it
            page = context.new_page()
            page.set_default_timeout(15_000)
            if username == "rita":  # the sign-in page, once per viewport
                page.goto(f"{asgi_server}/login/")
                _check(page, problems, "/login/")
            login(page, asgi_server, username)
            page.wait_for_url(lambda url: "/login/" not in url)
            seen[(viewport, username)] = walk(page, asgi_server, start, problems, checked)
            if username == "audrey":
                _exports_hold_what_the_filter_shows(page, asgi_server, problems, "completed")
                if viewport == "desktop":
                    _the_finished_migration_reads_well(page, asgi_server, running)
            context.close()
    for viewport in VIEWPORTS:
        views = set().union(*(found for (where, _), found in seen.items() if where == viewport))
        assert set().union(*EXPECTED_VIEWS.values()) <= views, (viewport, sorted(views))
    assert status_of(running.pk) == "completed"
    assert problems == [], "\n".join(map(str, problems))
