"""Fixtures for the inventory UI tests: a small simulated fleet over real SSH, and a synced estate.

The simulator is a subprocess of its own (module scope), so it also serves the forked daphne server of
the browser tests.
"""

from pathlib import Path

import pytest

from tests.simfleet import SimFleet

FLEET = Path(__file__).parent / "fleets" / "teams.toml"
OWNERS = {"pay01": "Payments", "pay02": "Payments", "pay11": "Payments", "ana01": "Analytics"}


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(FLEET, time_scale=50.0, seed=1) as running:
        yield running


def register(entry: dict, *, pin: bool = True):
    """An IVMConsole for a ready-file entry, its password encrypted and (optionally) its key pinned."""
    from mobility.ivm import HostKey
    from mobility.models import IVMConsole

    console = IVMConsole(name=entry["name"], host=entry["host"], port=entry["port"], username=entry["user"])
    console.set_password(entry["password"])
    if pin:
        key = HostKey.parse(entry["host_key"])
        console.host_key, console.host_key_fingerprint = key.openssh, key.fingerprint
    console.save()
    return console


@pytest.fixture
def estate(fleet, personas):
    """Every IVM of the fleet registered and synced through the real sync, owners assigned by name."""
    from mobility.inventory import sync_console
    from mobility.inventory.connections import discard_client
    from mobility.models import Partition, Team

    consoles = [register(entry) for entry in fleet.ivms]
    for console in consoles:
        result = sync_console(console)
        assert result.ok, result.error
    for name, team in OWNERS.items():
        Partition.objects.filter(name=name).update(team=Team.objects.get(name=team))
    yield consoles
    for console in consoles:
        discard_client(console)


@pytest.fixture(autouse=True)
def fresh_client_pool():
    """Every test starts without pooled SSH clients (their consoles' rows are gone after a rollback)."""
    from mobility.inventory.connections import close_all_clients

    close_all_clients()
    yield
    close_all_clients()
