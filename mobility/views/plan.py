"""The planning wizard: partition → destination → mappings → validation → submit, on one shareable URL.

The whole state lives in the query string (`?partition=<id>&destination=<id>&slot-scsi-3=21...`); htmx swaps the
`#wizard` block in place and pushes the URL, so the back button and a pasted link show the same step. Every
request recomputes the checks from the inventory: nothing is trusted from the browser but ids and the edited
mapping values, and those go through MappingForm. Unknown, foreign or vanished ids answer 404.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from mobility import planning, plans, policy
from mobility.access import allowed
from mobility.choices import PartitionEnv
from mobility.engine import config as engine_config
from mobility.forms.plans import MappingForm, SubmitForm, query_for_rows
from mobility.inventory.estate import load_estate
from mobility.models import ManagedSystem, Partition

TEMPLATE = "mobility/plan/wizard.html"
# A validation answer kept in the session is reused for the submit of the very same plan within this time.
VALIDATION_REUSE_S = 600


def _object_id(raw: str | None) -> int | None:
    """A positive integer id from the URL, or None when absent; anything else is a 404, never a 500."""
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 12:  # isdigit() alone takes '²', int() does not
        raise Http404("No such object.")
    return int(raw)


def planner_partition(request, raw: str | None) -> Partition | None:
    """The partition the user may plan, or 404. Another team's partition is audited as `plan.refused` but
    answered like an unknown id, so that nothing about it leaks."""
    pk = _object_id(raw)
    if pk is None:
        return None
    partition = (Partition.objects.select_related("system__console", "team")
                 .filter(pk=pk, vanished_at__isnull=True).exclude(env=PartitionEnv.VIOSERVER).first())
    if partition is None:
        raise Http404("No such partition.")
    if not policy.may(request.user, "plan", partition):
        if partition.is_quarantined and policy.may_see(request.user, partition):
            return partition  # its team is shown why: the quarantine check blocks the wizard at step 2
        plans.refuse(request.user, partition, "partition of another team")
        raise Http404("No such partition.")
    return partition


def destination_system(raw: str | None, partition: Partition | None) -> ManagedSystem | None:
    pk = _object_id(raw)
    if pk is None or partition is None:
        return None
    system = ManagedSystem.objects.select_related("console").filter(pk=pk).first()
    if system is None or system.pk == partition.system_id:
        raise Http404("No such destination server.")
    return system


class BadMode(ValueError):
    """The URL asks for a move the partition cannot make now."""


def requested_mode(raw: str | None, partition: Partition) -> str | None:
    """The move asked for in the URL (``mode=inactive`` shuts a running partition down first), or None to
    follow the partition's state. A mode the partition cannot make now raises ``BadMode`` naming the choices."""
    if raw in (None, ""):
        return None
    allowed = plans.modes_for(partition)
    if raw not in allowed:
        raise BadMode(f"{partition.name} cannot make a move of mode {raw[:20]!r} now; "
                      f"it can move: {', '.join(allowed) or 'not at all in its state'}.")
    return None if raw == plans.mode_of(partition) else raw


def wizard_url(**params) -> str:
    clean = {k: v for k, v in params.items() if v not in (None, "")}
    return reverse("mobility:plan_new") + ("?" + urlencode(clean) if clean else "")


def _partition_rows(user, estate) -> list[dict]:
    """Step 1: the partitions this user may plan, with their mode and what blocks them."""
    by_name = {s.name: s for s in estate}
    partitions = policy.partitions(user, Partition.objects.filter(vanished_at__isnull=True)
                                    .exclude(env=PartitionEnv.VIOSERVER).select_related("system", "team"))
    rows = []
    for p in partitions:
        system = by_name.get(p.system.name)
        snap = system.partition_named(p.name) if system else None
        checks = planning.partition_checks(snap, system) if snap else []
        rows.append({"partition": p, "mode": plans.mode_of(p), "url": wizard_url(partition=p.pk),
                     "blocking": [c for c in checks if c.is_error]})
    return rows


def _candidates(ctx: plans.PlanContext, partition: Partition, estate, mode: str | None) -> list[dict]:
    """Step 2: every other server, ranked, each with its model row for the links."""
    systems = {s.mtms: s for s in ManagedSystem.objects.select_related("console")}
    ranked = planning.rank_destinations(ctx.partition, ctx.source, estate, ctx.mode)
    rows = []
    for cand in ranked:
        system = systems.get(cand.target_name)
        if system is None:
            continue
        rows.append({"candidate": cand, "system": system,
                     "url": wizard_url(partition=partition.pk, destination=system.pk, mode=mode)})
    return rows


