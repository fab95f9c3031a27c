"""The steps of one migration. Each handler does one bounded piece of work and returns the seconds to wait
before the driver calls again (0: go on at once), so that leases, stop requests and crashes are noticed between
pieces. Everything a handler learns is written to the database first; nothing lives only in memory except the
rate samples of the transfer, which a new worker simply starts collecting again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from mobility.choices import MigrationMode, MigrationStatus, StepStatus
from mobility.engine import busy, ivmside
from mobility.engine.admission import batch_holds, ivm_counts, queued_at, slot_freed
from mobility.engine.events import emit, step_change, step_data
from mobility.governance.approvals import check_runnable, void_approvals
from mobility.governance.audit import record
from mobility.inventory import forget_digests, sync_since
from mobility.ivm import commands
from mobility.ivm.errors import CommandFailed, at_migration_limit
from mobility.jobs.queue import wake_workers
from mobility.journal import guarded_update
from mobility.lifecycle.writer import transition
from mobility.models import IVMConsole, Migration, MigrationStep, Partition, StorageDevice, VirtualAdapter
from mobility.notifications import notify_started
from mobility.observability import metrics
from mobility.plans import latest_plan, plan_drift

DEFAULT_FOLLOW_UPS = (
    "Check that the application answers on the destination server",
    "Update monitoring and the CMDB with the new server",
    "Update backups, DNS and firewall rules that name the source server",
    "Confirm software licences on the destination server",
)

LIMIT_CHECKS = ("migration_limit", "dest_migration_limit")  # plan checks of the IVMs' migrations in progress
SAMPLE_WINDOW = 8  # transfer samples kept for the rate, the ETA range and the converging indicator
SYNC_GATHER_S = 0.5  # step 9 waits this long for other members' asks before re-syncing an IVM (``_sync_gather_s``)


class EngineFailure(Exception):
    """The migration cannot go on; the message is what the requester reads. ``recover``: the IVM left it
    half-moved (True), certainly not (False), or unknown (None: assume so once the start was sent)."""

    def __init__(self, message: str, recover: bool | None = None):
        super().__init__(message)
        self.recover = recover


@dataclass
class RunState:
    """What one driver keeps between passes (rebuilt from nothing after a takeover)."""

    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (monotonic, sent, remaining)
    stop_sent: bool = False
    transfer_running: bool = False  # step 6 seen running by this driver: the once-a-second poll need not ask again
    # ``check_runnable`` passed in this driver's previous piece of work (its admission): step 1, the next piece, need
    # not ask again. Used once; a new driver (a takeover) starts without it and asks.
    runnable_checked: bool = False


def plan_of(m: Migration) -> dict:
    return latest_plan(m).snapshot


def mappings_of(snapshot: dict) -> tuple[list[str], list[str]]:
    """The plan's `-i` mapping lists (virtual SCSI, virtual FC), in `migrlpar -i` grammar."""
    text = snapshot.get("migrlpar") or {}
    scsi = [x for x in text.get("virtual_scsi_mappings", "").split(",") if x]
    fc = [x for x in text.get("virtual_fc_mappings", "").split(",") if x]
    return scsi, fc


def current_step(m: Migration) -> MigrationStep | None:
    """The first step of the run (1–10) not finished yet."""
    return m.steps.exclude(status__in=StepStatus.terminal()).exclude(key="postrequisites").order_by("number").first()


def _running(m: Migration, number: int, detail: str | None = None) -> None:
    step = m.steps.get(number=number)
    if step.status != StepStatus.RUNNING or (detail is not None and detail != step.detail):
        step_change(m, number, StepStatus.RUNNING, detail)


def _done(m: Migration, number: int, detail: str, **data) -> None:
    if m.steps.filter(number=number).exclude(status__in=StepStatus.terminal()).exists():
        step_change(m, number, StepStatus.DONE, detail, data or None)


