"""Migration plans: what a requester submits, an approver approves and the engine runs (services over ``Plan`` and
``PlanVersion``; the pure rules are ``mobility.planning``'s).

* ``context`` — the estate of one partition (and destination) read now, and every requirement check
  (``plan_context``);
* ``versions`` — a plan version's frozen snapshot (``plan_snapshot``), its content hash, writing a version;
* ``submit`` — ``submit_plan`` (a new migration, waiting for approval) and ``revise_plan`` (the next version, votes
  voided), or ``PlanRefused``;
* ``validation`` — ``validate_plan``: IVM's own check (``migrlpar -o v``), its messages mapped onto the checks;
* ``drift`` — what changed in the inventory since a version was made (``plan_drift``);
* ``titles`` — what each check is about (``CHECK_TITLES``).
"""

from mobility.models.migrations import canonical_json, content_hash
from mobility.plans.context import (
    PlanContext,
    mode_of,
    modes_for,
    plan_context,
    planned_slots,
    with_planned_slots,
)
from mobility.plans.drift import Drift, plan_drift
from mobility.plans.errors import PlanRefused
from mobility.plans.submit import plan_review, refuse, revisable, revise_plan, submit_plan
from mobility.plans.titles import CHECK_TITLES
from mobility.plans.validation import map_ivm_messages, migrlpar_validate_command, validate_plan
from mobility.plans.versions import OPTION_KEYS, SCHEMA, latest_plan, mappings_from_snapshot, plan_snapshot

__all__ = [
    "CHECK_TITLES", "OPTION_KEYS", "SCHEMA", "Drift", "PlanContext", "PlanRefused", "canonical_json", "content_hash",
    "latest_plan", "map_ivm_messages", "mappings_from_snapshot", "migrlpar_validate_command", "mode_of", "modes_for",
    "plan_context", "plan_drift", "plan_review", "plan_snapshot", "planned_slots", "refuse", "revisable", "revise_plan",
    "submit_plan", "validate_plan", "with_planned_slots",
]