def build_wizard(request, *, data=None) -> dict:
    """Everything the wizard shows for the state in `data` (the query string, or a posted form)."""
    data = request.GET if data is None else data
    partition = planner_partition(request, data.get("partition"))
    destination = destination_system(data.get("destination"), partition)
    estate = load_estate()
    context: dict = {"partition": partition, "destination": destination, "step": 1}
    if partition is None:
        context["partitions"] = _partition_rows(request.user, estate)
        return context

    try:
        asked = requested_mode(data.get("mode"), partition)  # "inactive" for a Running partition: shut down first
    except BadMode as exc:
        context.update(refused=str(exc), bad_input=True)
        asked = None
    ctx = plans.plan_context(partition, destination, asked)
    context.update(step=2, ctx=ctx, mode=ctx.mode.value if ctx.mode else None, shutdown_first=asked is not None,
                   partition_checks=titled(c for c in ctx.checks if c.key in _PARTITION_KEYS),
                   change_partition_url=wizard_url(),
                   other_mode_url=wizard_url(partition=partition.pk, destination=destination and destination.pk,
                                             mode=None if asked else "inactive")
                   if len(plans.modes_for(partition)) > 1 else None)
    partition_errors = [c for c in ctx.checks if c.key in _PARTITION_KEYS and c.is_error]
    context["partition_blocked"] = bool(partition_errors)
    if partition_errors:
        return context
    context["candidates"] = _candidates(ctx, partition, estate, asked)
    if destination is None:
        return context

    dest_checks = [c for c in ctx.checks if c.key not in _PARTITION_KEYS]
    recommended = planning.recommend_mappings(ctx.partition, ctx.destination)
    form = MappingForm(recommended.rows, data=_mapping_data(data, recommended.rows))
    rows = form.rows() if form.is_valid() else recommended.rows
    problems = planning.check_mappings(ctx.partition, ctx.destination, rows) if form.is_valid() else ()
    context.update(
        step=3, dest_checks=titled(dest_checks), dest_blocked=any(c.is_error for c in dest_checks),
        recommended=recommended, form=form, rows=rows, problems=problems,
        mapping_rows=mapping_rows(form, problems, recommended.notes), digest=ctx.digest,
        reset_url=wizard_url(partition=partition.pk, destination=destination.pk, mode=asked),
        change_destination_url=wizard_url(partition=partition.pk, mode=asked),
        hidden_state=[("partition", partition.pk), ("destination", destination.pk),
                      *([("mode", asked)] if asked else []), *query_for_rows(rows).items()],
    )
    context["ready"] = form.is_valid() and not problems and not context["dest_blocked"]
    context["shutdown_timeout_s"] = round(engine_config.CONFIG.shutdown_timeout_s)
    return context


_PARTITION_KEYS = frozenset({"quarantine", "state", "not_vios", "physical_io", "migration_state", "rmc", "dlpar", "vopt",
                             "disk_backing", "reserve_policy", "capability", "migration_limit"})


def titled(checks) -> list[dict]:
    """Checks as the templates show them, with a title per key."""
    return [{"key": c.key, "title": plans.CHECK_TITLES.get(c.key, c.key), "status": c.status.value,
             "message": c.message, "remedy": c.remedy, "is_error": c.is_error} for c in checks]


def _mapping_data(data, rows):
    """Only the mapping fields the URL or post gives; the others keep the recommendation."""
    merged = query_for_rows(rows)
    merged.update({k: data[k] for k in merged if k in data})
    return merged


def mapping_rows(form: MappingForm, problems, notes=()) -> list[dict]:
    """One entry per editable row: its fields, its conflicts and the recommendation's notes."""
    out = []
    for row, slot, port in form.row_fields():
        mine = [p for p in problems if p.kind == row.kind and p.client_slot == row.client_slot]
        out.append({"row": row, "slot": slot, "port": port, "problems": mine,
                    "notes": [n.text for n in notes if n.kind == row.kind and n.client_slot == row.client_slot]})
    return out


def render_wizard(request, context: dict, status: int = 200) -> HttpResponse:
    # A history restore needs the whole page; every other htmx request swaps #wizard only.
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, f"{TEMPLATE}#wizard" if partial else TEMPLATE, context, status=status)


@require_GET
@allowed("plan")
def plan_new(request):
    """Steps 1–3 (and the buttons of 4 and 5), from the URL's state."""
    context = build_wizard(request)
    return render_wizard(request, context, status=_answer_status(request, 400) if context.get("bad_input") else 200)


