"""The batch pages: evacuate a server or pick partitions, the live batch page (vote with window and knob, pause,
resume, stop, withdraw, change a member, move back), the list with history and the CSV export. Every action is a
call of ``mobility.batches`` (which asks ``mobility.policy`` and the lifecycle); the pages only read forms."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import Http404, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from mobility import policy
from mobility.batches import BatchRefused, approval, control, planning
from mobility.lifecycle import TransitionRefused
from mobility.live.batch_presenters import batch_context
from mobility.models import Batch, ManagedSystem, Partition
from mobility.views import batch_forms as forms
from mobility.views import batch_rehearsal

PAGE = 50


def _get(request, pk) -> Batch:
    batch = policy.batches(request.user).select_related("team", "source", "requester", "origin").filter(pk=pk).first()
    if batch is None:
        raise Http404("No such batch.")
    return batch


def batch_list(request):
    rows = policy.batches(request.user).select_related("team", "source", "requester")
    status = request.GET.get("status", "")
    if status:
        rows = rows.filter(status=status)
    return render(request, "mobility/batches/list.html", {
        "rows": rows[:PAGE], "status": status, "may_export": policy.may(request.user, "export"),
        "may_plan": policy.may(request.user, "plan"),
        "statuses": Batch._meta.get_field("status").choices})


def batch_page(request, pk):
    batch = _get(request, pk)
    user = request.user
    may = {action for action in ("vote", "revise", "withdraw", "stop") if policy.may(user, action, batch)}
    destinations = ManagedSystem.objects.exclude(pk=batch.source_id).order_by("name")
    return render(request, "mobility/batches/page.html", {
        **batch_context(batch), "may": may, "vote_form": forms.VoteForm(initial={
            "batch_hash": batch.content_hash, "parallelism": approval.parallelism_cap(batch)}),
        "cap": approval.parallelism_cap(batch), "stop_form": forms.StopForm(),
        "member_form": forms.MemberForm(destinations=destinations),
        "vote_refusal": policy.refusal(user, "vote", batch), "may_plan": policy.may(user, "plan"),
        **batch_rehearsal.context(user, batch)})


def evacuate(request, system_pk):
    system = ManagedSystem.objects.filter(pk=system_pk).first()
    if system is None:
        raise Http404("No such server.")
    if not policy.may(request.user, "plan"):
        return HttpResponseForbidden(policy.refusal(request.user, "plan"))
    form = forms.EvacuateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            batch = planning.evacuate(request.user, system, reason=form.cleaned_data["reason"],
                                      only_running=form.cleaned_data["only_running"],
                                      stop_at_first_failure=form.cleaned_data["stop_at_first_failure"])
        except BatchRefused as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, "Every member is being validated by IVM; the page follows it.")
            return redirect("mobility:batch", pk=batch.pk)
    return render(request, "mobility/batches/new.html", {"form": form, "system": system},
                  status=400 if request.method == "POST" else 200)


def pick(request):
    if not policy.may(request.user, "plan"):
        return HttpResponseForbidden(policy.refusal(request.user, "plan"))
    choices = [p for p in policy.partitions(request.user, Partition.objects.filter(vanished_at__isnull=True)
                                            .exclude(env="vioserver").select_related("system").order_by("name"))
               if policy.may(request.user, "plan", p)]
    form = forms.PickForm(request.POST or None, partitions=choices)
    if request.method == "POST" and form.is_valid():
        picked = [p for p in choices if p.pk in set(form.cleaned_data["partitions"])]
        try:
            batch = planning.pick(request.user, picked, reason=form.cleaned_data["reason"],
                                  stop_at_first_failure=form.cleaned_data["stop_at_first_failure"])
        except BatchRefused as exc:
            form.add_error(None, str(exc))
        else:
            return redirect("mobility:batch", pk=batch.pk)
    return render(request, "mobility/batches/new.html", {"form": form, "system": None},
                  status=400 if request.method == "POST" else 200)


def _act(request, pk, work, done: str):
    batch = _get(request, pk)
    try:
        work(batch)
        messages.success(request, done)
    except (BatchRefused, TransitionRefused) as exc:
        messages.error(request, str(exc))
    return redirect("mobility:batch", pk=batch.pk)


@require_POST
def vote(request, pk):
    batch = _get(request, pk)
    form = forms.VoteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(f"{k}: {' '.join(v)}" for k, v in form.errors.items()))
        return redirect("mobility:batch", pk=batch.pk)
    data = form.cleaned_data

    def work(b):
        if data["decision"] == "approved":
            not_before, not_after = form.window()
            approval.approve(b, request.user, data["comment"], batch_hash_seen=data["batch_hash"],
                             not_before=not_before, not_after=not_after, time_zone=data["time_zone"],
                             parallelism=data["parallelism"])
        else:
            approval.reject(b, request.user, data["comment"], batch_hash_seen=data["batch_hash"])
    return _act(request, pk, work, "Your vote is recorded.")


@require_POST
def pause(request, pk):
    return _act(request, pk, lambda b: control.pause(b, request.user), "Paused: no new member starts.")


@require_POST
def resume(request, pk):
    return _act(request, pk, lambda b: control.resume(b, request.user), "Resumed.")


@require_POST
def stop(request, pk):
    form = forms.StopForm(request.POST)
    form.is_valid()
    running = bool(form.cleaned_data.get("stop_running"))
    return _act(request, pk, lambda b: control.stop(b, request.user, stop_running=running),
                "Stopped: no member starts any more.")


@require_POST
def withdraw(request, pk):
    form = forms.WithdrawForm(request.POST)
    reason = form.cleaned_data["reason"] if form.is_valid() else ""
    return _act(request, pk, lambda b: control.withdraw(b, request.user, reason), "The batch is withdrawn.")


@require_POST
def member(request, pk, member_pk):
    batch = _get(request, pk)
    m = policy.migrations(request.user).filter(pk=member_pk, batch=batch).first()
    if m is None:
        raise Http404("No such member.")
    form = forms.MemberForm(request.POST, destinations=ManagedSystem.objects.exclude(pk=m.source_id))
    if not form.is_valid():
        messages.error(request, "; ".join(" ".join(v) for v in form.errors.values()))
        return redirect("mobility:batch", pk=batch.pk)
    destination = ManagedSystem.objects.get(pk=form.cleaned_data["destination"])
    return _act(request, pk, lambda b: approval.edit_member(b, m, request.user, destination=destination,
                                                            mappings=form.cleaned_data["mappings"]),
                f"IVM is validating the change of {m.partition.name}; the batch's approval is void once it agrees.")


@require_POST
def reorder(request, pk, member_pk):
    batch = _get(request, pk)
    m = policy.migrations(request.user).filter(pk=member_pk, batch=batch).select_related("partition").first()
    if m is None:
        raise Http404("No such member.")
    try:
        position = int(request.POST.get("position", ""))
    except ValueError:
        messages.error(request, "Give the place as a number.")
        return redirect("mobility:batch", pk=batch.pk)
    return _act(request, pk, lambda b: approval.reorder(b, m, request.user, position),
                f"{m.partition.name} moved to place {position}; the batch waits for approval again.")


@require_POST
def move_back(request, pk):
    batch = _get(request, pk)
    try:
        back = planning.move_back(request.user, batch)
    except BatchRefused as exc:
        messages.error(request, str(exc))
        return redirect("mobility:batch", pk=batch.pk)
    messages.success(request, "The move back is being validated by IVM.")
    return redirect("mobility:batch", pk=back.pk)


def export(request):
    """Batches and their members as CSV (auditors, as the history's exports)."""
    if not policy.may(request.user, "export"):
        return HttpResponseForbidden(policy.refusal(request.user, "export"))
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="batches.csv"'
    out = csv.writer(response)
    out.writerow(["batch", "kind", "status", "team", "source", "requester", "approver", "not_before", "not_after",
                  "time_zone", "parallelism", "position", "partition", "destination", "mode", "member_status",
                  "started_at", "finished_at", "outcome"])
    for b in policy.batches(request.user).select_related("team", "source", "requester").prefetch_related("approvals"):
        vote = next((v for v in sorted(b.approvals.all(), key=lambda v: v.created_at, reverse=True)
                     if v.decision == "approved"), None)
        head = [b.pk, b.kind, b.status, b.team.name, b.source.name if b.source else "", b.requester.get_username(),
                vote.approver.get_username() if vote else "", b.not_before or "", b.not_after or "",
                vote.time_zone if vote else "", b.parallelism or ""]
        for m in b.migrations.select_related("partition", "destination").order_by("batch_position"):
            out.writerow([*head, m.batch_position, m.partition.name, m.destination.name, m.mode, m.status,
                          m.started_at or "", m.finished_at or "", _safe(m.outcome)])
        for x in b.immovable or []:
            out.writerow([*head, "", x["partition"], "", "", "stayed", "", "",
                          _safe("; ".join(r["why"] for r in x["reasons"]))])
    return response


def _safe(text: str) -> str:
    """No spreadsheet formula from an IVM's words."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text


