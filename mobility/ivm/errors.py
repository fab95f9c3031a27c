"""Typed errors raised by the IVM layer.

Every failure that can come out of ``mobility.ivm`` is an ``IVMError`` so callers can catch the family,
and each subclass carries the structured facts a caller needs (the offered host key, the IVM message
code, the line that did not parse) instead of making them re-parse a message string.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only, avoids an import cycle
    from .hostkeys import HostKey


class IVMError(Exception):
    """Base class of every error raised while talking to an IVM."""


class ConnectionFailed(IVMError):
    """The SSH connection could not be made, or was lost.

    ``may_have_run`` is True when the transport died after a command had been sent: the IVM may have
    executed it, so a mutating command must not be re-sent blindly.
    """

    def __init__(self, host: str, port: int, reason: str, *, may_have_run: bool = False):
        self.host, self.port, self.reason, self.may_have_run = host, port, reason, may_have_run
        extra = " (the command may have run on the IVM)" if may_have_run else ""
        super().__init__(f"connection to {host}:{port} failed: {reason}{extra}")


class AuthenticationFailed(IVMError):
    """The IVM refused our credentials."""

    def __init__(self, host: str, port: int, username: str, reason: str = "authentication refused"):
        self.host, self.port, self.username = host, port, username
        super().__init__(f"authentication as {username!r} on {host}:{port} failed: {reason}")


class HostKeyUnknown(IVMError):
    """No host key is pinned for this IVM; ``key`` is what the server offered.

    An administrator must confirm ``key.fingerprint`` out of band before it is stored and pinned.
    """

    def __init__(self, host: str, port: int, key: HostKey):
        self.host, self.port, self.key = host, port, key
        super().__init__(
            f"no pinned host key for {host}:{port}; the server offers {key.type} {key.fingerprint}"
        )

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint


class HostKeyMismatch(IVMError):
    """The server offered a key different from the pinned one (possible man-in-the-middle)."""

    def __init__(self, host: str, port: int, expected: HostKey, offered: HostKey):
        self.host, self.port, self.expected, self.offered = host, port, expected, offered
        super().__init__(
            f"HOST KEY MISMATCH for {host}:{port}: pinned {expected.type} {expected.fingerprint}, "
            f"server offers {offered.type} {offered.fingerprint}"
        )

    @property
    def old_fingerprint(self) -> str:
        return self.expected.fingerprint

    @property
    def new_fingerprint(self) -> str:
        return self.offered.fingerprint


class CommandTimeout(IVMError):
    """A command did not finish in time. The IVM may still be running it."""

    def __init__(self, command: str, timeout_s: float, stage: str = "running"):
        self.command, self.timeout_s, self.stage = command, timeout_s, stage
        super().__init__(f"command timed out after {timeout_s:g}s ({stage}): {command}")


class CommandAbandoned(IVMError):
    """The caller gave up waiting for a command (it no longer may act): the channel was closed. The IVM may have
    run it or not; a command it had not started yet is dropped with the channel."""

    def __init__(self, command: str):
        self.command = command
        super().__init__(f"command abandoned by its caller: {command}")


class CommandFailed(IVMError):
    """A command exited non-zero. ``code`` is the IVM/HMC message code when one was printed."""

    def __init__(
        self,
        command: str,
        exit_status: int,
        code: str | None,
        text: str,
        *,
        stdout: str = "",
        stderr: str = "",
    ):
        self.command, self.exit_status, self.code, self.text = command, exit_status, code, text
        self.stdout, self.stderr = stdout, stderr
        label = f"[{code}] " if code else ""
        super().__init__(f"command failed (exit {exit_status}): {command}: {label}{text}")


# The IVM's refusal to start a migration because its limit of migrations in progress is reached (ivmsim and the IVM:
# VIOSE0104A00A-000x "The number of active migrations in progress on … has reached the supported maximum"; an HMC says
# it in HSCL words). Nothing started: the migration may be started again once a slot frees.
_AT_LIMIT = re.compile(r"VIOSE0104A00A|migrations in progress .* (has )?reached|too many .*migrations", re.I)


def at_migration_limit(exc: CommandFailed) -> bool:
    return bool(_AT_LIMIT.search(f"{exc.code or ''} {exc.text}"))


class OutputNotUnderstood(IVMError):
    """IVM output did not match the expected format; we refuse to guess."""

    def __init__(self, line: str, reason: str, *, line_no: int | None = None):
        self.line, self.reason, self.line_no = line, reason, line_no
        where = f" (line {line_no})" if line_no is not None else ""
        super().__init__(f"IVM output not understood{where}: {reason}: {line!r}")


class InvalidValue(IVMError, ValueError):
    """A value refused before anything was sent to an IVM."""

    def __init__(self, field: str, value: object, rule: str):
        self.field, self.value, self.rule = field, value, rule
        super().__init__(f"invalid {field} {value!r}: {rule}")
