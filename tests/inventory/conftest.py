"""Fixtures for the inventory tests: a demo-fleet simulator per module and its IVMs registered as consoles."""

import tomllib

import pytest

from tests.simfleet import DEMO_FLEET, SimFleet


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(DEMO_FLEET, time_scale=200.0, seed=1) as sim:
        yield sim


@pytest.fixture(scope="module")
def demo_spec():
    with open(DEMO_FLEET, "rb") as f:
        return tomllib.load(f)


@pytest.fixture
def consoles(db, fleet):
    """Every IVM of the running simulator registered (key pinned from the ready file, password encrypted)."""
    from mobility.inventory.connections import close_all_clients
    from mobility.management.commands.register_fleet import register_entry

    registered = {e["name"]: register_entry(e)[0] for e in fleet.ivms}
    yield registered
    close_all_clients()


def ssh_ok(fleet, ivm: str, command: str) -> str:
    status, out, err = fleet.ssh(ivm, command)
    assert status == 0, (command, out, err)
    return out
