"""IVM consoles (admins only): register an IVM, confirm its SSH host key, test it, sync it.

The host-key rule: a key is pinned only when an admin POSTs the exact key they were shown and the IVM
still offers that key at that moment; replacing a pinned key also needs an explicit tick. Secrets are
encrypted by the model and never rendered back. Remote I/O goes through ``mobility.inventory.connections`` and
``mobility.inventory`` (never paramiko here).
"""

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from mobility.access import allowed
from mobility.forms.inventory import ConsoleRegistrationForm, HostKeyConfirmForm
from mobility.governance.audit import record
from mobility.inventory import sync_all, sync_console
from mobility.inventory.connections import client_for, discard_client
from mobility.ivm import (
    CommandFailed,
    HostKey,
    HostKeyMismatch,
    InvalidValue,
    IVMError,
    commands,
    scan_host_key,
)
from mobility.models import IVMConsole, Partition
from mobility.secrets import SecretUnreadable

SCAN_TIMEOUT_S = 10.0


def _console_or_404(pk: int) -> IVMConsole:
    return get_object_or_404(IVMConsole.objects.select_related("system"), pk=pk)


def _pinned(console: IVMConsole) -> HostKey | None:
    try:
        return HostKey.parse(console.host_key) if console.host_key else None
    except InvalidValue:
        return None


def _sync_data(result) -> dict:
    """The facts of one SyncResult worth keeping in the audit trail and showing on the page."""
    keys = ("ok", "error", "created", "updated", "deleted", "vanished", "unchanged", "rows_written", "duration_s")
    return {key: getattr(result, key, None) for key in keys}


@allowed("manage_consoles")
def console_list(request):
    """Registered IVMs with their sync status, a sync button each and "sync all"."""
    rows = [(console, None) for console in IVMConsole.objects.select_related("system")]
    return render(request, "mobility/consoles.html", {"rows": rows})


@allowed("manage_consoles")
@require_http_methods(["GET", "POST"])
def console_register(request):
    """Step 1: name, address, credentials. The IVM must answer an SSH handshake before anything is saved."""
    form = ConsoleRegistrationForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        console = form.build()
        try:
            offered = scan_host_key(console.host, console.port, timeout=SCAN_TIMEOUT_S)
        except IVMError as exc:
            form.add_error(None, f"ivmweb could not reach {console.host}:{console.port}: {exc}. Nothing was saved.")
        else:
            with transaction.atomic():
                console.save()
                record("console.registered", actor=request.user, obj=console, data={
                    "name": console.name, "host": console.host, "port": console.port,
                    "username": console.username, "auth": "private key" if console.private_key_encrypted else "password",
                    "offered_fingerprint": offered.fingerprint,
                })
                # The pool is keyed by id; never let a client built for an earlier row with this id survive.
                transaction.on_commit(lambda: discard_client(console))
            messages.success(request, f"{console.name} registered. Check its host key before ivmweb uses it.")
            return redirect("mobility:console_host_key", pk=console.pk)
    return render(request, "mobility/consoles_register.html", {"form": form})


@allowed("manage_consoles")
def console_detail(request, pk: int):
    """One IVM: registration facts, host-key state, test connection and sync."""
    console = _console_or_404(pk)
    quarantined = Partition.objects.filter(system__console=console, vanished_at__isnull=True).exclude(
        quarantine_reason="")
    return render(request, "mobility/consoles_detail.html", {"console": console, "pinned": _pinned(console),
                                                             "quarantined": quarantined})


