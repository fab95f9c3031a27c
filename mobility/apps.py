from django.apps import AppConfig


class MobilityConfig(AppConfig):
    name = "mobility"
    verbose_name = "Partition mobility"

    def ready(self):
        from mobility.governance import grant_audit, signals  # noqa: F401  (sign-ins, role grants → audit trail)
