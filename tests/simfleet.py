"""Start the ivmsim simulator as a subprocess and talk to it over real SSH. For any test suite.

Usage::

    from tests.simfleet import SimFleet, DEMO_FLEET

    with SimFleet(DEMO_FLEET, time_scale=50.0, seed=1) as fleet:
        ivm = fleet.ivm("ivm1")                     # the ready-file entry: host, port, user, password, host_key
        status, out, err = fleet.ssh("ivm1", "lssyscfg -r sys -F name")
        fleet.command_log("ivm1")                   # parsed DIR/ivm1/commands.jsonl

Host keys are pinned from the ready file (paramiko ``RejectPolicy`` with the known key; unknown keys are never auto-added).
No pytest fixtures live here: wrap ``SimFleet`` in whatever fixture scope your tests need.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import paramiko

REPO = Path(__file__).resolve().parent.parent
DEMO_FLEET = REPO / "ivmsim" / "fleets" / "demo.toml"


class SimFleetError(RuntimeError):
    """The simulator did not start, or stopped unexpectedly."""


class SimFleet:
    """One simulator process with its own temporary state directory (or ``state_dir`` to reuse one)."""

    def __init__(self, fleet_path: str | Path = DEMO_FLEET, *, time_scale: float = 50.0, seed: int = 1,
                 state_dir: str | Path | None = None, start_timeout: float = 20.0):
        self.fleet_path = Path(fleet_path)
        self.time_scale, self.seed, self.start_timeout = time_scale, seed, start_timeout
        self._own_state = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="ivmsim-state-"))
        self.ready: dict = {}
        self.proc: subprocess.Popen | None = None
        self._clients: dict[str, paramiko.SSHClient] = {}

    # --- lifecycle ---------------------------------------------------------------------------------------
    def start(self) -> SimFleet:
        ready_file = self.state_dir / "ready.json"
        if ready_file.exists():
            ready_file.unlink()
        self._stderr = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "ivmsim", "--fleet", str(self.fleet_path), "--state", str(self.state_dir),
             "--port", "0", "--time-scale", str(self.time_scale), "--seed", str(self.seed),
             "--ready-file", str(ready_file)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=self._stderr, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        deadline = time.monotonic() + self.start_timeout
        while not ready_file.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                err = self.stderr_text()
                self.stop()
                raise SimFleetError(f"ivmsim did not become ready (exit {self.proc.returncode}): {err}")
            time.sleep(0.05)
        self.ready = json.loads(ready_file.read_text())
        return self

    def stop(self, cleanup: bool | None = None) -> int | None:
        """SIGTERM the simulator and wait; remove the temp state dir unless ``cleanup=False``."""
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        code = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        elif self.proc is not None:
            code = self.proc.returncode
        if cleanup if cleanup is not None else self._own_state:
            shutil.rmtree(self.state_dir, ignore_errors=True)
        return code

    def restart(self) -> SimFleet:
        """Stop and start again on the same state directory (state survives; in-flight migrations fail)."""
        self.stop(cleanup=False)
        return self.start()

    def __enter__(self) -> SimFleet:
        try:
            return self.start()
        except BaseException:  # (a Ctrl-C while it starts): never left running
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()

    def stderr_text(self) -> str:
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")

    # --- ready data --------------------------------------------------------------------------------------
    @property
    def ivms(self) -> list[dict]:
        return self.ready["ivms"]

    def ivm(self, name: str) -> dict:
        for entry in self.ivms:
            if entry["name"] == name:
                return entry
        raise KeyError(name)

    def known_hosts_line(self, name: str) -> str:
        """An OpenSSH known_hosts line for the IVM (``[host]:port keytype base64``)."""
        e = self.ivm(name)
        return f"[{e['host']}]:{e['port']} {e['host_key']}"

    # --- SSH ---------------------------------------------------------------------------------------------
    def client(self, name: str, *, fresh: bool = False, pkey: paramiko.PKey | None = None) -> paramiko.SSHClient:
        """A connected paramiko client with the IVM's host key pinned (cached unless ``fresh``)."""
        if not fresh and pkey is None and name in self._clients:
            t = self._clients[name].get_transport()
            if t is not None and t.is_active():
                return self._clients[name]
        e = self.ivm(name)
        client = paramiko.SSHClient()
        keytype, b64 = e["host_key"].split()[:2]
        host_key = paramiko.PKey.from_type_string(keytype, base64.b64decode(b64))
        client.get_host_keys().add(f"[{e['host']}]:{e['port']}", keytype, host_key)
        client.set_missing_host_key_policy(paramiko.RejectPolicy())
        auth = {"pkey": pkey} if pkey is not None else {"password": e["password"]}
        client.connect(e["host"], port=e["port"], username=e["user"], allow_agent=False, look_for_keys=False,
                       timeout=10, banner_timeout=10, auth_timeout=10, **auth)
        if not fresh and pkey is None:
            self._clients[name] = client
        return client

    def ssh(self, name: str, command: str, timeout: float = 30.0) -> tuple[int, str, str]:
        """Run one command on IVM ``name``; returns (exit_status, stdout, stderr).

        Raises ``paramiko.SSHException`` when the connection ends without an exit status (a dropped
        connection); the next call reconnects.
        """
        client = self.client(name)
        _, out, err = client.exec_command(command, timeout=timeout)
        stdout, stderr = out.read().decode(), err.read().decode()
        status = out.channel.recv_exit_status()
        if status == -1:
            raise paramiko.SSHException(f"{name}: connection closed before {command!r} returned an exit status")
        return status, stdout, stderr

    def command_log(self, name: str) -> list[dict]:
        """The IVM's command log (one dict per command: time, user, command, exit_status, peer)."""
        path = self.state_dir / name / "commands.jsonl"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def wait_for(self, name: str, command: str, predicate, timeout: float = 20.0, interval: float = 0.05):
        """Poll ``command`` until ``predicate(stdout)`` is true; returns the last stdout."""
        deadline = time.monotonic() + timeout
        while True:
            _, out, _ = self.ssh(name, command)
            if predicate(out):
                return out
            if time.monotonic() > deadline:
                raise TimeoutError(f"{name}: {command!r} never satisfied the condition; last output: {out!r}")
            time.sleep(interval)
