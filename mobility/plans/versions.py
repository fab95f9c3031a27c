"""Plan versions: the frozen JSON snapshot a version stores, its content hash, and writing a version.

A plan version is an immutable JSON snapshot (partition, source, destination, mode, adapter mappings, options, the
checks and the inventory facts they used, and IVM's validation answer) with a SHA-256 content hash; approval binds to
that hash. Editing a plan never changes a version: ``revise_plan`` writes the next one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mobility import planning
from mobility.governance import audit
from mobility.models import AdapterMapping, Migration, PlanVersion
from mobility.models.migrations import canonical_json, content_hash
from mobility.planning import Check, Mode
from mobility.plans.context import PlanContext
from mobility.plans.errors import PlanRefused

SCHEMA = 1
OPTION_KEYS = {"activate_on_destination", "shutdown_source"}


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


def clean_options(mode: str, options: dict | None) -> dict:
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


def write_version(migration: Migration, number: int, user, snapshot: dict,
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
