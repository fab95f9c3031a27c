"""Load benchmark of the simulated IVM fleet (ivmsim) over real SSH, against a paramiko floor.

One command: ``.venv/bin/python bench/ivmsim_bench.py`` (about 50 s with the defaults). See bench/README.md.

Two servers are up at once and take turns under the same client load:

* **ivmsim**: one simulator process (started through tests/simfleet.py) serving a generated fleet
  of ``--ivms`` IVMs, one SSH endpoint each;
* **baseline**: a minimal paramiko server in a child process, with as many endpoints, the same
  host key type, the same password login and TCP_NODELAY. It answers every command with exit
  status 0 and no output, like ``true``. This is the floor that paramiko and this machine set.

For each server: first one session on its own runs commands back to back (``alone_p50_ms``, the
per-command cost without queueing). Then, in each slice, ``--sessions`` clients (paramiko, one
thread each, host keys pinned, never auto-added), spread round-robin over the endpoints, all
connect at once. Each one measures connect + key exchange + authentication + its first command,
which gives the new sessions per second. Then they run the read mix back to back until the slice
ends, which gives the latency percentiles and the commands per second. The server process's CPU
time is read from /proc for each phase. Every exit status is checked (and ivmsim must print
something). A failure is counted and reported, never timed as a success.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import dataclasses
import io
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script from anywhere
from tests.simfleet import SimFleet  # noqa: E402  (the project's one way to start ivmsim)

PYTHON = sys.executable
READ_MIX = (
    "lssyscfg -r lpar",
    "lshwres -r virtualio --rsubtype scsi --level lpar",
    "lslparmigr -r sys",
)
USER = "padmin"
PASSWORD = "padmin"
CONNECT_TIMEOUT_S = 60.0
PROBE_S = 2.0  # length of the one-session latency probe per server


# -- measurement -------------------------------------------------------------------------------


@dataclass
class Target:
    """One SSH endpoint with its pinned host key."""

    host: str
    port: int
    host_key: paramiko.PKey
    username: str = USER
    password: str = PASSWORD
    expects_output: bool = False  # every command of the read mix prints something on a (simulated) IVM
    nodelay: bool = True  # TCP_NODELAY on the client socket (paramiko leaves Nagle on)


@dataclass
class Results:
    setup_s: list[float] = field(default_factory=list)  # connect + auth + first command, per session
    alone_s: list[float] = field(default_factory=list)  # one session on its own, per command
    command_s: list[float] = field(default_factory=list)  # steady phase, per command
    errors: list[str] = field(default_factory=list)
    connect_wall_s: float = 0.0
    steady_wall_s: float = 0.0
    connect_cpu_s: float = 0.0  # the server process's CPU time (user + system) during each phase
    steady_cpu_s: float = 0.0
    last_command_end: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def merge(self, other: Results) -> None:
        """Add another slice of the same server's load."""
        self.setup_s += other.setup_s
        self.alone_s += other.alone_s
        self.command_s += other.command_s
        self.errors += other.errors
        self.connect_wall_s += other.connect_wall_s
        self.steady_wall_s += other.steady_wall_s
        self.connect_cpu_s += other.connect_cpu_s
        self.steady_cpu_s += other.steady_cpu_s


def run_command(client: paramiko.SSHClient, command: str, expect_output: bool) -> None:
    """Run one command to the end; raise if it does not exit 0 (or, from ivmsim, prints nothing)."""
    _, stdout, stderr = client.exec_command(command, timeout=CONNECT_TIMEOUT_S)
    with stdout.channel:  # closes the channel when done, as ssh does
        out = stdout.read()
        err = stderr.read()
        status = stdout.channel.recv_exit_status()
    if status != 0:
        raise RuntimeError(f"{command!r} exited {status}: {err.decode(errors='replace').strip()[:200]}")
    if expect_output and not out.strip():
        raise RuntimeError(f"{command!r} exited 0 but printed nothing")


def open_client(target: Target) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    # Pinned: the only key accepted for this endpoint is the one the server published; never AutoAdd.
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    name = target.host if target.port == 22 else f"[{target.host}]:{target.port}"
    client.get_host_keys().add(name, target.host_key.get_name(), target.host_key)
    sock = socket.create_connection((target.host, target.port), timeout=CONNECT_TIMEOUT_S)
    if target.nodelay:
        # Without it, each small SSH message after the first waits for a delayed ACK (~40 ms on Linux).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    client.connect(target.host, target.port, username=target.username, password=target.password, sock=sock,
                   timeout=CONNECT_TIMEOUT_S, banner_timeout=CONNECT_TIMEOUT_S, auth_timeout=CONNECT_TIMEOUT_S,
                   look_for_keys=False, allow_agent=False)
    return client