def fail(m: Migration, reason: str, *, recover_needed: bool = False) -> None:
    """The migration failed: the running step and the migration say why (the IVM's own words when it gave any)."""
    step = current_step(m)
    if step is not None:
        step_change(m, step.number, StepStatus.FAILED, reason)
    transition(m, "fail", outcome=reason, recover_needed=recover_needed, claimed_by="", lease_until=None)


# --- step 1 ------------------------------------------------------------------------------------------------------

def requirements(m: Migration, run: RunState, cfg) -> float | None:
    """Re-check at start: approval in force, fresh inventory of both servers, no drift that matters."""
    asked = timezone.now()
    # The admission, the piece of work right before, asked already (``Driver._admit``; taken once, whatever happens
    # next); step 3 asks again right before -o m.
    checked, run.runnable_checked = run.runnable_checked, False
    _running(m, 1, "Re-checking the approval and refreshing both servers' inventory")
    ok, why = (True, "") if checked else check_runnable(m)
    if not ok:
        with transaction.atomic():
            step_change(m, 1, StepStatus.PENDING, f"Not started: {why}")
            transition(m, "not_started", outcome=f"Not started: {why}")
        return None
    # A batch starts members on the same source every few seconds: each reading the whole source again (one sync
    # at a time per IVM) capped the batch at one start per sync. A sync begun at most ``batch_sync_age_s`` before
    # serves its members; the IVM validates the move again at ``-o m`` whatever the inventory said.
    since = asked - timedelta(seconds=cfg.batch_sync_age_s) if m.batch_id is not None else asked
    for system in (m.source, m.destination):
        with busy.waiting():
            result = sync_since(system.console, since)
        if not result.ok:
            _running(m, 1, f"Inventory of {system.name} could not be refreshed ({result.error}); retrying")
            return cfg.poll_s * 5
    plan = latest_plan(m)
    diffs, _ctx, problems = plan_drift(plan)
    shown = [{"check": d.title, "field": d.field, "before": d.before, "after": d.after} for d in diffs]
    blocking = [f"{d.title}: {d.field} was {d.before!r}, now {d.after!r}" for d in diffs
                if d.field in ("status", "server") and d.after in ("error", None) and d.check not in LIMIT_CHECKS]
    blocking += [f"Mapping: {p.message}" for p in problems]
    full = [d.title for d in diffs if d.check in LIMIT_CHECKS and d.field == "status" and d.after == "error"]
    # An IVM at its migration limit is a wait, not a change of the plan. The IVMs' own counts decide: the inventory's
    # may be from before a slot freed (a batch's member shares a sync up to ``batch_sync_age_s`` old, taken while the
    # IVMs ran as many as they could; its members went back to the queue for nothing).
    if full and not blocking and any(running >= supported for supported, running in ivm_counts(m)):
        return _ivm_busy(m, 1, f"{' and '.join(full).lower()} reached")
    if blocking:
        text = "The estate changed since the plan was approved: " + "; ".join(blocking)
        with transaction.atomic():
            step_change(m, 1, StepStatus.FAILED, text, {"drift": shown, "blocking": blocking})
            void_approvals(m, "Drift found at start: " + "; ".join(blocking))
            transition(m, "drifted", outcome=text + ". Approve the plan again.")
        return None
    _done(m, 1, "Approval in force; inventory refreshed; no drift that blocks" +
          (f" ({len(shown)} harmless difference(s))" if shown else ""), drift=shown)
    return 0


# --- step 2 (inactive) -------------------------------------------------------------------------------------------

