"""The SSH client every IVM command goes through: pinned host keys, one shared transport, typed errors.

Key handling (read before changing):
  * the host key is pinned: ``host_key`` is the "type base64" string an administrator accepted. We load it
    into paramiko's host-key table and use ``RejectPolicy`` — never a policy that accepts unknown keys — so an
    unknown key raises ``HostKeyUnknown`` (carrying the offered key for confirmation) and a different key
    raises ``HostKeyMismatch`` naming both fingerprints. Nothing is sent before the key checks out.
  * a command that may have started is never re-sent unless the caller says it is safe
    (``run(cmd, retry_safe=True)``, for read-only commands). Opening a channel that the server refused or
    that failed because the transport was dead is always safe to retry: the command never started.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
import select
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import paramiko

from mobility.observability import metrics

from .commands import Command
from .errors import (
    AuthenticationFailed,
    CommandAbandoned,
    CommandFailed,
    CommandTimeout,
    ConnectionFailed,
    HostKeyMismatch,
    HostKeyUnknown,
    InvalidValue,
)
from .hostkeys import HostKey, load_private_key
from .parse import parse_ivm_message

logger = logging.getLogger("mobility.ivm")

_BACKOFF_CAP_S = 8.0
_POLL_SLICE_S = 0.25  # exit-status alone does not wake the channel's fd; re-check at least this often
_CHUNK = 65536


@dataclass(frozen=True)
class CommandResult:
    """What one command produced. ``parsed()`` applies the parser that matches how it was built."""

    command: Command
    stdout: str
    stderr: str
    exit_status: int
    duration_s: float

    def parsed(self):
        return self.command.parse_output(self.stdout)


@dataclass(frozen=True)
class CommandRecord:
    """Passed to ``on_command`` after every ``run``: enough for an audit row, secrets redacted.

    ``outcome`` is ``ok``, ``failed`` (non-zero exit), ``timeout``, ``abandoned`` (the caller stopped waiting) or
    ``connection`` (lost or never made).
    """

    host: str
    port: int
    command: str
    outcome: str
    exit_status: int | None
    duration_s: float
    attempts: int
    stdout_sha256: str | None
    stderr_sha256: str | None
    error: str | None = None
    batch: str | None = None  # "<tag> i/n" when the command ran in a batch (``run_batch``)


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def _hostkey_name(host: str, port: int) -> str:
    return host if port == 22 else f"[{host}]:{port}"


def scan_host_key(host: str, port: int = 22, timeout: float = 10.0) -> HostKey:
    """Fetch the host key a server offers, without authenticating (first contact).

    The result must be shown to an administrator, who compares the fingerprint out of band before it is
    stored and passed as ``IVMClient(host_key=...)``.
    """
    try:
        sock = socket.create_connection((host, port), timeout=timeout)
    except OSError as exc:
        raise ConnectionFailed(host, port, str(exc) or type(exc).__name__) from exc
    transport = paramiko.Transport(sock)
    transport.banner_timeout = timeout
    try:
        transport.start_client(timeout=timeout)
        return HostKey.from_pkey(transport.get_remote_server_key())
    except (paramiko.SSHException, EOFError, OSError) as exc:
        raise ConnectionFailed(host, port, f"SSH handshake failed: {exc}") from exc
    finally:
        transport.close()


class IVMClient:
    """One IVM over SSH: a single transport reused by many exec channels, safe to share across threads."""

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        *,
        password: str | None = None,
        private_key_pem: str | None = None,
        host_key: str | None = None,
        connect_timeout: float = 10,
        auth_timeout: float = 10,
        banner_timeout: float = 10,
        command_timeout: float = 60,
        keepalive_s: int = 20,
        max_channels: int = 4,
        reconnect_attempts: int = 3,
        backoff_s: float = 0.5,
        on_command: Callable[[CommandRecord], None] | None = None,
    ):
        if password is None and private_key_pem is None:
            raise InvalidValue("credentials", None, "give a password or a private key")
        if max_channels < 1:
            raise InvalidValue("max_channels", max_channels, "must be at least 1")
        self.host, self.port, self.username = host, port, username
        self._password = password
        self._pkey = load_private_key(private_key_pem) if private_key_pem is not None else None
        self.pinned_key: HostKey | None = HostKey.parse(host_key) if host_key is not None else None
        self.connect_timeout, self.auth_timeout, self.banner_timeout = connect_timeout, auth_timeout, banner_timeout
        self.command_timeout, self.keepalive_s = command_timeout, keepalive_s
        self.max_channels = max_channels
        self.reconnect_attempts, self.backoff_s = max(1, reconnect_attempts), backoff_s
        self.on_command = on_command
        self._lock = threading.Lock()
        self._channels = threading.BoundedSemaphore(max_channels)
        self._ssh: paramiko.SSHClient | None = None
        self._transport: paramiko.Transport | None = None
        self.connects = 0  # transports opened over this client's life (reconnects show up here)
        self.last_used = time.monotonic()

    def __repr__(self) -> str:
        return f"<IVMClient {self.username}@{self.host}:{self.port}>"

    # --- connection ---------------------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        t = self._transport
        return t is not None and t.is_active()

    def connect(self) -> None:
        """Open the transport now (otherwise the first ``run`` does). Raises the typed errors."""
        self._ensure_transport()

    def close(self, wait_s: float = 0.0) -> None:
        """Close the transport; a later ``run`` reconnects. ``wait_s``: wait that long for its thread to end.

        paramiko's close does not wait for the transport's thread, which may be sending its last packets through
        OpenSSL: a process forked then can inherit OpenSSL's locks held, and hang in its first hash (a sign-in)."""
        with self._lock:
            transport = self._transport
            self._drop_locked()
        if wait_s and transport is not None and transport is not threading.current_thread():
            transport.join(wait_s)

    def __enter__(self) -> IVMClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _drop_locked(self) -> None:
        ssh, self._ssh, self._transport = self._ssh, None, None
        if ssh is not None:
            ssh.close()

    def _drop_if(self, transport: paramiko.Transport) -> None:
        with self._lock:
            if self._transport is transport:
                self._drop_locked()

    def _ensure_transport(self) -> paramiko.Transport:
        with self._lock:
            if self._transport is not None and self._transport.is_active():
                return self._transport
            self._drop_locked()
            for attempt in range(self.reconnect_attempts):
                try:
                    self._open_locked()
                    return self._transport  # type: ignore[return-value]
                except ConnectionFailed as exc:
                    if attempt + 1 >= self.reconnect_attempts:
                        raise
                    delay = min(self.backoff_s * (2**attempt), _BACKOFF_CAP_S)
                    logger.warning("ivm %s:%s connect failed (%s); retrying in %.1fs",
                                   self.host, self.port, exc.reason, delay)
                    time.sleep(delay)
            raise AssertionError("unreachable")  # pragma: no cover

    def _open_locked(self) -> None:
        ssh = paramiko.SSHClient()
        ssh.set_missing_host_key_policy(paramiko.RejectPolicy())
        if self.pinned_key is not None:
            ssh.get_host_keys().add(_hostkey_name(self.host, self.port), self.pinned_key.type,
                                    self.pinned_key.to_pkey())
        try:
            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise ConnectionFailed(self.host, self.port, str(exc) or type(exc).__name__) from exc
        # Without TCP_NODELAY, Nagle plus delayed ACKs add ~40 ms to every small SSH exchange.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            ssh.connect(
                self.host, self.port, username=self.username, password=self._password, pkey=self._pkey, sock=sock,
                timeout=self.connect_timeout, auth_timeout=self.auth_timeout,
                banner_timeout=self.banner_timeout, look_for_keys=False, allow_agent=False,
            )
        except paramiko.BadHostKeyException as exc:
            ssh.close()
            raise HostKeyMismatch(self.host, self.port, self.pinned_key, HostKey.from_pkey(exc.key)) from None
        except paramiko.AuthenticationException as exc:
            ssh.close()
            raise AuthenticationFailed(self.host, self.port, self.username, str(exc)) from None
        except paramiko.SSHException as exc:
            offered = self._offered_key(ssh) if self.pinned_key is None else None
            ssh.close()
            if offered is not None:
                raise HostKeyUnknown(self.host, self.port, offered) from None
            raise ConnectionFailed(self.host, self.port, f"SSH error: {exc}") from exc
        except (OSError, EOFError) as exc:
            ssh.close()
            raise ConnectionFailed(self.host, self.port, str(exc) or type(exc).__name__) from exc
        transport = ssh.get_transport()
        assert transport is not None
        transport.set_keepalive(self.keepalive_s)
        self._ssh, self._transport = ssh, transport
        self.connects += 1
        logger.info("ivm %s:%s connected as %s (key %s)", self.host, self.port, self.username,
                    self.pinned_key.fingerprint if self.pinned_key else "?")

    @staticmethod
    def _offered_key(ssh: paramiko.SSHClient) -> HostKey | None:
        """The key the server offered, when RejectPolicy refused it (no pinned key)."""
        transport = ssh.get_transport()
        if transport is None:
            return None
        try:
            return HostKey.from_pkey(transport.get_remote_server_key())
        except paramiko.SSHException:
            return None

    # --- commands -------------------------------------------------------------------------------------

    def run(self, cmd: Command, *, timeout: float | None = None, check: bool = True,
            retry_safe: bool = False, before_send: Callable[[], None] | None = None,
            abandon: Callable[[], bool] | None = None) -> CommandResult:
        """Run ``cmd`` and return its output.

        ``timeout`` (default ``command_timeout``) bounds the wait for a free channel and, separately, the
        command itself. With ``check`` a non-zero exit raises ``CommandFailed`` carrying the IVM message
        code. ``retry_safe=True`` lets a command that may have started be re-run on a new transport if
        the old one died under it; pass it only for read-only commands. ``before_send`` is called once the
        channel is open, right before the command is written to it (again before each retry): if it raises,
        nothing is sent and its exception propagates (the engine's last check that it still holds the lease).
        ``abandon`` is asked while the command runs (at least every quarter second): once it says True the channel
        is closed and ``CommandAbandoned`` raised (an engine worker that lost its migration stops waiting on it).
        """
        if not isinstance(cmd, Command):
            raise TypeError("run() takes a Command built by mobility.ivm.commands")
        timeout = self.command_timeout if timeout is None else timeout
        started = time.monotonic()
        stdout, stderr, status, attempts = self._run_retrying(cmd, timeout, retry_safe, [cmd], before_send, abandon)
        duration = time.monotonic() - started
        result = CommandResult(cmd, stdout, stderr, status, duration)
        if status != 0:
            error = _failure(cmd, status, stdout, stderr)
            self._record(cmd, "failed", status, started, attempts, stdout, stderr, str(error))
            if check:
                raise error
            return result
        self._record(cmd, "ok", status, started, attempts, stdout, stderr, None)
        return result

    def run_batch(self, cmds: list[Command], *, timeout: float | None = None) -> list[CommandResult]:
        """Run read-only commands one after the other on ONE exec channel; their results, in order.

        The line sent is ``c1 ; echo M $? ; c2 ; echo M $? ...`` with a fresh random marker M, the padmin
        shell idiom automation uses to read exit statuses (ivm-cli.md §3.1). One channel instead of one per
        command saves the SSH round trips that dominate short listings. A command that failed is run again
        on its own, so that its error (code and text on its own stderr) is exact; ``check`` applies: a
        failure raises ``CommandFailed``. If the shell answers in any other shape (markers missing), every
        command is run on its own instead. Every command is recorded on its own, with the batch named.
        """
        cmds = list(cmds)
        if not all(isinstance(c, Command) and c.read_only for c in cmds):
            raise TypeError("run_batch() takes read-only Commands built by mobility.ivm.commands")
        if len(cmds) <= 1:
            return [self.run(c, timeout=timeout, retry_safe=True) for c in cmds]
        timeout = self.command_timeout if timeout is None else timeout
        batch = _Batch(cmds, secrets.token_hex(6))
        started = time.monotonic()
        try:
            stdout, stderr, status, attempts = self._run_retrying(batch, timeout, True, cmds)
        except CommandTimeout:
            for cmd in cmds:
                self._record(cmd, "timeout", None, started, 1, None, None, f"batch {batch.tag} timed out")
            raise
        parts = batch.split(stdout) if status == 0 else None
        if parts is None:
            logger.warning("ivm %s:%s: batch of %d commands not answered in the expected shape (exit %s); "
                           "running them one by one", self.host, self.port, len(cmds), status)
            return [self.run(c, timeout=timeout, retry_safe=True) for c in cmds]
        duration = time.monotonic() - started
        results = []
        for i, (cmd, (out, sub_status)) in enumerate(zip(cmds, parts, strict=True)):
            if sub_status != 0:  # rare: re-run alone for its own stderr and exact error
                results.append(self.run(cmd, timeout=timeout, retry_safe=True))
                continue
            results.append(CommandResult(cmd, out, "", 0, duration))
            self._record(cmd, "ok", 0, started, attempts, out, stderr or None, None,
                         batch=f"{batch.tag} {i + 1}/{len(cmds)}")
        return results

    def _run_retrying(self, cmd, timeout: float, retry_safe: bool, recorded: list[Command], before_send=None,
                      abandon=None):
        """Run once, reconnecting when safe; (stdout, stderr, status, attempts). Records connection failures."""
        started = time.monotonic()
        attempts = 0
        try:
            while True:
                attempts += 1
                try:
                    stdout, stderr, status = self._run_once(cmd, timeout, before_send, abandon)
                    return stdout, stderr, status, attempts
                except _NotStarted as exc:
                    reason, may_have_run = exc.reason, False
                except _Lost as exc:
                    reason, may_have_run = exc.reason, True
                if (may_have_run and not retry_safe) or attempts >= self.reconnect_attempts:
                    raise ConnectionFailed(self.host, self.port, reason, may_have_run=may_have_run)
                delay = min(self.backoff_s * (2 ** (attempts - 1)), _BACKOFF_CAP_S)
                logger.warning("ivm %s:%s %s: %s; retrying in %.1fs", self.host, self.port, cmd.redacted(),
                               reason, delay)
                time.sleep(delay)
        except (CommandTimeout, CommandAbandoned) as exc:
            if isinstance(cmd, Command):
                outcome = "timeout" if isinstance(exc, CommandTimeout) else "abandoned"
                self._record(cmd, outcome, None, started, attempts, None, None, str(exc))
            raise
        except (ConnectionFailed, AuthenticationFailed, HostKeyMismatch, HostKeyUnknown) as exc:
            for one in recorded:
                self._record(one, "connection", None, started, attempts, None, None, str(exc))
            raise

    def _run_once(self, cmd: Command, timeout: float, before_send=None, abandon=None) -> tuple[str, str, int]:
        if not self._channels.acquire(timeout=timeout):
            raise CommandTimeout(cmd.redacted(), timeout, f"waiting for one of {self.max_channels} channels")
        try:
            transport = self._ensure_transport()
            try:
                chan = transport.open_session(timeout=min(timeout, self.connect_timeout))
            except paramiko.ChannelException as exc:
                raise _NotStarted(f"server refused a channel: {exc}") from exc
            except (paramiko.SSHException, EOFError, OSError) as exc:
                self._drop_if(transport)
                raise _NotStarted(f"transport lost before the command started: {exc}") from exc
            try:
                if before_send is not None:
                    before_send()
                return self._exec(chan, transport, cmd, timeout, abandon)
            except (paramiko.SSHException, EOFError, OSError) as exc:
                # The transport died while we read the command's output (paramiko raises EOFError there).
                self._drop_if(transport)
                raise _Lost(f"transport lost while the command was running: {type(exc).__name__} {exc}") from exc
            finally:
                try:
                    chan.close()
                except (paramiko.SSHException, EOFError, OSError):
                    pass  # closing a channel of a dead transport: nothing left to release
        finally:
            self._channels.release()
            self.last_used = time.monotonic()

    def _exec(self, chan: paramiko.Channel, transport: paramiko.Transport, cmd: Command,
              timeout: float, abandon=None) -> tuple[str, str, int]:
        deadline = time.monotonic() + timeout
        try:
            chan.exec_command(cmd.render())
        except (paramiko.SSHException, EOFError, OSError) as exc:
            if not transport.is_active():
                self._drop_if(transport)
            raise _Lost(f"exec request failed: {exc}") from exc
        out, err = bytearray(), bytearray()
        fd = chan.fileno()

        def drain() -> None:
            while chan.recv_ready():
                out.extend(chan.recv(_CHUNK))
            while chan.recv_stderr_ready():
                err.extend(chan.recv_stderr(_CHUNK))

        while True:
            drain()
            if chan.exit_status_ready() and (chan.eof_received or chan.closed):
                break
            if chan.closed:
                break
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise CommandTimeout(cmd.redacted(), timeout)
            if abandon is not None and abandon():
                raise CommandAbandoned(cmd.redacted())  # the caller closes the channel (_run_once)
            select.select([fd], [], [], min(remaining, _POLL_SLICE_S))
        drain()
        # paramiko reports -1 when the channel closed without an exit-status message (a real status is
        # an unsigned 32-bit number), e.g. because the transport died under the command.
        status = chan.exit_status if chan.exit_status_ready() else -1
        if status == -1:
            if not transport.is_active():
                self._drop_if(transport)
                raise _Lost("transport lost while the command was running")
            raise _Lost("channel closed without an exit status")
        stdout = out.decode("utf-8", errors="replace")
        stderr = err.decode("utf-8", errors="replace")
        return stdout, stderr, status

    def _record(self, cmd: Command, outcome: str, status: int | None, started: float, attempts: int,
                stdout: str | None, stderr: str | None, error: str | None, batch: str | None = None) -> None:
        duration = time.monotonic() - started
        metrics.ivm_command(self.host, self.port, cmd, outcome, duration)
        # A read that answered is routine (a sync sends dozens; the audit trail keeps every one): DEBUG. A command that
        # changes an IVM is logged at INFO, any command that failed or timed out at WARNING.
        level = logging.WARNING if outcome != "ok" else logging.DEBUG if cmd.read_only else logging.INFO
        shown = cmd.redacted()
        logger.log(level, "ivm %s:%s %s -> %s exit=%s in %.3fs (attempts %d)", self.host, self.port,
                   shown, outcome, status, duration, attempts)
        if self.on_command is None:
            return
        record = CommandRecord(self.host, self.port, shown, outcome, status, duration, attempts,
                               _sha256(stdout), _sha256(stderr), error, batch)
        try:
            self.on_command(record)
        except Exception:  # an audit hook must not turn a finished command into a failure
            logger.exception("ivm on_command callback failed for %s", shown)


