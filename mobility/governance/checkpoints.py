"""Signed checkpoints of the audit chain, kept outside the database.

The hash chain shows any row changed or removed inside it, but not rows cut off its end, nor a chain rewritten and
re-hashed whole by someone with database rights. A checkpoint anchors it: the chain's length and head, signed with
an HMAC-SHA256 key that is not in the database (IVMWEB_AUDIT_CHECKPOINT_KEY), appended as one JSON line to a file
outside the database (IVMWEB_AUDIT_CHECKPOINT_FILE, opened O_APPEND; keep it on other storage, chattr +a) and written
to the log. ``verify_audit --checkpoints FILE`` checks every line's signature and that the chain still holds each
checkpoint's head at its place, with as many events up to it.

A checkpoint is written only for a chain that verifies: from the previous checkpoint on (which vouches for what
came before it), or whole when there is none. Checkpoints are numbered; the number is signed, so a line removed from
the middle of the file shows as a gap.
"""

import fcntl
import hashlib
import hmac
import json
import logging
import os
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.db.models import Max
from django.utils import timezone

from mobility.governance import audit
from mobility.models import AuditEvent, AuditVerification

logger = logging.getLogger("mobility.audit")
_TAIL_BYTES = 4096  # a checkpoint line is about 300 bytes


class CheckpointRefused(Exception):
    """The chain or the checkpoint file does not verify: no checkpoint is signed over it."""


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    written: str  # ISO 8601, UTC
    length: int  # sealed events up to and including the head
    position: int  # the head's place in the chain
    head: str  # the head's hash
    sig: str = ""

    @property
    def written_at(self) -> datetime:
        return datetime.fromisoformat(self.written)

    def body(self) -> bytes:
        fields = asdict(self)
        fields.pop("sig")
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()

    def signed(self) -> "Checkpoint":
        return Checkpoint(**{**asdict(self), "sig": _sign(self.body())})

    def signature_ok(self) -> bool:
        return hmac.compare_digest(self.sig, _sign(self.body()))

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":")) + "\n"


def _sign(body: bytes) -> str:
    return hmac.new(settings.IVMWEB_AUDIT_CHECKPOINT_KEY.encode(), body, hashlib.sha256).hexdigest()