def shutdown(m: Migration, run: RunState, cfg) -> float | None:
    name, console = m.partition.name, m.source.console
    now = timezone.now()
    state = ivmside.lpar_state(m, console, name)
    if state is None:
        raise EngineFailure(f"{name} is not on {m.source.name} any more.")
    if state["state"] == "Not Activated":
        _done(m, 2, "The partition is shut down (Not Activated)")
        return 0
    options = plan_of(m).get("options", {})
    if not options.get("shutdown_source"):
        raise EngineFailure(f"{name} is '{state['state']}' and the plan does not allow shutting it down.")
    step = m.steps.get(number=2)
    if "osshutdown_at" not in step.data:
        _running(m, 2, "Asking the operating system to shut down (chsysstate -o osshutdown)")
        ivmside.run(m, console, commands.chsysstate("osshutdown", lpar_name=name))
        step_data(m, 2, osshutdown_at=now.isoformat())
    elif "immed_at" not in step.data and (
            now - timezone.datetime.fromisoformat(step.data["osshutdown_at"])).total_seconds() > cfg.shutdown_timeout_s:
        _running(m, 2, f"No shutdown after {cfg.shutdown_timeout_s:.0f} s: shutting down at once (--immed)")
        ivmside.run(m, console, commands.chsysstate("shutdown", lpar_name=name, immed=True))
        step_data(m, 2, immed_at=now.isoformat())
    return cfg.poll_s


# --- step 3: exactly once --------------------------------------------------------------------------------------

def start_command(snapshot: dict, name: str, target_system: str, target_ip: str, target_user: str):
    """The plan's ``migrlpar -o m --async`` to the destination IVM at ``target_ip`` (a rehearsal: its twin's)."""
    scsi, fc = mappings_of(snapshot)
    return commands.migrlpar("m", target_system=target_system, target_ip=target_ip, target_user=target_user,
                             lpar_name=name, scsi_mappings=scsi, fc_mappings=fc, async_=True)


def start(m: Migration, run: RunState, cfg) -> float | None:
    """``migrlpar -o m --async`` at most once: the intent is committed first; after a crash the IVM is asked."""
    name, src, dst = m.partition.name, m.source.console, m.destination.console
    _running(m, 3)
    seen = ivmside.lpar_migration(m, src, name, quiet=False)
    if seen is None:
        if ivmside.lpar_state(m, dst, name) is not None and m.start_intent_at is not None:
            _done(m, 3, "The IVM shows the partition already on the destination: the start had been sent")
            return 0
        raise EngineFailure(f"{name} is not on {m.source.name}.")
    if seen.in_flight:
        if m.start_intent_at is None:
            raise EngineFailure(f"{name} is already migrating ({seen.state}) and ivmweb did not start it.")
        with transaction.atomic():  # the driver that sent it died before saying so: the start mail is still due
            _done(m, 3, f"The IVM shows '{seen.state}': the start had been sent (confirmed after a takeover)")
            notify_started(m)
        return 0
    # Not migrating and still on the source: no migration of ours is in progress, so (re)issuing is safe.
    held = _start_refused(m)
    if held is not None:  # the window closed, or the batch paused or stopped, since step 1: nothing starts now
        with transaction.atomic():
            step_change(m, 3, StepStatus.PENDING, held)
            transition(m, "not_started", outcome=held)
        return None
    cmd = start_command(plan_of(m), name, m.destination.mtms, dst.host, dst.username)
    now = timezone.now()
    guarded_update(m.pk, start_intent_at=now)  # committed (autocommit) before sending
    m.start_intent_at = now
    step_data(m, 3, intent_at=now.isoformat(), command=cmd.redacted())
    try:
        ivmside.run(m, src, cmd)
    except CommandFailed as exc:
        if at_migration_limit(exc):  # nothing started (migrations we do not count run there): wait for a slot
            return _ivm_busy(m, 3, f"the IVM said {exc.text}")
        raise EngineFailure(f"IVM refused to start the migration: {exc.text}", recover=False) from exc
    with transaction.atomic():
        _done(m, 3, "migrlpar -o m --async accepted by the source IVM")
        guarded_update(m.pk, last_progress_at=timezone.now())
        notify_started(m)  # on commit: only now has the migration really started
    return cfg.poll_s