def _validation_key(context) -> str:
    return "|".join([str(context["partition"].pk), str(context["destination"].pk), context["digest"],
                     plans.canonical_json(planning.format_mappings(context["rows"]))])


def _remember(request, key: str, result: dict) -> None:
    request.session["plan_validation"] = {"key": key, "result": result}


def _recalled(request, key: str) -> dict | None:
    kept = request.session.get("plan_validation") or {}
    if kept.get("key") != key:
        return None
    ran_at = datetime.fromisoformat(kept["result"]["ran_at"])
    return kept["result"] if (timezone.now() - ran_at).total_seconds() < VALIDATION_REUSE_S else None


def _stale(request, context, posted_digest: str) -> bool:
    if posted_digest and posted_digest != context.get("digest"):
        context["stale"] = True
        return True
    return False


def _answer_status(request, code: int) -> int:
    # htmx 2 does not swap 4xx answers by default; the page must still show the message.
    return 200 if request.htmx else code


@require_POST
@allowed("plan")
def plan_validate(request):
    """Step 4: run `migrlpar -o v` for the plan in the form and show IVM's answer per check."""
    context = build_wizard(request, data=request.POST)
    if context["step"] < 3 or context.get("bad_input"):  # no destination, the partition is blocked, a bad mode
        return render_wizard(request, context, status=_answer_status(request, 400))
    if _stale(request, context, request.POST.get("digest", "")):
        return render_wizard(request, context, status=_answer_status(request, 409))
    if not context["ready"]:
        return render_wizard(request, context, status=_answer_status(request, 400))
    result = plans.validate_plan(context["partition"], context["destination"], context["rows"], user=request.user)
    _remember(request, _validation_key(context), result)
    context.update(validation=result, validation_rows=validation_rows(context["ctx"].checks, result),
                   submit_form=SubmitForm(initial={"digest": context["digest"]}), step=4)
    return render_wizard(request, context)


@require_POST
@allowed("plan")
def plan_submit(request):
    """Step 5: store the plan (version 1) and ask for approval."""
    context = build_wizard(request, data=request.POST)
    if context["step"] < 3 or context.get("bad_input"):  # no destination, the partition is blocked, a bad mode
        return render_wizard(request, context, status=_answer_status(request, 400))
    form = SubmitForm(request.POST)
    context["submit_form"] = form
    if _stale(request, context, request.POST.get("digest", "")):
        return render_wizard(request, context, status=_answer_status(request, 409))
    key = _validation_key(context) if context["ready"] else ""
    recalled = _recalled(request, key) if key else None
    if recalled:
        context.update(validation=recalled, validation_rows=validation_rows(context["ctx"].checks, recalled))
    if not context["ready"] or not form.is_valid():
        return render_wizard(request, context, status=_answer_status(request, 400))
    validation = recalled or plans.validate_plan(
        context["partition"], context["destination"], context["rows"], user=request.user)
    context.update(validation=validation, validation_rows=validation_rows(context["ctx"].checks, validation))
    try:
        migration = plans.submit_plan(
            partition=context["partition"], destination=context["destination"], user=request.user,
            mode=context["mode"], mappings=context["rows"], validation=validation,
            reason=form.cleaned_data["reason"], wished_start=form.cleaned_data["wished_start"],
            options={"activate_on_destination": form.cleaned_data["activate_on_destination"],
                     **({"shutdown_source": True} if context["shutdown_first"] else {})},
            digest=form.cleaned_data["digest"],
        )
    except plans.PlanRefused as exc:
        context["refused"] = str(exc)
        return render_wizard(request, context, status=_answer_status(request, 409))
    request.session.pop("plan_validation", None)
    target = reverse("mobility:plan_detail", args=[migration.pk])
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": target})
    return redirect(target)


def validation_rows(checks, result: dict) -> list[dict]:
    """One row per check (and per key only IVM reports), with IVM's messages for it."""
    if not result:
        return []
    said = result.get("checks", {})
    rows = []
    for c in checks:
        messages = said.get(c.key, [])
        rows.append({"key": c.key, "title": plans.CHECK_TITLES.get(c.key, c.key), "messages": messages,
                     "ok": not messages})
    known = {c.key for c in checks}
    for key, messages in said.items():
        if key not in known:
            rows.append({"key": key, "title": plans.CHECK_TITLES.get(key, key), "messages": messages, "ok": False})
    return rows