@allowed("manage_consoles")
@require_http_methods(["GET", "POST"])
def console_host_key(request, pk: int):
    """Step 2: show the key the IVM offers now; pin it when the admin confirms exactly that key."""
    console = _console_or_404(pk)
    pinned = _pinned(console)
    offered, scan_error = None, ""
    try:
        offered = scan_host_key(console.host, console.port, timeout=SCAN_TIMEOUT_S)
    except IVMError as exc:
        scan_error = str(exc)
    replacing = pinned is not None and offered != pinned
    form = HostKeyConfirmForm(request.POST or None, replacing=replacing,
                              initial={"host_key": offered.openssh if offered else ""})
    if request.method == "POST" and form.is_valid():
        confirmed = form.cleaned_data["host_key"]
        if offered is None:
            form.add_error(None, f"ivmweb cannot re-check the key now ({scan_error}). Nothing was pinned.")
        elif confirmed != offered:
            # The key changed between showing and confirming (or the POST was forged): refuse, and say so.
            record("console.host_key_refused", actor=request.user, obj=console, data={
                "confirmed_fingerprint": confirmed.fingerprint, "offered_fingerprint": offered.fingerprint})
            form.add_error(None, f"The IVM now offers a different key ({offered.type} {offered.fingerprint}) "
                                 f"from the one you confirmed ({confirmed.fingerprint}). Nothing was pinned.")
        elif confirmed == pinned:
            messages.info(request, "That key is already pinned.")
            return redirect("mobility:console_detail", pk=console.pk)
        else:
            with transaction.atomic():
                locked = IVMConsole.objects.select_for_update(no_key=True).get(pk=console.pk)
                previous = locked.host_key_fingerprint
                locked.host_key, locked.host_key_fingerprint = confirmed.openssh, confirmed.fingerprint
                locked.save(update_fields=["host_key", "host_key_fingerprint"])
                record("console.host_key_replaced" if previous else "console.host_key_confirmed",
                       actor=request.user, obj=locked,
                       data={"type": confirmed.type, "fingerprint": confirmed.fingerprint,
                             "previous_fingerprint": previous})
                # A pooled client still holds the old key: drop it once the new one is committed.
                transaction.on_commit(lambda: discard_client(locked))
            messages.success(request, f"Host key {confirmed.fingerprint} pinned for {console.name}.")
            return redirect("mobility:console_detail", pk=console.pk)
    return render(request, "mobility/consoles_host_key.html", {
        "console": console, "pinned": pinned, "offered": offered, "scan_error": scan_error,
        "replacing": replacing, "form": form,
    })


@allowed("manage_consoles")
@require_POST
def console_test(request, pk: int):
    """Connect afresh and run one harmless read (`lssyscfg -r sys -F name`); show ok or the typed error."""
    console = _console_or_404(pk)
    context = {"console": console}
    if not console.host_key:
        context["error"] = "Confirm the IVM's host key first."
    else:
        # A fresh connection, so the test proves today's host key and credentials, not an old transport.
        discard_client(console)
        try:
            result = client_for(console).run(commands.lssyscfg("sys", fields=("name",)), retry_safe=True)
            context["system_names"] = [row["name"] for row in result.parsed()]
        except HostKeyMismatch as exc:
            discard_client(console)
            context.update(error=str(exc), mismatch=exc)
        except CommandFailed as exc:
            context["error"] = f"{type(exc).__name__}: {exc}"
        except (IVMError, SecretUnreadable) as exc:
            discard_client(console)
            context["error"] = f"{type(exc).__name__}: {exc}"
    if request.htmx:
        return render(request, "mobility/consoles_detail.html#test-result", context)
    if "error" in context:
        messages.error(request, f"Connection test failed: {context['error']}")
    else:
        messages.success(request, f"Connection ok: {', '.join(context['system_names'])}")
    return redirect("mobility:console_detail", pk=console.pk)


@allowed("manage_consoles")
@require_POST
def console_sync(request, pk: int):
    """Sync one IVM now; htmx gets its refreshed status block with the counts or the error."""
    console = _console_or_404(pk)
    if not console.host_key:
        result, error = None, "Confirm the IVM's host key first."
    else:
        result = sync_console(console)
        error = "" if result.ok else result.error
        record("inventory.sync_requested", actor=request.user, obj=console, data=_sync_data(result))
        console.refresh_from_db()
    if request.htmx:
        return render(request, "mobility/consoles.html#sync-status",
                      {"c": console, "result": result, "error": error})
    if error:
        messages.error(request, f"Sync of {console.name} failed: {error}")
    else:
        messages.success(request, f"{console.name} synced in {result.duration_s:.1f} s.")
    return redirect("mobility:console_detail", pk=console.pk)


@allowed("manage_consoles")
@require_POST
def console_sync_all(request):
    """Sync every enabled IVM with a pinned key; htmx gets the refreshed table."""
    consoles = list(IVMConsole.objects.filter(enabled=True).exclude(host_key=""))
    results = sync_all(consoles) if consoles else []
    record("inventory.sync_all_requested", actor=request.user,
           data={"results": {r.console.name: _sync_data(r) for r in results}})
    by_id = {r.console.pk: r for r in results}
    rows = [(c, by_id.get(c.pk)) for c in IVMConsole.objects.select_related("system")]
    failed = [r.console.name for r in results if not r.ok]
    summary = f"{len(results) - len(failed)} of {len(results)} IVMs synced" + (
        f"; failed: {', '.join(failed)}" if failed else "")
    if request.htmx:
        return render(request, "mobility/consoles.html#console-table", {"rows": rows, "summary": summary})
    (messages.error if failed else messages.success)(request, summary + ".")
    return redirect("mobility:consoles")
