from django.apps import AppConfig


class MobilityConfig(AppConfig):
    name = "mobility"
    verbose_name = "Partition mobility"

    def ready(self):
        from mobility.governance import signals  # noqa: F401  (sign-ins and failed sign-ins → audit trail)