def probe_latency(target: Target, seconds: float) -> list[float]:
    """One session alone, commands back to back: the per-command cost without any queueing."""
    client = open_client(target)
    timings: list[float] = []
    try:
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            run_command(client, READ_MIX[len(timings) % len(READ_MIX)], target.expects_output)
            timings.append(time.perf_counter() - t0)
    finally:
        client.close()
    return timings


def session_worker(index: int, target: Target, results: Results, start: threading.Barrier,
                   connected: threading.Barrier, stop_at: list[float]) -> None:
    """One client: connect, first command, wait for everyone, then commands until the deadline."""
    client = None
    try:
        start.wait()
        t0 = time.perf_counter()
        try:
            client = open_client(target)
            run_command(client, READ_MIX[index % len(READ_MIX)], target.expects_output)
        except Exception as exc:  # counted, reported, and this session sits out the steady phase
            with results.lock:
                results.errors.append(f"setup: {type(exc).__name__}: {exc}")
            client = None
        else:
            with results.lock:
                results.setup_s.append(time.perf_counter() - t0)
        connected.wait()
        if client is None:
            return
        timings = []
        n = index
        while time.perf_counter() < stop_at[0]:
            n += 1
            t0 = time.perf_counter()
            try:
                run_command(client, READ_MIX[n % len(READ_MIX)], target.expects_output)
            except Exception as exc:
                with results.lock:
                    results.errors.append(f"command: {type(exc).__name__}: {exc}")
                break
            timings.append(time.perf_counter() - t0)
        with results.lock:
            results.command_s.extend(timings)
            results.last_command_end = max(results.last_command_end, time.perf_counter())
    finally:
        if client is not None:
            client.close()


def process_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, from /proc (Linux); NaN where that is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def run_load(targets: list[Target], sessions: int, duration_s: float, server_pid: int) -> Results:
    """One slice: all sessions connect at once, then run the read mix until the deadline, then hang up."""
    results = Results()
    stop_at = [0.0]
    marks: dict[str, float] = {}
    cpu: dict[str, float] = {}

    def start_of_connect_phase() -> None:
        cpu["start"] = process_cpu_s(server_pid)
        marks["start"] = time.perf_counter()

    def end_of_connect_phase() -> None:
        # A barrier action runs before any waiting thread is released, so every worker sees the deadline.
        marks["connected"] = time.perf_counter()
        cpu["connected"] = process_cpu_s(server_pid)
        stop_at[0] = marks["connected"] + duration_s

    start = threading.Barrier(sessions + 1, action=start_of_connect_phase)
    connected = threading.Barrier(sessions + 1, action=end_of_connect_phase)
    threads = [
        threading.Thread(target=session_worker, args=(i, targets[i % len(targets)], results, start, connected, stop_at),
                         daemon=True)
        for i in range(sessions)
    ]
    for thread in threads:
        thread.start()
    start.wait()
    connected.wait()
    for thread in threads:
        thread.join()
    results.connect_wall_s = marks["connected"] - marks["start"]
    results.connect_cpu_s = cpu["connected"] - cpu["start"]
    results.steady_cpu_s = process_cpu_s(server_pid) - cpu["connected"]
    # Commands that started before the deadline count; the wall time runs to the last one's end.
    results.steady_wall_s = max(results.last_command_end, stop_at[0]) - marks["connected"]
    return results


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ranked = sorted(values)
    return ranked[min(len(ranked) - 1, max(0, round(p / 100 * len(ranked)) - 1))]


def summarise(name: str, results: Results) -> dict:
    ok = len(results.setup_s)
    return {
        "server": name,
        "sessions_set_up": ok,
        "errors": len(results.errors),
        "new_sessions_per_s": ok / results.connect_wall_s if results.connect_wall_s else 0.0,
        "alone_p50_ms": 1000 * percentile(results.alone_s, 50),
        "setup_p50_ms": 1000 * percentile(results.setup_s, 50),
        "setup_p99_ms": 1000 * percentile(results.setup_s, 99),
        "commands": len(results.command_s),
        "commands_per_s": len(results.command_s) / results.steady_wall_s if results.steady_wall_s else 0.0,
        "latency_p50_ms": 1000 * percentile(results.command_s, 50),
        "latency_p99_ms": 1000 * percentile(results.command_s, 99),
        "server_cpu_ms_per_session": 1000 * results.connect_cpu_s / ok if ok else float("nan"),
        "server_cpu_ms_per_command": (1000 * results.steady_cpu_s / len(results.command_s)
                                      if results.command_s else float("nan")),
    }


# -- the baseline server ----------------------------------------------------------------------------


