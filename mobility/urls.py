from django.urls import include, path
from django.views.generic import RedirectView

from mobility.views import consoles, governance, inventory, migrations

app_name = "mobility"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="mobility:inventory", permanent=False)),
    path("inventory/", inventory.inventory, name="inventory"),
    path("migrations/", migrations.migration_list, name="migrations"),
    path("approvals/", governance.approvals, name="approvals"),
    path("history/", governance.history, name="history"),
    path("consoles/", consoles.console_list, name="consoles"),
    # Each area's own routes (inventory and IVM registration, planning wizard, approvals and audit, engine).
    path("", include("mobility.views.inventory_urls")),
    path("", include("mobility.views.plan_urls")),
    path("", include("mobility.views.governance_urls")),
    path("", include("mobility.views.engine_urls")),
]
