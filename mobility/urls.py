from django.urls import path
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
]
