"""Approvals: the requests waiting for a vote (approvers of the team, auditors), one request's plan and votes, and
the vote itself with the hash of the plan the approver read (``mobility.governance.approvals``: a changed plan is
refused, as on the page)."""

from django.http import QueryDict
from drf_spectacular.utils import extend_schema
from rest_framework import generics
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import lifecycle, policy
from mobility.api import serializers as s
from mobility.api.common import ERRORS, PROBLEM, form_invalid, parsed, require
from mobility.api.problems import Problem
from mobility.forms.governance import VoteForm
from mobility.governance import approvals as approval_rules
from mobility.governance import audit
from mobility.models import Migration


def _scope(user):
    return policy.approvals(user, Migration.objects.select_related(
        "partition__team", "partition__system", "source", "destination", "requester"))


def card(user, migration: Migration) -> dict:
    """What the approvals page shows of one request, for this user."""
    plan = approval_rules.current_plan(migration)
    waiting = lifecycle.refusal("approve", migration) is None
    why_not = policy.refusal(user, "vote", migration)
    voted = plan is not None and plan.approvals.filter(approver=user).exists()
    runnable, runnable_why = approval_rules.check_runnable(migration) if plan else (False, "The migration has no plan.")
    return {"migration": migration, "plan": plan,
            "votes": migration.approvals.select_related("approver", "plan").order_by("created_at"),
            "waiting": waiting, "can_vote": waiting and why_not is None and plan is not None and not voted,
            "why_not": why_not if policy.may(user, "vote") else None,
            "expires_at": approval_rules.request_expires_at(plan) if plan else None,
            "runnable": runnable, "runnable_why": runnable_why}


@extend_schema(tags=["approvals"], responses={200: s.ApprovalSerializer(many=True), **ERRORS})
class ApprovalList(generics.ListAPIView):
    """Requests waiting for a vote of their own: an approver's teams', or (read only) every one for an auditor. A
    batch's members are voted on with their batch (``/batches/?status=pending_approval``), not listed here."""

    serializer_class = s.ApprovalSerializer

    def get_queryset(self):
        require(self.request.user, "read_approvals")
        return approval_rules.waiting_alone(_scope(self.request.user)).order_by("created_at", "id")

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.ApprovalSerializer([card(request.user, m) for m in page],
                                                                many=True).data)


def _visible(request, pk) -> Migration:
    migration = _scope(request.user).filter(pk=pk).first()
    if migration is None:
        raise Problem(404, "No such request.")
    return migration


@extend_schema(tags=["approvals"], responses={200: s.ApprovalSerializer, **ERRORS})
class ApprovalDetail(APIView):
    """One request's plan and votes (any status)."""

    def get(self, request, pk):
        require(request.user, "read_approvals")
        return Response(s.ApprovalSerializer(card(request.user, _visible(request, pk))).data)


@extend_schema(tags=["approvals"], request=s.VoteInput,
               responses={200: s.ApprovalSerializer, 409: PROBLEM, **ERRORS})
class ApprovalVote(APIView):
    """Approve or reject the plan version whose ``plan_hash`` you read; refused (409, ``plan-changed``) if the plan
    was revised since. Every refusal is audited, as on the page."""

    def post(self, request, pk):
        refusal = policy.refusal(request.user, "vote")
        if refusal is not None:
            audit.record("approval.refused", actor=request.user, data={"migration": pk, "reason": refusal})
            raise Problem(403, refusal)
        migration = _scope(request.user).filter(pk=pk).first()
        if migration is None:
            if Migration.objects.filter(pk=pk).exists():
                audit.record("approval.refused", actor=request.user,
                             data={"migration": pk, "reason": "not an approver of the owning team"})
            raise Problem(404, "No such request.")
        body = parsed(s.VoteInput, request.data)
        data = QueryDict(mutable=True)
        for key in ("decision", "plan_hash", "comment"):
            data[key] = body[key]
        for key in ("not_before", "not_after"):
            data[key] = body[key].isoformat() if body.get(key) else ""
        form = VoteForm(data)
        if not form.is_valid():
            audit.record("approval.refused", actor=request.user, obj=migration,
                         data={"reason": " ".join(str(m) for errs in form.errors.values() for m in errs),
                               "decision": body["decision"]})
            raise form_invalid(form)
        d = form.cleaned_data
        if d["decision"] == "approved":
            approval_rules.approve(migration, request.user, d["comment"], plan_hash=d["plan_hash"],
                                   not_before=d["not_before"], not_after=d["not_after"])
        else:
            approval_rules.reject(migration, request.user, d["comment"], plan_hash=d["plan_hash"])
        return Response(s.ApprovalSerializer(card(request.user, _scope(request.user).get(pk=pk))).data)
