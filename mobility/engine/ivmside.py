"""What the steps ask the IVMs and tell them, through the pooled, audited clients of ``mobility.inventory.connections``.

Each helper returns plain values and records the command in the migration's event stream (except the
once-a-second transfer poll, whose figures become ``progress`` events instead). A lost connection is raised as
``ConnectionFailed``/``IVMError`` to the caller, which retries on its next pass: read-only commands are retried
on a fresh transport by the client itself (``retry_safe=True``); mutating ones never are.
"""

from dataclasses import dataclass

from mobility import journal
from mobility.engine import busy, claim
from mobility.engine.events import command_event
from mobility.inventory.connections import about_migration, client_for
from mobility.ivm import commands, parse
from mobility.ivm.errors import CommandAbandoned, CommandFailed, IVMError

MIGR_FIELDS = ("name", "migration_state", "migration_type", "dest_lpar_id", "source_msp_name", "dest_msp_name",
               "bytes_transmitted", "bytes_remaining", "remaining_time")
NOT_MIGRATING = "Not Migrating"
COMPLETE = "Migration Complete"
FAILED = "Migration Failed"
STARTING = "Migration Starting"
SUSPENDED = "Suspended"


@dataclass(frozen=True)
class LparMigration:
    """One ``lslparmigr -r lpar`` row (None when the partition is not on that IVM)."""

    name: str
    state: str
    dest_lpar_id: int | None
    source_msp: str
    dest_msp: str
    transmitted: int
    remaining: int | None
    # Why the IVM says the move failed (``parse.MIGRATION_FAILED_ID``, printed beside the listing), if it said.
    failure: parse.IVMMessage | None = None

    @property
    def in_flight(self) -> bool:
        return self.state not in (NOT_MIGRATING, "")


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value not in (None, "", "null", "none") else None
    except ValueError:
        return None


def _lease_confirmed(migration_id: int):
    """The last check before a command that changes an IVM: the driver still holds the migration, with at least half
    of its lease left (``claim.confirm``); run by the client once the channel is open, right before it sends."""
    token, lease_s = journal.fence_in_force(), getattr(journal.current, "lease_s", None)
    if token is None or lease_s is None:
        raise RuntimeError("a command that changes an IVM is sent only by a driver holding the migration")

    def confirm() -> None:
        if not claim.confirm(migration_id, token, lease_s):
            raise journal.FenceLost(migration_id, token)

    return confirm


def run(migration, console, cmd, *, quiet: bool = False, check: bool = True):
    """Run ``cmd`` on ``console``; a command event unless ``quiet``. CommandFailed/IVMError propagate, and
    ``FenceLost`` when a command that changes the IVM finds the lease no longer ours (then nothing was sent), or when
    the lease is lost while the command runs (then the channel is closed: a command the IVM still held is dropped)."""
    read_only = cmd.read_only
    before_send = None if read_only else _lease_confirmed(migration.pk)
    lost = getattr(journal.current, "lost", None)  # the driver's lease is gone: stop waiting on the IVM at once
    try:
        with about_migration(migration.pk), busy.waiting():  # the round trip waits on the IVM, not on Python
            result = client_for(console).run(cmd, check=check, retry_safe=read_only, before_send=before_send,
                                             abandon=lost.is_set if lost is not None else None)
    except CommandAbandoned as exc:
        raise journal.FenceLost(migration.pk, journal.fence_in_force()) from exc
    except CommandFailed as exc:
        command_event(migration, console.name, cmd.redacted(), exc.exit_status, exc.stdout + exc.stderr, str(exc))
        raise
    except IVMError as exc:
        command_event(migration, console.name, cmd.redacted(), None, "", f"{type(exc).__name__}: {exc}")
        raise
    if not quiet:
        command_event(migration, console.name, cmd.redacted(), result.exit_status, result.stdout + result.stderr)
    return result


# The questions as commands and their answers as plain values: the steps below ask them through the pooled clients;
# a rehearsal on a twin (``mobility.twin.rehearse``) asks the very same ones through its own.

def lpar_migration_command(name: str):
    return commands.lslparmigr("lpar", lpar_names=name, fields=MIGR_FIELDS)


def lpar_migration_of(result) -> LparMigration | None:
    """The row of ``lpar_migration_command``'s answer, with the failure's message when the IVM printed it (known by
    its id: the text may be in any language and says only what the id already does, with the IVM's reason)."""
    rows = result.parsed()
    if not rows:
        return None
    row = rows[0]
    failure = next((msg for msg in map(parse.parse_message_line, result.stderr.splitlines())
                    if msg is not None and msg.code == parse.MIGRATION_FAILED_ID), None)
    return LparMigration(name=row["name"], state=row["migration_state"] or "", dest_lpar_id=_int(row["dest_lpar_id"]),
                         source_msp=row.get("source_msp_name") or "", dest_msp=row.get("dest_msp_name") or "",
                         transmitted=_int(row["bytes_transmitted"]) or 0, remaining=_int(row["bytes_remaining"]),
                         failure=failure)


def lpar_state_command(name: str):
    return commands.lssyscfg("lpar", lpar_names=name, fields=("name", "lpar_id", "state"))


def lpar_state_of(rows) -> dict | None:
    if not rows:
        return None
    return {"lpar_id": _int(rows[0]["lpar_id"]), "state": rows[0]["state"]}


def client_slot_commands(name: str) -> dict:
    return {kind: commands.lshwres("virtualio", rsubtype=kind, level="lpar", lpar_names=name,
                                   fields=("lpar_name", "slot_num", "adapter_type"))
            for kind in ("scsi", "fc")}


def client_slots_of(rows) -> set[int]:
    return {int(r["slot_num"]) for r in rows if r.get("adapter_type") == "client"}


def lpar_migration(migration, console, name: str, *, quiet: bool = True) -> LparMigration | None:
    return lpar_migration_of(run(migration, console, lpar_migration_command(name), quiet=quiet))


def lpar_state(migration, console, name: str, *, quiet: bool = False) -> dict | None:
    """``lssyscfg -r lpar`` for one partition: {"lpar_id", "state"}, or None when the IVM does not list it."""
    return lpar_state_of(run(migration, console, lpar_state_command(name), quiet=quiet).parsed())


def client_slots(migration, console, name: str) -> dict[str, set[int]]:
    """Client adapter slots of a partition, by kind (``scsi``, ``fc``), as ``lshwres`` shows them."""
    return {kind: client_slots_of(run(migration, console, cmd).parsed())
            for kind, cmd in client_slot_commands(name).items()}


def migration_limits(migration, console) -> dict[str, int]:
    """``lslparmigr -r sys``: supported and in-progress counts, active and inactive."""
    keys = ("num_active_migrations_supported", "num_active_migrations_in_progress",
            "num_inactive_migrations_supported", "num_inactive_migrations_in_progress")
    rows = run(migration, console, commands.lslparmigr("sys", fields=keys), quiet=True).parsed()
    return {k: _int(rows[0][k]) or 0 for k in keys} if rows else dict.fromkeys(keys, 0)
