"""Submit a plan (a new migration waiting for approval, with plan version 1) and revise it (the next version, every
vote voided). Each refuses with ``PlanRefused`` and changes nothing but the audit of the refusal."""

from __future__ import annotations

from collections.abc import Sequence

from django.db import IntegrityError, transaction
from django.db.models import Max

from mobility import lifecycle, planning, policy
from mobility.governance import audit
from mobility.governance.approvals import void_approvals
from mobility.lifecycle.writer import transition
from mobility.models import Migration, PlanVersion
from mobility.models.migrations import content_hash
from mobility.notifications import notify_new_request
from mobility.plans.context import PlanContext, mode_of, modes_for, plan_context
from mobility.plans.errors import PlanRefused
from mobility.plans.titles import CHECK_TITLES
from mobility.plans.versions import clean_options, latest_plan, plan_snapshot, write_version


def revisable(migration: Migration) -> bool:
    """The plan may still change: the lifecycle's ``revise`` move is open (nothing has been sent to IVM yet)."""
    return lifecycle.refusal("revise", migration) is None


def refuse(user, partition, why: str) -> PlanRefused:
    """Audit a refused plan request (`plan.refused`) and return the exception to raise."""
    audit.record("plan.refused", actor=user, obj=partition, data={"why": why})
    return PlanRefused(why)


def _blockers(ctx: PlanContext, rows: Sequence[planning.AdapterMapping]) -> list[str]:
    found = [f"{CHECK_TITLES.get(c.key, c.key)}: {c.message}" for c in ctx.errors]
    found += [p.message for p in planning.check_mappings(ctx.partition, ctx.destination, rows)]
    return found


def plan_review(*, partition, destination, mode: str, mappings: Sequence[planning.AdapterMapping],
                validation: dict | None, options: dict | None = None) -> tuple[dict, str]:
    """The snapshot ``submit_plan`` would store for this plan now, and its content hash (what an approval binds
    to): the review step shows it, and the submit that follows must store the same hash."""
    options = clean_options(mode, options)
    ctx = plan_context(partition, destination, mode)
    snapshot = plan_snapshot(partition, destination, mode, mappings, ctx.checks, validation, options, ctx.partition)
    return snapshot, content_hash(snapshot)


def submit_plan(*, partition, destination, user, mode: str, mappings: Sequence[planning.AdapterMapping],
                validation: dict | None, reason: str, wished_start=None, options: dict | None = None,
                digest: str | None = None, reviewed: str | None = None, notify: bool = True) -> Migration:
    """Create the migration (waiting for approval) with plan version 1 and its mapping rows.

    Refuses (PlanRefused, nothing written but the audit of a refusal) when the user may not plan this partition,
    the inventory changed since `digest` was taken, a check or mapping blocks, IVM's validation did not pass, or
    the partition already has an unfinished migration, or `reviewed` (the hash a person reviewed) is given and the
    plan to store is no longer exactly that one.
    """
    why = policy.refusal(user, "plan", partition)
    if why is not None:
        raise refuse(user, partition, why)
    if destination.pk == partition.system_id:
        raise PlanRefused("The destination is the partition's own server.")
    if mode not in modes_for(partition):
        raise PlanRefused(f"{partition.name} is '{partition.state}'; it cannot make an {mode} move now.")
    options = clean_options(mode, options)
    if mode != mode_of(partition) and not options.get("shutdown_source"):
        raise PlanRefused(f"{partition.name} is Running: an inactive move must let ivmweb shut it down first.")
    reason = (reason or "").strip()
    if not reason:
        raise PlanRefused("Say why the partition should move.")
    ctx = plan_context(partition, destination, mode)
    if digest is not None and digest != ctx.digest:
        raise PlanRefused("The inventory changed since this page was shown; review the fresh plan.")
    blockers = _blockers(ctx, mappings)
    if blockers:
        raise PlanRefused("The plan cannot be submitted: " + " ".join(blockers))
    if not validation or not validation.get("ok"):
        raise PlanRefused("IVM's validation (migrlpar -o v) has not passed for this plan.")

    snapshot = plan_snapshot(partition, destination, mode, mappings, ctx.checks, validation, options, ctx.partition)
    if reviewed is not None and reviewed != content_hash(snapshot):
        raise PlanRefused("The plan is no longer exactly the one you reviewed (IVM's answer or the facts behind it "
                          "changed); review it again. Nothing was submitted.")
    try:
        with transaction.atomic():
            migration = Migration.objects.create(  # waiting for approval: the lifecycle's first status
                partition=partition, source=partition.system, destination=destination, mode=mode,
                requester=user, reason=reason, wished_start=wished_start,
            )
            audit.record("plan.submitted", actor=user, obj=migration,
                         data={"partition": partition.name, "source": partition.system.name,
                               "destination": destination.name, "mode": mode, "reason": reason,
                               "wished_start": wished_start})
            write_version(migration, 1, user, snapshot, mappings, ctx)
            if notify:  # (a batch's member: the batch asks its approvers once, when every member is planned)
                notify_new_request(migration)  # sent on commit
    except IntegrityError:
        # the partial unique constraint: one unfinished migration per partition (also under concurrent submits)
        raise PlanRefused(f"{partition.name} already has a migration that is not finished.") from None
    return migration


def revise_plan(migration: Migration, *, user, mappings: Sequence[planning.AdapterMapping],
                validation: dict | None = None, options: dict | None = None,
                digest: str | None = None) -> PlanVersion:
    """Write the next plan version with new mappings (and options); every vote on the old version is voided and
    the migration waits for approval again. An unchanged plan is refused rather than versioned."""
    if not revisable(migration) or not policy.may(user, "revise", migration):
        audit.record("plan.refused", actor=user, obj=migration, data={"why": "revise not allowed"})
        raise PlanRefused("You may not change this plan (only its requester or owning team, before it runs).")
    current = latest_plan(migration)
    options = clean_options(migration.mode, current.snapshot.get("options") if options is None else options)
    ctx = plan_context(migration.partition, migration.destination, migration.mode)
    if digest is not None and digest != ctx.digest:
        raise PlanRefused("The inventory changed since this page was shown; review the fresh plan.")
    blockers = _blockers(ctx, mappings)
    if blockers:
        raise PlanRefused("The plan cannot be changed like this: " + " ".join(blockers))
    snapshot = plan_snapshot(migration.partition, migration.destination, migration.mode, mappings, ctx.checks,
                             validation, options, ctx.partition)
    if (snapshot["mappings"], snapshot["options"]) == (current.snapshot["mappings"], current.snapshot["options"]):
        raise PlanRefused(f"Nothing changed: the plan is the same as version {current.version}.")
    with transaction.atomic():
        locked = Migration.objects.select_for_update(no_key=True).get(pk=migration.pk)
        if not revisable(locked):
            raise PlanRefused("The migration has started or ended; its plan can no longer change.")
        number = (locked.plans.aggregate(n=Max("version"))["n"] or 0) + 1
        version = write_version(locked, number, user, snapshot, mappings, ctx)
        voided = void_approvals(locked, f"plan revised to version {number}")
        transition(locked, "revise", actor=user, outcome="")  # waits for approval again; no stale "Not started"
        audit.record("plan.revised", actor=user, obj=locked,
                     data={"version": number, "hash": version.content_hash, "previous": current.content_hash,
                           "approvals_voided": voided})
    migration.refresh_from_db()
    return version