def parse(line: str) -> Checkpoint:
    """One line of the file; ValueError when it is not a checkpoint."""
    try:
        fields = json.loads(line)
        checkpoint = Checkpoint(seq=int(fields["seq"]), written=str(fields["written"]), length=int(fields["length"]),
                                position=int(fields["position"]), head=str(fields["head"]), sig=str(fields["sig"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a checkpoint: {exc}") from None
    return checkpoint


def _last_line(fd: int) -> str | None:
    size = os.lseek(fd, 0, os.SEEK_END)
    start = max(0, size - _TAIL_BYTES)
    tail = os.pread(fd, size - start, start).decode(errors="replace")
    lines = [line for line in tail.splitlines() if line.strip()]
    return lines[-1] if lines else None


def last_checkpoint(path: Path | None = None) -> Checkpoint | None:
    """The file's last checkpoint (None when there is none); ValueError when that line is not a checkpoint."""
    path = Path(path or settings.IVMWEB_AUDIT_CHECKPOINT_FILE)
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        line = _last_line(fd)
    finally:
        os.close(fd)
    return parse(line) if line else None


def _verify_since(last: Checkpoint | None) -> tuple[audit.Verification, int]:
    """(verification, chain length at its head): from the last checkpoint on when there is one, else whole."""
    audit.seal()
    if last is None:
        result = audit.walk()
        return result, result.checked
    head = AuditEvent.objects.filter(position=last.position).first()
    if head is None or head.hash != last.head:
        return audit.Verification(False, 0, last.head, head.id if head else None,
                                  f"the head of checkpoint {last.seq} is gone or changed", last.position), 0
    length = AuditEvent.objects.filter(position__lte=last.position).count()
    if length != last.length:
        return audit.Verification(False, 0, last.head, head.id,
                                  f"{last.length} events up to checkpoint {last.seq}'s head, now {length}",
                                  last.position), 0
    latest_at = AuditEvent.objects.filter(position__lte=last.position).aggregate(latest=Max("at"))["latest"]
    result = audit.walk(after=last.position, prev=last.head, latest_at=latest_at)
    if result.position == 0:
        result.position = last.position
    return result, last.length + result.checked


def write_checkpoint(path: Path | None = None, *, due_after_s: float | None = None) -> Checkpoint | None:
    """Verify the chain since the last checkpoint and append a signed checkpoint of it; record the verification.

    ``due_after_s`` (the workers' interval): write only when the last checkpoint is older than that, so that several
    workers sharing the file write one between them. Raises CheckpointRefused when the chain does not verify."""
    path = Path(path or settings.IVMWEB_AUDIT_CHECKPOINT_FILE)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # one writer at a time: numbering and "due" read the last line
        line = _last_line(fd)
        try:
            last = parse(line) if line else None
        except ValueError as exc:
            raise CheckpointRefused(f"the last line of {path} is not a checkpoint ({exc})") from None
        if last is not None and not last.signature_ok():
            raise CheckpointRefused(f"checkpoint {last.seq} in {path} has a wrong signature")
        if due_after_s is not None and last is not None:
            if timezone.now() - last.written_at < timedelta(seconds=due_after_s):
                return None
        result, length = _verify_since(last)
        AuditVerification.objects.create(ok=result.ok, checked=length if result.ok else result.checked,
                                         head=result.head, problem=_problem(result))
        if not result.ok:
            raise CheckpointRefused(f"audit chain does not verify: {_problem(result)}")
        checkpoint = Checkpoint(seq=last.seq + 1 if last else 1,
                                written=timezone.now().isoformat(timespec="seconds"),
                                length=length, position=result.position, head=result.head).signed()
        os.write(fd, checkpoint.line().encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    logger.info("audit checkpoint %s", checkpoint.line().strip())
    return checkpoint


def _problem(result: audit.Verification) -> str:
    return "" if result.ok else f"event #{result.first_bad_id}: {result.problem}"


def check_file(path: Path) -> list[str]:
    """What the checkpoints in ``path`` say about the chain now: one sentence per problem, none when all hold."""
    problems: list[str] = []
    previous_seq = 0
    with open(path, encoding="utf-8", errors="replace") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                checkpoint = parse(line)
            except ValueError as exc:
                problems.append(f"line {number} of {path}: {exc}")
                continue
            if not checkpoint.signature_ok():
                problems.append(f"checkpoint {checkpoint.seq} (line {number}): its signature does not match "
                                "(forged or altered, or signed with another key)")
                continue
            if checkpoint.seq != previous_seq + 1:
                problems.append(f"checkpoint {checkpoint.seq} (line {number}) follows checkpoint {previous_seq}: "
                                "checkpoints are missing from the file")
            previous_seq = checkpoint.seq
            problems.extend(_compare(checkpoint))
    return problems


def _compare(checkpoint: Checkpoint) -> list[str]:
    """The chain now against one (genuine) checkpoint."""
    head = AuditEvent.objects.filter(position=checkpoint.position).first()
    length = AuditEvent.objects.filter(position__lte=checkpoint.position).count()
    gone = checkpoint.length - length
    n = checkpoint.seq
    if head is None:
        newest = AuditEvent.objects.filter(position__lte=checkpoint.position).order_by("-position").first()
        ends = f"the chain now ends at event #{newest.id}" if newest else "no event is left before it"
        return [f"the last {gone} events before checkpoint {n} are gone ({ends})" if gone > 0
                else f"the head of checkpoint {n} (position {checkpoint.position}) is gone"]
    problems = []
    if head.hash != checkpoint.head:
        problems.append(f"event #{head.id} changed since checkpoint {n} (it, or an event before it, was rewritten)")
    if gone > 0:
        problems.append(f"{gone} events before checkpoint {n} are gone")
    elif gone < 0:
        problems.append(f"{-gone} events appeared before checkpoint {n}'s head")
    return problems


@dataclass(frozen=True)
class AnchorFacts:
    """For the auditors' page: the last verification and the last checkpoint, its signature checked here."""

    verification: AuditVerification | None
    checkpoint: Checkpoint | None
    checkpoint_problem: str = ""


def anchor_facts() -> AnchorFacts:
    verification = AuditVerification.objects.order_by("-at", "-id").first()
    path = Path(settings.IVMWEB_AUDIT_CHECKPOINT_FILE)
    try:
        checkpoint = last_checkpoint(path)
    except (ValueError, OSError) as exc:
        return AnchorFacts(verification, None, f"the checkpoint file cannot be read ({exc})")
    if checkpoint is not None and not checkpoint.signature_ok():
        return AnchorFacts(verification, checkpoint, "its signature does not match")
    return AnchorFacts(verification, checkpoint)
