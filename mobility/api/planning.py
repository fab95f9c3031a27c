"""Plans through the API: a draft (the wizard's checks and recommended mappings, no IVM), validation with the IVM
(``migrlpar -o v``), submission; a migration's plan (``ETag`` = its content hash), revision (``If-Match``) and
re-validation.

What asks an IVM runs in the engine's workers, never inside the request (as on the pages): validation, revision
(validated first) and re-validation answer ``202 Accepted`` with an IVM job (``mobility.api.jobs``); the submit
relies on the answer of a recent validation job of exactly the same plan (``mobility.jobs.validations``, the
wizard's own lookup) and is refused (409) without one.

The wizard's own code builds every answer (``mobility.wizard.build_wizard``, below both doors: the partition the
caller may plan, 404 for another team's, the checks, the ranking, the mapping form) and ``mobility.plans`` stores,
validates and refuses, so the API gives the same checks and errors as the wizard."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from mobility import jobs, plans, policy
from mobility import planning as rules
from mobility.api import serializers as s
from mobility.api.common import ERRORS, PROBLEM, form_invalid, parsed, require, visible
from mobility.api.jobs import ACCEPTED, ACCEPTED_HEADERS, accepted
from mobility.api.migrations import detail
from mobility.api.problems import Problem
from mobility.forms.plans import MappingForm, SubmitForm, port_field_name, slot_field_name
from mobility.jobs import validations
from mobility.models import IVMJob, Migration
from mobility.wizard import build_wizard, titled


def checks(found) -> list[dict]:
    return titled(found)


def _mapping_data(mappings) -> tuple[dict, dict]:
    """The wizard's form fields for mapping rows given as JSON, and which input row each field came from."""
    data, origin = {}, {}
    for index, row in enumerate(mappings or ()):
        probe = rules.AdapterMapping(row["kind"], row["client_slot"])
        slot = slot_field_name(probe)
        data[slot] = "" if row.get("vios_slot") is None else str(row["vios_slot"])
        origin[slot] = (index, "vios_slot")
        if row["kind"] == "fc" and "fc_port" in row:
            port = port_field_name(probe)
            data[port] = row["fc_port"]
            origin[port] = (index, "fc_port")
    return data, origin


def wizard(request, fields: dict) -> dict:
    """The wizard's context for a partition (and destination, mode, mapping fields), as the page builds it."""
    data = {k: ("" if v is None else str(v)) for k, v in fields.items()}
    return build_wizard(request, data=data)


def _draft_context(request, body: dict) -> dict:
    mapping_data, origin = _mapping_data(body.get("mappings"))
    context = wizard(request, {"partition": body["partition"], "destination": body["destination"],
                               "mode": body.get("mode") or "", **mapping_data})
    if context.get("bad_input"):
        raise ValidationError({"mode": [context["refused"]]})
    if context["step"] < 3:
        blocking = [c["message"] for c in context.get("partition_checks", []) if c["is_error"]]
        raise Problem(409, f"{context['partition'].name} cannot move now: " + " ".join(blocking), "plan-refused",
                      "The plan is refused", checks=context.get("partition_checks", []))
    known = {slot_field_name(r) for r in context["recommended"].rows}
    unknown = {field: ["The partition has no such client adapter."] for field in mapping_data
               if field.startswith("slot-") and field not in known}
    form = context["form"]
    if unknown or not form.is_valid():
        errors = {}
        for field, messages in {**unknown, **{k: [str(m) for m in v] for k, v in form.errors.items()}}.items():
            index, name = origin.get(field, (None, field))
            errors[f"mappings.{index}.{name}" if index is not None else field] = messages
        raise ValidationError(errors)
    return context


def _draft(context: dict, validation: dict | None = None) -> dict:
    return {
        "partition": {"id": context["partition"].pk, "name": context["partition"].name},
        "destination": {"id": context["destination"].pk, "name": context["destination"].name},
        "mode": context["mode"], "digest": context["digest"],
        "checks": [*context["partition_checks"], *context["dest_checks"]],
        "mappings": [r.to_dict() for r in context["rows"]],
        "recommended": [r.to_dict() for r in context["recommended"].rows],
        "problems": [{"kind": p.kind, "client_slot": p.client_slot, "message": p.message}
                     for p in context["problems"]],
        "ready": context["ready"], "validation": validation,
    }


def _refuse_unready(context: dict) -> None:
    if context["ready"]:
        return
    why = [c["message"] for c in context["dest_checks"] if c["is_error"]] + [p.message for p in context["problems"]]
    raise Problem(409, "The plan cannot be submitted: " + " ".join(why), "plan-refused", "The plan is refused",
                  draft=_draft(context))


def _stale(context: dict, digest: str | None) -> None:
    if digest and digest != context["digest"]:
        raise Problem(409, "The inventory changed since this plan was drafted; review the fresh plan.",
                      "inventory-changed", "The inventory changed", draft=_draft(context))


