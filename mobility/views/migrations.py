from django.shortcuts import render

from mobility.choices import Role
from mobility.models import Migration
from mobility.roles import has_role


def migration_list(request):
    """Migrations of the user's teams' partitions (everything for auditors and admins)."""
    migrations = Migration.objects.select_related("partition", "source", "destination", "requester")
    if not has_role(request.user, Role.AUDITOR, Role.ADMIN):
        migrations = migrations.filter(partition__team__members=request.user)
    return render(request, "mobility/migrations.html", {"migrations": migrations[:200]})
