"""Fault injection: declared in the fleet file or added at run time with ``ivmsim-fault`` (not part of IVM).

A fault belongs to one IVM. Kinds and their parameters (all ``key=value``):

* ``fail-migration phase=starting|precopy|transfer|suspended|completing [lpar=NAME] [count=1]`` —
  a migration from or to this IVM fails when it enters that phase.
* ``drop-ssh after=N [when=before|after] [count=1]`` — after N more commands, every SSH connection to
  this IVM is closed; ``before`` drops the (N+1)th command unrun, ``after`` runs it and loses its answer.
* ``drop-ssh phase=P [lpar=NAME] [count=1]`` — close every connection when a migration enters phase P.
* ``hang command=PREFIX [seconds=3600] [count=1]`` — a matching command waits that long, or until the fault is
  cleared, before it runs; it is logged only then. A client that goes away while it waits leaves it unrun (logged
  with no exit status).
* ``hold-phase phase=starting|precopy|transfer|suspended|complete [lpar=NAME]`` — a migration from or to this IVM
  stays in that phase (no progress, no next phase) until the fault is cleared; ``complete`` is the source showing
  Migration Complete before it reclaims the partition.
* ``slow-link factor=F [peer=IVM]`` / ``stall-link [peer=IVM]`` — the MSP link runs at F × its bandwidth
  (0 when stalled) until the fault is cleared.
* ``host-key`` — the IVM gets a new SSH host key at once (connections from then on see it).
* ``corrupt-output command=PREFIX [line=1] [count=1]`` — one line of a matching command's output is mangled.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field

from ivmsim import reference as ref
from ivmsim.errors import CommandError

PHASES = ("starting", "precopy", "transfer", "suspended", "completing")
HOLDABLE_PHASES = ("starting", "precopy", "transfer", "suspended", "complete")  # "completing" passes in one tick
KINDS: dict[str, dict[str, str]] = {  # kind -> {param: "required"|"optional"}
    "fail-migration": {"phase": "required", "lpar": "optional", "count": "optional"},
    "drop-ssh": {"after": "optional", "when": "optional", "phase": "optional", "lpar": "optional",
                 "count": "optional"},
    "hang": {"command": "required", "seconds": "optional", "count": "optional"},
    "slow-link": {"factor": "required", "peer": "optional"},
    "stall-link": {"peer": "optional"},
    "hold-phase": {"phase": "required", "lpar": "optional"},
    "host-key": {},
    "corrupt-output": {"command": "required", "line": "optional", "count": "optional"},
}


@dataclass
class Fault:
    id: int
    ivm: str
    kind: str
    params: dict[str, str] = field(default_factory=dict)
    remaining: int | None = None  # None = until cleared
    seen_commands: int = 0
    released: threading.Event = field(default_factory=threading.Event, repr=False)  # set when cleared (hang)

    def describe(self) -> dict:
        return {"id": self.id, "ivm": self.ivm, "kind": self.kind, "params": dict(self.params),
                "remaining": self.remaining}


def _bad(text: str) -> CommandError:
    return CommandError(ref.E_BAD_VALUE, f"ivmsim-fault: {text}")


def build(fault_id: int, ivm: str, kind: str, params: dict[str, str], ivms: list[str]) -> Fault:
    """Check a fault's parameters and return it; raises CommandError naming the bad parameter."""
    if kind not in KINDS:
        raise _bad(f"unknown fault kind {kind!r} (kinds: {', '.join(KINDS)})")
    spec = KINDS[kind]
    for key in params:
        if key not in spec:
            raise _bad(f"{kind} does not take the parameter {key!r}")
    for key, need in spec.items():
        if need == "required" and key not in params:
            raise _bad(f"{kind} needs {key}=...")
    p = params

    def number(key, lo, cast=int):
        try:
            v = cast(p[key])
        except ValueError:
            raise _bad(f"{key}={p[key]} is not a number") from None
        if v < lo:
            raise _bad(f"{key} must be at least {lo}")
        return v

    phases = HOLDABLE_PHASES if kind == "hold-phase" else PHASES
    if "phase" in p and p["phase"] not in phases:
        raise _bad(f"phase must be one of {', '.join(phases)}")
    if "peer" in p and p["peer"] not in ivms:
        raise _bad(f"peer {p['peer']!r} is not an IVM of this fleet")
    if kind == "drop-ssh":
        if ("after" in p) == ("phase" in p):
            raise _bad("drop-ssh needs exactly one of after=N or phase=P")
        if "after" in p:
            number("after", 0)
        if p.get("when", "before") not in ("before", "after"):
            raise _bad("when must be before or after")
    for key in ("seconds",):
        if key in p:
            number(key, 0, float)
    if "line" in p:
        number("line", 1)
    if kind == "slow-link":
        factor = number("factor", 0, float)
        if factor > 1:
            raise _bad("factor must be between 0 and 1")
    count = number("count", 1) if "count" in p else 1
    persistent = kind in ("slow-link", "stall-link", "hold-phase")
    return Fault(id=fault_id, ivm=ivm, kind=kind, params=dict(p), remaining=None if persistent else count)


