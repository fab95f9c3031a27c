"""Migration plans: what a requester submits, an approver approves and the engine runs.

A plan version is an immutable JSON snapshot (partition, source, destination, mode, adapter mappings, options,
the checks and the inventory facts they used, and IVM's validation answer) with a SHA-256 content hash; approval
binds to that hash. Editing a plan never changes a version: `revise_plan` writes the next one and voids the votes.

This module reads the inventory through `mobility.snapshots` (E), talks to IVM only through
`mobility.inventory.connections.client_for` (E) and keeps the pure rules in `mobility.planning`.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Max, OuterRef, Subquery
from django.utils import timezone

from mobility import lifecycle, planning, policy
from mobility.choices import MigrationStatus
from mobility.governance import audit
from mobility.governance.approvals import void_approvals
from mobility.inventory.connections import about_migration, client_for
from mobility.inventory.estate import load_partition, load_system
from mobility.ivm import CommandFailed, IVMError, commands
from mobility.lifecycle.writer import transition
from mobility.models import AdapterMapping, Migration, PlanVersion
from mobility.models.migrations import canonical_json, content_hash
from mobility.notifications import notify_new_request
from mobility.planning import Check, Mode, Status
from mobility.planning.mapping_syntax import FC, SCSI

SCHEMA = 1
OPTION_KEYS = {"activate_on_destination", "shutdown_source"}

# What each check is about, as the wizard and the plan page title it (keys of planning.checks plus the two that
# only IVM's validation reports).
CHECK_TITLES = {
    "quarantine": "Inventory values within IVM's rules",
    "state": "Partition state",
    "not_vios": "Client partition (not a VIOS)",
    "physical_io": "No physical I/O adapters",
    "migration_state": "Not migrating",
    "rmc": "RMC connection",
    "dlpar": "DLPAR capable",
    "vopt": "No virtual optical media",
    "disk_backing": "Disks on shared SAN LUNs",
    "reserve_policy": "Source disks no_reserve",
    "capability": "Source mobility capable",
    "migration_limit": "Source migration limit",
    "dest_is_source": "Another server",
    "dest_capability": "Destination mobility capable",
    "dest_migration_limit": "Destination migration limit",
    "name_free": "Name free on destination",
    "compat_mode": "Processor compatibility mode",
    "memory": "Memory on destination",
    "processors": "Processing units on destination",
    "lmb_size": "Same memory block size",
    "vlans_bridged": "VLANs bridged on destination",
    "lun_visible": "Disks visible on destination",
    "dest_reserve_policy": "Destination disks no_reserve",
    "npiv_ports": "NPIV ports on destination",
    "virtual_slots": "Virtual slots on destination",
    "dest_console": "Destination IVM reachable and trusted",
    "mappings": "Adapter mappings",
}


class PlanRefused(Exception):
    """A plan request that must change nothing; the message says why, for the person who asked."""


def revisable(migration: Migration) -> bool:
    """The plan may still change: the lifecycle's ``revise`` move is open (nothing has been sent to IVM yet)."""
    return lifecycle.refusal("revise", migration) is None


def refuse(user, partition, why: str) -> PlanRefused:
    """Audit a refused plan request (`plan.refused`) and return the exception to raise."""
    audit.record("plan.refused", actor=user, obj=partition, data={"why": why})
    return PlanRefused(why)


# ---------------------------------------------------------------------------------------------------------------
# A fresh planning view of one partition (and destination) from the inventory
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanContext:
    """The planning snapshots and every requirement check for one partition (and destination), read now."""

    partition: planning.Partition
    source: planning.ManagedSystem
    destination: planning.ManagedSystem | None
    mode: Mode | None
    checks: tuple[Check, ...]

    @property
    def errors(self) -> tuple[Check, ...]:
        return tuple(c for c in self.checks if c.status is Status.ERROR)

    @property
    def digest(self) -> str:
        """A short hash of every fact the checks and mappings depend on: a form carries it, so that a submit
        made from a page built on an older inventory is recognised and refused."""
        data = {"partition": self.partition.to_dict(), "mode": self.mode,
                "checks": [[c.key, c.status.value, c.facts] for c in self.checks]}
        if self.destination is not None:
            dest = self.destination
            data["dest"] = {"vios": dest.management_partition.to_dict(),
                            "fc_ports": [f.to_dict() for f in dest.fc_ports], "vlans": list(dest.bridged_vlans)}
        return content_hash(data)[:20]


