"""Sync one IVM, or many: read it over SSH and make the database say exactly what it printed.

Three phases per IVM, so that a failure never leaves half an inventory:

1. read (``reads``, no database): the listings, then the per-device reads they name;
2. parse (``parse``, no database): typed records (``records.Inventory``), or ``SyncFailed`` naming the line (not
   again when the IVM printed exactly what it printed last time, in this process);
3. apply (``apply``), in ONE transaction: write only what differs, nothing at all when the digest
   (``digest``) says the IVM printed what the stored rows were made from.

The console's ``last_sync_*`` fields and the ``ivm.command`` audit events are written afterwards, in their
own short transactions, whether the sync worked or not.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, connections, transaction
from django.db.models import Q
from django.utils import timezone

from mobility.inventory import digest as digests
from mobility.inventory.apply import apply_inventory
from mobility.inventory.connections import client_for, collect_commands, discard_client, write_command_events
from mobility.inventory.errors import SyncFailed
from mobility.inventory.parse import devices_to_read, parse_inventory
from mobility.inventory.reads import read_devices, read_listings
from mobility.inventory.records import Inventory
from mobility.ivm import AuthenticationFailed, ConnectionFailed, HostKeyMismatch, HostKeyUnknown, IVMError
from mobility.models import IVMConsole

logger = logging.getLogger("mobility.inventory")


@dataclass
class SyncResult:
    """What one IVM's sync did. ``rows_written`` counts inventory rows only (not the console's status)."""

    console: IVMConsole
    ok: bool
    error: str = ""
    created: int = 0
    updated: int = 0
    deleted: int = 0
    vanished: int = 0
    unchanged: int = 0
    rows_written: int = 0
    duration_s: float = 0.0
    commands: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    shared: bool = False  # sync_since found a sync that began late enough and ran none of its own
    quarantined: dict[str, str] = field(default_factory=dict)  # partition name -> why its values break IVM's rules

    def summary(self) -> str:
        if not self.ok:
            return f"{self.console.name}: FAILED in {self.duration_s:.2f}s: {self.error}"
        seen = ", ".join(f"{v} {k}" for k, v in self.counts.items())
        return (f"{self.console.name}: ok in {self.duration_s:.2f}s ({self.commands} commands); {seen}; "
                f"created {self.created}, updated {self.updated}, deleted {self.deleted}, "
                f"vanished {self.vanished}, unchanged {self.unchanged}"
                + "".join(f"; QUARANTINED {name!r}: {why}" for name, why in self.quarantined.items()))


@dataclass(frozen=True)
class _Parse:
    """One IVM's outputs, the inventory parsed from them, and its digest (under that apply version)."""

    outputs: tuple[dict[str, str], dict[str, str]]
    inventory: Inventory
    digest: str
    apply_version: str


# Parsing is a function of what the IVM printed (and of this process's code): the last parse of each IVM is kept, and
# an IVM that printed exactly the same again (most periodic syncs) is neither parsed nor digested again. In memory
# only, one entry per IVM: a new process, or new code, parses afresh.
_last_parse: dict[int, _Parse] = {}


def forget_parses() -> None:
    """Parse every IVM afresh at its next sync (as a new process would)."""
    _last_parse.clear()


def read_inventory(client) -> Inventory:
    """Read and parse what ``client``'s IVM holds now, remembering nothing (a rehearsal's twin has no console row)."""
    listings = read_listings(client)
    return parse_inventory(listings, read_devices(client, *devices_to_read(listings)))


def fetch_inventory(console: IVMConsole, client) -> tuple[Inventory, str]:
    """Read and parse one IVM (no database access): its inventory and the inventory's digest."""
    listings = read_listings(client)
    devices = read_devices(client, *devices_to_read(listings))
    outputs = (listings.stdout, devices.stdout)
    last = _last_parse.get(console.pk)
    if last is not None and last.outputs == outputs and last.apply_version == digests.APPLY_VERSION:
        return last.inventory, last.digest
    inventory = parse_inventory(listings, devices)
    parsed = _last_parse[console.pk] = _Parse(outputs, inventory, digests.inventory_digest(inventory),
                                                digests.APPLY_VERSION)
    return inventory, parsed.digest


def _explain(exc: Exception) -> str:
    if isinstance(exc, HostKeyMismatch):
        return (f"host key changed, sync refused and inventory left as it was: pinned {exc.expected.type} "
                f"{exc.old_fingerprint}, the IVM now offers {exc.offered.type} {exc.new_fingerprint}. "
                "Check the IVM out of band, then pin the new key.")
    if isinstance(exc, HostKeyUnknown):
        return f"no host key pinned; the IVM offers {exc.key.type} {exc.fingerprint}. Confirm and pin it first."
    if isinstance(exc, AuthenticationFailed):
        return f"wrong credentials: {exc}"
    return str(exc)


def _record_status(console: IVMConsole, result: SyncResult) -> None:
    """The console's last_sync_* fields, in their own statement (whatever the sync did)."""
    finished = timezone.now()
    status = {"last_sync_at": finished, "last_sync_duration_s": round(result.duration_s, 3),
              "last_sync_error": result.error}
    if result.ok:
        status["last_sync_ok_at"] = finished
    IVMConsole.objects.filter(pk=console.pk).update(**status)
    for name, value in status.items():
        setattr(console, name, value)