@extend_schema(tags=["planning"], request=s.PlanInput, responses={200: s.DraftSerializer, 409: PROBLEM, **ERRORS})
class PlanDraft(APIView):
    """The wizard's checks and recommended (or the given) mappings for a move; nothing is sent to IVM."""

    def post(self, request):
        require(request.user, "plan")
        context = _draft_context(request, parsed(s.PlanInput, request.data))
        return Response(s.DraftSerializer(_draft(context)).data)


@extend_schema(tags=["planning"], request=s.ValidateInput, responses={202: ACCEPTED, 409: PROBLEM, **ERRORS},
               parameters=ACCEPTED_HEADERS)
class PlanValidate(APIView):
    """Have the source IVM validate the draft (``migrlpar -o v``): a worker asks it, this answers 202 with the job at
    once. The job's result is IVM's answer (``ok``, its messages per check); ``plans/submit/`` of exactly this plan
    (same digest and mappings) relies on it for the next 10 minutes. The draft's own checks are answered here:
    a plan that cannot be submitted is refused (409) before any IVM is asked."""

    def post(self, request):
        require(request.user, "plan")
        body = parsed(s.ValidateInput, request.data)
        context = _draft_context(request, body)
        _stale(context, body.get("digest"))
        _refuse_unready(context)
        return accepted(validations.enqueue_validation(request.user, context))


@extend_schema(tags=["planning"], request=s.SubmitInput,
               responses={201: s.MigrationDetailSerializer, 409: PROBLEM, **ERRORS})
class PlanSubmit(APIView):
    """Submit the plan IVM validated: the migration waits for approval with plan version 1. The submit uses IVM's
    answer to a validation job you asked for (``plans/validate/``) of exactly this plan, finished within the last 10
    minutes; without one it is refused (409, ``validation-needed``) and nothing is submitted."""

    def post(self, request):
        require(request.user, "plan")
        body = parsed(s.SubmitInput, request.data)
        context = _draft_context(request, body)
        form = SubmitForm({"reason": body["reason"], "digest": body["digest"],
                           "wished_start": body["wished_start"].isoformat() if body.get("wished_start") else "",
                           "activate_on_destination": "on" if body.get("activate_on_destination") else ""})
        if not form.is_valid():
            raise form_invalid(form)
        _stale(context, form.cleaned_data["digest"])
        _refuse_unready(context)
        validation = validations.recalled(request.user, validations.key_of(context))
        if validation is None:
            raise Problem(409, "Validate this plan with IVM first (plans/validate/, then wait for its job): the submit "
                               "uses IVM's answer to exactly this plan, given within the last "
                               f"{validations.REUSE_S // 60} minutes. Nothing was submitted.",
                          "validation-needed", "IVM has not validated this plan")
        try:
            migration = plans.submit_plan(
                partition=context["partition"], destination=context["destination"], user=request.user,
                mode=context["mode"], mappings=context["rows"], validation=validation,
                reason=form.cleaned_data["reason"], wished_start=form.cleaned_data["wished_start"],
                options={"activate_on_destination": form.cleaned_data["activate_on_destination"],
                         **({"shutdown_source": True} if context["shutdown_first"] else {})},
                digest=form.cleaned_data["digest"])
        except plans.PlanRefused as exc:
            raise Problem(409, str(exc), "plan-refused", "The plan is refused", validation=validation) from None
        return Response(detail(request, migration), status=status.HTTP_201_CREATED)


# --- a migration's plan --------------------------------------------------------------------------------------------

def _migration(request, pk) -> Migration:
    return visible(policy.migrations(request.user, Migration.objects.select_related(
        "partition__system__console", "partition__team", "source", "destination__console", "requester")),
        pk, "migration")


def _etag(version) -> str:
    return f'"{version.content_hash}"'


def _plan_answer(migration: Migration) -> Response:
    versions = list(migration.plans.select_related("created_by").order_by("-version"))
    latest = versions[0]
    drift, ctx, _ = plans.plan_drift(latest)
    body = {"migration": migration.pk, "revisable": plans.revisable(migration), "latest": latest,
            "versions": [{"version": v.version, "content_hash": v.content_hash,
                          "created_by": v.created_by.get_username(), "created_at": v.created_at.isoformat()}
                         for v in versions],
            "drift": [{"check": d.check, "title": d.title, "field": d.field, "before": d.before, "after": d.after}
                      for d in drift],
            "digest": ctx.digest if ctx is not None else None}
    return Response(s.PlanSerializer(body).data, headers={"ETag": _etag(latest)})


def _if_match(request, current: str) -> None:
    raw = request.headers.get("If-Match")
    if not raw:
        raise Problem(428, "Send If-Match with the ETag of the plan you read: two editors must not overwrite each "
                           "other.")
    tags = [t.strip().removeprefix("W/").strip('"') for t in raw.split(",")]
    if "*" not in tags and current not in tags:
        raise Problem(412, "The plan changed since you read it (its ETag differs); read it again.",
                      "plan-changed", "The plan changed since you read it")


