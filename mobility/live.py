"""Live pushes to browsers: per-migration groups ``migration-<id>`` and the ``dashboard`` group.

The database is the truth; a push only says "here is event N and the state after it". Pushes are sent after
the commit (``events.emit`` registers ``push_migration`` with ``transaction.on_commit``). A socket that missed
events (a gap in seq) or reconnects with its last seq gets the missing ones from the database
(``missed_html``), so it never shows a stale page. Dashboard pushes are coalesced: at most one per
``DASHBOARD_INTERVAL_S`` per process, and each socket renders its own user's rows (nothing leaks).
"""

import logging
import threading
import time

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.template.loader import render_to_string

logger = logging.getLogger("mobility.live")

DASHBOARD_GROUP = "dashboard"
DASHBOARD_INTERVAL_S = 0.5


def group_name(migration_id: int) -> str:
    return f"migration-{migration_id}"


def _send(group: str, message: dict) -> None:
    try:
        async_to_sync(get_channel_layer().group_send)(group, message)
    except Exception:  # noqa: BLE001 — a lost push is repaired by the seq check and the polling fallback
        logger.warning("live push to %s failed", group, exc_info=True)


def state_html(migration) -> str:
    """The out-of-band state panel: steps, figures, chart, outcome."""
    from mobility.views.engine import live_context

    return render_to_string("mobility/engine/_state.html", {**live_context(migration), "oob": True})


def events_html(migration, events) -> str:
    return render_to_string("mobility/engine/_events.html", {"migration": migration, "events": events, "oob": True})


def missed_html(migration_id: int, after_seq: int) -> tuple[str, int]:
    """Every event after ``after_seq`` and the current state, as one message; returns (html, last seq sent)."""
    from mobility.models import Migration, MigrationEvent

    migration = Migration.objects.select_related("partition", "source", "destination").get(pk=migration_id)
    events = list(MigrationEvent.objects.filter(migration_id=migration_id, seq__gt=after_seq).order_by("seq"))
    last = events[-1].seq if events else after_seq
    return events_html(migration, events) + state_html(migration), last


def push_migration(migration_id: int) -> None:
    """Send the latest event and the state to the migration's group (call after commit)."""
    from mobility.models import Migration, MigrationEvent

    try:
        migration = Migration.objects.select_related("partition", "source", "destination").get(pk=migration_id)
    except Migration.DoesNotExist:
        return
    seq = migration.last_seq
    events = list(MigrationEvent.objects.filter(migration_id=migration_id, seq=seq))
    html = events_html(migration, events) + state_html(migration)
    _send(group_name(migration_id), {"type": "live.push", "migration": migration_id, "seq": seq, "html": html})
    push_dashboard()


_dash_lock = threading.Lock()
_dash_last = 0.0
_dash_timer: threading.Timer | None = None


def _flush_dashboard() -> None:
    global _dash_last, _dash_timer
    with _dash_lock:
        _dash_last, _dash_timer = time.monotonic(), None
    _send(DASHBOARD_GROUP, {"type": "live.dashboard"})


def push_dashboard() -> None:
    """Coalesced: the latest state wins, at most one dashboard refresh per interval from this process."""
    global _dash_timer
    with _dash_lock:
        if _dash_timer is not None:
            return  # a refresh is already scheduled; it will read the latest rows
        wait = DASHBOARD_INTERVAL_S - (time.monotonic() - _dash_last)
        if wait > 0:
            _dash_timer = threading.Timer(wait, _flush_dashboard)
            _dash_timer.daemon = True
            _dash_timer.start()
            return
    _flush_dashboard()