def _failure(cmd: Command, status: int, stdout: str, stderr: str) -> CommandFailed:
    msg = parse_ivm_message(stderr) or parse_ivm_message(stdout)
    text = msg.text if msg else _last_line(stderr) or _last_line(stdout) or "(no output)"
    return CommandFailed(cmd.redacted(), status, msg.code if msg else None, text, stdout=stdout, stderr=stderr)


class _Batch:
    """Several read-only commands as one shell line, each followed by ``echo <marker> $?``."""

    def __init__(self, cmds: list[Command], tag: str):
        self.cmds, self.tag = cmds, tag
        marker = f":ivmweb-end:{tag}:"  # plain word: nothing for the shell to expand
        self._line = " ; ".join(f"{c.render()} ; echo {marker} $?" for c in cmds)
        self._shown = " ; ".join(f"{c.redacted()} ; echo {marker} $?" for c in cmds)
        self._head = f"{marker} "

    def render(self) -> str:
        return self._line

    def redacted(self) -> str:
        return f"batch {self.tag} of {len(self.cmds)} commands: {self._shown}"

    def split(self, stdout: str) -> list[tuple[str, int]] | None:
        """Each command's stdout and exit status; None unless there is exactly one marker line (``<marker>
        <digits>\\n``) per command and nothing after the last. (String search, not a regex: a pattern made of a
        fresh random marker is compiled anew for every batch, which cost more than the search.)"""
        found, piece_start, search_from, end_of_output = [], 0, 0, len(stdout)
        while (at := stdout.find(self._head, search_from)) >= 0:
            digits_start = end = at + len(self._head)
            while end < end_of_output and "0" <= stdout[end] <= "9":
                end += 1
            if digits_start < end < end_of_output and stdout[end] == "\n":
                found.append((stdout[piece_start:at], int(stdout[digits_start:end])))
                piece_start = search_from = end + 1
            else:  # not a marker line: look further on, as a regex search would
                search_from = at + 1
        if len(found) != len(self.cmds) or piece_start != end_of_output:
            return None
        return found


class _NotStarted(Exception):
    """Internal: the command never reached the server; always safe to retry."""

    def __init__(self, reason: str):
        self.reason = reason


class _Lost(Exception):
    """Internal: the transport died after the command may have started."""

    def __init__(self, reason: str):
        self.reason = reason


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""