def plan_context(partition, destination=None, mode: str | None = None) -> PlanContext:
    """Snapshot the partition, its server and (optionally) a destination server from the inventory, and run the
    checks. `mode` None follows the partition's state (Running: active, Not Activated: inactive)."""
    source = load_system(partition.system)
    part = load_partition(partition)
    dest = _with_planned_slots(load_system(destination), destination, partition) if destination else None
    # Always pass the mode explicitly: the state check records it among its facts, and the digest of a page
    # built without a mode must equal the digest the submit (which names the mode) computes.
    mode = mode or mode_of(partition)
    wanted = Mode(mode) if mode else None
    assessment = planning.check_partition(part, source, dest, wanted)
    return PlanContext(part, source, dest, assessment.mode, assessment.checks)


def planned_slots(destination, partition=None) -> set[int]:
    """Destination VIOS slots named by the plans in force of unfinished migrations to ``destination`` (other
    than ``partition``'s own): not in its inventory yet, but taken as soon as those migrations start."""
    latest = (PlanVersion.objects.filter(migration=OuterRef("plan__migration")).order_by("-version")
              .values("pk")[:1])
    rows = (AdapterMapping.objects.filter(plan__migration__destination=destination,
                                          plan__migration__status__in=MigrationStatus.unfinished(),
                                          plan__migration__finished_at__isnull=True, dest_slot__isnull=False)
            .exclude(kind="eth").filter(plan=Subquery(latest)))
    if partition is not None:
        rows = rows.exclude(plan__migration__partition=partition)
    return set(rows.values_list("dest_slot", flat=True))


def _with_planned_slots(dest: planning.ManagedSystem, destination, partition) -> planning.ManagedSystem:
    taken = planned_slots(destination, partition)
    if not taken:
        return dest
    mp = dest.management_partition
    return dataclasses.replace(dest, management_partition=dataclasses.replace(
        mp, used_slots=tuple(sorted(set(mp.used_slots) | taken))))


def mode_of(partition) -> str | None:
    """The mobility type IVM will use for the partition in its current state (None: it cannot move now)."""
    found = planning.mode_for_state(partition.state)
    return found.value if found else None


# ---------------------------------------------------------------------------------------------------------------
# Snapshot and hash
# ---------------------------------------------------------------------------------------------------------------


def _stable_validation(validation: dict | None) -> dict | None:
    """The validation answer without its time: re-validating an unchanged plan must not change its hash."""
    if validation is None:
        return None
    return {k: v for k, v in validation.items() if k not in {"ran_at", "duration_s"}}


def plan_snapshot(partition, destination, mode: str, mappings: Sequence[planning.AdapterMapping],
                  checks: Sequence[Check], validation: dict | None, options: dict | None,
                  partition_facts: planning.Partition | None = None) -> dict:
    """The JSON document a plan version stores and hashes. `partition`/`destination` are inventory rows;
    `checks` the planning checks the requester saw, whose facts are what later drift detection compares."""
    rows = [m.to_dict() for m in mappings]
    return json.loads(canonical_json({
        "schema": SCHEMA,
        "partition": {"id": partition.pk, "name": partition.name, "lpar_id": partition.lpar_id,
                      "state": partition.state},
        "source": {"id": partition.system_id, "name": partition.system.name, "mtms": partition.system.mtms,
                   "console": partition.system.console.name},
        "destination": {"id": destination.pk, "name": destination.name, "mtms": destination.mtms,
                        "console": destination.console.name, "ivm_address": destination.console.host},
        "mode": mode,
        "mappings": rows,
        "migrlpar": planning.format_mappings(mappings),
        "options": dict(sorted((options or {}).items())),
        "checks": [{"key": c.key, "status": c.status.value, "message": c.message, "remedy": c.remedy}
                   for c in checks],
        "facts": {c.key: c.facts for c in checks},
        "inventory": partition_facts.to_dict() if partition_facts is not None else None,
        "validation": _stable_validation(validation),
    }))


