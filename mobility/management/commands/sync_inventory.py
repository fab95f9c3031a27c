"""``manage.py sync_inventory [--ivm NAME ...]``: sync the inventory now; one line per IVM, exit 1 on any failure."""

from django.core.management.base import BaseCommand, CommandError

from mobility.inventory import sync_all
from mobility.models import IVMConsole
from mobility.observability import metrics


class Command(BaseCommand):
    help = "Read every enabled IVM (or the named ones) over SSH and update the inventory."

    def add_arguments(self, parser):
        parser.add_argument("--ivm", action="append", metavar="NAME", help="Only this IVM (repeatable).")

    def handle(self, *args, ivm=None, **options):
        consoles = IVMConsole.objects.filter(enabled=True)
        if ivm:
            consoles = IVMConsole.objects.filter(name__in=ivm)
            missing = sorted(set(ivm) - set(consoles.values_list("name", flat=True)))
            if missing:
                raise CommandError(f"no IVM registered as {', '.join(missing)}")
        results = sync_all(list(consoles))
        for result in results:
            metrics.sync_finished(result)
            self.stdout.write(result.summary())
        failed = [r.console.name for r in results if not r.ok]
        if failed:
            raise CommandError(f"sync failed for {', '.join(failed)}")
