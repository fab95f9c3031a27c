from django.urls import include, path
from django.views.generic import RedirectView

from mobility.views import consoles, governance, inventory, migrations, tokens

app_name = "mobility"

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="mobility:inventory", permanent=False)),
    path("inventory/", inventory.inventory, name="inventory"),
    path("migrations/", migrations.migration_list, name="migrations"),
    path("approvals/", governance.approvals, name="approvals"),
    path("history/", governance.history, name="history"),
    path("consoles/", consoles.console_list, name="consoles"),
    path("account/api-tokens/", tokens.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", tokens.api_token_revoke, name="api_token_revoke"),
    # Each area's own routes (inventory and IVM registration, planning wizard, approvals and audit, engine).
    path("", include("mobility.views.inventory_urls")),
    path("", include("mobility.views.plan_urls")),
    path("", include("mobility.views.governance_urls")),
    path("", include("mobility.views.engine_urls")),
    path("", include("mobility.views.batches_urls")),
]