def _ivm_busy(m: Migration, number: int, why: str) -> None:
    """An IVM is at its migration limit (migrations ivmweb does not count run there): nothing started, so the intent
    is withdrawn and the migration queues again; its next admission asks the IVMs' own counts (``admission.admit``)
    rather than trusting ivmweb's."""
    with transaction.atomic():
        guarded_update(m.pk, start_intent_at=None)
        m.start_intent_at = None
        step_change(m, number, StepStatus.PENDING, f"Waiting for a free migration slot: {why}")
        step_data(m, number, ivm_busy_at=timezone.now().isoformat())
        transition(m, "ivm_busy", queued_at=queued_at(m), outcome=f"Waiting for a free migration slot: {why}.")
    return None


def _start_refused(m: Migration) -> str | None:
    """Asked right before ``-o m``: the approval (and its window) still in force, and the member's batch still
    letting members start."""

    ok, why = check_runnable(m)
    if not ok:
        return f"Not started: {why}"
    return batch_holds(m)


# --- steps 4 and 5 -----------------------------------------------------------------------------------------------

def failed_on_ivm_reason(seen, name: str, source: str) -> str:
    """The IVM's own message id and words when it printed the failure's message (``ivmside.LparMigration.failure``),
    else the state it lists."""
    said = f": [{seen.failure.code}] {seen.failure.text}" if seen.failure else ""
    return f"The IVM reports '{seen.state}' for {name} on {source}{said}"


def _failed_on_ivm(m: Migration, seen) -> None:
    raise EngineFailure(failed_on_ivm_reason(seen, m.partition.name, m.source.name) +
                        "; run Recover to bring it back on the source.", recover=True)


def mappings(m: Migration, run: RunState, cfg) -> float | None:
    seen = ivmside.lpar_migration(m, m.source.console, m.partition.name)
    if seen is not None and seen.state == ivmside.FAILED:
        _failed_on_ivm(m, seen)
    if seen is not None and seen.state in (ivmside.STARTING, ivmside.NOT_MIGRATING):
        _running(m, 4, "The IVMs are working out the adapter mappings")
        return cfg.poll_s
    text = plan_of(m).get("migrlpar") or {}
    where = f"; destination partition id {seen.dest_lpar_id}" if seen and seen.dest_lpar_id else ""
    _done(m, 4, "Mappings in use: " + (", ".join(f"{k}={v}" for k, v in text.items()) or "none") + where)
    msps = f"source MSP {seen.source_msp} → destination MSP {seen.dest_msp}" if seen else "done"
    _done(m, 5, f"Both environments prepared ({msps})")
    return 0


# --- step 6 ------------------------------------------------------------------------------------------------------

def _progress(m: Migration, run: RunState, seen) -> None:
    """Figures from one poll: percent never runs backwards; rate, ETA range and converging from recent samples."""
    sent, left = seen.transmitted, seen.remaining or 0
    now = time.monotonic()
    previous = run.samples[-1] if run.samples else None
    run.samples = (run.samples + [(now, sent, left)])[-SAMPLE_WINDOW:]
    if previous is not None and previous[1:] == (sent, left):
        return
    total = sent + left
    percent = max(m.percent, round(100.0 * sent / total, 1) if total else 0.0)
    pairs = zip(run.samples, run.samples[1:], strict=False)
    rates = [(b[1] - a[1]) / (b[0] - a[0]) for a, b in pairs if b[0] > a[0] and b[1] > a[1]]
    rate = rates[-1] if rates else None
    metrics.transfer_rate(m.mode, rate)
    eta = [round(left / max(rates), 1), round(left / min(rates), 1)] if rates and left else None
    converging = None if len(run.samples) < 3 else run.samples[-1][2] < run.samples[0][2]
    values = {"bytes_transmitted": sent, "bytes_remaining": left, "percent": percent,
              "last_progress_at": timezone.now(), "stuck": False}
    with transaction.atomic():
        guarded_update(m.pk, **values)
        for key, value in values.items():
            setattr(m, key, value)
        emit(m.pk, "progress", {"sent": sent, "remaining": left, "percent": percent, "rate": rate, "eta": eta,
                                "converging": converging, "state": seen.state, "at": timezone.now().isoformat()})


