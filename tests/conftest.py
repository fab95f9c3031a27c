"""Shared fixtures: personas, the live ASGI server (daphne) and Chromium through Playwright."""

import os
import shutil
import time
import warnings
from functools import partial

import pytest
from django.conf import settings

# Fast password hashing for the test personas (set before the live server forks, so it agrees).
settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _flush_as_administrator():
    """The audit trail refuses TRUNCATE (a statement trigger); the test database is flushed as an administrator
    would, with triggers off for that one transaction (``session_replication_role``: a superuser's right)."""
    from django.db.backends.postgresql.operations import DatabaseOperations

    execute_sql_flush = DatabaseOperations.execute_sql_flush

    def flush(self, sql_list):
        execute_sql_flush(self, ["SET LOCAL session_replication_role = replica", *sql_list])

    DatabaseOperations.execute_sql_flush = flush


if settings.DATABASE_VENDOR == "postgresql":
    _flush_as_administrator()


@pytest.fixture(autouse=True)
def audit_checkpoint_file(tmp_path, settings, monkeypatch):
    """Each test's own checkpoint file (worker subprocesses read it from the environment): a file outside the
    database outlives the test's database, whose chain it would no longer match."""
    path = tmp_path / "audit-checkpoints.jsonl"
    settings.IVMWEB_AUDIT_CHECKPOINT_FILE = path
    monkeypatch.setenv("IVMWEB_AUDIT_CHECKPOINT_FILE", str(path))
    return path

@pytest.fixture(autouse=True)
def fresh_channel_layer(request):
    """An async test runs on an event loop of its own (pytest-asyncio), but the process-wide channel layer keeps
    the asyncio locks of its receives bound to the loop that first used them: one held by an earlier test's
    cancelled receive fails every later receive on that layer ("bound to a different event loop"), depending on
    which tests ran before in the process. Each async test gets its own layer, as each server process has."""
    if request.node.get_closest_marker("asyncio"):
        from channels.layers import channel_layers

        channel_layers.backends.clear()


@pytest.fixture(autouse=True)
def async_test_gives_back_its_connection(request):
    """An async test's ORM calls (``sync_to_async``) and its consumers' (``database_sync_to_async``) run on asgiref's
    one thread-sensitive thread, which outlives the test and keeps its connection open: Channels' communicators make
    the consumers' closing of it a no-op (``channels.testing.application``), and a plain ``sync_to_async`` never
    closed it. That connection stayed checked out of the pool, and held the test database, until the process ended.
    Closed on that thread once the test is over (after what it still runs)."""
    yield
    if request.node.get_closest_marker("asyncio"):
        from asgiref.sync import SyncToAsync
        from django.db import connections

        SyncToAsync.single_thread_executor.submit(connections.close_all).result(timeout=30)


@pytest.fixture(scope="module", autouse=True)
def fresh_connection_pool(request, django_db_blocker):
    """After each test file, this process's connection pool is closed (a new one opens on the next query). A
    connection a test's thread never gave back stays checked out of the pool (max 10) for good: in one process these
    added up over many files until a test waited 30 s for a connection and failed. One test process used to run
    every file, and the live-server fixture's pool reset before each fork cleared them by chance; with three
    processes that reset comes rarely. A file that leaves connections out is named in a warning."""
    yield
    from django.db import connections

    with django_db_blocker.unblock():
        connections.close_all()  # this thread's
        for conn in connections.all():
            pool = getattr(type(conn), "_connection_pools", {}).get(conn.alias)
            if pool is None:
                continue
            out = _checked_out(pool)
            if out > 0:
                warnings.warn(f"{request.node.nodeid}: {out} database connection(s) still checked out of the pool "
                              "by other threads at the end of the file", stacklevel=1)
            conn.close_pool()


def _checked_out(pool, grace_s: float = 5.0) -> int:
    """Connections the pool handed out that are not back, once a thread still using one has had ``grace_s`` to give
    it back: the audit sealer's turn, woken by the file's last commit, holds one for a moment (counted as left out,
    and its pool closed under it, the sealer then gave its connection back through a new pool). A pool that never
    opened has handed out nothing, though its statistics count its minimum size: a thread's close() after the pool
    was closed makes one (Django's ``pool`` property creates the pool a connection is returned through)."""
    deadline = time.monotonic() + grace_s
    while not pool.closed:
        stats = pool.get_stats()
        out = stats.get("pool_size", 0) - stats.get("pool_available", 0)
        if out <= 0 or time.monotonic() > deadline:
            return max(out, 0)
        time.sleep(0.05)
    return 0


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-gpu",
]


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    layer = settings.CHANNEL_LAYERS["default"]
    where = layer.get("CONFIG", {}).get("hosts", [{}])[0]
    where = where.get("address", where) if isinstance(where, dict) else where
    return [
        f"ivmweb database: {settings.DATABASE_VENDOR} ({db.get('HOST') or db['NAME']})",
        f"ivmweb channel layer: {settings.CHANNEL_LAYER_NAME}" + (f" ({where})" if where else ""),
        f"ivmweb browser: {CHROMIUM if shutil.which(CHROMIUM) else 'chromium missing'}",
    ]


