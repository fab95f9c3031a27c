"""`make run`'s defaults (SQLite, the in-memory channel layer, the engine inside daphne: ``scripts/run-demo`` itself)
through Chromium: each step reaches the live page within a second of its commit, the page explains what it shows (the
steps the mode skips, the final figures, the suspend window on a chart with axes, events in words), the dashboard
follows a migration from its start to its end, and Ctrl-C hands a running migration over before everything stops.
One walk for all of it: starting run-demo costs half a minute."""

import json
import time

import pytest

from tests.conftest import login
from tests.embedded import EmbeddedDemo

pytestmark = [pytest.mark.browser]

# When each event row first appeared on the page (epoch seconds), by seq: the htmx ws extension appends them.
RECORD_EVENTS = """(migration) => { window.__seen = {}; new MutationObserver(() => {
    document.querySelectorAll(`#live-events-${migration} [data-seq]`).forEach(row => {
        if (!(row.dataset.seq in window.__seen)) window.__seen[row.dataset.seq] = Date.now() / 1000; });
    }).observe(document.body, {childList: true, subtree: true}); }"""
# The dashboard's rows as they change: [ids shown, the migration's status and percent cells].
RECORD_DASHBOARD = """(migration) => { window.__rows = []; setInterval(() => {
    const ids = [...document.querySelectorAll('#dashboard-rows tr[id]')].map(r => r.id).join(' ');
    const status = document.querySelector(`#dash-${migration} [data-testid=dash-status]`);
    const pct = document.querySelector(`#dash-${migration}-pct`);
    const now = [ids, status ? status.textContent : null, pct ? parseFloat(pct.textContent) : null];
    if (JSON.stringify(window.__rows.at(-1)) !== JSON.stringify(now)) window.__rows.push(now);
    }, 20); }"""
EVENTS = """
import json
from mobility.models import MigrationEvent
print("EVENTS", json.dumps([[e.seq, e.kind, e.at.timestamp(), e.payload.get("status")] for e in
                            MigrationEvent.objects.filter(migration_id={pk}).order_by("seq")]))
"""
CLAIM = """
from mobility.models import Migration
m = Migration.objects.get(pk={pk})
print("CLAIM", m.status, repr(m.claimed_by), m.lease_until)
"""


def test_make_runs_defaults_push_every_step_at_once_and_ctrl_c_hands_over(chromium):
    with EmbeddedDemo() as demo:
        first, second = demo.submitted(("db01", "ivm1", "ivm2"), ("app01", "ivm1", "ivm2"))
        context = chromium.new_context()
        dashboard, live = context.new_page(), context.new_page()
        for page in (dashboard, live):
            page.set_default_timeout(15_000)
        login(dashboard, demo.url, "rita")
        dashboard.goto(f"{demo.url}/dashboard/")
        dashboard.get_by_text("Nothing running or queued.").wait_for()
        dashboard.evaluate(RECORD_DASHBOARD, first)
        live.goto(f"{demo.url}/migrations/{first}/live/")
        live.wait_for_function("() => document.getElementById('freshness').dataset.live === '1'")
        live.evaluate(RECORD_EVENTS, first)

        demo.approve(first)
        live.wait_for_function("() => document.querySelector('[data-testid=status]').textContent === 'Completed'",
                               timeout=90_000)
        dashboard.locator(f"#dash-{first}").wait_for(state="detached", timeout=15_000)
        dashboard.get_by_text("Nothing running or queued.").wait_for()

        # Every step and status change the engine made reached the page within a second of its row's time (set
        # before the commit). The approval was another process's: its push went nowhere, the page read it later.
        events = json.loads(demo.printed(EVENTS.format(pk=first), "EVENTS"))
        engine_events = [e for e in events if e[1] in ("step", "status") and e[3] != "approved"]
        seen = live.evaluate("window.__seen")
        delays = {seq: round(seen[str(seq)] - at, 3) for seq, _, at, _ in engine_events if str(seq) in seen}
        assert len(delays) == len(engine_events) >= 12, (delays, engine_events)
        assert max(delays.values()) < 1.0, delays  # (the database watch alone repairs every 2 s)

        # The page explains what it shows: the steps an active move skips, the final figures labelled as such, the
        # suspend window (measured, or a bound said to be one) on a chart with axes, every event in words.
        for number in (2, 10):
            assert "Not applicable" in live.locator(f'.step[data-step="{number}"][data-status="not-applicable"]'
                                                    ).inner_text()
        assert live.get_by_test_id("figures-frozen").inner_text().startswith("Completed: the final figures")
        assert live.get_by_test_id("eta").count() == 0 and "converging" not in live.get_by_test_id("figures").inner_text()
        assert live.get_by_test_id("suspend-window").inner_text().startswith("suspend window ")
        assert live.get_by_test_id("chart").locator("text").count() >= 8  # tick labels on both axes and their units
        assert live.get_by_test_id("chart-suspend").count() == 1
        log = live.locator(f"#live-events-{first}").inner_text()
        assert "{'" not in log and "VIOSI01040010" not in log and "Step 6 (Move the partition state)" in log
        assert live.locator('[aria-live="polite"]').count() >= 2  # the status and the figures

        # The dashboard: the row came with the start, moved forward, and left at the end (the table then empty).
        rows = dashboard.evaluate("window.__rows")
        shown = [r for r in rows if r[1] is not None]
        assert shown and shown[0][1] in ("Approved", "Running") and "Running" in {r[1] for r in shown}, rows
        percents = [r[2] for r in shown if r[2] is not None]
        assert len(set(percents)) >= 3 and percents == sorted(percents), rows
        assert rows[-1][0] == "" and rows.index(shown[-1]) == len(rows) - 2, rows

        # Ctrl-C mid-transfer: the engine hands the migration over (lease released) before the demo exits.
        demo.approve(second)
        deadline = time.monotonic() + 60
        while (claim := demo.printed(CLAIM.format(pk=second), "CLAIM").split())[0] == "approved":
            assert time.monotonic() < deadline, claim
            time.sleep(0.2)
        assert claim[0] == "running" and claim[1] != "''", claim  # under way, driven by the engine in daphne
        assert demo.ctrl_c_web() < 20
        assert "stopping the engine: handing its migrations over" in demo.output()
        assert demo.printed(CLAIM.format(pk=second), "CLAIM").split() == ["running", "''", "None"]
