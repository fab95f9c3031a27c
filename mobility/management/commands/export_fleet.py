"""``manage.py export_fleet [--ivm NAME ...] [--output FILE]``: the synced inventory as an ivmsim fleet file.

ivmsim started on the file answers as those IVMs did at the last sync (a twin for rehearsals and tests). The
file carries fresh passwords for the twins, never a real IVM's secret.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from mobility.twin.export import ExportError, consoles_named, fleet_for, to_toml


class Command(BaseCommand):
    help = "Write an ivmsim fleet file (TOML) from the synced inventory of all IVMs, or of the named ones."

    def add_arguments(self, parser):
        parser.add_argument("--ivm", action="append", default=[], metavar="NAME", help="an IVM console (repeatable)")
        parser.add_argument("--output", metavar="FILE", help="write here instead of standard output")

    def handle(self, *args, ivm, output, **options):
        try:
            consoles = consoles_named(ivm) if ivm else None
            text = to_toml(fleet_for(consoles))
        except ExportError as exc:
            raise CommandError(str(exc)) from exc
        if output:
            path = Path(output)
            tmp = path.with_name(path.name + ".tmp")
            tmp.write_text(text)
            tmp.replace(path)
            self.stdout.write(f"wrote {path} ({text.count('[[system]]')} systems)")
        else:
            self.stdout.write(text, ending="")