def _arrived_figures(m: Migration, seen) -> None:
    """The whole state has arrived: 100 %, nothing remaining (once)."""
    if m.percent == 100.0:
        return
    with transaction.atomic():
        guarded_update(m.pk, percent=100.0, bytes_remaining=0)
        m.percent, m.bytes_remaining = 100.0, 0
        emit(m.pk, "progress", {"sent": m.bytes_transmitted, "remaining": 0, "percent": 100.0, "rate": None,
                                "eta": None, "converging": True, "state": seen.state if seen else "moved",
                                "at": timezone.now().isoformat()})


def transfer(m: Migration, run: RunState, cfg) -> float | None:
    seen = ivmside.lpar_migration(m, m.source.console, m.partition.name)
    if not run.transfer_running:  # only this driver moves step 6 on while it holds the lease
        _running(m, 6)
        run.transfer_running = True
    if seen is None or seen.state == ivmside.COMPLETE:
        _arrived_figures(m, seen)
        _done(m, 6, "The partition state has been transferred")
        if m.mode == MigrationMode.ACTIVE:
            step_data(m, 7, completed_seen_at=timezone.now().isoformat())
        return 0
    if seen.state == ivmside.FAILED:
        _failed_on_ivm(m, seen)
    _progress(m, run, seen)
    if seen.state == ivmside.SUSPENDED:
        _done(m, 6, "Memory pre-copy finished; the partition is suspended for the last pages")
        step_data(m, 7, suspended_seen_at=timezone.now().isoformat())
        _running(m, 7, "Suspended on the source")
        return 0
    return cfg.poll_s


# --- steps 7 and 8 (active) --------------------------------------------------------------------------------------

def suspend_resume(m: Migration, run: RunState, cfg) -> float | None:
    seen = ivmside.lpar_migration(m, m.source.console, m.partition.name)
    if seen is not None and seen.state == ivmside.FAILED:
        _failed_on_ivm(m, seen)
    if seen is not None and seen.state == ivmside.SUSPENDED:
        _running(m, 7, "Suspended on the source")
        return min(cfg.poll_s, 0.2)  # the window is short: look more often to measure it
    step7 = m.steps.get(number=7)
    if seen is not None and seen.state not in (ivmside.COMPLETE,) and "suspended_seen_at" not in step7.data:
        return cfg.poll_s
    _arrived_figures(m, seen)
    began = step7.data.get("suspended_seen_at")
    window = None
    if began:
        window = round((timezone.now() - timezone.datetime.fromisoformat(began)).total_seconds(), 2)
        guarded_update(m.pk, suspend_window_s=window)
        metrics.suspend_window(window)
        m.suspend_window_s = window
        emit(m.pk, "suspend", {"window_s": window})
        _done(m, 7, f"Suspend window about {window} s (measured between polls)", window_s=window)
    elif (bound := _suspend_bound(m, step7)) is not None:
        # No poll saw "Suspended": the window lies between the last figures of the copy and the poll that saw the
        # move complete, which the IVM reports; stored as that bound, and said to be one.
        guarded_update(m.pk, suspend_window_s=bound, suspend_window_bound=True)
        m.suspend_window_s, m.suspend_window_bound = bound, True
        emit(m.pk, "suspend", {"window_s": bound, "bound": True})
        _done(m, 7, f"Suspend window at most {bound} s (no poll saw the partition suspended: from the last figures "
                    "of the copy to the poll that saw the move complete)", window_s=None, upper_bound_s=bound)
    else:
        _done(m, 7, f"Suspend window shorter than the polling interval (< {cfg.poll_s:g} s)",
               window_s=None, upper_bound_s=cfg.poll_s)
    state = ivmside.lpar_state(m, m.destination.console, m.partition.name)
    if state is None or state["state"] != "Running":
        _running(m, 8, "Waiting for the partition to run on the destination")
        return cfg.poll_s
    _done(m, 8, f"Running on {m.destination.name}")
    return 0