def latest_plan(migration: Migration) -> PlanVersion:
    """The plan version in force (the highest number)."""
    return migration.latest_plan()


def mappings_from_snapshot(snapshot: dict) -> tuple[planning.AdapterMapping, ...]:
    return tuple(planning.AdapterMapping(**row) for row in snapshot.get("mappings", ()))


def _clean_options(mode: str, options: dict | None) -> dict:
    """``activate_on_destination`` and ``shutdown_source`` (step 2: shut a running partition down first) only
    mean something for an inactive move."""
    options = dict(options or {})
    unknown = set(options) - OPTION_KEYS
    if unknown:
        raise PlanRefused(f"Unknown plan options: {', '.join(sorted(unknown))}.")
    if mode != Mode.INACTIVE:
        options.pop("activate_on_destination", None)
        options.pop("shutdown_source", None)
        return options
    options["activate_on_destination"] = bool(options.get("activate_on_destination", False))
    if not options.pop("shutdown_source", False):
        return options  # said only when it applies: a Not Activated partition has nothing to shut down
    options["shutdown_source"] = True
    return options


def modes_for(partition) -> tuple[str, ...]:
    """The moves that may be planned for the partition now: its state's own mode, and for a Running one also
    an inactive move that shuts it down first (step 2)."""
    natural = mode_of(partition)
    if natural == Mode.ACTIVE:
        return (Mode.ACTIVE.value, Mode.INACTIVE.value)
    return (natural,) if natural else ()


def _blockers(ctx: PlanContext, rows: Sequence[planning.AdapterMapping]) -> list[str]:
    found = [f"{CHECK_TITLES.get(c.key, c.key)}: {c.message}" for c in ctx.errors]
    found += [p.message for p in planning.check_mappings(ctx.partition, ctx.destination, rows)]
    return found


def _write_version(migration: Migration, number: int, user, snapshot: dict,
                   rows: Sequence[planning.AdapterMapping], ctx: PlanContext) -> PlanVersion:
    version = PlanVersion(migration=migration, version=number, snapshot=snapshot, content_hash=content_hash(snapshot),
                          created_by=user)
    version.save()
    AdapterMapping.objects.bulk_create(
        [AdapterMapping(plan=version, kind=m.kind, client_slot=m.client_slot, dest_vios_name=m.vios_name,
                        dest_vios_id=m.vios_id, dest_slot=m.vios_slot, fc_port=m.fc_port) for m in rows]
        + [AdapterMapping(plan=version, kind="eth", client_slot=a.slot, vlans=list(a.vlans))
           for a in ctx.partition.ethernet_adapters]
    )
    audit.record("plan.version", actor=user, obj=version,
                 data={"migration": migration.pk, "version": number, "hash": version.content_hash,
                       "mappings": snapshot["migrlpar"]})
    return version


# ---------------------------------------------------------------------------------------------------------------
# Submit and revise
# ---------------------------------------------------------------------------------------------------------------


def submit_plan(*, partition, destination, user, mode: str, mappings: Sequence[planning.AdapterMapping],
                validation: dict | None, reason: str, wished_start=None, options: dict | None = None,
                digest: str | None = None) -> Migration:
    """Create the migration (waiting for approval) with plan version 1 and its mapping rows.

    Refuses (PlanRefused, nothing written but the audit of a refusal) when the user may not plan this partition,
    the inventory changed since `digest` was taken, a check or mapping blocks, IVM's validation did not pass, or
    the partition already has an unfinished migration.
    """
    why = policy.refusal(user, "plan", partition)
    if why is not None:
        raise refuse(user, partition, why)
    if destination.pk == partition.system_id:
        raise PlanRefused("The destination is the partition's own server.")
    if mode not in modes_for(partition):
        raise PlanRefused(f"{partition.name} is '{partition.state}'; it cannot make an {mode} move now.")
    options = _clean_options(mode, options)
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
            _write_version(migration, 1, user, snapshot, mappings, ctx)
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
    options = _clean_options(migration.mode, current.snapshot.get("options") if options is None else options)
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
        version = _write_version(locked, number, user, snapshot, mappings, ctx)
        voided = void_approvals(locked, f"plan revised to version {number}")
        transition(locked, "revise", actor=user, outcome="")  # waits for approval again; no stale "Not started"
        audit.record("plan.revised", actor=user, obj=locked,
                     data={"version": number, "hash": version.content_hash, "previous": current.content_hash,
                           "approvals_voided": voided})
    migration.refresh_from_db()
    return version


