"""The push delay of `make run`'s default (SQLite, the in-memory channel layer, the engine inside daphne) from an
event's commit to a browser's page, against the Redis topology (the same `make run` with REDIS_URL: the engine a
``run_engine`` worker of its own, pushes through Redis) measured in the same run.

    .venv/bin/python bench/embedded_push.py [--migrations 3] [--time-scale 20] [--redis redis://127.0.0.1:6379/9]
        [--json]

For each topology: ``scripts/run-demo`` itself in a throw-away data folder (``tests/embedded.py``), ``--migrations``
migrations of the demo fleet planned, validated and submitted by rita, then one after the other: Chromium opens the
migration's live page (its socket live), alex approves it, and the page is followed to "Completed". Delay of an
event = the time its row first appeared on the page (a MutationObserver, ``Date.now()``) minus the event row's
``at`` (same host clock; ``at`` is set before the rest of the transaction and the commit, so the figure overstates
the commit-to-page delay by that much). Every step, status and progress event the engine wrote counts (not the
approval, written by another process). Exit 1 if an event never reached the page.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivmweb.settings")
os.environ.setdefault("DEBUG", "1")  # the demo's development defaults, as `make run` sets them

ROUTES = [("db01", "ivm1", "ivm2"), ("app01", "ivm1", "ivm2"), ("app02", "ivm1", "ivm2"), ("web01", "ivm1", "ivm2")]
RECORD_EVENTS = """(migration) => { window.__seen = {}; new MutationObserver(() => {
    document.querySelectorAll(`#live-events-${migration} [data-seq]`).forEach(row => {
        if (!(row.dataset.seq in window.__seen)) window.__seen[row.dataset.seq] = Date.now() / 1000; });
    }).observe(document.body, {childList: true, subtree: true}); }"""
EVENTS = """
import json
from mobility.models import MigrationEvent
print("EVENTS", json.dumps([[e.seq, e.kind, e.at.timestamp(), e.payload.get("status")] for e in
                            MigrationEvent.objects.filter(migration_id={pk}).order_by("seq")]))
"""


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]  # nearest rank


def measure(browser, topology: str, args) -> dict:
    from tests.conftest import login
    from tests.embedded import EmbeddedDemo

    started = time.monotonic()
    with EmbeddedDemo(time_scale=args.time_scale, redis_url=args.redis if topology == "redis" else None) as demo:
        ids = demo.submitted(*[ROUTES[i % len(ROUTES)] for i in range(args.migrations)])
        context = browser.new_context()
        page = context.new_page()
        page.set_default_timeout(30_000)
        login(page, demo.url, "rita", "pw-rita")
        delays, by_kind, missing = [], {}, 0
        for pk in ids:
            page.goto(f"{demo.url}/migrations/{pk}/live/")
            page.wait_for_function("() => document.getElementById('freshness').dataset.live === '1'")
            page.evaluate(RECORD_EVENTS, pk)
            demo.approve(pk)
            page.wait_for_function("() => document.querySelector('[data-testid=status]').textContent === "
                                   "'Completed'", timeout=180_000)
            page.wait_for_timeout(300)  # the last rows' observer callbacks
            seen = page.evaluate("window.__seen")
            events = json.loads(demo.printed(EVENTS.format(pk=pk), "EVENTS"))
            for seq, kind, at, status in events:
                if kind not in ("step", "status", "progress") or status == "approved" or seq == 0:
                    continue
                if str(seq) not in seen:
                    missing += 1
                    continue
                delay_ms = (seen[str(seq)] - at) * 1000
                delays.append(delay_ms)
                by_kind.setdefault(kind, []).append(delay_ms)
        context.close()
    figures = {"topology": topology, "migrations": len(ids), "events": len(delays), "missing": missing,
               "run_s": round(time.monotonic() - started, 1)}
    if delays:
        figures |= {"p50_ms": round(statistics.median(delays), 1), "p95_ms": round(_pct(delays, 95), 1),
                    "max_ms": round(max(delays), 1),
                    "by_kind": {k: {"n": len(v), "p50_ms": round(statistics.median(v), 1),
                                    "p95_ms": round(_pct(v, 95), 1)} for k, v in sorted(by_kind.items())}}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrations", type=int, default=3, help="migrations followed in each topology, in turn")
    parser.add_argument("--time-scale", type=float, default=20.0, help="ivmsim's (make run's default: 20)")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/9", help="the baseline's REDIS_URL")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from tests.conftest import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        results = [measure(browser, topology, args) for topology in ("embedded", "redis")]
        browser.close()
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(f"{'topology':10} {'events':>6} {'missing':>7} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'run s':>6}")
        for r in results:
            print(f"{r['topology']:10} {r['events']:>6} {r['missing']:>7} {r.get('p50_ms', '-'):>8} "
                  f"{r.get('p95_ms', '-'):>8} {r.get('max_ms', '-'):>8} {r['run_s']:>6}")
            for kind, k in r.get("by_kind", {}).items():
                print(f"  {kind:8} n={k['n']:<4} p50 {k['p50_ms']} ms, p95 {k['p95_ms']} ms")
    return 1 if any(r["missing"] or not r["events"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