def _suspend_bound(m: Migration, step7) -> float | None:
    """Seconds from the last progress figures (a poll that saw the copy going on, not suspended) to the poll that saw
    the move complete: the suspend window cannot be longer."""
    seen_done = step7.data.get("completed_seen_at")
    if not seen_done or m.last_progress_at is None:
        return None
    return round((timezone.datetime.fromisoformat(seen_done) - m.last_progress_at).total_seconds(), 2)


def resume(m: Migration, run: RunState, cfg) -> float | None:
    state = ivmside.lpar_state(m, m.destination.console, m.partition.name)
    if state is None or state["state"] != "Running":
        _running(m, 8, "Waiting for the partition to run on the destination")
        return cfg.poll_s
    _done(m, 8, f"Running on {m.destination.name}")
    return 0


# --- step 9 ------------------------------------------------------------------------------------------------------

def rehome(m: Migration, dest_lpar_id: int) -> None:
    """Point the existing Partition row (its team, its history) at the destination; retire a duplicate that the
    destination's sync may have created, moving its adapters and disks to the kept row."""
    now = timezone.now()
    consoles = sorted({m.source.console_id, m.destination.console_id})
    with transaction.atomic():
        # The consoles first, in id order, as an inventory sync does: a sync of either IVM holds its console row
        # while it writes partitions, so taking partitions first and the consoles last (forget_digests) deadlocked.
        list(IVMConsole.objects.select_for_update(no_key=True).filter(pk__in=consoles).order_by("pk").values_list("pk"))
        part = Partition.objects.select_for_update(no_key=True).get(pk=m.partition_id)
        dup = (Partition.objects.select_for_update(no_key=True).filter(system=m.destination, vanished_at__isnull=True)
               .filter(name=part.name).exclude(pk=part.pk).first())
        copied = {}
        if dup is not None:
            copied = {f: getattr(dup, f) for f in ("state", "rmc_state", "os_version", "memory_mb", "proc_units",
                                                   "procs", "max_virtual_slots", "migration_state", "synced_at")}
            dup.vanished_at = now
            dup.save(update_fields=["vanished_at"])
            VirtualAdapter.objects.filter(partition=part).delete()
            VirtualAdapter.objects.filter(partition=dup).update(partition=part)
            StorageDevice.objects.filter(client_partition=dup).update(client_partition=part)
        part.system, part.lpar_id, part.vanished_at = m.destination, dest_lpar_id, None
        for key, value in copied.items():
            setattr(part, key, value)
        part.save()
        forget_digests(consoles)  # rows written outside a sync
        record("engine.rehomed", obj=part, data={"migration": m.pk, "system": m.destination.name,
                                                 "lpar_id": dest_lpar_id, "duplicate": dup.pk if dup else None})


def _sync_gather_s(m: Migration, console_id: int) -> float:
    """How long step 9 waits for other migrations' asks before re-syncing an IVM: ``SYNC_GATHER_S`` while another one
    on that IVM is about to ask (its step 9 waits for the partition to leave the source: a batch's members end a
    second or less apart), so that one sync serves several (each ending member's own syncs were most of a batch's
    IVM commands and audit events); none otherwise (a migration alone, the last one of a batch). After the slot is
    freed."""
    about_to_ask = (MigrationStep.objects.filter(number=9, status=StepStatus.RUNNING,
                                                 migration__status=MigrationStatus.RUNNING,
                                                 migration__ivm_done_at__isnull=True)
                    .exclude(migration_id=m.pk)
                    .filter(Q(migration__source__console_id=console_id)
                            | Q(migration__destination__console_id=console_id)))
    return SYNC_GATHER_S if about_to_ask.exists() else 0.0


