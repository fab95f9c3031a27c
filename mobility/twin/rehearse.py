"""Rehearse a plan on a twin of its two servers: the IVM job kind "rehearse", run by a worker.

The job exports the source and destination servers as they were at the last sync (``mobility.twin.export``),
starts an ivmsim on them for this rehearsal alone (``mobility.twin.simulator``; faults from ``FAULTS`` declared in
the fleet, or the host key rotated once it runs), then walks the engine's steps for the plan's mode against it and
stores what happened as a ``Rehearsal`` of the plan version.

Why a driver of its own rather than ``mobility.engine.driver``: the engine's steps are written against the
migration's row (fenced updates, step rows, lifecycle transitions, start mails, inventory syncs and the re-homing of
the partition) and reach IVMs through the pooled clients of the real consoles. A rehearsal must change none of
that and must never reach a real IVM, so it keeps its state in memory and holds its own ``IVMClient``s, pinned to
the twin's host keys from its ready file. What it sends is the engine's own: the same command builders and parsers
(``mobility.engine.ivmside``, ``steps.start_command``), the same inventory reads as the engine's re-syncs
(``inventory.read_inventory``), the same step sequence for the mode, the same polling of ``lslparmigr`` (the
engine's cadence on the twin's clock) and the same Recover (``migrlpar -o r``) after a failure that left the
partition half-moved. What differs is only where: ``--ip`` names the twin's destination IVM.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from django.db import transaction

from mobility import plans
from mobility.choices import MigrationMode, steps_for
from mobility.engine import ivmside, steps
from mobility.engine.config import CONFIG
from mobility.governance.audit import record
from mobility.inventory import SyncFailed, read_inventory
from mobility.ivm import CommandFailed, HostKeyMismatch, IVMClient, IVMError, commands
from mobility.ivm.commands import Command
from mobility.jobs.errors import JobFailed
from mobility.models import IVMJob, Migration, Rehearsal
from mobility.twin import export
from mobility.twin.rehearsals import (
    FAULTS,
    RETRIES,
    SLOW_LINK_FACTOR,
    UNREACHABLE_DROPS,
    bound_s,
    refusal,
    time_scale_for,
)
from mobility.twin.simulator import TwinNotStarted, TwinSimulator

# --- the job -----------------------------------------------------------------------------------------------------


def run(job: IVMJob, report) -> dict:
    """The job kind "rehearse": returns {"rehearsal": id, "outcome": ...}; stores the ``Rehearsal``."""
    migration = Migration.objects.select_related("partition", "source__console", "destination__console").get(
        pk=job.migration_id)
    why = refusal(migration)
    if why:
        raise JobFailed(why)
    faults = [f for f in job.params.get("faults", []) if f in FAULTS]
    plan = plans.latest_plan(migration)
    try:
        fleet = export.fleet_for([migration.source.console, migration.destination.console])
    except export.ExportError as exc:
        raise JobFailed(f"No twin can be made: {exc}.") from exc
    name, src_ivm, dst_ivm = migration.partition.name, migration.source.console.name, migration.destination.console.name
    fleet["fault"] = declared_faults(faults, src_ivm, name, migration.mode)
    scale = time_scale_for(migration.partition.memory_mb, migration.mode, faults)
    report(f"Starting a twin of {src_ivm} and {dst_ivm}")
    started = time.monotonic()
    try:
        with TwinSimulator(export.to_toml(fleet), time_scale=scale) as twin:
            if "host_key" in faults:
                try:
                    rotate_host_key(twin, src_ivm)
                except IVMError as exc:
                    raise JobFailed(f"The twin's host key could not be changed: {exc}") from exc
            walk = TwinRun(migration, plan.snapshot, twin.ivm(src_ivm), twin.ivm(dst_ivm), scale, report,
                           deadline=time.monotonic() + (job.timeout_s or bound_s(migration, faults)) - 10.0)
            try:
                walk.run()
            finally:
                walk.close()
    except TwinNotStarted as exc:
        raise JobFailed(str(exc)) from exc
    with transaction.atomic():
        rehearsal = Rehearsal.objects.create(
            migration=migration, plan=plan, job=job, requested_by=job.requested_by, faults=faults,
            outcome=walk.outcome, summary=walk.summary, duration_s=walk.duration_s,
            suspend_window_s=walk.suspend_window_s, time_scale=scale, wall_s=round(time.monotonic() - started, 2),
            messages=walk.messages, steps=walk.step_rows(), commands=walk.commands)
        record("plan.rehearsed", actor=job.requested_by, obj=migration, data={
            "rehearsal": rehearsal.pk, "plan_version": plan.version, "faults": faults, "outcome": walk.outcome,
            "duration_s": walk.duration_s, "suspend_window_s": walk.suspend_window_s,
            "messages": [m["code"] for m in walk.messages if m.get("code")]})
    return {"rehearsal": rehearsal.pk, "outcome": walk.outcome, "summary": walk.summary}


def declared_faults(faults, src_ivm: str, lpar: str, mode: str) -> list[dict]:
    """The faults as fleet-file ``[[fault]]`` entries on the source IVM (ivmsim/FLEET.md)."""
    declared = []
    if "slow_link" in faults:
        declared.append({"ivm": src_ivm, "kind": "slow-link", "factor": str(SLOW_LINK_FACTOR)})
    if "transfer_failure" in faults:
        # An active move fails once pre-copy has sent the memory, as the partition is suspended for the last pages
        # (the engine is polling step 6 then); an inactive one while its definition is copied ("transfer").
        phase = "suspended" if mode == MigrationMode.ACTIVE else "transfer"
        declared.append({"ivm": src_ivm, "kind": "fail-migration", "phase": phase, "lpar": lpar})
    if "unreachable" in faults:
        declared.append({"ivm": src_ivm, "kind": "drop-ssh", "after": "0", "count": str(UNREACHABLE_DROPS)})
    return declared


def rotate_host_key(twin: TwinSimulator, ivm: str) -> None:
    """ivmsim's ``host-key`` fault, once the ready file's key is known: from now on the IVM offers another key
    than the one the rehearsal pinned, as a reinstalled IVM would."""
    entry = twin.ivm(ivm)
    with IVMClient(entry.host, entry.port, entry.user, password=entry.password, host_key=entry.host_key) as control:
        control.run(Command(("ivmsim-fault", "add", "host-key"), read_only=False))


# --- the walk ----------------------------------------------------------------------------------------------------


class Failure(Exception):
    """The walk cannot go on (``steps.EngineFailure``'s twin): ``recover`` as there."""

    def __init__(self, message: str, recover: bool):
        super().__init__(message)
        self.recover = recover


class Unreachable(Exception):
    pass


@dataclass
class _Step:
    number: int
    key: str
    title: str
    status: str = "pending"
    detail: str = ""
    data: dict = field(default_factory=dict)


class TwinRun:
    """The engine's steps for the plan's mode, against the twin, with the engine's cadence on the twin's clock."""

    def __init__(self, migration: Migration, snapshot: dict, src, dst, scale: float, report, *, deadline: float):
        self.m, self.snapshot, self.src, self.dst, self.scale = migration, snapshot, src, dst, scale
        self.name, self.mode = migration.partition.name, migration.mode
        self._report, self.deadline = report, deadline
        self.steps = [_Step(s.number, s.key, s.title) for s in steps_for(self.mode) if s.key != "postrequisites"]
        self.run_state = steps.RunState()
        self.commands = 0
        self.clients = {ivm.name: self._client(ivm) for ivm in (src, dst)}
        self.messages: list[dict] = []
        self.outcome, self.summary = Rehearsal.Outcome.FAILED, ""
        self.start_sent_at: float | None = None
        self.duration_s = self.suspend_window_s = None
        self.failures_in_a_row = 0
        self.reported_at = 0.0

    def report(self, text: str) -> None:
        """A progress line for the page; a job no longer ours (timed out, taken over) ends the walk here."""
        if self._report(text) is False:
            raise JobFailed("The rehearsal's job is no longer held by this worker; the rehearsal stops.")

    def _client(self, ivm) -> IVMClient:
        def counted(_record) -> None:
            self.commands += 1
        return IVMClient(ivm.host, ivm.port, ivm.user, password=ivm.password, host_key=ivm.host_key,
                         connect_timeout=5, command_timeout=30, reconnect_attempts=2, backoff_s=0.2,
                         on_command=counted)

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    # --- clock: the engine's waits are in the twin's seconds ----------------------------------------------------
    def sim(self, wall_s: float) -> float:
        return round(wall_s * self.scale, 2)

    def wait(self, engine_s: float) -> None:
        time.sleep(engine_s / self.scale)

    # --- IVM side ------------------------------------------------------------------------------------------------
    def ask(self, ivm, cmd, *, check: bool = True):
        read_only = cmd.read_only
        try:
            return self.clients[ivm.name].run(cmd, check=check, retry_safe=read_only)
        except CommandFailed as exc:
            self.messages.append({"code": exc.code or "", "text": exc.text, "command": cmd.redacted()})
            raise

    def lpar_migration(self, ivm):
        return ivmside.lpar_migration_of(self.ask(ivm, ivmside.lpar_migration_command(self.name)))

    def lpar_state(self, ivm):
        return ivmside.lpar_state_of(self.ask(ivm, ivmside.lpar_state_command(self.name)).parsed())

    def inventory(self, ivm):
        """The reads of the engine's re-sync of one server (its inventory is not written anywhere)."""
        try:
            return read_inventory(self.clients[ivm.name])
        except SyncFailed as exc:
            raise Failure(f"Inventory of {ivm.name} could not be read: {exc}", recover=False) from exc

    # --- bookkeeping ---------------------------------------------------------------------------------------------
    def step(self, number: int) -> _Step:
        return next(s for s in self.steps if s.number == number)

    def running(self, number: int, detail: str = "") -> None:
        s = self.step(number)
        if s.status != "running" or (detail and detail != s.detail):
            s.status, s.detail = "running", detail or s.detail
            self.report(f"Step {number}: {s.title}" + (f" — {detail}" if detail else ""))

    def done(self, number: int, detail: str, status: str = "done") -> None:
        s = self.step(number)
        if s.status not in ("done", "failed", "skipped"):
            s.status, s.detail = status, detail

    def current(self) -> _Step | None:
        return next((s for s in self.steps if s.status not in ("done", "failed", "skipped")), None)

    def step_rows(self) -> list[dict]:
        return [{"number": s.number, "title": s.title, "status": s.status, "detail": s.detail} for s in self.steps]

    # --- the loop (``Driver.step``) ------------------------------------------------------------------------------
    def run(self) -> None:
        handlers = {"requirements": self.requirements, "shutdown": self.shutdown, "start": self.start,
                    "mappings": self.mappings, "prepare": self.mappings, "transfer": self.transfer,
                    "suspend": self.suspend_resume, "resume": self.resume, "complete": self.complete,
                    "activate": self.activate}
        while True:
            step = self.current()
            if step is None:
                return self._finish()
            if time.monotonic() > self.deadline:
                return self._fail(f"The rehearsal's time ran out at step {step.number} ({step.title}); the engine "
                                  "would go on waiting and flag the migration stuck.", recover=self.start_sent_at
                                  is not None, outcome=Rehearsal.Outcome.FAILED)
            try:
                wait = handlers[step.key]()
                self.failures_in_a_row = 0
            except Failure as exc:
                return self._fail(str(exc), recover=exc.recover)
            except HostKeyMismatch as exc:
                return self._unreachable(step, f"host key changed: pinned {exc.old_fingerprint}, the IVM now offers "
                                               f"{exc.new_fingerprint}; ivmweb refuses to talk to it")
            except CommandFailed as exc:  # a command the handler did not expect to fail
                return self._fail(f"{exc.command}: [{exc.code or ''}] {exc.text}", recover=self.start_sent_at
                                  is not None)
            except IVMError as exc:  # the engine retries on a fresh transport at its next pass
                self.failures_in_a_row += 1
                if self.failures_in_a_row >= RETRIES:
                    return self._unreachable(step, f"{type(exc).__name__}: {exc}")
                wait = CONFIG.poll_s * 5
            if wait:
                self.wait(wait)

    def _finish(self) -> None:
        self.outcome = Rehearsal.Outcome.COMPLETED
        where = "now runs on" if self.mode == MigrationMode.ACTIVE else "is now on"
        self.summary = f"{self.name} {where} the twin of {self.m.destination.name}"

    def _unreachable(self, step: _Step, why: str) -> None:
        step.status, step.detail = "failed", why
        sent = ("after migrlpar -o m was sent; the move goes on or fails on the IVMs without ivmweb"
                if self.start_sent_at is not None else "before anything was sent to start the move")
        self.outcome = Rehearsal.Outcome.UNREACHABLE
        self.summary = (f"Step {step.number} ({step.title}) could not reach the twin's IVM {RETRIES} times in a row, "
                        f"{sent}: {why}. The engine would keep retrying every {CONFIG.poll_s * 5:g} s.")

    def _fail(self, reason: str, *, recover: bool, outcome: str | None = None) -> None:
        """``steps.fail``, then, when the IVM may have left the partition half-moved, what Recover does
        (``Driver._recover``: ``migrlpar -o r`` on the IVM that still lists the partition)."""
        step = self.current()
        if step is not None:
            step.status, step.detail = "failed", reason
        if self.start_sent_at is None and not recover:
            self.outcome = outcome or (Rehearsal.Outcome.REFUSED if self.messages else Rehearsal.Outcome.FAILED)
            self.summary = reason
            return
        if not recover:
            self.outcome, self.summary = outcome or Rehearsal.Outcome.FAILED, reason
            return
        self.report("Recover: migrlpar -o r")
        try:
            on_source = self.lpar_state(self.src)
            # What Recover sends (``Driver._recover``), not forced: the person asks for --force after reading why.
            self.ask(self.src if on_source is not None else self.dst, commands.migrlpar("r", lpar_name=self.name))
            seen, state = self.lpar_migration(self.src), self.lpar_state(self.src)
        except CommandFailed as exc:
            self.outcome = Rehearsal.Outcome.FAILED
            self.summary = f"{reason} Recover failed: [{exc.code or ''}] {exc.text}"
            return
        except IVMError as exc:
            self.outcome = Rehearsal.Outcome.FAILED
            self.summary = f"{reason} Recover could not reach the IVM: {exc}"
            return
        if state and seen and not seen.in_flight:
            self.outcome = Rehearsal.Outcome.RECOVERED
            self.summary = f"{reason} Recover: {self.name} is back on {self.m.source.name} ({state['state']})."
        else:
            self.outcome = Rehearsal.Outcome.FAILED
            self.summary = (f"{reason} After Recover the IVM shows {seen.state if seen else 'no partition'} on "
                            f"{self.m.source.name}.")

    # --- step 1 (``steps.requirements``) -------------------------------------------------------------------------
    def requirements(self) -> float:
        self.running(1, "Reading both servers' inventory, as the engine's re-sync does")
        found = {}
        for ivm in (self.src, self.dst):
            found[ivm.name] = self.inventory(ivm)
        if self.name not in found[self.src.name].partitions:
            raise Failure(f"{self.name} is not on the twin of {self.m.source.name}.", recover=False)
        diffs, _ctx, problems = plans.plan_drift(plans.latest_plan(self.m))
        blocking = [f"{d.title}: {d.field} was {d.before!r}, now {d.after!r}" for d in diffs
                    if d.field in ("status", "server") and d.after in ("error", None)]
        blocking += [f"Mapping: {p.message}" for p in problems]
        if blocking:
            raise Failure("The estate changed since the plan was made: " + "; ".join(blocking), recover=False)
        self.done(1, "Inventory of both twins read; no drift that blocks (the approval is not checked: a rehearsal "
                     "runs before it)")
        return 0

    # --- step 2 (inactive, ``steps.shutdown``) -------------------------------------------------------------------
    def shutdown(self) -> float:
        state = self.lpar_state(self.src)
        if state is None:
            raise Failure(f"{self.name} is not on {self.m.source.name} any more.", recover=False)
        if state["state"] == "Not Activated":
            self.done(2, "The partition is shut down (Not Activated)")
            return 0
        if not self.snapshot.get("options", {}).get("shutdown_source"):
            raise Failure(f"{self.name} is '{state['state']}' and the plan does not allow shutting it down.",
                          recover=False)
        data, now = self.step(2).data, time.monotonic()
        if "osshutdown_at" not in data:
            self.running(2, "Asking the operating system to shut down (chsysstate -o osshutdown)")
            self.ask(self.src, commands.chsysstate("osshutdown", lpar_name=self.name))
            data["osshutdown_at"] = now
        elif "immed_at" not in data and self.sim(now - data["osshutdown_at"]) > CONFIG.shutdown_timeout_s:
            self.running(2, f"No shutdown after {CONFIG.shutdown_timeout_s:.0f} s: shutting down at once (--immed)")
            self.ask(self.src, commands.chsysstate("shutdown", lpar_name=self.name, immed=True))
            data["immed_at"] = now
        return CONFIG.poll_s

    # --- step 3 (``steps.start``) --------------------------------------------------------------------------------
    def start(self) -> float:
        self.running(3)
        seen = self.lpar_migration(self.src)
        if seen is None:
            raise Failure(f"{self.name} is not on {self.m.source.name}.", recover=False)
        if seen.in_flight:
            raise Failure(f"{self.name} is already migrating ({seen.state}) and ivmweb did not start it.",
                          recover=False)
        cmd = steps.start_command(self.snapshot, self.name, self.m.destination.mtms, self.dst.host, self.dst.user)
        try:
            self.ask(self.src, cmd)
        except CommandFailed as exc:
            raise Failure(f"IVM refused to start the migration: {exc.text}", recover=False) from exc
        self.start_sent_at = time.monotonic()
        self.done(3, "migrlpar -o m --async accepted by the source IVM")
        return CONFIG.poll_s

    # --- steps 4 and 5 (``steps.mappings``) ----------------------------------------------------------------------
    def _failed_on_ivm(self, seen) -> None:
        said = seen.failure
        self.messages.append({"code": said.code if said else "", "text": said.text if said else
                              f"migration_state={seen.state}",
                              "command": ivmside.lpar_migration_command(self.name).redacted()})
        raise Failure(steps.failed_on_ivm_reason(seen, self.name, self.m.source.name), recover=True)

    def mappings(self) -> float:
        seen = self.lpar_migration(self.src)
        if seen is not None and seen.state == ivmside.FAILED:
            self._failed_on_ivm(seen)
        if seen is not None and seen.state in (ivmside.STARTING, ivmside.NOT_MIGRATING):
            self.running(4, "The IVMs are working out the adapter mappings")
            return CONFIG.poll_s
        text = self.snapshot.get("migrlpar") or {}
        where = f"; destination partition id {seen.dest_lpar_id}" if seen and seen.dest_lpar_id else ""
        self.done(4, "Mappings in use: " + (", ".join(f"{k}={v}" for k, v in text.items()) or "none") + where)
        msps = f"source MSP {seen.source_msp} → destination MSP {seen.dest_msp}" if seen else "done"
        self.done(5, f"Both environments prepared ({msps})")
        return 0

    # --- step 6 (``steps.transfer``) -----------------------------------------------------------------------------
    def transfer(self) -> float:
        seen = self.lpar_migration(self.src)
        if self.step(6).status != "running":
            self.running(6, "Moving the partition state")
        if seen is None or seen.state == ivmside.COMPLETE:
            self.done(6, "The partition state has been transferred")
            if self.mode == MigrationMode.ACTIVE:
                self.step(7).data["completed_seen_at"] = time.monotonic()
            return 0
        if seen.state == ivmside.FAILED:
            self._failed_on_ivm(seen)
        if seen.transmitted:
            self.step(6).detail = f"{seen.transmitted} bytes sent, {seen.remaining or 0} remaining ({seen.state})"
            if time.monotonic() - self.reported_at >= 1.0:  # the page's progress line, not a write per poll
                self.reported_at = time.monotonic()
                self.report(f"Step 6: {self.step(6).detail}")
        if seen.state == ivmside.SUSPENDED:
            self.done(6, "Memory pre-copy finished; the partition is suspended for the last pages")
            self.step(7).data["suspended_seen_at"] = time.monotonic()
            self.running(7, "Suspended on the source")
            return 0
        return CONFIG.poll_s

    # --- steps 7 and 8 (active, ``steps.suspend_resume`` and ``steps.resume``) -----------------------------------
    def suspend_resume(self) -> float:
        seen = self.lpar_migration(self.src)
        if seen is not None and seen.state == ivmside.FAILED:
            self._failed_on_ivm(seen)
        step7 = self.step(7)
        if seen is not None and seen.state == ivmside.SUSPENDED:
            self.running(7, "Suspended on the source")
            return min(CONFIG.poll_s, 0.2)
        if seen is not None and seen.state != ivmside.COMPLETE and "suspended_seen_at" not in step7.data:
            return CONFIG.poll_s
        if "window" not in step7.data:
            began = step7.data.get("suspended_seen_at")
            step7.data["window"] = self.sim(time.monotonic() - began) if began else None
            if began:
                self.suspend_window_s = step7.data["window"]
                self.done(7, f"Suspend window about {self.suspend_window_s} s (measured between polls)")
            else:
                self.done(7, f"Suspend window shorter than the polling interval (< {CONFIG.poll_s:g} s)")
        return self.resume()

    def resume(self) -> float:
        state = self.lpar_state(self.dst)
        if state is None or state["state"] != "Running":
            self.running(8, "Waiting for the partition to run on the destination")
            return CONFIG.poll_s
        self.done(8, f"Running on {self.m.destination.name}")
        return 0

    # --- step 9 (``steps.complete``) -----------------------------------------------------------------------------
    def complete(self) -> float:
        self.running(9, "Waiting for the partition to leave the source")
        if self.lpar_state(self.src) is not None:
            return min(CONFIG.poll_s, 0.25)
        found = self.lpar_state(self.dst)
        if found is None:
            raise Failure(f"{self.name} is neither on {self.m.source.name} nor on {self.m.destination.name}.",
                          recover=True)
        expected = "Running" if self.mode == MigrationMode.ACTIVE else "Not Activated"
        if found["state"] != expected:
            self.running(9, f"On the destination as '{found['state']}'; waiting for '{expected}'")
            return CONFIG.poll_s
        scsi, fc = steps.mappings_of(self.snapshot)
        slots = {kind: ivmside.client_slots_of(self.ask(self.dst, cmd).parsed())
                 for kind, cmd in ivmside.client_slot_commands(self.name).items()}
        missing = sorted({int(x.split("/")[0]) for x in scsi} - slots["scsi"]) + \
            sorted({int(x.split("/")[0]) for x in fc} - slots["fc"])
        if missing:
            raise Failure(f"{self.name} arrived without its client adapters in slots {missing}.", recover=False)
        self.duration_s = self.sim(time.monotonic() - self.start_sent_at)
        for ivm in (self.src, self.dst):  # the engine re-syncs both servers here: the same reads
            self.inventory(ivm)
        self.done(9, f"Gone from {self.m.source.name}; {expected} on {self.m.destination.name} as partition id "
                     f"{found['lpar_id']} with its adapters; both servers read again")
        return 0

    # --- step 10 (inactive, ``steps.activate``) ------------------------------------------------------------------
    def activate(self) -> float:
        if not self.snapshot.get("options", {}).get("activate_on_destination"):
            self.done(10, "The plan does not ask to activate the partition", status="skipped")
            return 0
        state = self.lpar_state(self.dst)
        if state is not None and state["state"] == "Running":
            self.done(10, f"Running on {self.m.destination.name}")
            return 0
        data = self.step(10).data
        if "on_sent_at" not in data:
            self.running(10, "Activating on the destination (chsysstate -o on)")
            try:
                self.ask(self.dst, commands.chsysstate("on", lpar_name=self.name))
            except CommandFailed as exc:
                raise Failure(f"IVM refused to activate the partition: {exc.text}", recover=False) from exc
            data["on_sent_at"] = time.monotonic()
        return CONFIG.poll_s