class FaultBook:
    """All active faults of the fleet. Thread-safe on its own (used outside the world lock by SSH threads)."""

    def __init__(self, ivms: list[str], log):
        self._ivms = ivms
        self._faults: list[Fault] = []
        self._spent_hangs: list[Fault] = []  # used up, but commands may still wait on them until they are cleared
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._log = log  # callable(ivm, event, fault, detail)

    def add(self, ivm: str, kind: str, params: dict[str, str]) -> Fault:
        with self._lock:
            fault = build(next(self._ids), ivm, kind, params, self._ivms)
            if kind != "host-key":
                self._faults.append(fault)
        self._log(ivm, "added", fault, "")
        return fault

    def list(self, ivm: str) -> list[Fault]:
        with self._lock:
            return [f for f in self._faults if f.ivm == ivm]

    def clear(self, ivm: str, fault_id: int | None) -> int:
        """Remove faults and release the commands their hangs hold; returns how many were cleared."""
        with self._lock:
            gone = [f for f in self._faults + self._spent_hangs
                    if f.ivm == ivm and (fault_id is None or f.id == fault_id)]
            self._faults = [f for f in self._faults if f not in gone]
            self._spent_hangs = [f for f in self._spent_hangs if f not in gone]
        for f in gone:
            f.released.set()
            self._log(ivm, "cleared", f, "")
        return len(gone)

    def _use(self, fault: Fault, detail: str) -> None:
        # caller holds self._lock
        if fault.remaining is not None:
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
                if fault.kind == "hang":
                    self._spent_hangs.append(fault)
        self._log(fault.ivm, "triggered", fault, detail)

    # --- hooks ----------------------------------------------------------------------------------------
    def on_command(self, ivm: str, line: str) -> dict:
        """Actions for one incoming command: {"drop": "before"|"after", "hang": (s, released), "corrupt_line": n}."""
        actions: dict = {}
        with self._lock:
            for f in list(self._faults):
                if f.ivm != ivm:
                    continue
                if f.kind == "drop-ssh" and "after" in f.params:
                    if f.seen_commands >= int(f.params["after"]):
                        actions["drop"] = f.params.get("when", "before")
                        f.seen_commands = 0
                        self._use(f, f"connection dropped {actions['drop']} running: {line}")
                    else:
                        f.seen_commands += 1
                elif f.kind == "hang" and line.startswith(f.params["command"]):
                    seconds = float(f.params.get("seconds", 3600))
                    actions["hang"] = (seconds, f.released)
                    self._use(f, f"hanging {seconds}s: {line}")
                elif f.kind == "corrupt-output" and line.startswith(f.params["command"]):
                    actions["corrupt_line"] = int(f.params.get("line", 1))
                    self._use(f, f"corrupting line {actions['corrupt_line']} of: {line}")
        return actions

    def on_phase(self, ivms: tuple[str, str], lpar: str, phase: str) -> dict:
        """Actions when a migration between ``ivms`` enters ``phase``: {"fail": reason, "drop": [ivm, ...]}."""
        actions: dict = {"drop": []}
        with self._lock:
            for f in list(self._faults):
                if f.ivm not in ivms or f.params.get("phase") != phase:
                    continue
                if f.params.get("lpar") not in (None, lpar):
                    continue
                if f.kind == "fail-migration" and "fail" not in actions:
                    actions["fail"] = f"injected fault {f.id}: failure in phase {phase}"
                    self._use(f, f"migration of {lpar} failed in phase {phase}")
                elif f.kind == "drop-ssh":
                    actions["drop"].append(f.ivm)
                    self._use(f, f"connections dropped when {lpar} entered phase {phase}")
        return actions

    def holds(self, ivms: tuple[str, str], lpar: str, phase: str) -> bool:
        """True while a ``hold-phase`` fault keeps a migration between ``ivms`` in ``phase``."""
        with self._lock:
            return any(f.kind == "hold-phase" and f.ivm in ivms and f.params["phase"] == phase
                       and f.params.get("lpar") in (None, lpar) for f in self._faults)

    def link_factor(self, src: str, dst: str) -> float:
        factor = 1.0
        with self._lock:
            for f in self._faults:
                if f.kind not in ("slow-link", "stall-link") or f.ivm not in (src, dst):
                    continue
                other = dst if f.ivm == src else src
                if f.params.get("peer") not in (None, other):
                    continue
                factor *= 0.0 if f.kind == "stall-link" else float(f.params["factor"])
        return factor


def corrupt(text: str, line_no: int) -> str:
    """Mangle one output line: cut it short and add bytes no IVM would print."""
    lines = text.split("\n")
    idx = min(line_no, max(len(lines) - 1, 1)) - 1
    line = lines[idx]
    lines[idx] = line[: len(line) // 2] + "\x1b[#\ufffd~corrupt~"
    return "\n".join(lines)
