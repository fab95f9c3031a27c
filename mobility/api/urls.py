"""Routes of the REST API under /api/: the schema, its reference page, and version 1's resources."""

from django.urls import include, path, re_path

from mobility.api import approvals, auditors, batches, docs, inventory, jobs, me, migrations, planning

app_name = "api"

v1 = [
    path("me/", me.Me.as_view(), name="me"),
    path("tokens/", me.TokenList.as_view(), name="tokens"),
    path("tokens/<int:pk>/revoke/", me.TokenRevoke.as_view(), name="token_revoke"),
    path("consoles/", inventory.ConsoleList.as_view(), name="consoles"),
    path("consoles/<int:pk>/", inventory.ConsoleDetail.as_view(), name="console"),
    path("servers/", inventory.ServerList.as_view(), name="servers"),
    path("servers/<int:pk>/", inventory.ServerDetail.as_view(), name="server"),
    path("partitions/", inventory.PartitionList.as_view(), name="partitions"),
    path("partitions/<int:pk>/", inventory.PartitionDetail.as_view(), name="partition"),
    path("partitions/<int:pk>/destinations/", inventory.Destinations.as_view(), name="destinations"),
    path("plans/draft/", planning.PlanDraft.as_view(), name="plan_draft"),
    path("plans/validate/", planning.PlanValidate.as_view(), name="plan_validate"),
    path("plans/submit/", planning.PlanSubmit.as_view(), name="plan_submit"),
    path("jobs/<int:pk>/", jobs.JobDetail.as_view(), name="job"),
    path("approvals/", approvals.ApprovalList.as_view(), name="approvals"),
    path("approvals/<int:pk>/", approvals.ApprovalDetail.as_view(), name="approval"),
    path("approvals/<int:pk>/vote/", approvals.ApprovalVote.as_view(), name="approval_vote"),
    path("migrations/", migrations.MigrationList.as_view(), name="migrations"),
    path("migrations/<int:pk>/", migrations.MigrationDetail.as_view(), name="migration"),
    path("migrations/<int:pk>/events/", migrations.MigrationEvents.as_view(), name="migration_events"),
    path("migrations/<int:pk>/plan/", planning.MigrationPlan.as_view(), name="migration_plan"),
    path("migrations/<int:pk>/plan/validate/", planning.MigrationPlanValidate.as_view(),
         name="migration_plan_validate"),
    path("migrations/<int:pk>/stop/", migrations.MigrationStop.as_view(), name="migration_stop"),
    path("migrations/<int:pk>/recover/", migrations.MigrationRecover.as_view(), name="migration_recover"),
    path("migrations/<int:pk>/withdraw/", migrations.MigrationWithdraw.as_view(), name="migration_withdraw"),
    path("migrations/<int:pk>/tasks/<int:index>/", migrations.MigrationTask.as_view(), name="migration_task"),
    path("batches/", batches.BatchList.as_view(), name="batches"),
    path("batches/evacuate/", batches.BatchEvacuate.as_view(), name="batch_evacuate"),
    path("batches/pick/", batches.BatchPick.as_view(), name="batch_pick"),
    path("batches/<int:pk>/", batches.BatchDetail.as_view(), name="batch"),
    path("batches/<int:pk>/vote/", batches.BatchVote.as_view(), name="batch_vote"),
    path("batches/<int:pk>/pause/", batches.BatchPause.as_view(), name="batch_pause"),
    path("batches/<int:pk>/resume/", batches.BatchResume.as_view(), name="batch_resume"),
    path("batches/<int:pk>/stop/", batches.BatchStop.as_view(), name="batch_stop"),
    path("batches/<int:pk>/withdraw/", batches.BatchWithdraw.as_view(), name="batch_withdraw"),
    path("batches/<int:pk>/move-back/", batches.BatchMoveBack.as_view(), name="batch_move_back"),
    path("history/", auditors.HistoryList.as_view(), name="history"),
    path("history/stats/", auditors.HistoryStats.as_view(), name="history_stats"),
    re_path(r"^history/export\.(?P<fmt>csv|json)$", auditors.HistoryExport.as_view(), name="history_export"),
    path("history/<int:pk>/timeline/", auditors.HistoryTimeline.as_view(), name="history_timeline"),
    path("audit/", auditors.AuditList.as_view(), name="audit"),
    path("audit/status/", auditors.AuditStatus.as_view(), name="audit_status"),
]

urlpatterns = [
    path("schema/", docs.Schema.as_view(), name="schema"),
    path("docs/", docs.reference, name="docs"),
    path("v1/", include(v1)),
    re_path(r"^(?P<rest>.*)$", docs.NotFound.as_view(), name="not_found"),  # last: a problem, never an HTML 404
]
