"""What each kind of job does, in a worker: the IVM conversations that pages used to hold inside the request.

Each function takes the job and a ``report(text)`` for progress lines, and returns the result the page shows; an
outcome that is a failure for the person who asked (no connection, a refused key) raises ``JobFailed`` with the
words to show. An IVM that answers "no" to a validation is not a failed job: the answer is the result.
"""

from __future__ import annotations

from django.db import transaction

from mobility import plans
from mobility.batches.planning import run_member_job, settle_after
from mobility.governance.audit import record
from mobility.inventory import sync_console
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
from mobility.jobs.errors import JobFailed
from mobility.models import IVMConsole, IVMJob, ManagedSystem, Migration, Partition
from mobility.secrets import SecretUnreadable
from mobility.twin import batch_rehearse, rehearse

SCAN_TIMEOUT_S = 10.0
PLAN_CHANGED = "The plan changed since you read it (another revision came first); read it again. Nothing was saved."
SYNC_FACTS = ("ok", "error", "created", "updated", "deleted", "vanished", "unchanged", "rows_written", "duration_s")


def _pinned(console: IVMConsole) -> HostKey | None:
    try:
        return HostKey.parse(console.host_key) if console.host_key else None
    except InvalidValue:
        return None


def _key_facts(key: HostKey) -> dict:
    return {"type": key.type, "fingerprint": key.fingerprint, "openssh": key.openssh}


def test_connection(job: IVMJob, report) -> dict:
    """Connect afresh (today's host key and credentials, not an old transport) and run one harmless read."""
    console = job.console
    if not console.host_key:
        raise JobFailed("Confirm the IVM's host key first.")
    discard_client(console)
    report(f"Connecting to {console.host}:{console.port}")
    try:
        answer = client_for(console).run(commands.lssyscfg("sys", fields=("name",)), retry_safe=True)
        return {"system_names": [row["name"] for row in answer.parsed()]}
    except HostKeyMismatch as exc:
        discard_client(console)
        raise JobFailed(str(exc), {"mismatch": {"old": exc.old_fingerprint, "new": exc.new_fingerprint}}) from exc
    except CommandFailed as exc:
        raise JobFailed(f"{type(exc).__name__}: {exc}") from exc
    except (IVMError, SecretUnreadable) as exc:
        discard_client(console)
        raise JobFailed(f"{type(exc).__name__}: {exc}") from exc


def scan(job: IVMJob, report) -> dict:
    """The key the IVM offers now (nothing is trusted or stored)."""
    console = job.console
    report(f"Asking {console.host}:{console.port} for its host key")
    try:
        offered = scan_host_key(console.host, console.port, timeout=SCAN_TIMEOUT_S)
    except IVMError as exc:
        raise JobFailed(f"ivmweb could not reach {console.host}:{console.port}: {exc}") from exc
    return _key_facts(offered)


def pin(job: IVMJob, report) -> dict:
    """Pin the key the admin confirmed, if the IVM still offers exactly that key now."""
    console = job.console
    confirmed = HostKey.parse(job.params["host_key"])
    report(f"Checking that {console.host}:{console.port} still offers {confirmed.fingerprint}")
    try:
        offered = scan_host_key(console.host, console.port, timeout=SCAN_TIMEOUT_S)
    except IVMError as exc:
        raise JobFailed(f"ivmweb cannot re-check the key now ({exc}). Nothing was pinned.") from exc
    if confirmed != offered:
        # The key changed between showing and confirming (or the POST was forged): refuse, and say so.
        record("console.host_key_refused", actor=job.requested_by, obj=console, data={
            "confirmed_fingerprint": confirmed.fingerprint, "offered_fingerprint": offered.fingerprint})
        raise JobFailed(f"The IVM now offers a different key ({offered.type} {offered.fingerprint}) from the one you "
                        f"confirmed ({confirmed.fingerprint}). Nothing was pinned.", _key_facts(offered))
    with transaction.atomic():
        locked = IVMConsole.objects.select_for_update(no_key=True).get(pk=console.pk)
        previous = _pinned(locked)
        if previous == confirmed:
            return {**_key_facts(confirmed), "already": True}
        if previous is not None and not job.params.get("replace"):
            raise JobFailed("Tick the box to replace the pinned key. Nothing was pinned.")
        locked.host_key, locked.host_key_fingerprint = confirmed.openssh, confirmed.fingerprint
        locked.save(update_fields=["host_key", "host_key_fingerprint"])
        record("console.host_key_replaced" if previous else "console.host_key_confirmed",
               actor=job.requested_by, obj=locked,
               data={"type": confirmed.type, "fingerprint": confirmed.fingerprint,
                     "previous_fingerprint": previous.fingerprint if previous else ""})
        # A pooled client still holds the old key: drop it once the new one is committed.
        transaction.on_commit(lambda: discard_client(locked))
    return _key_facts(confirmed)


