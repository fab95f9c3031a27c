from django.shortcuts import render

from mobility import policy
from mobility.models import Migration


def migration_list(request):
    """The migrations the user may see (``policy.migrations``), newest 200."""
    migrations = policy.migrations(
        request.user, Migration.objects.select_related("partition", "source", "destination", "requester"))
    return render(request, "mobility/migrations.html", {"migrations": migrations[:200]})
