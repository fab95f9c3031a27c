"""Consoles (administrators), servers, partitions with their adapters and disks, and a partition's ranked
destinations with every reason and the excluded ones (the planning wizard's step 2)."""

from django.db.models import Prefetch
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import policy
from mobility.api import planning
from mobility.api import serializers as s
from mobility.api.common import ERRORS, query, require, visible
from mobility.api.problems import Problem
from mobility.models import IVMConsole, ManagedSystem, Partition, StorageDevice


@extend_schema(tags=["inventory"], responses={200: s.ConsoleSerializer(many=True), **ERRORS})
class ConsoleList(generics.ListAPIView):
    """The registered IVM consoles (administrators)."""

    serializer_class = s.ConsoleSerializer

    def get_queryset(self):
        require(self.request.user, "manage_consoles")
        return IVMConsole.objects.order_by("name", "id")


@extend_schema(tags=["inventory"], responses={200: s.ConsoleSerializer, **ERRORS})
class ConsoleDetail(generics.RetrieveAPIView):
    serializer_class = s.ConsoleSerializer

    def get_object(self):
        require(self.request.user, "manage_consoles")
        return visible(IVMConsole.objects.all(), self.kwargs["pk"], "console")


@extend_schema(tags=["inventory"], responses={200: s.ServerSerializer(many=True), **ERRORS})
class ServerList(generics.ListAPIView):
    """The managed servers (every signed-in person sees them, as on the inventory page)."""

    serializer_class = s.ServerSerializer
    queryset = ManagedSystem.objects.select_related("console").order_by("name", "id")


@extend_schema(tags=["inventory"], responses={200: s.ServerSerializer, **ERRORS})
class ServerDetail(generics.RetrieveAPIView):
    serializer_class = s.ServerSerializer

    def get_object(self):
        return visible(ManagedSystem.objects.select_related("console"), self.kwargs["pk"], "server")


def _partitions(user):
    return policy.partitions(user, Partition.objects.select_related("system", "team"))


@extend_schema(tags=["inventory"], parameters=[s.PartitionFilter],
               responses={200: s.PartitionSerializer(many=True), **ERRORS})
class PartitionList(generics.ListAPIView):
    """The partitions the caller may see (their teams'; every one for auditors and admins), in the inventory now."""

    serializer_class = s.PartitionSerializer

    def get_queryset(self):
        f = query(s.PartitionFilter, self.request)
        qs = _partitions(self.request.user).filter(vanished_at__isnull=True)
        if f.get("server"):
            qs = qs.filter(system_id=f["server"])
        for key in ("env", "state"):
            if f.get(key):
                qs = qs.filter(**{key: f[key]})
        if f.get("team"):
            qs = qs.filter(team__name=f["team"])
        if f.get("q"):
            qs = qs.filter(name__icontains=f["q"])
        return qs.order_by(f.get("ordering") or "name", "id")


@extend_schema(tags=["inventory"], responses={200: s.PartitionDetailSerializer, **ERRORS})
class PartitionDetail(generics.RetrieveAPIView):
    """One partition with its virtual adapters and the disks that back it (404 for another team's)."""

    serializer_class = s.PartitionDetailSerializer

    def get_object(self):
        qs = _partitions(self.request.user).prefetch_related(
            "adapters", Prefetch("backing_devices", queryset=StorageDevice.objects.order_by("name")))
        return visible(qs, self.kwargs["pk"], "partition")


@extend_schema(tags=["planning"], responses={200: s.DestinationsSerializer, **ERRORS},
               parameters=[OpenApiParameter("mode", str, enum=["active", "inactive"], required=False)])
class Destinations(APIView):
    """The other servers ranked for this partition, with every reason, the excluded ones last with what blocks them;
    and the partition's own checks (the wizard's step 2). ``?mode=inactive`` ranks for a shut-down-first move."""

    def get(self, request, pk):
        require(request.user, "plan")  # the wizard's gate
        context = planning.wizard(request, {"partition": pk, "mode": request.query_params.get("mode", "")})
        partition = context["partition"]
        rows = []
        for row in context.get("candidates", []):
            cand, system = row["candidate"], row["system"]
            rows.append({"server": {"id": system.pk, "name": system.name}, "eligible": cand.eligible,
                         "score": cand.score, "reasons": [r.to_dict() for r in cand.reasons],
                         "blocking": planning.checks(cand.blocking)})
        if context.get("refused"):
            raise Problem(400, context["refused"], "bad-mode")
        return Response(s.DestinationsSerializer({
            "partition": {"id": partition.pk, "name": partition.name}, "mode": context.get("mode"),
            "partition_checks": context.get("partition_checks", []),
            "partition_blocked": context.get("partition_blocked", False), "destinations": rows}).data)
