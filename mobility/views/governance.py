from django.shortcuts import render

from mobility.access import role_required
from mobility.choices import MigrationStatus, Role
from mobility.models import AuditEvent, Migration


@role_required(Role.APPROVER)
def approvals(request):
    """Requests waiting for this approver's teams."""
    pending = Migration.objects.filter(
        status=MigrationStatus.PENDING_APPROVAL, partition__team__members=request.user
    ).select_related("partition", "source", "destination", "requester")
    return render(request, "mobility/approvals.html", {"pending": pending})


@role_required(Role.AUDITOR)
def history(request):
    """The audit trail, newest first."""
    events = AuditEvent.objects.order_by("-id")[:200]
    return render(request, "mobility/history.html", {"events": events})
