"""Fixtures of the governance tests: a small estate owned by two teams, and requests with plans.

Requests are written as rows (Migration + PlanVersion + mappings) with the same content hash
`mobility.plans` computes, so these tests do not need the planner's inventory or an IVM.
"""

from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from mobility.choices import MigrationStatus, Role
from mobility.governance import audit
from mobility.governance.approvals import void_approvals
from mobility.lifecycle.writer import transition
from mobility.models import AdapterMapping, Migration, PlanVersion, Team
from mobility.plans import content_hash
from tests.factories import make_partition, make_system


def plan_snapshot(migration, **extra) -> dict:
    return {
        "partition": {"id": migration.partition_id, "name": migration.partition.name},
        "source": {"name": migration.source.name}, "destination": {"name": migration.destination.name},
        "mode": migration.mode,
        "mappings": [{"kind": "scsi", "client_slot": 4, "vios_name": "vios1", "vios_slot": 12}],
        "checks": [{"key": "state", "status": "ok", "message": "The partition is running."},
                   {"key": "rmc", "status": "warning", "message": "RMC was slow to answer."}],
        **extra,
    }


def add_plan(migration, user, **extra) -> PlanVersion:
    """The next plan version, hashed like mobility.plans does."""
    number = migration.plans.count() + 1
    snapshot = plan_snapshot(migration, revision=number, **extra)
    plan = PlanVersion(migration=migration, version=number, snapshot=snapshot,
                       content_hash=content_hash(snapshot), created_by=user)
    plan.save()
    AdapterMapping.objects.create(plan=plan, kind="scsi", client_slot=4, dest_vios_name="vios1", dest_slot=12)
    return plan


def make_request(partition, requester, destination, *, mode="active", status=MigrationStatus.PENDING_APPROVAL,
                 created_at=None, **fields) -> Migration:
    migration = Migration.objects.create(partition=partition, source=partition.system, destination=destination,
                                         mode=mode, status=status, requester=requester,
                                         reason="hardware maintenance", created_at=created_at or timezone.now(),
                                         **fields)
    audit.record("plan.submitted", actor=requester, obj=migration, data={"partition": partition.name})
    add_plan(migration, requester)
    return migration


def revise(migration, user) -> PlanVersion:
    """What mobility.plans.revise_plan does to votes and status, without the planner's inventory."""
    plan = add_plan(migration, user, edited=True)
    void_approvals(migration, f"plan revised to version {plan.version}")
    transition(migration, "revise", actor=user, outcome="")
    migration.refresh_from_db()
    return plan


@pytest.fixture
def olga(personas):
    """An approver of the other team (Analytics)."""
    user = User.objects.create_user("olga", email="olga@example.com", password="pw-olga")
    user.groups.add(Group.objects.get(name=Role.APPROVER))
    Team.objects.get(name="Analytics").members.add(user)
    return user


@pytest.fixture
def estate(personas):
    payments, analytics = Team.objects.get(name="Payments"), Team.objects.get(name="Analytics")
    a, b, c = make_system("Server-A"), make_system("Server-B"), make_system("Server-C")
    return SimpleNamespace(
        payments=payments, analytics=analytics, a=a, b=b, c=c,
        app01=make_partition(a, "app01", 2, team=payments),
        app02=make_partition(a, "app02", 3, team=payments),
        db01=make_partition(b, "db01", 2, team=payments),
        ana01=make_partition(a, "ana01", 4, team=analytics),
    )


@pytest.fixture
def pending(estate, requester):
    """rita's pending request to move app01 from Server-A to Server-B."""
    return make_request(estate.app01, requester, estate.b)


@pytest.fixture
def hours():
    return lambda n: timezone.now() + timedelta(hours=n)
