"""Routes of the inventory area (servers, partitions) and IVM registration; included by mobility/urls.py.

`inventory/` and `consoles/` themselves are named in mobility/urls.py.
"""

from django.urls import path

from mobility.views import consoles, inventory

urlpatterns = [
    path("systems/<int:pk>/", inventory.system_detail, name="system_detail"),
    path("partitions/<int:pk>/", inventory.partition_detail, name="partition_detail"),
    path("consoles/new/", consoles.console_register, name="console_register"),
    path("consoles/sync/", consoles.console_sync_all, name="console_sync_all"),
    path("consoles/<int:pk>/", consoles.console_detail, name="console_detail"),
    path("consoles/<int:pk>/host-key/", consoles.console_host_key, name="console_host_key"),
    path("consoles/<int:pk>/host-key/pin/", consoles.console_pin, name="console_pin"),
    path("consoles/<int:pk>/test/", consoles.console_test, name="console_test"),
    path("consoles/<int:pk>/sync/", consoles.console_sync, name="console_sync"),
]
