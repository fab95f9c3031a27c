"""Routes of approvals and the auditors' history; included by mobility/urls.py.

`/approvals/` (mobility:approvals) and `/history/` (mobility:history) are routed by mobility/urls.py
itself, to the views in mobility.views.governance.
"""

from django.urls import path, re_path

from mobility.views import governance

urlpatterns = [
    path("approvals/<int:pk>/", governance.approval_detail, name="approval"),
    path("approvals/<int:pk>/vote/", governance.vote, name="approval_vote"),
    path("history/audit/", governance.audit_log, name="audit_log"),
    path("history/stats/", governance.history_stats, name="history_stats"),
    re_path(r"^history/export\.(?P<fmt>csv|json)$", governance.history_export, name="history_export"),
    path("history/migrations/<int:pk>/", governance.migration_timeline, name="history_timeline"),
]
