from django.apps import AppConfig


class MobilityConfig(AppConfig):
    name = "mobility"
    verbose_name = "Partition mobility"

    def ready(self):
        # These connect signal receivers (sign-ins, role grants → audit trail) and use the models.
        # import here: Django app loading (models exist once the app registry is ready, after this module's import)
        from mobility.governance import grant_audit, signals  # noqa: F401