class _AnswerTrue(paramiko.ServerInterface):
    """Accepts padmin's password and answers every exec with exit 0, no output."""

    def check_auth_password(self, username: str, password: str) -> int:
        ok = username == USER and password == PASSWORD
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_channel_request(self, kind: str, chanid: int) -> int:
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        # The exec reply is sent after this returns, so the answer goes from another thread (the transport
        # thread must not block on a send). We send the exit status and EOF but leave the close to the client:
        # a close that overtook the exec reply would fail the client's exec_command with "Channel closed".
        threading.Thread(target=self._finish, args=(channel,), daemon=True).start()
        return True

    @staticmethod
    def _finish(channel: paramiko.Channel) -> None:
        channel.send_exit_status(0)
        channel.shutdown_write()


def serve_baseline(listeners: int) -> None:
    """Child-process entry: ``listeners`` endpoints, like ivmsim's one per IVM; print them as one JSON line.

    Each listener accepts and negotiates on its own thread, the usual paramiko server loop.
    """
    # Ed25519, as ivmsim's host keys are, so that both rows pay for the same signatures.
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    host_key = paramiko.Ed25519Key.from_private_key(io.StringIO(pem.decode()))
    socks = [socket.create_server(("127.0.0.1", 0), backlog=128) for _ in range(listeners)]

    def accept_loop(listener: socket.socket) -> None:
        while True:
            sock, _ = listener.accept()
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # the floor: no Nagle stalls
            transport = paramiko.Transport(sock)
            transport.add_server_key(host_key)
            try:
                transport.start_server(server=_AnswerTrue())
            except (paramiko.SSHException, OSError, EOFError):
                transport.close()

    threads = [threading.Thread(target=accept_loop, args=(sock,), daemon=True) for sock in socks]
    for thread in threads:
        thread.start()
    print(json.dumps({"ports": [sock.getsockname()[1] for sock in socks], "key_type": host_key.get_name(),
                      "key": host_key.get_base64()}), flush=True)
    threads[0].join()


def start_baseline(listeners: int) -> tuple[subprocess.Popen, list[Target]]:
    proc = subprocess.Popen([PYTHON, __file__, "--serve-baseline", "--ivms", str(listeners)], stdout=subprocess.PIPE,
                            text=True)
    line = proc.stdout.readline()
    if not line:
        stop(proc)
        raise RuntimeError("baseline server did not start")
    info = json.loads(line)
    key = paramiko.PKey.from_type_string(info["key_type"], base64.b64decode(info["key"]))
    return proc, [Target("127.0.0.1", port, key) for port in info["ports"]]


# -- the simulator ------------------------------------------------------------------------------------


def fleet_toml(ivms: int) -> str:
    """A small valid fleet (ivmsim/FLEET.md): per IVM, one VIOS with an SEA and 3 disks, 3 client partitions."""
    lines = ['# Generated by bench/ivmsim_bench.py', 'trust = "none"', ""]
    for n in range(1, ivms + 1):
        serial = f"06B{n:04d}"
        lines += [
            "[[system]]",
            f'name = "Server-8205-E6C-SN{serial}"',
            f'ivm = "ivm{n}"',
            'type_model = "8205-E6C"',
            f'serial = "{serial}"',
            "memory_mb = 65536",
            "proc_units = 8.0",
            "mem_region_size = 128",
            f'password = "{PASSWORD}-{n}"',
            "",
            "[system.vios]",
            f'name = "vios{n}"',
            'sea = [{ name = "ent4", pvid = 1, vlans = [1, 100] }]',
            "hdisk = [",
            *(f'  {{ name = "hdisk{d}", unique_id = "3321360050768018{n:06d}{d:04d}04214503IBMfcp" }},'
              for d in range(1, 4)),
            "]",
            "",
        ]
        for d, (lpar, state) in enumerate([("app", "Running"), ("db", "Running"), ("web", "Not Activated")],
                                          start=1):
            lines += [
                "[[system.lpar]]",
                f'name = "{lpar}{n:03d}"',
                f"id = {d + 1}",
                f'state = "{state}"',
                "memory_mb = 4096",
                "proc_units = 0.5",
                "eth = [{ slot = 2, vlan = 1, addl_vlans = [100] }]",
                f'scsi = [{{ slot = 3, disks = ["hdisk{d}"] }}]',
                "",
            ]
    return "\n".join(lines)