# ---------------------------------------------------------------------------------------------------------------
# Validation with IVM (migrlpar -o v), its messages mapped onto the checks
# ---------------------------------------------------------------------------------------------------------------

# IVM's message codes (as ivmsim prints them: reconstructed, see ivmsim/FLEET.md) → the check they belong to.
# A code IVM shares between two checks is told apart by `_refine`.
CODE_TO_CHECK = {
    "VIOSE010401A1-0042": "state",
    "VIOSE0104A001-0001": "not_vios",
    "VIOSE0104A001-0002": "state",
    "VIOSE0104A001-0003": "migration_state",
    "VIOSE0104A002-0001": "dest_console",
    "VIOSE0104A002-0002": "dest_is_source",
    "VIOSE0104A002-0003": "dest_console",
    "VIOSE0104A002-0004": "dest_console",
    "VIOSE0104A002-0005": "dest_console",
    "VIOSE0104A003-0001": "capability",
    "VIOSE0104A003-0002": "dest_capability",
    "VIOSE0104A003-0003": "lmb_size",
    "VIOSE0104A003-0004": "compat_mode",
    "VIOSE0104A004-0001": "rmc",
    "VIOSE0104A004-0002": "dlpar",
    "VIOSE0104A004-0003": "physical_io",
    "VIOSE0104A004-0004": "vopt",
    "VIOSE0104A005-0001": "disk_backing",
    "VIOSE0104A005-0002": "reserve_policy",
    "VIOSE0104A005-0003": "lun_visible",
    "VIOSE0104A005-0004": "npiv_ports",
    "VIOSE0104A006-0001": "vlans_bridged",
    "VIOSE0104A006-0002": "vlans_bridged",
    "VIOSE0104A007-0001": "name_free",
    "VIOSE0104A007-0002": "mappings",
    "VIOSE0104A008-0001": "memory",
    "VIOSE0104A008-0002": "processors",
    "VIOSE0104A008-0003": "virtual_slots",
    "VIOSE0104A009-0001": "mappings",
    "VIOSE0104A00A-0001": "migration_limit",
    "VIOSE0104A00A-0002": "migration_limit",
    "HSCLA319": "npiv_ports",  # HMC wording for the same NPIV rule (ivm-cli.md)
    "HSCL3653": "dest_console",
}
_MESSAGE_LINE = re.compile(r"^\s*\[(?P<code>[A-Z0-9]+-[0-9A-Z]+)\]\s*(?P<text>.*)$|^\s*(?P<hmc>HSCL[0-9A-F]{4})\s+(?P<htext>.*)$")


def _refine(key: str, text: str, plan: dict) -> str:
    """Codes IVM uses for both servers: the text names which one."""
    if key == "reserve_policy" and " on " in text.split("reserve_policy")[0]:
        return "dest_reserve_policy"  # "Physical volume hdisk7 on ivm2 backing ..."
    if key == "migration_limit" and plan["destination"] in text:
        return "dest_migration_limit"
    if key == "rmc" and plan["partition"] not in text:
        return "dest_console"  # a management partition's RMC, not the mobile partition's
    return key


def map_ivm_messages(output: str, plan: dict) -> tuple[dict[str, list[dict]], list[dict]]:
    """Split IVM's error output into messages per check key, and the lines no check claims (shown as IVM wrote
    them). `plan` names the partition and destination so that shared codes can be told apart."""
    by_check: dict[str, list[dict]] = {}
    unknown: list[dict] = []
    for line in output.splitlines():
        if not line.strip():
            continue
        match = _MESSAGE_LINE.match(line)
        code = (match.group("code") or match.group("hmc")) if match else None
        text = (match.group("text") if match.group("code") else match.group("htext")) if match else line.strip()
        key = CODE_TO_CHECK.get(code or "")
        message = {"code": code or "", "text": text}
        if key is None:
            unknown.append(message)
        else:
            by_check.setdefault(_refine(key, text, plan), []).append(message)
    return by_check, unknown


