"""One pooled SSH client per registered IVM, with its pinned host key, decrypted secrets and an audit hook.

Every command a client runs is recorded as an ``ivm.command`` audit event (console, redacted command,
outcome, exit status, duration, sha256 of stdout). Two ways, so that auditing never breaks a sync:

* normally the event is written at once (joining the caller's
  transaction when there is one, as the audit rules ask);
* inside ``collect_commands()`` (the inventory sync's fetch phase, whose commands run on worker threads
  that must not touch the database) records are only gathered; ``write_command_events`` then appends them
  all in ONE short transaction of their own, after the inventory transaction has committed or rolled back.
  Both go through ``governance.audit.record_many``; the events are sealed into the hash chain after the commit.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator

from mobility.governance import audit
from mobility.ivm import ClientPool, CommandRecord, IVMClient
from mobility.models import IVMConsole

ACTION = "ivm.command"
# Four channels is the default of IVMClient; the inventory sync runs its independent reads on them.
MAX_CHANNELS = 4

_pool = ClientPool()
# The list of (console, CommandRecord) the current sync is gathering; None when commands are written at once.
_collector: contextvars.ContextVar[list | None] = contextvars.ContextVar("ivm_command_collector", default=None)


# The migration the current commands are run for, so the audit trail ties each command to it.
_migration: contextvars.ContextVar[int | None] = contextvars.ContextVar("ivm_command_migration", default=None)


@contextlib.contextmanager
def about_migration(migration_id: int | None):
    """Record the IVM commands run inside this block as part of ``migration_id`` (audit data ``migration``)."""
    token = _migration.set(migration_id)
    try:
        yield
    finally:
        _migration.reset(token)


def _event_data(console_name: str, rec: CommandRecord) -> dict:
    migration_id = _migration.get()
    return {
        **({"migration": migration_id} if migration_id is not None else {}),
        "console": console_name,
        "command": rec.command,
        "outcome": rec.outcome,
        "exit_status": rec.exit_status,
        "duration_s": round(rec.duration_s, 4),
        "attempts": rec.attempts,
        "stdout_sha256": rec.stdout_sha256,
        **({"batch": rec.batch} if rec.batch else {}),
        **({"error": rec.error} if rec.error else {}),
    }


def _hook(console_id: int, console_name: str):
    def on_command(rec: CommandRecord) -> None:
        # Built now, in the caller's context (the migration it runs for), written now or after the sync.
        event = audit.new_event(ACTION, actor_name="system", data=_event_data(console_name, rec),
                                object_type=IVMConsole._meta.model_name, object_id=str(console_id))
        gathered = _collector.get()
        if gathered is not None:
            gathered.append(event)
        else:
            audit.record_many([event])
    return on_command


def client_for(console: IVMConsole) -> IVMClient:
    """The pooled client of ``console``, built on first use with its pinned key and decrypted secrets.

    A console without a pinned key still gets a client: its first command raises ``HostKeyUnknown``
    (with the offered key) rather than trusting whatever the server shows.
    """
    def build() -> IVMClient:
        return IVMClient(
            console.host, console.port, console.username,
            password=console.get_password(), private_key_pem=console.get_private_key(),
            host_key=console.host_key or None, max_channels=MAX_CHANNELS,
            on_command=_hook(console.pk, console.name),
        )
    return _pool.get(_pool_key(console), build)


def _pool_key(console: IVMConsole) -> tuple:
    # Everything the client was built from: a console whose address, key or secrets changed (or a
    # reused row id) never gets a stale client; the old one is closed when idle.
    return (console.pk, console.host, console.port, console.username, console.host_key,
            console.password_encrypted, console.private_key_encrypted)


def discard_client(console: IVMConsole) -> None:
    """Forget (and close) the pooled client; call after changing the console's address, key or secrets."""
    _pool.discard(_pool_key(console))


def close_all_clients() -> None:
    """Close every pooled client (tests, shutdown)."""
    _pool.close_all()


@contextlib.contextmanager
def collect_commands() -> Iterator[list]:
    """Gather command records instead of writing them; run worker jobs with ``contextvars.copy_context().run``
    so that they append to the same list. Write the list with ``write_command_events`` afterwards."""
    gathered: list = []
    token = _collector.set(gathered)
    try:
        yield gathered
    finally:
        _collector.reset(token)


def write_command_events(gathered: list) -> int:
    """Append the gathered records to the audit chain in one transaction (one bulk insert)."""
    if not gathered:
        return 0
    return len(audit.record_many(gathered))
