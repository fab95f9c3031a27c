from django.db.models import Count, Q
from django.shortcuts import render

from mobility.models import IVMConsole, ManagedSystem, Partition
from mobility.roles import visible_partitions


def inventory(request):
    """Servers and the partitions this user may see; an empty estate says how to add an IVM."""
    partitions = visible_partitions(
        request.user, Partition.objects.filter(vanished_at__isnull=True).select_related("system", "team")
    )
    systems = ManagedSystem.objects.select_related("console").annotate(
        partition_count=Count("partitions", filter=Q(partitions__vanished_at__isnull=True))
    )
    return render(
        request,
        "mobility/inventory.html",
        {"systems": systems, "partitions": partitions, "console_count": IVMConsole.objects.count()},
    )
