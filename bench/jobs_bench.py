"""How long a person waits for an IVM job: "Test connection" and "Sync all" clicked in Chromium, answered by a
worker process and shown over the job's socket, against the same work done inside the request as before (the floor).

    .venv/bin/python bench/jobs_bench.py [--tests 20] [--layer redis|memory] [--pg postgres://…] [--json]

The run: a scratch PostgreSQL database, the demo ivmsim fleet, daphne (``ivmweb.asgi``) and one ``run_engine`` worker
as subprocesses, the fleet registered with pinned keys. Measured, in the same run:
  * floor: the synchronous connection test the console page used to run inside its request (a fresh SSH connection
    and ``lssyscfg -r sys -F name``), and a synchronous ``sync_all`` of the fleet;
  * jobs: from the click to the answer on the page ("Connection ok", every row "Synced:"), and how long the
    "Sync all" request itself took.
``--layer memory`` runs without Redis, as ``make run`` does (the worker polls every 0.1 s; the socket looks at the
row ten times a second).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.simfleet import DEMO_FLEET, SimFleet  # noqa: E402  (the project's one way to start ivmsim)
from tests.workers import Worker  # noqa: E402  (and of starting a worker)

CHROMIUM = "/usr/bin/chromium"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def admin_sql(pg: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{pg.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(sql)


def wait_http(url: str, timeout: float = 30.0) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--tests", type=int, default=20, help="connection tests clicked (and run synchronously)")
    ap.add_argument("--layer", choices=("redis", "memory"), default="redis")
    ap.add_argument("--redis", default="redis://127.0.0.1:6379/11")
    ap.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()

    db_name = f"ivmweb_bench_jobs_{os.getpid()}"
    admin_sql(args.pg, f'CREATE DATABASE "{db_name}"')
    env = {**os.environ, "DATABASE_URL": f"{args.pg.rstrip('/')}/{db_name}", "DEBUG": "1",
           "IVMWEB_LOG_LEVEL": "WARNING", "DJANGO_SETTINGS_MODULE": "ivmweb.settings"}
    env.pop("REDIS_URL", None)
    if args.layer == "redis":
        env["REDIS_URL"] = args.redis
    os.environ.update(env)
    if args.layer == "memory":
        os.environ.pop("REDIS_URL", None)
    procs: list[subprocess.Popen] = []
    worker = None
    logs = tempfile.TemporaryDirectory(prefix="jobs-bench-")
    try:
        import django

        django.setup()
        from django.contrib.auth import get_user_model
        from django.core.management import call_command

        from mobility.inventory import sync_all
        from mobility.inventory.connections import client_for, close_all_clients, discard_client
        from mobility.ivm import commands
        from mobility.management.commands.register_fleet import register_entry

        call_command("migrate", verbosity=0)
        get_user_model().objects.create_superuser("adam", "adam@example.invalid", "pw-adam")
        with SimFleet(DEMO_FLEET, time_scale=20.0, seed=1) as fleet:
            consoles = [register_entry(e)[0] for e in fleet.ivms]
            console = consoles[0]

            # The floor: the work as the request used to do it, in this process.
            floor_test = []
            for _ in range(args.tests):
                discard_client(console)
                started = time.monotonic()
                client_for(console).run(commands.lssyscfg("sys", fields=("name",)), retry_safe=True)
                floor_test.append(time.monotonic() - started)
            close_all_clients()
            started = time.monotonic()
            assert all(r.ok for r in sync_all(consoles))
            floor_sync_all = time.monotonic() - started
            close_all_clients()

            port = free_port()
            log = open(Path(logs.name) / "daphne.log", "w")  # noqa: SIM115 — closed with the directory
            procs.append(subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
                                           "ivmweb.asgi:application"], cwd=REPO, env=os.environ.copy(), stdout=log,
                                          stderr=subprocess.STDOUT))
            # The settings' lease and poll (a memory channel layer wakes no other process: poll faster then).
            worker = Worker("bench", lease=None, poll=0.1 if args.layer == "memory" else None)
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/login/")

            from playwright.sync_api import sync_playwright

            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                page.goto(f"{base}/login/")
                page.get_by_label("User name").fill("adam")
                page.get_by_label("Password").fill("pw-adam")
                page.get_by_role("button", name="Sign in").click()
                page.wait_for_url(lambda url: "/login/" not in url)
                page.goto(f"{base}/consoles/{console.pk}/")
                page.get_by_test_id("test-connection").click()  # one to warm up the worker's imports
                page.locator("#test-panel", has_text="Connection ok").wait_for(timeout=30_000)

                job_test = []
                for _ in range(args.tests):
                    page.goto(f"{base}/consoles/{console.pk}/")
                    started = time.monotonic()
                    page.get_by_test_id("test-connection").click()
                    page.locator("#test-panel", has_text="Connection ok").wait_for(timeout=30_000)
                    job_test.append(time.monotonic() - started)

                page.goto(f"{base}/consoles/")
                started = time.monotonic()
                with page.expect_response(f"{base}/consoles/sync/"):
                    page.get_by_test_id("sync-all").click()
                sync_all_request = time.monotonic() - started
                page.wait_for_function("(n) => document.querySelectorAll("
                                       "'[data-testid^=sync-status-][data-job-status=done]').length === n",
                                       arg=len(consoles), timeout=60_000)
                job_sync_all = time.monotonic() - started
                browser.close()
            from mobility.models import IVMJob

            tests = list(IVMJob.objects.filter(kind="test").order_by("pk"))[1:]  # the warm-up one left out
            waited = [(j.started_at - j.created_at).total_seconds() for j in tests]
            ran = [(j.finished_at - j.started_at).total_seconds() for j in tests]
    finally:
        if worker is not None:
            worker.stop()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
        from django.db import connections

        connections.close_all()
        admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        logs.cleanup()

    figures = {
        "layer": args.layer, "tests": args.tests, "ivms": len(consoles),
        "floor_test_p50_ms": round(statistics.median(floor_test) * 1000, 1),
        "floor_test_p95_ms": round(pct(floor_test, 95) * 1000, 1),
        "job_test_p50_ms": round(statistics.median(job_test) * 1000, 1),
        "job_test_p95_ms": round(pct(job_test, 95) * 1000, 1),
        "floor_sync_all_ms": round(floor_sync_all * 1000, 1),
        "job_sync_all_request_ms": round(sync_all_request * 1000, 1),
        "job_test_ms": [round(t * 1000) for t in job_test],
        "job_test_queued_p50_ms": round(statistics.median(waited) * 1000, 1),
        "job_test_queued_p95_ms": round(pct(waited, 95) * 1000, 1),
        "job_test_run_p50_ms": round(statistics.median(ran) * 1000, 1),
        "job_test_run_p95_ms": round(pct(ran, 95) * 1000, 1),
        "job_sync_all_done_ms": round(job_sync_all * 1000, 1),
    }
    if args.json:
        print(json.dumps(figures, indent=2))
    else:
        print(f"layer {figures['layer']}, {figures['tests']} connection tests, {figures['ivms']} IVMs")
        print(f"connection test, inside the request (floor): p50 {figures['floor_test_p50_ms']} ms, "
              f"p95 {figures['floor_test_p95_ms']} ms")
        print(f"connection test, click to answer via a job:  p50 {figures['job_test_p50_ms']} ms, "
              f"p95 {figures['job_test_p95_ms']} ms")
        print(f"sync all, inside the request (floor): {figures['floor_sync_all_ms']} ms; via jobs: request "
              f"{figures['job_sync_all_request_ms']} ms, click to every row synced {figures['job_sync_all_done_ms']} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
