"""`manage.py verify_audit [--head] [--expect-head HASH] [--checkpoint] [--checkpoints FILE]`: check the audit trail.

Exit 0 when every event matches; exit 1 naming the first event that does not (changed, removed from the middle,
back-dated, or refused at sealing for its time). ``--checkpoints FILE`` also checks every signed checkpoint in FILE
and reports events missing or changed since any of them; ``--checkpoint`` appends a signed checkpoint of the chain
to the configured checkpoint file (the engine workers write one every IVMWEB_AUDIT_CHECKPOINT_INTERVAL_S).
``--expect-head`` proves that a head hash kept earlier outside the database is still in the chain.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mobility.governance import checkpoints
from mobility.governance.audit import verify_chain
from mobility.models import AuditEvent, AuditVerification


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; name the first event that does not match."

    def add_arguments(self, parser):
        parser.add_argument("--head", action="store_true", help="print only the head hash (after verifying)")
        parser.add_argument("--expect-head", metavar="HASH",
                            help="a head hash kept earlier outside the database; it must still be in the chain")
        parser.add_argument("--checkpoints", metavar="FILE", type=Path, dest="checkpoint_file",
                            help="a checkpoint file: check every signature and report events missing or changed")
        parser.add_argument("--checkpoint", action="store_true",
                            help="after verifying, append a signed checkpoint to the configured checkpoint file")

    def handle(self, *args, head=False, expect_head=None, checkpoint_file=None, checkpoint=False, **options):
        result = verify_chain()
        problems = []
        if not result.ok:
            event = AuditEvent.objects.filter(pk=result.first_bad_id).first()
            what = f"{event.at:%Y-%m-%d %H:%M:%S} {event.actor_name} {event.action}" if event else "?"
            problems.append(f"audit chain BROKEN at event #{result.first_bad_id} ({what}): {result.problem}; "
                            f"{result.checked} events before it verify")
        if expect_head and not AuditEvent.objects.filter(hash=expect_head.strip().lower()).exists():
            problems.append(f"the kept head {expect_head} is not in the chain: events were removed")
        if checkpoint_file is not None:
            if not checkpoint_file.is_file():
                raise CommandError(f"no checkpoint file at {checkpoint_file}", returncode=2)
            problems += checkpoints.check_file(checkpoint_file)
        AuditVerification.objects.create(ok=not problems, checked=result.checked, head=result.head,
                                         problem="; ".join(problems))
        if problems:
            raise CommandError("\n".join(problems), returncode=1)
        if checkpoint:
            try:
                written = checkpoints.write_checkpoint()
            except checkpoints.CheckpointRefused as exc:
                raise CommandError(str(exc), returncode=1) from None
            self.stderr.write(f"checkpoint {written.seq}: {written.length} events, head {written.head}")
        if head:
            self.stdout.write(result.head)
        else:
            self.stdout.write(self.style.SUCCESS(f"audit chain OK: {result.checked} events, head {result.head}"))