def sync(job: IVMJob, report) -> dict:
    console = job.console
    if not console.host_key:
        raise JobFailed("Confirm the IVM's host key first.")
    report(f"Reading {console.name}'s inventory")
    result = sync_console(console)
    facts = {key: getattr(result, key) for key in SYNC_FACTS}
    facts["quarantined"] = dict(result.quarantined)
    record("inventory.sync_requested", actor=job.requested_by, obj=console, data=facts)
    if not result.ok:
        raise JobFailed(result.error, facts)
    return facts


def _plan_parts(job: IVMJob):
    partition = Partition.objects.select_related("system__console").get(pk=job.params["partition"])
    destination = ManagedSystem.objects.select_related("console").get(pk=job.params["destination"])
    rows = plans.mappings_from_snapshot({"mappings": job.params["mappings"]})
    return partition, destination, rows


def validate(job: IVMJob, report) -> dict:
    """`migrlpar -o v` for the plan in the job: IVM's answer, mapped onto the checks."""
    partition, destination, rows = _plan_parts(job)
    report(f"{partition.system.console.name} is validating the move of {partition.name} to {destination.name}")
    return plans.validate_plan(partition, destination, rows, user=job.requested_by, migration=job.migration)


def revise(job: IVMJob, report) -> dict:
    """Validate the changed mappings with IVM, then store them as the next plan version (as the first was).

    ``if_match`` (the API's ``If-Match``: the content hash of the version the editor read) makes the revision
    conditional: when another revision landed first, nothing is saved, checked under the migration's row lock so
    that two editors cannot overwrite each other even when their jobs run side by side."""
    partition, destination, rows = _plan_parts(job)
    migration = Migration.objects.get(pk=job.migration_id)
    expected = job.params.get("if_match")
    if expected and plans.latest_plan(migration).content_hash != expected:
        return {"validation": None, "refused": PLAN_CHANGED}
    report(f"{partition.system.console.name} is validating the changed plan")
    validation = plans.validate_plan(partition, destination, rows, user=job.requested_by, migration=migration)
    if not validation["ok"]:
        return {"validation": validation,
                "refused": "IVM refused the changed plan; see its answer below. Nothing was saved."}
    with transaction.atomic():
        if expected:
            locked = Migration.objects.select_for_update(no_key=True).get(pk=migration.pk)
            if plans.latest_plan(locked).content_hash != expected:
                return {"validation": validation, "refused": PLAN_CHANGED}
        try:
            version = plans.revise_plan(migration, user=job.requested_by, mappings=rows, validation=validation,
                                        digest=job.params["digest"])
        except plans.PlanRefused as exc:  # caught inside: the refusal's audit record is kept
            return {"validation": validation, "refused": str(exc)}
    return {"validation": validation, "version": version.version}


def batch_member(job: IVMJob, report) -> dict:
    """One member of a batch: validated by IVM, then submitted (or its edit applied) as the batch's member."""

    return run_member_job(job, report)


RUN = {
    IVMJob.Kind.TEST: test_connection,
    IVMJob.Kind.SCAN: scan,
    IVMJob.Kind.PIN: pin,
    IVMJob.Kind.SYNC: sync,
    IVMJob.Kind.VALIDATE: validate,
    IVMJob.Kind.REVISE: revise,
    IVMJob.Kind.REHEARSE: rehearse.run,
    IVMJob.Kind.BATCH_MEMBER: batch_member,
    IVMJob.Kind.REHEARSE_BATCH: batch_rehearse.run,
}
# What follows a job once its end is committed (whoever wrote that end: the job, its time bound).
AFTER = {
    IVMJob.Kind.BATCH_MEMBER: settle_after,
}
__all__ = ["AFTER", "RUN", "JobFailed"]
