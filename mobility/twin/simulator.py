"""An ivmsim started for one rehearsal: a child process on a free port, with a temporary state directory that is
removed when it stops.

ivmweb does not import ivmsim: it writes a fleet file (``mobility.twin.export``) and runs ``python -m ivmsim`` on
it, as an administrator would; the ready file it writes (``ivmsim/FLEET.md``) gives each twin IVM's address, port,
padmin password and host key, which the rehearsal pins. Nothing of it is stored in the database.
"""

from __future__ import annotations

import ctypes
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

START_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the thread that started it ends (a worker killed mid-rehearsal
    must not leave a simulator running). Only a system call: nothing here may take a lock after fork."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class TwinNotStarted(RuntimeError):
    """ivmsim refused the fleet file or did not become ready in time; the message carries what it said."""


@dataclass(frozen=True)
class TwinIVM:
    """One IVM of the twin, as its ready file describes it."""

    name: str
    system: str
    host: str
    port: int
    user: str
    password: str
    host_key: str


class TwinSimulator:
    """``with TwinSimulator(fleet_toml, time_scale=…) as twin: twin.ivm("name")``."""

    def __init__(self, fleet_toml: str, *, time_scale: float, seed: int = 0):
        self.fleet_toml, self.time_scale, self.seed = fleet_toml, time_scale, seed
        self.state_dir: Path | None = None
        self.proc: subprocess.Popen | None = None
        self.ivms: dict[str, TwinIVM] = {}

    def start(self) -> TwinSimulator:
        self.state_dir = Path(tempfile.mkdtemp(prefix="ivmweb-twin-"))
        fleet, ready = self.state_dir / "fleet.toml", self.state_dir / "ready.json"
        fleet.write_text(self.fleet_toml)
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ivmsim", "--fleet", str(fleet), "--state", str(self.state_dir / "state"),
             "--port", "0", "--time-scale", f"{self.time_scale:g}", "--seed", str(self.seed),
             "--ready-file", str(ready)],
            cwd=settings.BASE_DIR, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"}, preexec_fn=_die_with_parent)  # noqa: PLW1509
        deadline = time.monotonic() + START_TIMEOUT_S
        while not ready.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                said = self.stderr_text().strip().splitlines()[-3:]
                self.stop()
                raise TwinNotStarted("the twin's simulator did not start: " + (" ".join(said) or "no answer"))
            time.sleep(0.05)
        for entry in json.loads(ready.read_text())["ivms"]:
            self.ivms[entry["name"]] = TwinIVM(entry["name"], entry["system"], entry["host"], int(entry["port"]),
                                               entry["user"], entry["password"], entry["host_key"])
        return self

    def ivm(self, name: str) -> TwinIVM:
        return self.ivms[name]

    def command_count(self, name: str) -> int:
        """Commands the twin IVM logged (``commands.jsonl``)."""
        log = self.state_dir / "state" / name / "commands.jsonl" if self.state_dir else None
        return sum(1 for _ in log.open()) if log is not None and log.exists() else 0

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it lingers; the state directory goes in every case."""
        try:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
                try:
                    self.proc.wait(10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
        finally:
            if self.state_dir is not None:
                shutil.rmtree(self.state_dir, ignore_errors=True)
            if getattr(self, "_stderr", None) is not None:
                self._stderr.close()
                self._stderr = None

    def __enter__(self) -> TwinSimulator:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
