"""Live pushes to browsers: per-migration groups ``migration-<id>`` and the ``dashboard`` group.

The database is the truth; a push only says "here is event N and the state after it". Pushes are sent after
the commit (``events.emit`` registers ``push_migration`` with ``transaction.on_commit``), rendered once in the
producer, never per socket. A socket that missed events (a gap in seq, or a DB seq ahead of what it sent:
see ``consumers.LiveConsumer``) or reconnects with its last seq gets the missing ones from the database
(``presenters.missed_html``), so it never shows a stale page. Dashboard pushes are coalesced deltas (latest state
wins): at most one message per ``DASHBOARD_INTERVAL_S`` per process, with the progress cells of the migrations that
changed and the rows whose status changed (or their removal), rendered once in the producer; a socket forwards only
the deltas of rows it already shows (rows of its own user's render: nothing leaks), and re-renders its user's whole
rows only for a status change it may see but does not show yet, or while it shows a queue.

Imports run one way: the engine → ``publish`` (sending, coalescing) → ``presenters`` (what is pushed: contexts and
fragments) → models. The sockets (``mobility.consumers``) read through the same presenters; nothing here imports a
view.
"""

from mobility.live.publish import DASHBOARD_GROUP, group_name, push_dashboard, push_migration

__all__ = ["DASHBOARD_GROUP", "group_name", "push_dashboard", "push_migration"]
