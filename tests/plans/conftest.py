"""Fixtures for the planning tests: the demo fleet in ivmsim (one per module), registered, synced and owned.

Ownership follows `register_fleet --demo-teams`: Payments (rita, alex) owns every bad-* partition and the
app/db/web partitions of ivm1 and ivm2; Analytics (omar) owns those of ivm3 and ivm4.

The estate is synced once per module and committed (a sync of four IVMs costs about a second and a half);
each test still runs in its own rolled-back transaction on top of it, and the module removes the rows it
made when it ends. A test that changes the simulator must change it back.
"""

import pytest

from tests.simfleet import DEMO_FLEET, SimFleet


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(DEMO_FLEET, time_scale=200.0, seed=1) as sim:
        yield sim


def load_estate(fleet) -> dict:
    """Register every IVM of the simulator, sync each (in this thread, inside the caller's transaction: the
    worker threads of sync_all cannot see an open test transaction) and give partitions their demo owners."""
    from mobility.inventory import sync_console
    from mobility.management.commands.register_fleet import assign_demo_teams, register_entry

    consoles = {e["name"]: register_entry(e)[0] for e in fleet.ivms}
    results = [sync_console(c) for c in consoles.values()]
    assert all(r.ok for r in results), [r.error for r in results if not r.ok]
    assign_demo_teams()
    return consoles


def drop_estate() -> None:
    from django.contrib.auth.models import User

    from mobility.inventory.connections import close_all_clients
    from mobility.models import IVMConsole, ManagedSystem, Partition, Team

    close_all_clients()
    Partition.objects.all().delete()
    ManagedSystem.objects.all().delete()
    IVMConsole.objects.all().delete()
    User.objects.all().delete()
    Team.objects.all().delete()


@pytest.fixture(scope="module")
def estate(fleet, django_db_setup, django_db_blocker):
    """The synced demo estate and the demo people, committed for the whole module."""
    from mobility.demo import ensure_personas
    from mobility.inventory.connections import close_all_clients

    with django_db_blocker.unblock():
        ensure_personas()
        consoles = load_estate(fleet)
    # No SSH client threads may be alive when a browser module's daphne is forked; tests reopen them on demand.
    close_all_clients()
    yield consoles
    with django_db_blocker.unblock():
        drop_estate()


# The demo people are created once per module with the estate; this replaces the top-level `personas`
# for this folder (the `requester`, `approver`, ... fixtures there pick it up).
@pytest.fixture
def personas(db, estate):
    from django.contrib.auth.models import User

    return {u.username: u for u in User.objects.all()}


def lpar(name: str, ivm: str = "ivm1"):
    """The inventory row of a partition by name on one IVM's server."""
    from mobility.models import Partition

    return Partition.objects.select_related("system__console", "team").get(
        name=name, system__console__name=ivm, vanished_at__isnull=True)


def server(ivm: str):
    from mobility.models import ManagedSystem

    return ManagedSystem.objects.select_related("console").get(console__name=ivm)


def counts() -> dict[str, int]:
    """Row counts that a refused request must leave unchanged."""
    from mobility.models import AdapterMapping, Approval, Migration, PlanVersion

    return {m.__name__: m.objects.count() for m in (Migration, PlanVersion, AdapterMapping, Approval)}
