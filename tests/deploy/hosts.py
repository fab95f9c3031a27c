"""Several hosts on one machine, for real: a network namespace per host (``ip netns``), each joined by a veth pair to
a bridge in the root namespace, where PostgreSQL, Redis and nginx live.

PostgreSQL and Redis listen on 127.0.0.1 only (they are shared with the rest of the machine), so the root namespace
forwards a port on the bridge address to each (``socat``, one process per service): the web and worker hosts reach
them at ``10.123.N.1`` as they would reach a database server. ivmsim runs in a namespace of its own, each IVM at its
own address there. When namespaces cannot be made (no privilege, no ``ip``), ``Network`` says why and the same
topology runs on loopback addresses instead: the caller reports it, never passing silently.

Everything made here is undone by ``close()`` (processes first, then namespaces and the bridge), and names carry the
pid of the test process, so a crashed run's leftovers are found and removed by the next one (``sweep``).
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

PREFIX = "ivw23"
REPO = Path(__file__).resolve().parents[2]
HOST_NAME = "ivmweb.test"  # the site's name in the test copy of the nginx site


def _sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, check=check, timeout=30)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep() -> None:
    """Remove namespaces and bridges left by test processes that are gone (a run killed before its clean-up)."""
    if shutil.which("ip") is None:
        return
    listed = _sh("ip", "netns", "list", check=False).stdout
    for name in re.findall(rf"^({PREFIX}-(\d+)-\w+)", listed, re.M):
        if not _alive(int(name[1])):
            _sh("ip", "netns", "del", name[0], check=False)
    for link, pid in re.findall(r"^\d+: (iw(\d+)br)[:@]", _sh("ip", "-o", "link", "show", check=False).stdout, re.M):
        if not _alive(int(pid)):
            _sh("ip", "link", "del", link, check=False)


class Network:
    """The hosts and their addresses. ``mode`` is ``netns`` or ``loopback`` (then ``why_loopback`` says why)."""

    def __init__(self, hosts: dict[str, int]):
        """``hosts``: name -> how many addresses it needs (ivmsim: one per IVM)."""
        self.pid = os.getpid()
        self.tag = f"{self.pid}"
        self.subnet = f"10.123.{self.pid % 250}"
        self.gateway = f"{self.subnet}.1"
        self.hosts = hosts
        self.addresses: dict[str, list[str]] = {}
        self.namespaces: list[str] = []
        self.bridge = f"iw{self.tag}br"
        self.procs: list[subprocess.Popen] = []
        self.mode, self.why_loopback = "netns", ""
        if os.environ.get("IVMWEB_TEST_HOSTS") == "loopback":  # (to run the fallback on purpose)
            self.mode, self.why_loopback = "loopback", "IVMWEB_TEST_HOSTS=loopback"
            self._loopback()
            return
        try:
            self._make()
        except (subprocess.CalledProcessError, OSError, subprocess.TimeoutExpired) as exc:
            why = exc.stderr.strip() if isinstance(exc, subprocess.CalledProcessError) else str(exc)
            self._unmake()
            self.mode, self.why_loopback = "loopback", f"network namespaces cannot be created here ({why})"
            self._loopback()

    # --- topology ----------------------------------------------------------------------------------------------
    def _make(self) -> None:
        if shutil.which("ip") is None:
            raise OSError("no 'ip' command (iproute2)")
        sweep()
        _sh("ip", "link", "add", self.bridge, "type", "bridge")
        _sh("ip", "addr", "add", f"{self.gateway}/24", "dev", self.bridge)
        _sh("ip", "link", "set", self.bridge, "up")
        last = 10
        for k, (host, count) in enumerate(self.hosts.items()):
            ns = f"{PREFIX}-{self.tag}-{host}"
            outside, inside = f"iw{self.tag}h{k}", "eth0"
            _sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            _sh("ip", "link", "add", outside, "type", "veth", "peer", "name", inside, "netns", ns)
            _sh("ip", "link", "set", outside, "master", self.bridge, "up")
            self.addresses[host] = []
            for _ in range(count):
                last += 1
                address = f"{self.subnet}.{last}"
                _sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", inside)
                self.addresses[host].append(address)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "set", inside, "up")
            _sh("ip", "-n", ns, "route", "add", "default", "via", self.gateway)

    def _loopback(self) -> None:
        self.gateway = "127.0.0.1"
        for k, (host, count) in enumerate(self.hosts.items()):
            self.addresses[host] = [f"127.0.{k + 2}.{i + 1}" for i in range(count)]

    def _unmake(self) -> None:
        for ns in self.namespaces:
            _sh("ip", "netns", "del", ns, check=False)  # its veth goes with it
        self.namespaces = []
        _sh("ip", "link", "del", self.bridge, check=False)

    def address(self, host: str) -> str:
        return self.addresses[host][0]

    # --- processes -----------------------------------------------------------------------------------------------
    def prefix(self, host: str | None) -> list[str]:
        """The command prefix that runs a command on ``host`` (None: the root namespace, where nginx lives)."""
        if host is None or self.mode == "loopback":
            return []
        return ["ip", "netns", "exec", f"{PREFIX}-{self.tag}-{host}"]

    def start(self, host: str | None, argv: list[str], *, env: dict, log: Path, cwd: Path) -> subprocess.Popen:
        """``argv`` on ``host`` (``ip netns exec`` execs it: the Popen's pid is the program's own)."""
        out = open(log, "ab")  # noqa: SIM115 — the child's, closed with it
        proc = subprocess.Popen([*self.prefix(host), *argv], env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        out.close()
        self.procs.append(proc)
        return proc

    def forward(self, port: int, to: tuple[str, int]) -> int:
        """A port on the gateway address that forwards to ``to`` (in loopback mode: ``to``'s port itself)."""
        if self.mode == "loopback":
            return to[1]
        proc = subprocess.Popen(["socat", f"TCP-LISTEN:{port},bind={self.gateway},reuseaddr,fork,backlog=512",
                                 f"TCP:{to[0]}:{to[1]}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.procs.append(proc)
        wait_listening(self.gateway, port, proc)
        return port

    def close(self) -> None:
        """Every process stopped (killed if it outlives its SIGTERM) and waited for, then the topology removed: a
        process that failed to stop does not leave the others, or the namespaces, behind."""
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        try:
            for proc in self.procs:
                try:
                    proc.wait(max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    proc.kill()
            for proc in self.procs:
                proc.wait(10)
        finally:
            self._unmake()


def wait_listening(host: str, port: int, proc: subprocess.Popen | None = None, timeout: float = 30,
                   prefix: list[str] | None = None) -> None:
    """Until something accepts on host:port (from the root namespace, which reaches every host's address)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=0.5).close()
            return
        except OSError:
            if proc is not None and proc.poll() is not None:
                raise RuntimeError(f"{proc.args} exited ({proc.returncode}) before listening on {host}:{port}") from None
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port} after {timeout} s") from None
            time.sleep(0.1)


# --- the shipped deployment files, as a test or a bench runs them ----------------------------------------------

def unit(name: str) -> tuple[list[str], dict, int]:
    """A shipped unit's ExecStart (continuation lines joined), its Environment= and its Nice=."""
    text = (REPO / "deploy" / "systemd" / name).read_text().replace("\\\n", " ")
    argv = shlex.split(re.search(r"^ExecStart=(.*)$", text, re.M).group(1))
    env = dict(line.split("=", 1) for line in re.findall(r"^Environment=(.*)$", text, re.M))
    nice = re.search(r"^Nice=(\d+)$", text, re.M)
    return argv, env, int(nice.group(1)) if nice else 0


def nginx_site(upstreams: list[str], port: int, http_port: int, cert: Path, key: Path) -> str:
    """The shipped site with this test's names, ports, certificate and web processes (each change asserted, so a
    reshaped site breaks this test rather than passing untested)."""
    site = (REPO / "deploy" / "nginx" / "ivmweb.conf").read_text()
    changes = [
        (r"(    server 127\.0\.0\.1:800\d max_fails=1 fail_timeout=10s;\n)+",
         "".join(f"    server {u} max_fails=1 fail_timeout=10s;\n" for u in upstreams)),
        (r"listen 80;", f"listen 127.0.0.1:{http_port};"),
        (r"listen 443 ssl http2;", f"listen 127.0.0.1:{port} ssl http2;"),
        (r"    listen \[::\]:\d+( ssl http2)?;\n", ""),
        (r"server_name ivmweb\.example\.com;", f"server_name {HOST_NAME};"),
        (r"/etc/ssl/certs/ivmweb\.example\.com\.pem", str(cert)),
        (r"/etc/ssl/private/ivmweb\.example\.com\.key", str(key)),
        (r"/opt/ivmweb/staticfiles/", f"{REPO / 'static'}/"),
    ]
    for pattern, replacement in changes:
        site, n = re.subn(pattern, replacement, site)
        assert n, f"the shipped nginx site no longer has {pattern!r}"
    return site


def nginx_conf(tmp: Path, site: Path) -> str:
    temp = tmp / "nginx-temp"
    temp.mkdir()
    return (f"daemon off;\nuser root;\nworker_processes 1;\npid {tmp}/nginx.pid;\nerror_log {tmp}/nginx-error.log warn;\n"
            "events { worker_connections 2048; }\n"
            f"http {{\n  access_log {tmp}/nginx-access.log;\n  client_body_temp_path {temp}/body;\n"
            f"  proxy_temp_path {temp}/proxy;\n  fastcgi_temp_path {temp}/fastcgi;\n  uwsgi_temp_path {temp}/uwsgi;\n"
            f"  scgi_temp_path {temp}/scgi;\n  include {site};\n}}\n")


def self_signed(tmp: Path) -> tuple[Path, Path]:
    """A throw-away certificate for HOST_NAME (the test copy of the site serves TLS as the shipped one does)."""
    cert, key = tmp / "tls.pem", tmp / "tls.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    f"/CN={HOST_NAME}", "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True,
                   timeout=60)
    return cert, key