def start_simulator(workdir: Path, ivms: int) -> tuple[SimFleet, list[Target]]:
    """Start one ivmsim process on a generated fleet through tests/simfleet.py; targets from its ready file."""
    fleet_path = workdir / "fleet.toml"
    fleet_path.write_text(fleet_toml(ivms))
    fleet = SimFleet(fleet_path, state_dir=workdir / "state", start_timeout=120.0).start()
    targets = []
    for entry in fleet.ivms:
        key_type, key_b64 = entry["host_key"].split()[:2]
        key = paramiko.PKey.from_type_string(key_type, base64.b64decode(key_b64))
        targets.append(Target(entry["host"], entry["port"], key, entry["user"], entry["password"],
                              expects_output=True))
    return fleet, targets


def stop_simulator(fleet: SimFleet, errors: list[str]) -> None:
    code = fleet.stop(cleanup=False)  # the temporary directory goes with the run
    if code != 0:
        errors.append(f"ivmsim exited {code}: {fleet.stderr_text()[-500:]}")


def stop(proc: subprocess.Popen) -> None:
    """Stop a server this script started (SIGTERM, then SIGKILL after 10 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- report ---------------------------------------------------------------------------------------


METRICS = [
    ("alone_p50_ms", "{:.1f}"), ("sessions_set_up", "{}"), ("errors", "{}"), ("new_sessions_per_s", "{:.1f}"), ("setup_p50_ms", "{:.0f}"),
    ("setup_p99_ms", "{:.0f}"), ("commands", "{}"), ("commands_per_s", "{:.0f}"), ("latency_p50_ms", "{:.1f}"),
    ("latency_p99_ms", "{:.1f}"), ("server_cpu_ms_per_session", "{:.1f}"), ("server_cpu_ms_per_command", "{:.2f}"),
]


def print_table(rows: list[dict]) -> None:
    """One line per metric, one column per server."""
    width = max(len(name) for name, _ in METRICS)
    print(" " * width + "".join(f"{row['server']:>12}" for row in rows))
    for name, fmt in METRICS:
        print(name.ljust(width) + "".join(f"{fmt.format(row[name]):>12}" for row in rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ivms", type=int, default=100, help="IVMs in the generated fleet (default 100)")
    parser.add_argument("--sessions", type=int, default=200, help="concurrent SSH sessions (default 200)")
    parser.add_argument("--duration", type=float, default=12.0,
                        help="seconds of steady load per server, split into slices (default 12)")
    parser.add_argument("--slices", type=int, default=2,
                        help="turns each server takes, each with a fresh connect phase (default 2)")
    parser.add_argument("--server", choices=("both", "ivmsim", "baseline"), default="both",
                        help="which servers to measure (default both)")
    parser.add_argument("--client-nagle", action="store_true",
                        help="leave Nagle on in the clients (paramiko's default) instead of setting TCP_NODELAY")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--serve-baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    # Peers that hang up make paramiko log "Socket exception: Connection reset by peer"; failures that
    # matter are counted and reported by this script instead.
    logging.getLogger("paramiko").addHandler(logging.NullHandler())
    if args.serve_baseline:
        serve_baseline(args.ivms)
        return 0

    names = ["ivmsim", "baseline"] if args.server == "both" else [args.server]
    print(f"ivmsim bench: {args.sessions} sessions over {args.ivms} IVMs; {', '.join(names)} in turn, "
          f"{args.slices} slices of {args.duration / args.slices:.1f} s steady load each; {os.cpu_count()} CPUs",
          flush=True)
    errors: list[str] = []
    totals = {name: Results() for name in names}
    with tempfile.TemporaryDirectory(prefix="ivmsim-bench-") as tmp, contextlib.ExitStack() as running:
        targets, pids = {}, {}
        if "ivmsim" in names:
            t0 = time.perf_counter()
            fleet, targets["ivmsim"] = start_simulator(Path(tmp), args.ivms)
            running.callback(stop_simulator, fleet, errors)
            pids["ivmsim"] = fleet.proc.pid
            print(f"ivmsim ready with {len(targets['ivmsim'])} IVMs in {time.perf_counter() - t0:.1f} s", flush=True)
        if "baseline" in names:
            proc, targets["baseline"] = start_baseline(args.ivms)
            running.callback(stop, proc)
            pids["baseline"] = proc.pid
        for name in names:
            targets[name] = [dataclasses.replace(t, nodelay=not args.client_nagle) for t in targets[name]]
            totals[name].alone_s = probe_latency(targets[name][0], PROBE_S)
        # Both servers stay up and take turns, so load from elsewhere on the machine hits both alike.
        for _ in range(args.slices):
            for name in names:
                totals[name].merge(run_load(targets[name], args.sessions, args.duration / args.slices, pids[name]))
    rows = [summarise(name, totals[name]) for name in names]
    errors += [f"{name} {e}" for name in names for e in totals[name].errors]
    print_table(rows)
    for error in sorted(set(errors))[:10]:
        print("error:", error)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
