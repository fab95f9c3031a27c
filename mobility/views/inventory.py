"""The estate as the IVMs report it: the inventory list, one server, one partition.

Every list and page shows only the partitions the user may see (``policy.partitions``); a partition
outside that set answers 404, exactly like one that does not exist, so nothing leaks.
"""

from django.db.models import Count, F, Q
from django.shortcuts import get_object_or_404, render
from django.utils.cache import patch_vary_headers

from mobility import policy
from mobility.choices import AdapterRole, PartitionEnv
from mobility.forms.inventory import PartitionFilterForm
from mobility.models import IVMConsole, ManagedSystem, Partition, VirtualAdapter
from mobility.wizard import wizard_url


def _wants_fragment(request) -> bool:
    """An htmx request for the table only (a history restore or boosted load needs the whole page)."""
    htmx = request.htmx
    return bool(htmx) and not htmx.history_restore_request and not htmx.boosted


def _current(user):
    return policy.partitions(user, Partition.objects.filter(vanished_at__isnull=True))


def inventory(request):
    """Servers, the partitions this user may see (filtered and searched), and sync status per IVM.

    The same view answers the whole page or, for htmx, just the partition table; the filter form's URL
    is pushed into history so a filtered view can be shared and the back button works.
    """
    form = PartitionFilterForm(request.GET)
    form.is_valid()
    partitions = form.apply(_current(request.user).select_related("system", "team"))
    context = {"form": form, "partitions": partitions}
    if _wants_fragment(request):
        response = render(request, "mobility/inventory.html#partition-table", context)
    else:
        context.update(
            systems=ManagedSystem.objects.select_related("console").annotate(
                partition_count=Count("partitions", filter=Q(partitions__vanished_at__isnull=True)),
                memory_used_mb=F("memory_configurable_mb") - F("memory_available_mb"),
                proc_units_used=F("proc_units_configurable") - F("proc_units_available"),
            ),
            consoles=IVMConsole.objects.all(),
            console_count=IVMConsole.objects.count(),
            manages_consoles=policy.may(request.user, "manage_consoles"),
        )
        response = render(request, "mobility/inventory.html", context)
    # Caches must not serve the fragment for a full-page request or the other way round.
    patch_vary_headers(response, ["HX-Request"])
    return response


def system_detail(request, pk: int):
    """One managed system: capabilities, limits, management partition, networks, storage, its partitions."""
    system = get_object_or_404(ManagedSystem.objects.select_related("console"), pk=pk)
    visible_ids = set(policy.partitions(request.user, system.partitions.all()).values_list("pk", flat=True))
    management = system.management_partition
    slots_used = management.adapters.count() if management else 0
    return render(request, "mobility/system.html", {
        "system": system,
        "may_plan": policy.may(request.user, "plan"),  # who may ask for moves may ask to evacuate
        "management": management,
        "slots_used": slots_used,
        "slots_free": max(management.max_virtual_slots - slots_used, 0) if management else 0,
        "memory_used_mb": system.memory_configurable_mb - system.memory_available_mb,
        "proc_units_used": system.proc_units_configurable - system.proc_units_available,
        "seas": system.seas.all(),
        "storage": system.storage.select_related("client_partition", "server_adapter"),
        "fc_ports": system.fc_ports.all(),
        "io_slots": system.io_slots.select_related("partition"),
        "partitions": _current(request.user).filter(system=system).select_related("team"),
        "visible_ids": visible_ids,
    })


def _paired_adapters(partition: Partition) -> list[tuple[VirtualAdapter, VirtualAdapter | None]]:
    """Each adapter of the partition with its other end: a client's server adapter on the management
    partition, or a server adapter's client; None when the other end is not in the inventory."""
    adapters = list(partition.adapters.all())
    others = VirtualAdapter.objects.filter(partition__system=partition.system,
                                           partition__vanished_at__isnull=True).select_related("partition")
    if partition.env == PartitionEnv.VIOSERVER:
        others = others.exclude(partition=partition)
    else:
        others = others.filter(partition__env=PartitionEnv.VIOSERVER)
    by_end = {(o.partition.lpar_id, o.slot): o for o in others}
    pairs = []
    for adapter in adapters:
        other = None
        if adapter.remote_lpar_id is not None and adapter.remote_slot is not None:
            other = by_end.get((adapter.remote_lpar_id, adapter.remote_slot))
        if other is None and adapter.role == AdapterRole.CLIENT:
            other = next((o for o in others if o.remote_lpar_id == partition.lpar_id
                          and o.remote_slot == adapter.slot and o.kind == adapter.kind), None)
        pairs.append((adapter, other))
    return pairs


def partition_detail(request, pk: int):
    """One partition the user may see: details, adapters and their pairs, backing storage, I/O, migrations."""
    partition = get_object_or_404(
        policy.partitions(request.user, Partition.objects.select_related("system", "team")), pk=pk)
    return render(request, "mobility/partition.html", {
        "partition": partition,
        "pairs": _paired_adapters(partition),
        "backing": partition.backing_devices.select_related("server_adapter"),
        "io_slots": partition.io_slots.all(),
        "migrations": partition.migrations.select_related("source", "destination", "requester"),
        "migrate_url": _migrate_url(request.user, partition),
    })


def _migrate_url(user, partition: Partition) -> str | None:
    """The wizard for this partition, for who may plan it (policy) while it is listed and not a VIOS."""
    if partition.vanished_at or partition.env == PartitionEnv.VIOSERVER or not policy.may(user, "plan", partition):
        return None
    return wizard_url(partition=partition.pk)