def complete(m: Migration, run: RunState, cfg) -> float | None:
    name = m.partition.name
    _running(m, 9, "Waiting for the partition to leave the source")
    if ivmside.lpar_state(m, m.source.console, name, quiet=True) is not None:
        # It runs on the destination already; the source only has its clean-up left (seconds): look more often.
        return min(cfg.poll_s, 0.25)
    found = ivmside.lpar_state(m, m.destination.console, name)
    if found is None:
        raise EngineFailure(f"{name} is neither on {m.source.name} nor on {m.destination.name}.")
    expected = "Running" if m.mode == MigrationMode.ACTIVE else "Not Activated"
    if found["state"] != expected:
        _running(m, 9, f"On the destination as '{found['state']}'; waiting for '{expected}'")
        return cfg.poll_s
    scsi, fc = mappings_of(plan_of(m))
    slots = ivmside.client_slots(m, m.destination.console, name)
    missing = sorted({int(x.split("/")[0]) for x in scsi} - slots["scsi"]) + \
        sorted({int(x.split("/")[0]) for x in fc} - slots["fc"])
    if missing:
        raise EngineFailure(f"{name} arrived without its client adapters in slots {missing}.")
    moved = timezone.now()  # gone from the source, on the destination with its adapters: a sync from now shows it
    if m.ivm_done_at is None:  # the IVMs are done with it: its slots free now, not after the re-sync below
        guarded_update(m.pk, ivm_done_at=moved)
        m.ivm_done_at = moved
        wake_workers(slot_freed=True)  # (after the commit) a batch's next member may start: another worker's,
        transaction.on_commit(slot_freed)  # or this process's members waiting in line, at once
    for system in (m.source, m.destination):
        with busy.waiting():
            result = sync_since(system.console, moved, gather=lambda c=system.console_id: _sync_gather_s(m, c))
        if not result.ok:
            _running(m, 9, f"Inventory of {system.name} could not be refreshed ({result.error}); retrying")
            return cfg.poll_s * 5
    with transaction.atomic():  # the fenced step change rolls the rehome back for a driver that lost the migration
        rehome(m, found["lpar_id"])
        _done(m, 9, f"Gone from {m.source.name}; {expected} on {m.destination.name} as partition id "
              f"{found['lpar_id']} with its adapters; both servers re-synced", lpar_id=found["lpar_id"])
    return 0


# --- step 10 (inactive) ------------------------------------------------------------------------------------------

def activate(m: Migration, run: RunState, cfg) -> float | None:
    if not plan_of(m).get("options", {}).get("activate_on_destination"):
        step_change(m, 10, StepStatus.SKIPPED, "The plan does not ask to activate the partition")
        return 0
    name, console = m.partition.name, m.destination.console
    state = ivmside.lpar_state(m, console, name)
    if state is not None and state["state"] == "Running":
        _done(m, 10, f"Running on {m.destination.name}")
        return 0
    step = m.steps.get(number=10)
    if "on_sent_at" not in step.data:
        _running(m, 10, "Activating on the destination (chsysstate -o on)")
        try:
            ivmside.run(m, console, commands.chsysstate("on", lpar_name=name))
        except CommandFailed as exc:
            raise EngineFailure(f"IVM refused to activate the partition: {exc.text}") from exc
        step_data(m, 10, on_sent_at=timezone.now().isoformat())
    return cfg.poll_s


def finish(m: Migration) -> None:
    """All run steps done: the migration is completed; the follow-up checklist opens for the requester."""
    tasks = plan_of(m).get("options", {}).get("postrequisites") or DEFAULT_FOLLOW_UPS
    with transaction.atomic():
        step_change(m, 11, StepStatus.RUNNING, "Tick off the follow-up tasks",
                    {"tasks": [{"text": t, "done": False, "by": "", "at": None} for t in tasks]})
        transition(m, "complete",
                   outcome=f"{m.partition.name} now runs on {m.destination.name}" if m.mode == "active"
                   else f"{m.partition.name} is now on {m.destination.name}",
                   claimed_by="", lease_until=None)


HANDLERS = {
    "requirements": requirements, "shutdown": shutdown, "start": start, "mappings": mappings, "prepare": mappings,
    "transfer": transfer, "suspend": suspend_resume, "resume": resume, "complete": complete, "activate": activate,
}