# --- personas -----------------------------------------------------------------------------------

@pytest.fixture
def personas(db):
    """The demo people (rita requester and alex approver in Payments, omar requester in Analytics,
    audrey auditor, adam admin), all with the password 'pw-<username>'."""
    from django.contrib.auth.models import User

    from mobility.demo import ensure_personas

    ensure_personas()
    users = {}
    for user in User.objects.all():
        user.set_password(f"pw-{user.username}")
        user.save()
        users[user.username] = user
    return users


@pytest.fixture
def requester(personas):
    return personas["rita"]


@pytest.fixture
def approver(personas):
    return personas["alex"]


@pytest.fixture
def auditor(personas):
    return personas["audrey"]


@pytest.fixture
def admin_user(personas):
    return personas["adam"]


# --- live ASGI server -----------------------------------------------------------------------------

def _forget_the_parents_async_state():
    """In the forked daphne child, before it serves: drop async machinery inherited from the pytest process.

    Once an async test has run here, asgiref's ``SyncToAsync.single_thread_executor`` has a worker thread and
    counts it idle; the fork copies that count but not the thread, so in the child every thread-sensitive
    ``sync_to_async`` outside a request context (Channels' AuthMiddleware loading the user of a websocket)
    queues forever and daphne resets the handshake after 5 s: no live socket at all (the live page hid it by
    polling; the dashboard never updated). The channel layer likewise shares the parent's client prefix, receive
    buffers and locks: the child builds its own."""
    from concurrent.futures import ThreadPoolExecutor

    from asgiref.sync import SyncToAsync
    from channels.layers import channel_layers

    SyncToAsync.single_thread_executor = ThreadPoolExecutor(max_workers=1)
    channel_layers.backends.clear()


@pytest.fixture(scope="module")
def asgi_server(django_db_setup, django_db_blocker):
    """Daphne in a child process serving HTTP and websockets against the test database."""
    from channels.testing.live import make_application
    from daphne.testing import DaphneProcess
    from django.contrib.staticfiles.handlers import ASGIStaticFilesHandler
    from django.db import connections

    from mobility.inventory.connections import close_all_clients

    # The child is forked: it inherits settings already pointing at the test database. Close our
    # connections first so that no socket is shared, and fork unblocked so the child may use the DB.
    process = DaphneProcess("127.0.0.1", partial(make_application, static_wrapper=ASGIStaticFilesHandler),
                            setup=_forget_the_parents_async_state)
    with django_db_blocker.unblock():
        connections.close_all()
        for conn in connections.all():  # a pool's threads do not survive a fork: each side opens its own
            if getattr(conn, "pool", None) is not None:
                conn.close_pool()
        close_all_clients()  # waits for their transport threads: none may be mid-packet (in OpenSSL) at the fork
        process.start()
    try:
        if not process.ready.wait(timeout=30):
            raise RuntimeError("daphne did not start within 30 s")
        yield f"http://127.0.0.1:{process.port.value}"
    finally:
        _end(process)


def _end(process) -> None:
    """Stop a forked server and wait for it; killed if it does not stop: one left behind keeps its connections to
    this process's test database, which the next run cannot then drop."""
    process.terminate()
    process.join(timeout=10)
    if process.is_alive():
        process.kill()
        process.join(timeout=10)


@pytest.fixture(scope="module")
def job_worker(django_db_setup, django_db_blocker):
    """A worker process for the pages' IVM jobs only (``run_engine --jobs-only``), against the test database."""
    from tests.workers import Worker

    with django_db_blocker.unblock():
        worker = Worker("page-jobs", jobs_only=True, env={"IVMWEB_JOB_TIMEOUT_S": "5"})
    try:
        yield worker
        print("--- page-jobs worker (last 30 lines) ---", *worker.output().splitlines()[-30:], sep="\n")
    finally:
        worker.stop()


# --- Chromium -------------------------------------------------------------------------------------

def pytest_collection_modifyitems(config, items):
    """Browser tests last: Playwright's sync API holds an event loop that async tests must not meet."""
    items.sort(key=lambda item: item.get_closest_marker("browser") is not None)


@pytest.fixture(scope="module")
def chromium():
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (scripts/ensure-chromium)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are
    # still plain synchronous code. Only for this module: the async tests after it keep Django's check.
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            yield browser
            browser.close()
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page(chromium):
    context = chromium.new_context()
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    context.close()


def login(page, base_url: str, username: str, password: str | None = None):
    """Sign in through the login form, as a person would."""
    page.goto(f"{base_url}/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(password or f"pw-{username}")
    page.get_by_role("button", name="Sign in").click()
