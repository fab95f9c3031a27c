"""Migrations: the list with filters, one with its steps and figures, its events after a sequence number, and what
people ask of it (stop, recover, withdraw, tick a follow-up task) through ``mobility.engine.control``, the same
functions the live page's buttons call: the policy says who, the lifecycle says when."""

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import lifecycle, policy
from mobility.api import serializers as s
from mobility.api.common import ERRORS, PROBLEM, parsed, query, require, visible
from mobility.api.pagination import AfterSequence, CappedPages
from mobility.api.problems import Problem
from mobility.engine import control
from mobility.governance import history
from mobility.models import Migration, MigrationEvent
from mobility.models.migrations import queue_position

_RELATED = ("partition__team", "partition__system", "source", "destination", "requester")


def _visible(request, pk) -> Migration:
    return visible(policy.migrations(request.user, Migration.objects.select_related(*_RELATED)), pk, "migration")


def detail(request, migration: Migration) -> dict:
    """One migration as the API shows it: steps, figures, plan in force and what the caller may do now."""
    latest = migration.latest_plan()
    allowed = lifecycle.allowed_actions(migration)
    actions = [a for a in lifecycle.PAGE_ACTIONS if a in allowed and policy.may(request.user, a, migration)]
    migration.queue_position = queue_position(migration)
    migration.actions = actions
    migration.plan_version = latest.version if latest else None
    migration.plan_hash = latest.content_hash if latest else None
    return s.MigrationDetailSerializer(migration).data


@extend_schema(tags=["migrations"], parameters=[s.MigrationFilter],
               responses={200: s.MigrationSerializer(many=True), **ERRORS})
class MigrationList(generics.ListAPIView):
    """The migrations the caller may see, filtered and ordered (newest first by default). ``count`` is exact up to
    10,000 matching migrations; above, ``count_capped`` is true."""

    serializer_class = s.MigrationSerializer
    pagination_class = CappedPages

    def get_queryset(self):
        f = query(s.MigrationFilter, self.request)
        qs = policy.migrations(self.request.user, Migration.objects.all())
        if f.get("requester"):  # a username: nobody by that name matches nothing
            f["requester"] = get_user_model().objects.filter(username=f["requester"]).first()
            if f["requester"] is None:
                return qs.none()
        qs = history.filter_migrations(qs, f)
        ordering = f.get("ordering") or "-created_at"
        return qs.order_by(ordering, "-id" if ordering.startswith("-") else "id")

    def fetch_rows(self, ids):
        """A page's rows by id (found by the filters above), still through the policy; the filters are not asked
        again, so that the planner sees 50 ids, not the filters' thousands of rows."""
        return policy.migrations(self.request.user, Migration.objects.filter(pk__in=ids)).values(*s.LIST_VALUES)

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([s.migration_row(v) for v in page])


@extend_schema(tags=["migrations"], responses={200: s.MigrationDetailSerializer, **ERRORS})
class MigrationDetail(APIView):
    def get(self, request, pk):
        return Response(detail(request, _visible(request, pk)))


@extend_schema(tags=["migrations"], responses={200: s.EventSerializer(many=True), **ERRORS})
class MigrationEvents(generics.ListAPIView):
    """The migration's events after a sequence number (``after``), oldest first; poll with the returned ``after``
    until ``status`` is final (and ``more`` false) to follow it live."""

    serializer_class = s.EventSerializer
    pagination_class = AfterSequence

    def list(self, request, *args, **kwargs):
        # The status is read before the events: once it is final, the page read after it holds the last events.
        now = policy.migrations(request.user).filter(pk=kwargs["pk"]).values("last_seq", "status").first()
        if now is None:
            raise Problem(404, "No such migration.")
        # A polled hot path: plain rows and dicts (the shape of EventSerializer), not model instances.
        page = self.paginate_queryset(MigrationEvent.objects.filter(migration_id=kwargs["pk"])
                                      .values("seq", "at", "kind", "payload"))
        data = [{"seq": e["seq"], "at": s.iso_time(e["at"]), "kind": e["kind"], "payload": e["payload"]}
                for e in page]
        return self.paginator.get_paginated_response(data, last_seq=max(now["last_seq"], self.paginator.after_seq()),
                                                     status=now["status"])


class _Action(APIView):
    """A person's request on a migration: 404 if they may not see it, 403 with the policy's reason if they may not
    do it, 409 with the lifecycle's reason if its status does not allow it now."""

    action = ""
    input = None

    def _run(self, request, migration, body):
        raise NotImplementedError

    def post(self, request, pk):
        migration = _visible(request, pk)
        body = parsed(self.input, request.data) if self.input else {}
        require(request.user, "force_recover" if body.get("force") else self.action, migration)
        try:
            self._run(request, migration, body)
        except control.ControlRefused as exc:
            raise Problem(409, str(exc), "refused", "Refused in the migration's current state") from None
        return Response(detail(request, _visible(request, pk)))


_ACTION_SCHEMA = {200: s.MigrationDetailSerializer, 409: PROBLEM, **ERRORS}


@extend_schema(tags=["migrations"], request=None, responses=_ACTION_SCHEMA)
class MigrationStop(_Action):
    """Stop a running migration (the engine sends ``migrlpar -o s``), or one approved that has not started."""

    action, input = "stop", None

    def _run(self, request, migration, body):
        control.request_stop(migration, request.user)


@extend_schema(tags=["migrations"], request=s.RecoverInput, responses=_ACTION_SCHEMA)
class MigrationRecover(_Action):
    """Recover a migration the IVM left half-moved (``migrlpar -o r``); ``force`` for administrators."""

    action, input = "recover", s.RecoverInput

    def _run(self, request, migration, body):
        control.request_recover(migration, request.user, force=body.get("force", False))


@extend_schema(tags=["migrations"], request=s.WithdrawInput, responses=_ACTION_SCHEMA)
class MigrationWithdraw(_Action):
    """Withdraw a request before it starts (its votes are voided), saying why."""

    action, input = "withdraw", s.WithdrawInput

    def _run(self, request, migration, body):
        control.withdraw(migration, request.user, body["reason"])


@extend_schema(tags=["migrations"], request=s.TaskInput, responses=_ACTION_SCHEMA)
class MigrationTask(_Action):
    """Tick (or untick) follow-up task ``index`` of a completed migration (step 11)."""

    action, input = "tick_task", s.TaskInput

    def post(self, request, pk, index):
        self.index = index
        return super().post(request, pk)

    def _run(self, request, migration, body):
        control.tick_task(migration, request.user, self.index, body["done"])
