"""Everything that talks to an IBM IVM: errors, value validation, command builders, output parsers and
the SSH client. Plain Python + paramiko; no Django, no models.

Typical use::

    from mobility.ivm import IVMClient, commands
    with IVMClient(host, 22, "padmin", password=pw, host_key=pinned) as ivm:
        rows = ivm.run(commands.lssyscfg("lpar", fields=("name", "lpar_id", "state")), retry_safe=True).parsed()
"""

from . import commands, parse, values
from .client import CommandRecord, CommandResult, IVMClient, scan_host_key
from .commands import Command
from .errors import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimeout,
    ConnectionFailed,
    HostKeyMismatch,
    HostKeyUnknown,
    InvalidValue,
    IVMError,
    OutputNotUnderstood,
)
from .hostkeys import HostKey
from .pool import ClientPool

__all__ = [
    "AuthenticationFailed", "ClientPool", "Command", "CommandFailed", "CommandRecord", "CommandResult",
    "CommandTimeout", "ConnectionFailed", "HostKey", "HostKeyMismatch", "HostKeyUnknown", "IVMClient",
    "IVMError", "InvalidValue", "OutputNotUnderstood", "commands", "parse", "scan_host_key", "values",
]
