"""IVM consoles (admins only): register an IVM, confirm its SSH host key, test it, sync it.

Nothing here talks to an IVM: every scan, test and sync is an IVM job (``mobility.jobs``) that a worker runs; the
request stores it and answers at once, and the job's socket brings its progress and result to the page.

The host-key rule: a key is pinned only when an admin confirms the exact key they were shown and the IVM still
offers that key when the worker checks it; replacing a pinned key also needs an explicit tick. Secrets are encrypted
by the model and never rendered back.
"""

from datetime import timedelta

from django.contrib import messages
from django.db import transaction
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from mobility import jobs, policy
from mobility.access import allowed
from mobility.forms.inventory import ConsoleRegistrationForm, HostKeyConfirmForm
from mobility.governance.audit import record
from mobility.ivm import HostKey, InvalidValue
from mobility.models import IVMConsole, IVMJob, Partition

Kind = IVMJob.Kind
RECENT = timedelta(minutes=10)  # a job asked this recently is still shown on the console's pages


def _console_or_404(pk: int) -> IVMConsole:
    return get_object_or_404(IVMConsole.objects.select_related("system"), pk=pk)


def _pinned(console: IVMConsole) -> HostKey | None:
    try:
        return HostKey.parse(console.host_key) if console.host_key else None
    except InvalidValue:
        return None


def _recent_jobs(user, kind: str, consoles) -> dict[int, IVMJob]:
    """The latest job of this kind the user asked for on each console, if recent."""
    latest: dict[int, IVMJob] = {}
    for job in policy.jobs(user).filter(kind=kind, console__in=consoles,
                                        created_at__gte=timezone.now() - RECENT).order_by("pk"):
        latest[job.console_id] = job
    return latest


def _unfinished_groups(found) -> list[str]:
    """The groups whose sockets a freshly loaded page opens, to follow jobs still running."""
    return sorted({str(j.group) for j in found if j is not None and not j.finished})


def _job_of(request, kind: str, console: IVMConsole, raw: str | None) -> IVMJob | None:
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    return policy.jobs(request.user).filter(pk=int(raw), kind=kind, console=console).first()


@allowed("manage_consoles")
def console_list(request):
    """Registered IVMs with their sync status, a sync button each and "sync all"."""
    consoles = list(IVMConsole.objects.select_related("system"))
    syncs = _recent_jobs(request.user, Kind.SYNC, consoles)
    return render(request, "mobility/consoles.html", {
        "rows": [(c, syncs.get(c.pk)) for c in consoles], "job_groups": _unfinished_groups(syncs.values())})


@allowed("manage_consoles")
@require_http_methods(["GET", "POST"])
def console_register(request):
    """Step 1: name, address, credentials; then the host-key page asks the IVM for its key (a job)."""
    form = ConsoleRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        console = form.build()
        with transaction.atomic():
            console.save()
            record("console.registered", actor=request.user, obj=console, data={
                "name": console.name, "host": console.host, "port": console.port,
                "username": console.username, "auth": "private key" if console.private_key_encrypted else "password",
            })
        messages.success(request, f"{console.name} registered. Check its host key before ivmweb uses it.")
        return redirect("mobility:console_host_key", pk=console.pk)
    return render(request, "mobility/consoles_register.html", {"form": form})


@allowed("manage_consoles")
def console_detail(request, pk: int):
    """One IVM: registration facts, host-key state, test connection and sync (with the viewer's recent ones)."""
    console = _console_or_404(pk)
    quarantined = Partition.objects.filter(system__console=console, vanished_at__isnull=True).exclude(
        quarantine_reason="")
    test_job = _recent_jobs(request.user, Kind.TEST, [console]).get(console.pk)
    sync_job = _recent_jobs(request.user, Kind.SYNC, [console]).get(console.pk)
    return render(request, "mobility/consoles_detail.html", {
        "console": console, "pinned": _pinned(console), "quarantined": quarantined, "test_job": test_job,
        "sync_job": sync_job, "job_groups": _unfinished_groups([test_job, sync_job])})


def _host_key_page(request, console: IVMConsole, **context):
    context = {"console": console, "pinned": _pinned(console), **context}
    partial = request.htmx and request.htmx.target == "host-key-panel"
    return render(request, "mobility/consoles_host_key.html" + ("#panel" if partial else ""), context)


@allowed("manage_consoles")
@require_GET
def console_host_key(request, pk: int):
    """Step 2: a worker asks the IVM for the key it offers now (``?scan=<job>`` shows that answer, with the form)."""
    console = _console_or_404(pk)
    if "pin" in request.GET:
        return _pin_answer(request, console, _job_of(request, Kind.PIN, console, request.GET["pin"]))
    job = _job_of(request, Kind.SCAN, console, request.GET.get("scan"))
    if job is None:
        job = jobs.enqueue(Kind.SCAN, user=request.user, console=console,
                           params={"target": "#host-key-panel"})
        job.params["then"] = reverse("mobility:console_host_key", args=[console.pk]) + f"?scan={job.pk}"
        job.save(update_fields=["params"])
    if not job.finished:
        return _host_key_page(request, console, job=job, job_groups=[str(job.group)], started_job=job)
    offered = HostKey.parse(job.result["openssh"]) if job.status == IVMJob.Status.DONE else None
    pinned = _pinned(console)
    replacing = pinned is not None and offered is not None and offered != pinned
    form = HostKeyConfirmForm(replacing=replacing, initial={"host_key": offered.openssh if offered else ""})
    return _host_key_page(request, console, scan=job, offered=offered, scan_error=job.error, replacing=replacing,
                          form=form)


