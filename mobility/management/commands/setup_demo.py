from django.core.management.base import BaseCommand

from mobility.demo import PERSONAS, ensure_personas


class Command(BaseCommand):
    help = "Create the demo teams and users (one per role); passwords are printed once, when set."

    def add_arguments(self, parser):
        parser.add_argument("--reset-passwords", action="store_true", help="Give every demo user a new password.")

    def handle(self, *args, reset_passwords=False, **options):
        passwords = ensure_personas(reset_passwords=reset_passwords)
        if passwords:
            self.stdout.write("Demo users (passwords are shown only now):")
            for persona in PERSONAS:
                if persona.username in passwords:
                    teams = ", ".join(persona.teams) or "all teams"
                    self.stdout.write(f"  {persona.username:8} {passwords[persona.username]:18} {persona.role} ({teams})")
        else:
            self.stdout.write("Demo users exist already; `manage.py setup_demo --reset-passwords` gives new passwords.")
