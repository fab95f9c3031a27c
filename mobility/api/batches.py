"""Batches: the list, one batch with its members and totals, and what people ask of one (evacuate a server, move
picked partitions together, vote, pause, resume, stop, withdraw, move back), each through ``mobility.batches``, the
same functions the batch pages call: the policy says who (403 with its words), the lifecycle says when (409)."""

from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import lifecycle, policy
from mobility.api import serializers as s
from mobility.api.common import ERRORS, PROBLEM, parsed, query, require, visible
from mobility.api.problems import Problem
from mobility.batches import BatchRefused, approval, control, figures, planning
from mobility.lifecycle import TransitionRefused
from mobility.models import Batch, BatchApproval, ManagedSystem, Partition

_RELATED = ("team", "source", "requester", "origin")
# The person's moves of a batch, and the policy action each needs (``lifecycle.BATCH_MOVES``).
_MOVES = {"approve": "vote", "reject": "vote", "withdraw": "withdraw", "pause": "stop", "resume": "stop",
          "stop": "stop"}


def _visible(request, pk) -> Batch:
    return visible(policy.batches(request.user, Batch.objects.select_related(*_RELATED)), pk, "batch")


def detail(request, batch: Batch) -> dict:
    """One batch as the API shows it: its members in start order, totals, ETA, what stayed on the source and why,
    the last vote, and the moves the caller may make now."""
    allowed = lifecycle.batch_allowed_moves(batch)
    batch.actions = sorted(move for move in allowed
                           if move in _MOVES and policy.may(request.user, _MOVES[move], batch))
    if batch.kind == Batch.Kind.EVACUATE and batch.status == "finished" and policy.may(request.user, "plan"):
        batch.actions.append("move_back")
    batch.totals = figures.totals(batch)
    batch.eta = figures.eta(batch)
    batch.remaining = figures.remaining_on_source(batch)
    batch.members = list(approval.members(batch))
    batch.parallelism_cap = approval.parallelism_cap(batch)
    batch.last_vote = BatchApproval.objects.filter(batch=batch).select_related("approver").order_by(
        "-created_at").first()
    return s.BatchDetailSerializer(batch).data


def _refused(exc: Exception) -> Problem:
    return Problem(409, str(exc), "refused", "Refused in the batch's current state")


