"""Routes of the migration engine: live page, polling fallback, Stop/Recover, follow-up tasks, dashboard."""

from django.urls import path

from mobility.views import engine

urlpatterns = [
    path("dashboard/", engine.dashboard, name="dashboard"),
    path("migrations/<int:pk>/live/", engine.migration_live, name="migration_live"),
    path("migrations/<int:pk>/live/state/", engine.migration_state, name="migration_state"),
    path("migrations/<int:pk>/withdraw/", engine.migration_withdraw, name="migration_withdraw"),
    path("migrations/<int:pk>/stop/", engine.migration_stop, name="migration_stop"),
    path("migrations/<int:pk>/recover/", engine.migration_recover, name="migration_recover"),
    path("migrations/<int:pk>/tasks/<int:index>/", engine.migration_task, name="migration_task"),
]
