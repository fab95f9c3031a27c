"""``manage.py register_fleet --ready-file PATH [--sync] [--demo-teams]``: register an ivmsim fleet (``make run``).

The ready file is what ``python -m ivmsim --ready-file`` writes: for each IVM its name, address, port, user,
password and host key. Registering pins that host key (the simulator is started by us, so its ready file is
the out-of-band channel an administrator would otherwise use) and stores the password encrypted. Running it
again changes nothing unless the file does.
"""

import json
import re
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from mobility.choices import PartitionEnv
from mobility.governance import audit
from mobility.inventory import sync_all
from mobility.inventory.connections import discard_client
from mobility.ivm import HostKey, IVMError
from mobility.models import IVMConsole, Partition, Team

# Demo ownership: Payments owns the app/db/web partitions of ivm1 and ivm2 and every bad-* one.
PAYMENTS, ANALYTICS = "Payments", "Analytics"
_PAYMENTS_NAMES = re.compile(r"^(app|db|web)")
_PAYMENTS_IVMS = ("ivm1", "ivm2")


def register_entry(entry: dict) -> tuple[IVMConsole, list[str]]:
    """Create or update one console from a ready-file entry; return it and the fields that changed."""
    try:
        key = HostKey.parse(entry["host_key"])
        name, host, port, user, password = (entry["name"], entry["host"], int(entry["port"]), entry["user"],
                                            entry["password"])
    except (KeyError, TypeError, ValueError, IVMError) as exc:
        raise CommandError(f"ready-file entry {entry.get('name', '?')!r} is not usable: {exc}") from exc
    with transaction.atomic():
        console = IVMConsole.objects.select_for_update(no_key=True).filter(name=name).first()
        created = console is None
        console = console or IVMConsole(name=name)
        wanted = {"host": host, "port": port, "username": user, "host_key": f"{key.type} {key.base64}",
                  "host_key_fingerprint": key.fingerprint}
        changed = [f for f, v in wanted.items() if getattr(console, f) != v]
        for f, v in wanted.items():
            setattr(console, f, v)
        if console.get_password() != password:
            console.set_password(password)
            changed.append("password")
        if created or changed:
            console.full_clean()
            console.save()
            audit.record("ivm.registered", obj=console, data={
                "name": name, "host": host, "port": port, "fingerprint": key.fingerprint, "created": created,
                "changed": [f for f in changed if f != "password"] + (["password"] if "password" in changed else []),
            })
    if changed and not created:
        discard_client(console)
    return console, (["created"] if created else changed)


def assign_demo_teams() -> dict[str, int]:
    """Give unowned demo partitions to Payments or Analytics (never overrides an owner set by a person)."""
    teams = {n: Team.objects.get_or_create(name=n)[0] for n in (PAYMENTS, ANALYTICS)}
    counts = {PAYMENTS: 0, ANALYTICS: 0}
    unowned = (Partition.objects.filter(team__isnull=True, vanished_at__isnull=True)
               .exclude(env=PartitionEnv.VIOSERVER).select_related("system__console"))
    with transaction.atomic():
        for p in unowned:
            payments = p.name.startswith("bad-") or (
                p.system.console.name in _PAYMENTS_IVMS and _PAYMENTS_NAMES.match(p.name))
            team = PAYMENTS if payments else ANALYTICS
            Partition.objects.filter(pk=p.pk).update(team=teams[team])
            counts[team] += 1
    return counts


class Command(BaseCommand):
    help = "Register (or update) one IVM console per IVM of an ivmsim ready file, pinning its host key."

    def add_arguments(self, parser):
        parser.add_argument("--ready-file", required=True, help="The ready file ivmsim wrote (--ready-file).")
        parser.add_argument("--sync", action="store_true", help="Sync the inventory of every IVM afterwards.")
        parser.add_argument("--demo-teams", action="store_true",
                            help="Give unowned partitions to the demo teams Payments and Analytics (after --sync).")

    def handle(self, *args, ready_file, sync=False, demo_teams=False, **options):
        path = Path(ready_file)
        try:
            data = json.loads(path.read_text())
            entries = data["ivms"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise CommandError(f"cannot read the ready file {path}: {exc}") from exc
        consoles = []
        for entry in entries:
            console, changed = register_entry(entry)
            consoles.append(console)
            what = ", ".join(changed) if changed else "unchanged"
            self.stdout.write(f"{console.name}: {console.host}:{console.port} {console.host_key_fingerprint} ({what})")
        failed = 0
        if sync:
            for result in sync_all(consoles):
                self.stdout.write(result.summary())
                failed += not result.ok
        if demo_teams:
            counts = assign_demo_teams()
            self.stdout.write("demo teams: " + ", ".join(f"{t} +{n}" for t, n in counts.items()))
        if failed:
            raise CommandError(f"{failed} IVM(s) failed to sync")
