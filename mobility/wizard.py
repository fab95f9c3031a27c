"""The planning wizard's state, built from the request's data (the query string or a posted form): the partition
the user may plan, the ranked destinations, the checks, the recommended and edited mappings. Both doors that plan,
the pages (``mobility.views.plan``) and the API (``mobility.api.planning``), build it here, so they give the same
checks and errors. Unknown, foreign or vanished ids raise Http404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import Http404
from django.urls import reverse

from mobility import planning, plans, policy
from mobility.choices import PartitionEnv
from mobility.engine import config as engine_config
from mobility.forms.plans import MappingForm, query_for_rows
from mobility.inventory.estate import load_estate
from mobility.models import ManagedSystem, Partition


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
        rows.append({"candidate": cand, "system": system, "reasons": planning.distinct_reasons(cand),
                     "url": wizard_url(partition=partition.pk, destination=system.pk, mode=mode)})
    return rows


def no_destination(candidates: list[dict]) -> list[dict] | None:
    """When no server can take the partition: the main reasons, most widespread first, each with the servers it
    stops and one server's words (None while at least one server is eligible, or none is known)."""
    if not candidates or any(r["candidate"].eligible for r in candidates):
        return None
    return [{"key": b.key, "title": plans.CHECK_TITLES.get(b.key, b.key), "systems": b.systems,
             "example": b.example}
            for b in planning.common_blockers(r["candidate"] for r in candidates)]


def inactive_destinations(partition: Partition, estate) -> list[str]:
    """The servers that would take this running partition shut down (an inactive move), best first: what the
    no-destination summary offers, rather than an inactive move that its blockers would stop too."""
    ctx = plans.plan_context(partition, None, "inactive")
    if any(c.is_error for c in ctx.checks if c.key in _PARTITION_KEYS):
        return []
    return [row["system"].name for row in _candidates(ctx, partition, estate, "inactive") if row["candidate"].eligible]


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
    context["no_destination"] = no_destination(context["candidates"])
    if context["no_destination"] and context["other_mode_url"] and not asked:
        context["inactive_destinations"] = inactive_destinations(partition, estate)
    if destination is None:
        return context

    dest_checks = [c for c in ctx.checks if c.key not in _PARTITION_KEYS]
    recommended = planning.recommend_mappings(ctx.partition, ctx.destination)
    form = MappingForm(recommended.rows, data=_mapping_data(data, recommended.rows),
                       vios=ctx.destination.management_partition, fc_ports=ctx.destination.fc_ports,
                       destination_name=ctx.destination.name)
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
    """One entry per editable row: its fields, its conflicts and the recommendation's notes (only while the row
    still holds the recommended values: a note about a slot the person has replaced would be stale)."""
    out = []
    for row, slot, port in form.row_fields():
        mine = [p for p in problems if p.kind == row.kind and p.client_slot == row.client_slot]
        kept = _shown(slot) == _shown(row.vios_slot) and (port is None or _shown(port) == _shown(row.fc_port))
        out.append({"row": row, "slot": slot, "port": port, "problems": mine,
                    "notes": [n.text for n in notes if n.kind == row.kind and n.client_slot == row.client_slot]
                    if kept else []})
    return out


def _shown(value) -> str:
    """A bound field's value (or a row's) as the page shows it, to compare an edit with the recommendation."""
    value = value.value() if hasattr(value, "value") and callable(value.value) else value
    return "" if value is None else str(value).strip()