def sync_console(console: IVMConsole) -> SyncResult:
    """Sync one IVM: read, parse, then write the differences in one transaction."""
    started = time.monotonic()
    result = SyncResult(console=console, ok=False)
    with collect_commands() as gathered:
        try:
            if not console.has_credentials:
                raise SyncFailed("no password or private key stored for this IVM")
            inventory, digest = fetch_inventory(console, client_for(console))
            with transaction.atomic():
                tally = apply_inventory(console, inventory, digest, timezone.now())
            result.ok = True
            result.created, result.updated, result.deleted = tally.created, tally.updated, tally.deleted
            result.vanished, result.unchanged, result.rows_written = tally.vanished, tally.unchanged, tally.rows_written
            result.counts = {"partitions": len(inventory.partitions), "adapters": len(inventory.adapters),
                             "devices": len(inventory.storage)}
            result.quarantined = inventory.quarantined()
        except (IVMError, SyncFailed) as exc:
            result.error = _explain(exc)
            if isinstance(exc, (HostKeyMismatch, HostKeyUnknown, AuthenticationFailed, ConnectionFailed)):
                discard_client(console)
        except Exception as exc:  # a bug or a database error must still leave the console marked
            logger.exception("inventory sync of %s failed", console.name)
            result.error = f"internal error: {type(exc).__name__}: {exc}"
    result.commands = len(gathered)
    result.duration_s = time.monotonic() - started
    _record_status(console, result)
    write_command_events(gathered)
    (logger.info if result.ok and not result.quarantined else logger.warning)("inventory sync %s", result.summary())
    return result


_flights: dict[int, threading.Lock] = {}
_flights_lock = threading.Lock()


def sync_since(console: IVMConsole, since: datetime, *, gather=None) -> SyncResult:
    """An inventory of ``console`` read at ``since`` or later: a successful sync that began then (another thread's or
    process's), or a new one. When many migrations start or finish on the same IVMs at once, each needs the IVM read
    after it asked, not a sync of its own: they share one instead of ten. The threads of this process asking for the
    same IVM go one at a time, so the later ones find the sync the first one ran.

    ``gather``: seconds to wait, before running a sync of its own, for other threads to ask too (called when the sync
    is due; 0 or None: none). Those that ask meanwhile queue behind it and share its sync, which begins after they
    asked. A thread that queued behind another's sync does not wait again: the asks that came meanwhile queued behind
    it already (waiting once more each time chained the waits: a batch's last member waited 5 s for its re-syncs)."""
    # Asked first without waiting: a thread whose ``since`` a finished sync already meets must not queue behind
    # another thread's newer sync of the same IVM (a batch's next start waited seconds for the re-syncs of members
    # that had just ended).
    if _synced_since(console, since):
        return SyncResult(console=console, ok=True, shared=True)
    with _flights_lock:
        flight = _flights.setdefault(console.pk, threading.Lock())
    queued = not flight.acquire(blocking=False)
    if queued:
        flight.acquire()
    try:
        if _synced_since(console, since):
            return SyncResult(console=console, ok=True, shared=True)
        wait = 0 if queued else _gather_s(gather)
        if wait:
            time.sleep(wait)
            if _synced_since(console, since):  # another process's sync began after we asked and ended meanwhile
                return SyncResult(console=console, ok=True, shared=True)
        return sync_console(console)
    finally:
        flight.release()


def _gather_s(gather) -> float:
    """How long to wait for other asks: only an economy, so a failure to tell means no wait (the sync still runs)."""
    if gather is None:
        return 0
    try:
        return gather()
    except DatabaseError:
        logger.warning("could not tell whether to wait for other re-syncs; syncing now", exc_info=True)
        return 0


def _synced_since(console: IVMConsole, since: datetime) -> bool:
    """The console's last sync succeeded and began at ``since`` or later."""
    last = IVMConsole.objects.filter(pk=console.pk).values_list(
        "last_sync_at", "last_sync_ok_at", "last_sync_duration_s").first()
    if last and last[1] is not None and last[0] == last[1] and last[2] is not None:
        began = last[1] - timedelta(seconds=last[2])  # the duration is counted from before the first command
        return began >= since
    return False


def _sync_in_thread(console: IVMConsole) -> SyncResult:
    try:
        return sync_console(console)
    finally:
        connections.close_all()  # this thread's connections only


def sync_all(consoles=None) -> list[SyncResult]:
    """Sync every enabled IVM (or the given ones) on a bounded thread pool; results in console order."""
    consoles = list(IVMConsole.objects.filter(enabled=True) if consoles is None else consoles)
    if not consoles:
        return []
    workers = min(settings.IVMWEB_SYNC_WORKERS, len(consoles))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ivm-sync") as pool:
        return list(pool.map(_sync_in_thread, consoles))


def sync_due(now: datetime | None = None) -> list[SyncResult]:
    """Sync the enabled IVMs whose last sync is older than IVMWEB_SYNC_INTERVAL_S (or that never synced)."""
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.IVMWEB_SYNC_INTERVAL_S)
    due = IVMConsole.objects.filter(enabled=True).filter(Q(last_sync_at__isnull=True) | Q(last_sync_at__lt=cutoff))
    return sync_all(list(due))
