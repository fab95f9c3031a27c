"""The readiness checks behind ``/readyz``: each answers ``{"ok": bool, ...}`` with figures, never an address, a
name or an error's text (a probe's answer may travel further than its caller).

* ``database``: a new connection (a 2 s connect timeout, outside the pool, whose wait for a connection is 30 s)
  and ``SELECT 1``;
* ``channel_layer``: a message sent to a fresh channel and received back (Redis in production), within 2 s;
* ``workers``: the newest engine worker heartbeat is within that worker's lease (``WorkerHeartbeat``);
* ``migrations``: no migration being driven has gone more than a lease without a live lease (nobody took it over).
"""

import asyncio
import logging
import time
import uuid
from datetime import timedelta

import psycopg
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.db import connection
from django.utils import timezone

from mobility.models import WorkerHeartbeat
from mobility.observability.scrape import orphaned

TIMEOUT_S = 2.0
logger = logging.getLogger("mobility.observability")


def _failed(exc: BaseException) -> dict:
    return {"ok": False, "error": type(exc).__name__}  # the class only: messages name hosts and ports


def database() -> dict:
    started = time.monotonic()
    try:
        if connection.vendor == "postgresql":
            params = connection.get_connection_params()
            params.pop("pool", None)  # (not a connection argument)
            with psycopg.connect(**{**params, "connect_timeout": int(TIMEOUT_S)}, autocommit=True) as conn:
                conn.execute("SELECT 1")
        else:  # SQLite (development): this thread's own connection, closed again
            try:
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            finally:
                connection.close()
    except Exception as exc:  # noqa: BLE001 — any failure is "not ready"
        return _failed(exc)
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def engine() -> tuple[dict, dict]:
    """The workers' heartbeats and the migrations left without a live lease (run once the database answered)."""
    now = timezone.now()
    beats = list(WorkerHeartbeat.objects.filter(beat_at__gte=now - timedelta(days=1)).order_by("-beat_at")
                 .values_list("beat_at", "lease_s"))
    alive = sum(1 for at, lease in beats if (now - at).total_seconds() <= lease)
    workers = {"ok": alive > 0, "alive": alive}
    if beats:
        workers["newest_age_s"] = round((now - beats[0][0]).total_seconds(), 1)
        workers["lease_s"] = beats[0][1]
    without = orphaned(now).count()
    return workers, {"ok": without == 0, "without_live_lease": without}


async def channel_layer() -> dict:
    started = time.monotonic()
    layer = get_channel_layer()
    name = f"ivmweb-readyz.{uuid.uuid4().hex}"
    try:
        await asyncio.wait_for(layer.send(name, {"type": "readyz.ping"}), TIMEOUT_S)
        message = await asyncio.wait_for(layer.receive(name), TIMEOUT_S)
    except Exception as exc:  # noqa: BLE001 — TimeoutError, a refused connection...: not ready
        return _failed(exc)
    if message.get("type") != "readyz.ping":
        return {"ok": False, "error": "unexpected message"}
    return {"ok": True, "ms": round((time.monotonic() - started) * 1000, 1)}


def _engine_checks() -> tuple[dict, dict]:
    try:
        return engine()
    except Exception as exc:  # noqa: BLE001 — the pool gave up, a table is missing (migrations pending)...
        logger.warning("readiness: the engine checks failed", exc_info=True)
        return _failed(exc), _failed(exc)


async def _database_checks() -> dict:
    # The connection test opens its own connection (no Django one): off the thread that serves sync views, which a
    # 2 s connect timeout must not hold. The ORM reads run where Django runs an async view's ORM calls (its
    # thread-sensitive thread, whose connections the request signals close).
    checks = {"database": await sync_to_async(database, thread_sensitive=False)()}
    if checks["database"]["ok"]:
        checks["workers"], checks["migrations"] = await sync_to_async(_engine_checks)()
    else:
        checks["workers"] = checks["migrations"] = {"ok": False, "error": "database unreachable"}
    return checks


async def readiness() -> dict:
    """Every check, the database's and the channel layer's at once."""
    db, layer = await asyncio.gather(_database_checks(), channel_layer())
    checks = {"database": db["database"], "channel_layer": layer, "workers": db["workers"],
              "migrations": db["migrations"]}
    return {"status": "ready" if all(c["ok"] for c in checks.values()) else "unready", "checks": checks}
