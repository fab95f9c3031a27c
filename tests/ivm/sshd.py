"""A small in-process SSH server (real paramiko SSH, throw-away keys) for testing the IVM client.

It speaks just enough to exercise transport behaviour the simulator cannot easily produce: slow
commands, dropped transports, refused logins, a changed host key, concurrency counting. Every exec
request is logged as the server received it, and split with shlex like the remote ksh would.
"""

from __future__ import annotations

import io
import shlex
import socket
import threading
import time

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


def new_ed25519_pem() -> str:
    """A fresh Ed25519 private key in OpenSSH PEM form (paramiko cannot generate or write these)."""
    return ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()
    ).decode()


def key_from_pem(pem: str) -> paramiko.Ed25519Key:
    return paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def new_ed25519_key() -> paramiko.Ed25519Key:
    return key_from_pem(new_ed25519_pem())


def openssh_public(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"


LSSYSCFG_LPAR = (
    "name=06-0000A,lpar_id=1,lpar_env=vioserver,state=Running,rmc_state=active\n"
    "name=nim1,lpar_id=5,lpar_env=aixlinux,state=Running,os_version=AIX 6.1 6100-00-01-0748,rmc_state=active\n"
)


class FakeIVM:
    """Listens on 127.0.0.1:<random port>; use as a context manager."""

    def __init__(self, *, host_key: paramiko.PKey | None = None, username: str = "padmin",
                 password: str = "s3cret", authorized_key: paramiko.PKey | None = None):
        self.host_key = host_key or new_ed25519_key()
        self.username, self.password, self.authorized_key = username, password, authorized_key
        self.commands: list[str] = []  # each exec request, exactly as received
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.drop_next = 0  # close the transport instead of answering the next N commands
        self._lock = threading.Lock()
        self._transports: list[paramiko.Transport] = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(50)
        self._sock.settimeout(0.1)  # so the accept loop notices shutdown promptly
        self.port = self._sock.getsockname()[1]
        self._stopping = False
        self._thread = threading.Thread(target=self._accept_loop, daemon=True)

    @property
    def public_key(self) -> str:
        return openssh_public(self.host_key)

    def __enter__(self) -> FakeIVM:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping = True
        self._thread.join(timeout=5)
        self._sock.close()
        self.drop_all_transports()

    def drop_all_transports(self) -> None:
        """Close every server-side transport, as an IVM restart or a network cut would."""
        with self._lock:
            transports, self._transports = self._transports, []
        for t in transports:
            t.close()

    # --- server internals ---------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while not self._stopping:
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            conn.settimeout(None)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            transport = paramiko.Transport(conn)
            transport.add_server_key(self.host_key)
            with self._lock:
                self._transports.append(transport)
                self.connections += 1
            try:
                transport.start_server(server=_Interface(self, transport))
            except (paramiko.SSHException, EOFError, OSError):
                transport.close()

    def _handle(self, transport: paramiko.Transport, channel: paramiko.Channel, command: str) -> None:
        time.sleep(0.01)  # let the transport thread send the exec reply first
        with self._lock:
            self.commands.append(command)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            drop = self.drop_next > 0
            if drop:
                self.drop_next -= 1
        finished = False
        try:
            if drop:
                transport.close()
                return
            stdout, stderr, status = self.respond(shlex.split(command))
            if stdout:
                channel.sendall(stdout.encode())
            if stderr:
                channel.sendall_stderr(stderr.encode())
            # count the command as finished before the client can learn it is, so max_active is exact
            with self._lock:
                self.active -= 1
            finished = True
            channel.send_exit_status(status)
            channel.shutdown_write()
            channel.close()
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            if not finished:
                with self._lock:
                    self.active -= 1

    def respond(self, argv: list[str]) -> tuple[str, str, int]:
        """The canned IVM: a few real outputs plus test verbs (sleep, hold, echo-argv, big)."""
        if argv[:3] == ["lssyscfg", "-r", "lpar"]:
            return LSSYSCFG_LPAR, "", 0
        if argv[:1] == ["lslparmigr"] and "lpar_names=ghost" in argv:
            return "", "[VIOSE010401A1-0042] Partition ghost was not found.\n", 1
        if argv[:1] == ["sleep"]:
            time.sleep(float(argv[1]))
            return "", "", 0
        if argv[:1] == ["hold"]:
            time.sleep(float(argv[1]))
            return "held\n", "", 0
        if argv[:1] == ["echo-argv"]:
            return "\n".join(argv[1:]) + "\n", "", 0
        if argv[:1] == ["big"]:
            return "x" * int(argv[1]), "warning on stderr\n", 0
        return "", f"rksh: {argv[0] if argv else ''}: not found\n", 127


class _Interface(paramiko.ServerInterface):
    def __init__(self, server: FakeIVM, transport: paramiko.Transport):
        self.server, self.transport = server, transport

    def get_allowed_auths(self, username):
        return "password,publickey"

    def check_auth_password(self, username, password):
        ok = username == self.server.username and password == self.server.password
        return paramiko.AUTH_SUCCESSFUL if ok else paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        ok = self.server.authorized_key is not None and key == self.server.authorized_key
        return paramiko.AUTH_SUCCESSFUL if ok and username == self.server.username else paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel, command):
        threading.Thread(
            target=self.server._handle, args=(self.transport, channel, command.decode()), daemon=True
        ).start()
        return True