@allowed("manage_consoles")
@require_POST
def console_pin(request, pk: int):
    """Confirm the key shown: a worker pins it if the IVM still offers exactly that key."""
    console = _console_or_404(pk)
    pinned = _pinned(console)
    offered_raw = request.POST.get("host_key", "")
    try:
        shown = HostKey.parse(offered_raw)
    except InvalidValue:
        shown = None
    form = HostKeyConfirmForm(request.POST, replacing=pinned is not None and shown is not None and shown != pinned)
    if not form.is_valid():
        return _host_key_page(request, console, offered=shown, form=form,
                              replacing=pinned is not None and shown != pinned)
    confirmed = form.cleaned_data["host_key"]
    if confirmed == pinned:
        messages.info(request, "That key is already pinned.")
        return _redirect(request, reverse("mobility:console_detail", args=[console.pk]))
    job = jobs.enqueue(Kind.PIN, user=request.user, console=console,
                       params={"host_key": confirmed.openssh, "replace": pinned is not None,
                               "target": "#host-key-panel"})
    job.params["then"] = reverse("mobility:console_host_key", args=[console.pk]) + f"?pin={job.pk}"
    job.save(update_fields=["params"])
    return _host_key_page(request, console, job=job, job_groups=[str(job.group)], started_job=job)


def _pin_answer(request, console: IVMConsole, job: IVMJob | None):
    if job is None:
        return redirect("mobility:console_host_key", pk=console.pk)
    if not job.finished:
        return _host_key_page(request, console, job=job, job_groups=[str(job.group)], started_job=job)
    if job.status == IVMJob.Status.DONE:
        text = ("That key is already pinned." if job.result.get("already")
                else f"Host key {job.result['fingerprint']} pinned for {console.name}.")
        messages.success(request, text)
        return _redirect(request, reverse("mobility:console_detail", args=[console.pk]))
    return _host_key_page(request, console, pin_error=job.error or "The key was not pinned.")


def _redirect(request, target: str):
    if request.htmx:
        return HttpResponse(status=204, headers={"HX-Redirect": target})
    return redirect(target)


@allowed("manage_consoles")
@require_POST
def console_test(request, pk: int):
    """A worker connects afresh and runs one harmless read (`lssyscfg -r sys -F name`); the page shows the answer."""
    console = _console_or_404(pk)
    if not console.host_key:
        messages.error(request, "Confirm the IVM's host key first.")
        return _redirect(request, reverse("mobility:console_detail", args=[console.pk]))
    job = jobs.enqueue(Kind.TEST, user=request.user, console=console)
    if request.htmx:
        return render(request, "mobility/consoles_detail.html#test-result",
                      {"console": console, "test_job": job, "started_job": job})
    messages.info(request, "Connection test started; its answer appears below.")
    return redirect("mobility:console_detail", pk=console.pk)


@allowed("manage_consoles")
@require_POST
def console_sync(request, pk: int):
    """A worker syncs this IVM now; the page follows it."""
    console = _console_or_404(pk)
    if not console.host_key:
        job, error = None, "Confirm the IVM's host key first."
    else:
        job, error = jobs.enqueue(Kind.SYNC, user=request.user, console=console), ""
    if request.htmx:
        return render(request, "mobility/consoles.html#sync-status",
                      {"c": console, "job": job, "error": error, "started_job": job})
    if error:
        messages.error(request, f"Sync of {console.name} not started: {error}")
    else:
        messages.info(request, f"Sync of {console.name} started.")
    return redirect("mobility:console_detail", pk=console.pk)


@allowed("manage_consoles")
@require_POST
def console_sync_all(request):
    """A sync job for every enabled IVM with a pinned key, in one group that the page follows live."""
    consoles = list(IVMConsole.objects.select_related("system"))
    due = [c for c in consoles if c.enabled and c.host_key]
    group = None
    started: dict[int, IVMJob] = {}
    with transaction.atomic():
        for console in due:
            job = jobs.enqueue(Kind.SYNC, user=request.user, console=console, group=group)
            group = job.group
            started[console.pk] = job
        record("inventory.sync_all_requested", actor=request.user,
               data={"consoles": [c.name for c in due], "group": str(group) if group else ""})
    summary = f"Syncing {len(due)} IVM{'s' if len(due) != 1 else ''}…" if due else "No IVM to sync."
    rows = [(c, started.get(c.pk)) for c in consoles]
    if request.htmx:
        return render(request, "mobility/consoles.html#console-table",
                      {"rows": rows, "summary": summary, "started_group": group})
    messages.info(request, summary)
    return redirect("mobility:consoles")