@extend_schema(tags=["batches"], parameters=[s.BatchFilter], responses={200: s.BatchSerializer(many=True), **ERRORS})
class BatchList(generics.ListAPIView):
    """The batches the caller may see, newest first, with their totals."""

    serializer_class = s.BatchSerializer

    def get_queryset(self):
        f = query(s.BatchFilter, self.request)
        qs = policy.batches(self.request.user, Batch.objects.select_related(*_RELATED))
        if f.get("status"):
            qs = qs.filter(status__in=sorted(f["status"]))
        if f.get("kind"):
            qs = qs.filter(kind=f["kind"])
        return qs.order_by("-created_at", "-id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        for batch in page:
            batch.totals = figures.totals(batch)
        return self.get_paginated_response(s.BatchSerializer(page, many=True).data)


@extend_schema(tags=["batches"], responses={200: s.BatchDetailSerializer, **ERRORS})
class BatchDetail(APIView):
    def get(self, request, pk):
        return Response(detail(request, _visible(request, pk)))


_CREATED = {201: s.BatchDetailSerializer, 409: PROBLEM, **ERRORS}


@extend_schema(tags=["batches"], request=s.EvacuateInput, responses=_CREATED)
class BatchEvacuate(APIView):
    """Evacuate a server: every client partition on it that can move (or only the running ones), placed over the
    other servers; each member is validated by IVM in a job (the batch is ``validating`` until they end)."""

    def post(self, request):
        require(request.user, "plan")
        body = parsed(s.EvacuateInput, request.data)
        server = ManagedSystem.objects.filter(pk=body["server"]).first()
        if server is None:
            raise Problem(404, "No such server.")
        try:
            batch = planning.evacuate(request.user, server, reason=body["reason"],
                                      only_running=body.get("only_running", False),
                                      stop_at_first_failure=body.get("stop_at_first_failure", False))
        except BatchRefused as exc:
            raise _refused(exc) from None
        return Response(detail(request, _visible(request, batch.pk)), status=201)


@extend_schema(tags=["batches"], request=s.PickInput, responses=_CREATED)
class BatchPick(APIView):
    """Move picked partitions together (any servers): one batch, one approval."""

    def post(self, request):
        require(request.user, "plan")
        body = parsed(s.PickInput, request.data)
        wanted = set(body["partitions"])
        found = list(policy.partitions(request.user, Partition.objects.filter(pk__in=wanted, vanished_at__isnull=True)))
        missing = wanted - {p.pk for p in found}
        if missing:
            raise Problem(404, f"No such partition: {', '.join(str(pk) for pk in sorted(missing))}.")
        try:
            batch = planning.pick(request.user, found, reason=body["reason"],
                                  stop_at_first_failure=body.get("stop_at_first_failure", False))
        except BatchRefused as exc:
            raise _refused(exc) from None
        return Response(detail(request, _visible(request, batch.pk)), status=201)


class _Action(APIView):
    """A person's request on a batch: 404 if they may not see it, 403 with the policy's words if they may not do it,
    409 with the lifecycle's (or the service's) words if the batch's state does not allow it now."""

    action = ""
    input = None
    status = 200
    on_batch = True  # the policy is asked about this batch (False: the action needs no object, as "plan")

    def _run(self, request, batch, body):
        raise NotImplementedError

    def post(self, request, pk):
        batch = _visible(request, pk)
        body = parsed(self.input, request.data) if self.input else {}
        require(request.user, self.action, batch if self.on_batch else None)
        try:
            result = self._run(request, batch, body)
        except (BatchRefused, TransitionRefused) as exc:
            raise _refused(exc) from None
        return Response(detail(request, _visible(request, (result or batch).pk)), status=self.status)


_ACTION_SCHEMA = {200: s.BatchDetailSerializer, 409: PROBLEM, **ERRORS}


@extend_schema(tags=["batches"], request=s.BatchVoteInput, responses=_ACTION_SCHEMA)
class BatchVote(_Action):
    """Approve or reject the batch you read (``batch_hash``): one vote for every member. Approving takes a window
    (``not_before``/``not_after``, ISO 8601 with an offset; ``time_zone`` is the approver's, for display) and a
    parallelism (at most the IVMs' own limits; by default those limits)."""

    action, input = "vote", s.BatchVoteInput

    def _run(self, request, batch, body):
        if body["decision"] == "approved":
            approval.approve(batch, request.user, body["comment"], batch_hash_seen=body["batch_hash"],
                             not_before=body.get("not_before"), not_after=body.get("not_after"),
                             time_zone=body.get("time_zone") or "UTC", parallelism=body.get("parallelism"))
        else:
            approval.reject(batch, request.user, body["comment"], batch_hash_seen=body["batch_hash"])


@extend_schema(tags=["batches"], request=None, responses=_ACTION_SCHEMA)
class BatchPause(_Action):
    """No new member starts; the running ones go on."""

    action = "stop"

    def _run(self, request, batch, body):
        control.pause(batch, request.user)


@extend_schema(tags=["batches"], request=None, responses=_ACTION_SCHEMA)
class BatchResume(_Action):
    action = "stop"

    def _run(self, request, batch, body):
        control.resume(batch, request.user)


@extend_schema(tags=["batches"], request=s.BatchStopInput, responses=_ACTION_SCHEMA)
class BatchStop(_Action):
    """No member starts any more; with ``stop_running`` the running members are stopped too (``migrlpar -o s``)."""

    action, input = "stop", s.BatchStopInput

    def _run(self, request, batch, body):
        control.stop(batch, request.user, stop_running=body.get("stop_running", False))


@extend_schema(tags=["batches"], request=s.WithdrawInput, responses=_ACTION_SCHEMA)
class BatchWithdraw(_Action):
    """Withdraw a batch before it runs, saying why (every member is withdrawn with it)."""

    action, input = "withdraw", s.WithdrawInput

    def _run(self, request, batch, body):
        control.withdraw(batch, request.user, body["reason"])


@extend_schema(tags=["batches"], request=None, responses={201: s.BatchDetailSerializer, 409: PROBLEM, **ERRORS})
class BatchMoveBack(_Action):
    """From a finished evacuation: plan the return of every moved partition to its original server and mappings, as
    a new batch (the answer is the new batch)."""

    action, status, on_batch = "plan", 201, False  # each member's partition is asked by ``planning`` itself

    def _run(self, request, batch, body):
        return planning.move_back(request.user, batch)
