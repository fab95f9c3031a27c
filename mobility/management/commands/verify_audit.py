"""`manage.py verify_audit [--head] [--expect-head HASH]`: check the whole audit hash chain.

Exit 0 when every event matches; exit 1 naming the first event that does not. Keep the head hash
printed by ``--head`` outside the database (a ticket, a log server): ``--expect-head`` later proves
that the chain still contains it, so rows cut off the end are noticed too.
"""

from django.core.management.base import BaseCommand, CommandError

from mobility.governance.audit import verify_chain
from mobility.models import AuditEvent


class Command(BaseCommand):
    help = "Verify the audit trail's hash chain; name the first event that does not match."

    def add_arguments(self, parser):
        parser.add_argument("--head", action="store_true", help="print only the head hash (after verifying)")
        parser.add_argument("--expect-head", metavar="HASH",
                            help="a head hash kept earlier outside the database; it must still be in the chain")

    def handle(self, *args, head=False, expect_head=None, **options):
        result = verify_chain()
        if not result.ok:
            event = AuditEvent.objects.filter(pk=result.first_bad_id).first()
            what = f"{event.at:%Y-%m-%d %H:%M:%S} {event.actor_name} {event.action}" if event else "?"
            raise CommandError(
                f"audit chain BROKEN at event #{result.first_bad_id} ({what}): {result.problem}; "
                f"{result.checked} events before it verify", returncode=1)
        if expect_head and not AuditEvent.objects.filter(hash=expect_head.strip().lower()).exists():
            raise CommandError(f"the kept head {expect_head} is not in the chain: events were removed", returncode=1)
        if head:
            self.stdout.write(result.head)
        else:
            self.stdout.write(self.style.SUCCESS(f"audit chain OK: {result.checked} events, head {result.head}"))
