"""The auditors' API: history with the history page's filters, figures per server pair, exports (CSV, JSON), one
migration's timeline, the audit trail (cursor-paged) and its verification status. ``mobility.governance.history``
answers; the history page's filter form checks the values (names that exist, dates in order)."""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import policy
from mobility.api import serializers as s
from mobility.api.common import ERRORS, form_invalid, require, visible
from mobility.api.pagination import AuditCursor
from mobility.forms.governance import AuditLogFilterForm, HistoryFilterForm
from mobility.governance import audit, checkpoints
from mobility.governance import history as history_rules
from mobility.models import Migration

_FILTERS = [OpenApiParameter(name, str, required=False) for name in
            ("requester", "approver", "team", "partition", "source", "destination")] + [
    OpenApiParameter("date_from", OpenApiTypes.DATE, required=False),
    OpenApiParameter("date_to", OpenApiTypes.DATE, required=False),
    OpenApiParameter("mode", str, enum=["active", "inactive"], required=False),
    OpenApiParameter("status", str, required=False, enum=[v for v, _ in HistoryFilterForm.base_fields["status"].choices
                                                           if v]),
    OpenApiParameter("sort", str, enum=list(history_rules.SORTS), required=False),
]


def _filters(request, where: str) -> dict:
    """The history page's filters from the query (page and page_size are the paginator's); refusals audited."""
    params = request.query_params.copy()
    for key in ("page", "page_size"):
        params.pop(key, None)
    if not params:
        return {}
    form = HistoryFilterForm(params)
    if form.is_valid():
        return form.cleaned_data
    audit.record("history.filter_refused", actor=request.user, data={
        "where": f"api.{where}", "query": params.urlencode()[:1000],
        "errors": {field: [str(e) for e in errors] for field, errors in form.errors.items()}})
    raise form_invalid(form)


@extend_schema(tags=["history"], parameters=_FILTERS, responses={200: s.HistoryRowSerializer(many=True), **ERRORS})
class HistoryList(generics.ListAPIView):
    """Migrations filtered by date, people, team, partition, servers, mode and outcome (auditors)."""

    serializer_class = s.HistoryRowSerializer

    def get_queryset(self):
        require(self.request.user, "read_history")
        return policy.history(self.request.user, history_rules.filtered_migrations(_filters(self.request, "history")))


@extend_schema(tags=["history"], parameters=_FILTERS, responses={200: s.PairStatsSerializer(many=True), **ERRORS})
class HistoryStats(APIView):
    """Count, success rate, p50/p95 duration and suspend window per server pair, for the same filters."""

    def get(self, request):
        require(request.user, "read_history")
        rows = history_rules.pair_stats(policy.history(request.user, history_rules.filtered_migrations(
            _filters(request, "stats"))))
        return Response(s.PairStatsSerializer(rows, many=True).data)


@extend_schema(tags=["history"], parameters=_FILTERS, responses={
    (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="Every matching migration, as CSV"),
    (200, "application/json"): OpenApiResponse(OpenApiTypes.OBJECT, description="Every matching migration"),
    **ERRORS})
class HistoryExport(APIView):
    """Exactly what the filters select (every page), streamed as CSV or JSON. Audited."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)  # the answer is CSV or JSON, not negotiated

    def get(self, request, fmt):
        require(request.user, "export")
        filters = {**_filters(request, f"export.{fmt}"), "page": None}
        queryset = policy.history(request.user, history_rules.filtered_migrations(filters))
        audit.record("history.exported", actor=request.user,
                     data={"format": fmt, "query": request.query_params.urlencode()[:1000], "via": "api"})
        stream = history_rules.stream_csv(queryset) if fmt == "csv" else history_rules.stream_json(queryset)
        response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8" if fmt == "csv"
                                         else "application/json")
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        response["Content-Disposition"] = f'attachment; filename="ivmweb-history-{stamp}.{fmt}"'
        return response


@extend_schema(tags=["history"], responses={200: s.TimelineEntrySerializer(many=True), **ERRORS})
class HistoryTimeline(APIView):
    """Everything recorded about one migration, oldest first."""

    def get(self, request, pk):
        require(request.user, "read_history")
        migration = visible(policy.history(request.user, Migration.objects.select_related(
            "partition__team", "source", "destination", "requester")), pk, "migration")
        return Response(s.TimelineEntrySerializer(history_rules.timeline(migration), many=True).data)


@extend_schema(tags=["audit"], parameters=[OpenApiParameter("action", str, required=False,
                                                            description="An action or its beginning"),
                                           OpenApiParameter("actor", str, required=False)],
               responses={200: s.AuditEventSerializer(many=True), **ERRORS})
class AuditList(generics.ListAPIView):
    """The audit trail, newest first, filtered by action (prefix) and actor; cursor-paged."""

    serializer_class = s.AuditEventSerializer
    pagination_class = AuditCursor

    def get_queryset(self):
        require(self.request.user, "read_audit")
        params = {k: v for k, v in self.request.query_params.items() if k in ("action", "actor")}
        form = AuditLogFilterForm(params)
        if not form.is_valid():
            raise form_invalid(form)
        events = policy.audit_records(self.request.user)
        if form.cleaned_data.get("action"):
            events = events.filter(action__startswith=form.cleaned_data["action"])
        if form.cleaned_data.get("actor"):
            events = events.filter(actor_name=form.cleaned_data["actor"])
        return events


@extend_schema(tags=["audit"], responses={200: s.AuditStatusSerializer, **ERRORS})
class AuditStatus(APIView):
    """The last verification of the chain and the last signed checkpoint (its signature checked now)."""

    def get(self, request):
        require(request.user, "read_audit")
        facts = checkpoints.anchor_facts()
        cp = facts.checkpoint
        return Response(s.AuditStatusSerializer({
            "verification": facts.verification,
            "checkpoint": None if cp is None else {"seq": cp.seq, "written": cp.written, "length": cp.length,
                                                   "position": cp.position, "head": cp.head},
            "checkpoint_ok": cp is not None and not facts.checkpoint_problem,
            "checkpoint_problem": facts.checkpoint_problem}).data)
