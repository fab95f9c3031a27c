"""The running fleet: state under one lock, the simulated clock, persistence, logs and faults.

Every command and every scheduler tick runs under ``World.lock``. Simulated time advances by
``wall seconds × time_scale`` on each tick; migrations and power transitions are driven from :meth:`tick`.
"""

from __future__ import annotations

import random
import sys
import threading
import time

from ivmsim import migration
from ivmsim import model as m
from ivmsim import reference as ref
from ivmsim.faults import FaultBook
from ivmsim.fleetfile import Fleet
from ivmsim.store import StateDir, now_iso

TICK_S = 0.05  # wall seconds between scheduler ticks
PROGRESS_SAVE_S = 1.0  # progress counters are saved at most this often (structural changes at once)


class World:
    def __init__(self, fleet: Fleet, state: StateDir, time_scale: float = 1.0, seed: int = 0):
        if time_scale <= 0:
            raise ValueError("time scale must be greater than zero")
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.state = state
        self.time_scale = time_scale
        self.rng = random.Random(seed)
        self.trust = set(fleet.trust)
        self.sim_time = 0.0
        self.systems: dict[str, m.System] = {}
        self.migrations: dict[str, m.Migration] = {}
        self.outcomes: dict[str, str] = {}  # migration id -> complete|stopped|recovered, for waiting clients
        self.transfers: dict = {}  # migration id -> transfer.PreCopy (not persisted)
        self.timers: list[tuple[float, str, str, str]] = []  # (due, action, ivm, lpar name)
        self.drop_connections = lambda ivm: None  # set by the SSH server
        self.rotate_host_key = lambda ivm: None  # set by the SSH server
        self._last_save = 0.0
        self._stop = threading.Event()
        saved = state.load_state()
        if saved is None:
            self.systems = {s.ivm: s for s in fleet.systems}
        else:
            self._restore(saved, fleet)
        self.faults = FaultBook(list(self.systems), self._log_fault)
        for f in fleet.faults:
            params = {k: v for k, v in f.items() if k not in ("ivm", "kind")}
            self.faults.add(f["ivm"], f["kind"], params)
        with self.lock:
            self.persist()

    # --- persistence -------------------------------------------------------------------------------------
    def _restore(self, saved: dict, fleet: Fleet) -> None:
        names = sorted(s.ivm for s in fleet.systems)
        stored = sorted(s["ivm"] for s in saved["systems"])
        if names != stored:
            raise ValueError(f"state directory holds IVMs {stored}, the fleet file declares {names}")
        self.sim_time = saved.get("sim_time", 0.0)
        self.systems = {s["ivm"]: m.from_dict(m.System, s) for s in saved["systems"]}
        for data in saved.get("migrations", []):
            mig = m.from_dict(m.Migration, data)
            self.migrations[mig.id] = mig
        # What a real IVM shows after a restart: a transfer that was running is failed and needs recovery;
        # one that had completed finishes its clean-up; power transitions settle.
        for mig in list(self.migrations.values()):
            if mig.in_progress:
                migration.fail(self, mig, "the migration was interrupted (management partition restarted)")
            elif mig.phase == "complete":
                migration.finish(self, mig)
        for system in self.systems.values():
            for p in system.partitions:
                if p.state == ref.STARTING:
                    p.state, p.rmc_state = ref.RUNNING, p.rmc_when_running
                elif p.state == ref.SHUTTING_DOWN:
                    p.state, p.rmc_state, p.started_at = ref.NOT_ACTIVATED, "inactive", None

    def snapshot(self) -> dict:
        return {"sim_time": self.sim_time,
                "systems": [m.to_dict(s) for s in self.systems.values()],
                "migrations": [m.to_dict(x) for x in self.migrations.values()]}

    def persist(self) -> None:
        """Save the whole fleet state atomically. Call after every change (under the lock)."""
        self.state.save_state(self.snapshot())
        self._last_save = time.monotonic()
        self.changed.notify_all()

    # --- lookups -----------------------------------------------------------------------------------------
    def system_at(self, address: str) -> m.System | None:
        """The system whose IVM answers at ``address`` (its loopback address or its IVM name)."""
        for s in self.systems.values():
            if address in (s.address, s.ivm):
                return s
        return None

    def authorized_keys(self, ivm: str) -> list[str]:
        return self.systems[ivm].authorized_keys + self.state.authorized_keys(ivm)

    def ivm_public_key(self, ivm: str) -> str:
        from ivmsim.hostkeys import load_or_create
        key = load_or_create(self.state.ivm_dir(ivm) / "id_ed25519")
        return f"{key.get_name()} {key.get_base64()} padmin@{ivm}"

    def trusted(self, source_ivm: str, dest_ivm: str) -> bool:
        """Key trust from one IVM's padmin to another's: declared in the fleet file or added by mkauthkeys."""
        if (source_ivm, dest_ivm) in self.trust:
            return True
        mine = self.ivm_public_key(source_ivm).split()[:2]
        return any(line.split()[:2] == mine for line in self.authorized_keys(dest_ivm))

    def migrations_in_progress(self, ivm: str, migration_type: str) -> int:
        return sum(1 for x in self.migrations.values()
                   if x.in_progress and x.migration_type == migration_type and ivm in (x.source_ivm, x.dest_ivm))

    # --- logs ----------------------------------------------------------------------------------------------
    def log_command(self, ivm: str, user: str, command: str, status: int | None, peer: str, note: str = "") -> None:
        record = {"time": now_iso(), "user": user, "command": command, "exit_status": status, "peer": peer}
        if note:
            record["note"] = note
        self.state.append_jsonl(ivm, "commands.jsonl", record)

    def _log_fault(self, ivm: str, event: str, fault, detail: str) -> None:
        record = {"time": now_iso(), "event": event, **fault.describe(), "detail": detail}
        self.state.append_jsonl(ivm, "faults.jsonl", record)
        print(f"ivmsim: fault {event} on {ivm}: {fault.kind} {fault.params} {detail}", file=sys.stderr, flush=True)
        if event == "added" and fault.kind == "host-key":
            self.rotate_host_key(ivm)

    # --- time ----------------------------------------------------------------------------------------------
    def schedule(self, delay_sim_s: float, action: str, ivm: str, lpar: str) -> None:
        self.timers.append((self.sim_time + delay_sim_s, action, ivm, lpar))

    def tick(self, dt_wall: float) -> None:
        with self.lock:
            dt = dt_wall * self.time_scale
            self.sim_time += dt
            structural = self._run_timers()
            structural |= migration.tick(self, dt)
            if structural:
                self.persist()
            elif self.migrations and time.monotonic() - self._last_save >= PROGRESS_SAVE_S:
                self.persist()
            else:
                self.changed.notify_all()

    def _run_timers(self) -> bool:
        due = [t for t in self.timers if t[0] <= self.sim_time]
        self.timers = [t for t in self.timers if t[0] > self.sim_time]
        for _, action, ivm, name in due:
            p = self.systems[ivm].lpar(name)
            if p is None:
                continue
            if action == "booted" and p.state == ref.STARTING:
                p.state, p.rmc_state = ref.RUNNING, p.rmc_when_running
            elif action == "halted" and p.state == ref.SHUTTING_DOWN:
                p.state, p.rmc_state, p.started_at = ref.NOT_ACTIVATED, "inactive", None
        return bool(due)

    def run_scheduler(self) -> threading.Thread:
        def loop():
            last = time.monotonic()
            while not self._stop.wait(TICK_S):
                now = time.monotonic()
                self.tick(now - last)
                last = now

        thread = threading.Thread(target=loop, name="ivmsim-scheduler", daemon=True)
        thread.start()
        return thread

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the scheduler and save the state; False (nothing saved) if the lock stayed held ``timeout`` seconds:
        a session thread stuck holding it (a client that stopped reading) must not keep the process from exiting."""
        self._stop.set()
        if not self.lock.acquire(timeout=timeout):
            return False
        try:
            self.persist()
        finally:
            self.lock.release()
        return True