@extend_schema(tags=["planning"])
class MigrationPlan(APIView):
    """The plan in force (``ETag``: its content hash), its versions and the drift of the inventory since."""

    @extend_schema(responses={200: OpenApiResponse(s.PlanSerializer, description="ETag: the plan's hash"),
                              **ERRORS})
    def get(self, request, pk):
        return _plan_answer(_migration(request, pk))

    @extend_schema(request=s.ReviseInput,
                   responses={202: ACCEPTED, 409: PROBLEM, 412: PROBLEM, 428: PROBLEM, **ERRORS},
                   parameters=ACCEPTED_HEADERS)
    def put(self, request, pk):
        """Revise the mappings into the next plan version (``If-Match`` the ETag you read). The mappings are checked
        here (400, 409, 412); then 202 with a revision job: a worker has IVM validate them and, if IVM agrees and
        the plan is still the one you read, stores the next version (every vote on the old one is voided). The
        job's result says which: ``version`` (read the plan again for its new ETag) or ``refused``."""
        migration = _migration(request, pk)
        why = policy.refusal(request.user, "revise", migration)
        if why is not None:
            plans.refuse(request.user, migration.partition, f"revise of migration {migration.pk} not allowed")
            raise Problem(403, why)
        if not plans.revisable(migration):
            raise Problem(409, "The migration has started or ended; its plan can no longer change.", "refused")
        latest = plans.latest_plan(migration)
        _if_match(request, latest.content_hash)
        body = parsed(s.ReviseInput, request.data)
        drift, ctx, _ = plans.plan_drift(latest)
        if ctx is None:
            raise Problem(409, "The partition is no longer on the plan's source server.", "plan-refused")
        mapping_data, origin = _mapping_data(body["mappings"])
        base = plans.mappings_from_snapshot(latest.snapshot)
        form = MappingForm(base, data={**{k: v for r in base for k, v in _current(r).items()}, **mapping_data},
                           vios=ctx.destination.management_partition, fc_ports=ctx.destination.fc_ports,
                           destination_name=ctx.destination.name)  # the pages' limits: the VIOS's slots, NPIV ports
        known = {slot_field_name(r) for r in base}
        unknown = [f for f in mapping_data if f.startswith("slot-") and f not in known]
        if unknown or not form.is_valid():
            errors = {f"mappings.{origin[f][0]}.{origin[f][1]}": ["The plan has no such client adapter."]
                      for f in unknown}
            for field, messages in form.errors.items():
                index, name = origin.get(field, (None, field))
                errors[f"mappings.{index}.{name}" if index is not None else field] = [str(m) for m in messages]
            raise ValidationError(errors)
        rows = form.rows()
        problems = rules.check_mappings(ctx.partition, ctx.destination, rows)
        if problems:
            raise ValidationError({"mappings": [p.message for p in problems]})
        if body.get("digest"):
            if body["digest"] != ctx.digest:
                raise Problem(409, "The inventory changed since this page was shown; review the fresh plan.",
                              "inventory-changed", "The inventory changed")
        if [r.to_dict() for r in rows] == latest.snapshot["mappings"]:
            raise Problem(409, f"Nothing changed: the plan is the same as version {latest.version}.", "plan-refused",
                          "The plan is refused")
        job = jobs.enqueue(IVMJob.Kind.REVISE, user=request.user, migration=migration, params={
            "partition": migration.partition_id, "destination": migration.destination_id,
            "mappings": [r.to_dict() for r in rows], "digest": body.get("digest") or ctx.digest,
            "if_match": latest.content_hash})
        return accepted(job)


def _current(row) -> dict:
    """The form fields of a stored mapping row, as they are (what the caller did not send stays)."""
    data = {slot_field_name(row): "" if row.vios_slot is None else str(row.vios_slot)}
    if row.kind == "fc":
        data[port_field_name(row)] = row.fc_port
    return data


@extend_schema(tags=["planning"], request=None, responses={202: ACCEPTED, 409: PROBLEM, **ERRORS},
               parameters=ACCEPTED_HEADERS)
class MigrationPlanValidate(APIView):
    """Have IVM validate the plan in force now (``migrlpar -o v``; its requester's team, approvers, admins): 202 with
    the job, whose result is IVM's answer."""

    def post(self, request, pk):
        migration = _migration(request, pk)
        require(request.user, "validate", migration)
        if not plans.revisable(migration):
            raise Problem(409, "The migration has started or ended; its plan is no longer validated.", "refused")
        latest = plans.latest_plan(migration)
        job = jobs.enqueue(IVMJob.Kind.VALIDATE, user=request.user, migration=migration, params={
            "partition": migration.partition_id, "destination": migration.destination_id,
            "mappings": latest.snapshot.get("mappings", []), "version": latest.version})
        return accepted(job)
