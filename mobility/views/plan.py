"""The planning wizard: partition → destination → mappings → validation → submit, on one shareable URL.

The whole state lives in the query string (`?partition=<id>&destination=<id>&slot-scsi-3=21...`); htmx swaps the
`#wizard` block in place and pushes the URL, so the back button and a pasted link show the same step. Every
request recomputes the checks from the inventory: nothing is trusted from the browser but ids and the edited
mapping values, and those go through MappingForm. Unknown, foreign or vanished ids answer 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from mobility import plans, policy
from mobility.access import allowed
from mobility.forms.plans import SubmitForm
from mobility.jobs import validations
from mobility.models import IVMJob
from mobility.wizard import build_wizard

TEMPLATE = "mobility/plan/wizard.html"


def render_wizard(request, context: dict, status: int = 200) -> HttpResponse:
    # A history restore needs the whole page; every other htmx request swaps #wizard only.
    partial = request.htmx and not request.htmx.history_restore_request
    return render(request, f"{TEMPLATE}#wizard" if partial else TEMPLATE, context, status=status)


@require_GET
@allowed("plan")
def plan_new(request):
    """Steps 1–3 (and the buttons of 4 and 5), from the URL's state."""
    context = build_wizard(request)
    if context.get("ready") and "validation" in request.GET:
        # The validation job's page fetches its answer here once a worker has it.
        job = _validation_job(request, request.GET["validation"])
        if job is not None and not job.finished:
            context.update(validation_job=job, job_groups=[str(job.group)], step=4)
        elif job is not None and job.params.get("key") == validations.key_of(context):
            if job.status == IVMJob.Status.DONE:
                _show_validation(context, job.result)
            else:
                context["validation_failed"] = job.error
    return render_wizard(request, context, status=_answer_status(request, 400) if context.get("bad_input") else 200)


def _validation_job(request, raw: str | None) -> IVMJob | None:
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    return policy.jobs(request.user).filter(pk=int(raw), kind=IVMJob.Kind.VALIDATE).first()


def _show_validation(context, result: dict) -> None:
    context.update(validation=result, validation_rows=validation_rows(context["ctx"].checks, result),
                   submit_form=SubmitForm(initial={"digest": context["digest"]}), step=4)


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
    job = validations.unfinished(request.user, validations.key_of(context))
    if job is None:  # the same question already on its way (a second click, another tab) is followed, not re-asked
        job = validations.enqueue_validation(request.user, context, target="#wizard")
        state = [(name, value) for name, value in context["hidden_state"]] + [("validation", job.pk)]
        job.params["then"] = reverse("mobility:plan_new") + "?" + urlencode(state)
        job.save(update_fields=["params"])
    context.update(validation_job=job, started_job=job, step=4)
    return render_wizard(request, context)


@require_POST
@allowed("plan")
def plan_submit(request):
    """Steps 5 and 6: the reason and options are reviewed first (the exact snapshot and hash that will be stored);
    the review's own button (``confirm``) then stores the plan (version 1) and asks for approval, and the plan page
    confirms it."""
    context = build_wizard(request, data=request.POST)
    if context["step"] < 3 or context.get("bad_input"):  # no destination, the partition is blocked, a bad mode
        return render_wizard(request, context, status=_answer_status(request, 400))
    form = SubmitForm(request.POST)
    context["submit_form"] = form
    if _stale(request, context, request.POST.get("digest", "")):
        return render_wizard(request, context, status=_answer_status(request, 409))
    recalled = validations.recalled(request.user, validations.key_of(context)) if context["ready"] else None
    if recalled:
        context.update(validation=recalled, validation_rows=validation_rows(context["ctx"].checks, recalled))
    if not context["ready"] or not form.is_valid():
        return render_wizard(request, context, status=_answer_status(request, 400))
    if recalled is None:
        context["refused"] = ("Validate this plan with IVM first: the submit uses IVM's answer to exactly this plan, "
                              f"given within the last {validations.REUSE_S // 60} minutes. Nothing was submitted.")
        return render_wizard(request, context, status=_answer_status(request, 409))
    options = {"activate_on_destination": form.cleaned_data["activate_on_destination"],
               **({"shutdown_source": True} if context["shutdown_first"] else {})}
    plan = {"partition": context["partition"], "destination": context["destination"], "mode": context["mode"],
            "mappings": context["rows"], "validation": recalled, "options": options}
    if "edit" in request.POST:  # back from the review to the reason and options, as they were typed
        return render_wizard(request, context)
    if "confirm" not in request.POST:  # step 6: show exactly what the submit will store, and its hash
        context["review"] = _review(form, *plans.plan_review(**plan))
        return render_wizard(request, context)
    try:
        migration = plans.submit_plan(
            **plan, user=request.user, reason=form.cleaned_data["reason"],
            wished_start=form.cleaned_data["wished_start"], digest=form.cleaned_data["digest"],
            reviewed=request.POST.get("reviewed", ""),
        )
    except plans.PlanRefused as exc:
        context["refused"] = str(exc)
        return render_wizard(request, context, status=_answer_status(request, 409))
    version = migration.plans.get()
    messages.success(request, (
        f"Submitted: migration #{migration.pk} asks to move {migration.partition.name} from {migration.source.name} "
        f"to {migration.destination.name} ({migration.mode}). It now waits for a team lead's approval; nothing runs "
        f"before that. Plan fingerprint {version.content_hash[:12]}…"))
    target = reverse("mobility:plan_detail", args=[migration.pk])
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": target})
    return redirect(target)


def _review(form: SubmitForm, snapshot: dict, content_hash: str) -> dict:
    """What the review step shows, and the fields its buttons post again (the reason and options as typed)."""
    fields = [("digest", form.cleaned_data["digest"]), ("reason", form.cleaned_data["reason"]),
              ("wished_start", form.data.get("wished_start", ""))]
    if form.cleaned_data["activate_on_destination"]:
        fields.append(("activate_on_destination", "on"))
    return {"snapshot": snapshot, "hash": content_hash, "fields": fields, "reason": form.cleaned_data["reason"],
            "wished_start": form.cleaned_data["wished_start"]}


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