def migrlpar_validate_command(partition, destination, mappings: Sequence[planning.AdapterMapping]):
    """The `migrlpar -o v` command for this plan (every value validated by the command builder)."""
    rows = list(mappings)
    return commands.migrlpar(
        "v", target_system=destination.mtms, target_ip=destination.console.host,
        target_user=destination.console.username, lpar_name=partition.name,
        scsi_mappings=[planning.format_mapping(m) for m in rows if m.kind == SCSI],
        fc_mappings=[planning.format_mapping(m) for m in rows if m.kind == FC],
    )


def validate_plan(partition, destination, mappings: Sequence[planning.AdapterMapping], *, user=None,
                  migration: Migration | None = None) -> dict:
    """Ask the source IVM to validate the move (`migrlpar -o v`) and map its answer onto the checks.

    Returns {"ok", "command", "checks": {key: [{"code", "text"}]}, "ivm_says": [...], "error", "ran_at"};
    records `plan.validated`. Never raises for an IVM problem: it is part of the answer.
    """
    started = timezone.now()
    result: dict[str, Any] = {"ok": False, "command": "", "checks": {}, "ivm_says": [], "error": ""}
    try:
        command = migrlpar_validate_command(partition, destination, mappings)
        result["command"] = command.redacted()
        # -o v only reads; retry_safe lets the client re-run it on a fresh transport if the old one died.
        with about_migration(migration.pk if migration is not None else None):
            client_for(partition.system.console).run(command, check=True, retry_safe=True)
        result["ok"] = True
    except CommandFailed as exc:
        output = "\n".join(x for x in (exc.stderr, exc.stdout) if x.strip()) or f"[{exc.code or ''}] {exc.text}"
        checks, unknown = map_ivm_messages(output, {"partition": partition.name, "destination": destination.name})
        result["checks"], result["ivm_says"] = checks, unknown
    except IVMError as exc:  # connection, host key, timeout, a value the builder refused
        result["error"] = str(exc)
    result["ran_at"] = started.isoformat()
    audit.record("plan.validated", actor=user, obj=migration or partition,
                 data={"partition": partition.name, "destination": destination.name, "ok": result["ok"],
                       "checks": sorted(result["checks"]), "ivm_says": result["ivm_says"],
                       "error": result["error"]})
    return result


# ---------------------------------------------------------------------------------------------------------------
# Drift: what changed in the inventory since a plan version was made
# ---------------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Drift:
    """One fact that differs between a stored plan and the inventory now."""

    check: str
    field: str
    before: Any
    after: Any

    @property
    def title(self) -> str:
        return CHECK_TITLES.get(self.check, self.check)


def plan_drift(version: PlanVersion) -> tuple[list[Drift], PlanContext | None, tuple]:
    """Compare the facts the plan's checks used with fresh checks; also re-check its mappings on the fresh
    destination. Returns (differences, fresh context, mapping problems now)."""
    migration = version.migration
    partition = migration.partition
    if partition.vanished_at is not None or partition.system_id != migration.source_id:
        gone = Drift("state", "server", version.snapshot["source"]["name"],
                     None if partition.vanished_at else partition.system.name)
        return [gone], None, ()
    ctx = plan_context(partition, migration.destination, migration.mode)
    before = version.snapshot.get("facts", {})
    after = {c.key: c.facts for c in ctx.checks}
    status_before = {c["key"]: c["status"] for c in version.snapshot.get("checks", [])}
    diffs: list[Drift] = []
    for key in sorted(set(before) | set(after), key=lambda k: list(CHECK_TITLES).index(k)
                      if k in CHECK_TITLES else 999):
        old, new = before.get(key, {}), after.get(key, {})
        for field in sorted(set(old) | set(new)):
            if old.get(field) != json.loads(canonical_json(new.get(field))):
                diffs.append(Drift(key, field, old.get(field), new.get(field)))
        fresh = next((c.status.value for c in ctx.checks if c.key == key), None)
        if status_before.get(key) != fresh:
            diffs.append(Drift(key, "status", status_before.get(key), fresh))
    problems = planning.check_mappings(ctx.partition, ctx.destination, mappings_from_snapshot(version.snapshot))
    return diffs, ctx, problems
