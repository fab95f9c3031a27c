"""Drift: what changed in the inventory since a plan version was made (the engine asks before it starts)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mobility import planning
from mobility.models import PlanVersion
from mobility.models.migrations import canonical_json
from mobility.plans.context import PlanContext, plan_context
from mobility.plans.titles import CHECK_TITLES
from mobility.plans.versions import mappings_from_snapshot


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
