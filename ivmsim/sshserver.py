"""One paramiko SSH server per simulated IVM, each on its own loopback address.

``exec`` requests (what ``ssh host command`` and paramiko's ``exec_command`` send) and interactive logins
(a ``$ `` prompt, one line at a time) are served; each command line goes to :func:`ivmsim.executor.execute`,
never to a shell. User ``padmin`` logs in with the
fleet file's password or a key from the fleet file / ``DIR/<ivm>/authorized_keys``.
"""

from __future__ import annotations

import socket
import sys
import threading

import paramiko

from ivmsim import hostkeys
from ivmsim import reference as ref
from ivmsim.executor import execute

USER = "padmin"


class _Server(paramiko.ServerInterface):
    def __init__(self, listener: IvmListener, peer: str, transport: paramiko.Transport):
        self.listener, self.peer = listener, peer
        self.user = ""
        self._replies_pending: list[threading.Event] = []
        # paramiko sends the reply to an exec request only after check_channel_exec_request returns, from
        # the transport thread. A fast command could otherwise close its channel before that reply and the
        # client would see "Channel closed". So each command waits until the transport thread has sent its
        # next message (the reply) before it answers.
        original = transport._send_user_message

        def send_then_release(data):
            original(data)
            if threading.current_thread() is transport:
                while self._replies_pending:
                    self._replies_pending.pop().set()

        transport._send_user_message = send_then_release

    def get_allowed_auths(self, username):
        return "publickey,password"

    def check_auth_password(self, username, password):
        system = self.listener.world.systems[self.listener.ivm]
        if username == USER and system.password and password == system.password:
            self.user = username
            return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_auth_publickey(self, username, key):
        if username != USER:
            return paramiko.AUTH_FAILED
        offered = [key.get_name(), key.get_base64()]
        for line in self.listener.world.authorized_keys(self.listener.ivm):
            parts = line.split()
            if len(parts) >= 2 and parts[:2] == offered:
                self.user = username
                return paramiko.AUTH_SUCCESSFUL
        return paramiko.AUTH_FAILED

    def check_channel_request(self, kind, chanid):
        return paramiko.OPEN_SUCCEEDED if kind == "session" else paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_pty_request(self, *args):
        return True

    def check_channel_env_request(self, channel, name, value):
        return True

    def check_channel_shell_request(self, channel):
        # An interactive login (ssh padmin@ivm): the padmin prompt, one line at a time, until exit or EOF.
        threading.Thread(target=self._interactive, args=(channel,), daemon=True, name="ivmsim-shell").start()
        return True

    def _interactive(self, channel: paramiko.Channel) -> None:
        listener, transport = self.listener, channel.get_transport()
        buf = b""
        try:
            channel.sendall(ref.PROMPT.encode())
            while True:
                data = channel.recv(4096)
                if not data:
                    break
                buf += data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                while b"\n" in buf:
                    raw, buf = buf.split(b"\n", 1)
                    line = raw.decode("utf-8", "replace").strip()
                    if line in ("exit", "logout"):
                        channel.send_exit_status(0)
                        return
                    if line:
                        outcome = execute(listener.world, listener.ivm, self.user, line, self.peer,
                                          alive=lambda: transport.is_active() and not channel.closed)
                        if outcome.gone:
                            return
                        if outcome.result is None or outcome.drop_after:
                            listener.world.drop_connections(listener.ivm)
                            return
                        text = outcome.result.stdout + outcome.result.stderr
                        channel.sendall(text.replace("\n", "\r\n").encode())
                    channel.sendall(ref.PROMPT.encode())
        except Exception as exc:  # noqa: BLE001 - a broken client must never take the simulator down
            print(f"ivmsim: {listener.ivm}: interactive session ended: {exc!r}", file=sys.stderr, flush=True)
        finally:
            try:
                channel.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass

    def check_channel_exec_request(self, channel, command):
        line = command.decode("utf-8", "replace") if isinstance(command, bytes) else command
        replied = threading.Event()
        self._replies_pending.append(replied)
        threading.Thread(target=self._run, args=(channel, line, replied), daemon=True, name="ivmsim-exec").start()
        return True

    def _run(self, channel: paramiko.Channel, line: str, replied: threading.Event) -> None:
        transport = channel.get_transport()
        listener = self.listener
        replied.wait(5)
        try:
            outcome = execute(listener.world, listener.ivm, self.user, line, self.peer,
                              alive=lambda: transport.is_active() and not channel.closed)
            if outcome.gone:
                return
            if outcome.result is None or outcome.drop_after:
                listener.world.drop_connections(listener.ivm)
                return
            result = outcome.result
            if result.stdout:
                channel.sendall(result.stdout.encode())
            if result.stderr:
                channel.sendall_stderr(result.stderr.encode())
            channel.send_exit_status(result.status)
        except Exception as exc:  # a broken client must never take the simulator down
            print(f"ivmsim: {listener.ivm}: error serving {line!r}: {exc!r}", file=sys.stderr, flush=True)
        finally:
            try:
                channel.shutdown_write()
                channel.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass


class IvmListener:
    """The SSH endpoint of one IVM."""

    def __init__(self, world, ivm: str, address: str, port: int):
        self.world, self.ivm, self.address = world, ivm, address
        self.key_path = world.state.ivm_dir(ivm) / "ssh_host_key"
        self.host_key = hostkeys.load_or_create(self.key_path)
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.transports: list[paramiko.Transport] = []
        self._lock = threading.Lock()
        self._closed = False

    @property
    def fingerprint(self) -> str:
        return self.host_key.fingerprint

    def host_key_line(self) -> str:
        return hostkeys.public_line(self.host_key)

    def rotate_host_key(self) -> None:
        """Fault ``host-key``: a new key from now on (and persisted, as when an IVM is reinstalled)."""
        self.host_key = hostkeys.generate(self.key_path)

    def drop_all(self) -> None:
        with self._lock:
            transports, self.transports = self.transports, []
        for t in transports:
            t.close()

    def serve_forever(self) -> threading.Thread:
        thread = threading.Thread(target=self._accept_loop, daemon=True, name=f"ivmsim-{self.ivm}")
        thread.start()
        return thread

    def _accept_loop(self) -> None:
        while not self._closed:
            try:
                conn, addr = self.sock.accept()
            except OSError:
                return
            try:
                # Small request/reply exchanges: without this, Nagle + delayed ACK add ~40 ms per reply.
                conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                t = paramiko.Transport(conn)
                t.add_server_key(self.host_key)
                t.set_keepalive(30)
                with self._lock:
                    self.transports = [x for x in self.transports if x.is_active()] + [t]
                t.start_server(server=_Server(self, f"{addr[0]}:{addr[1]}", t))
            except Exception as exc:  # noqa: BLE001 - a failed handshake only concerns that client
                print(f"ivmsim: {self.ivm}: connection from {addr[0]} failed: {exc!r}", file=sys.stderr, flush=True)
                conn.close()

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        self.drop_all()
