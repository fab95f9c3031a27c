"""The estate loaded from the synced demo fleet drives mobility.planning to the fleet file's verdicts."""

import pytest

from mobility import planning
from mobility.inventory import sync_console
from mobility.inventory.estate import load_estate, load_partition, load_system
from mobility.models import Partition
from tests.inventory.helpers import Capture

# FLEET.md's table: partition (on ivm1 unless said) -> the check it fails, and against which destination.
SERVER1, SERVER2, SERVER3 = "Server-8205-E6C-SN06A1001", "Server-8205-E6C-SN06A2002", "Server-8286-42A-SN21C3003"
EXPECTED = [
    ("bad-physio", SERVER1, None, "physical_io"),
    ("bad-lvdisk", SERVER1, None, "disk_backing"),
    ("bad-reserve", SERVER1, None, "reserve_policy"),
    ("bad-rmc", SERVER1, None, "rmc"),
    ("bad-vlan", SERVER1, SERVER2, "vlans_bridged"),
    ("bad-lun", SERVER1, SERVER2, "lun_visible"),
    ("bad-nameclash", SERVER1, SERVER2, "name_free"),
    ("bad-bigmem", SERVER1, SERVER2, "memory"),
    ("bad-compat", SERVER3, SERVER1, "compat_mode"),
]


@pytest.fixture
def estate(consoles):
    for console in consoles.values():
        assert sync_console(console).ok
    with Capture() as ctx:
        loaded = load_estate()
    return {s.name: s for s in loaded}, len(ctx.captured_queries)


def _errors(estate, name, source, dest):
    src = estate[source]
    assessment = planning.check_partition(src.partition_named(name), src, estate[dest] if dest else None)
    return {c.key for c in assessment.errors}


@pytest.mark.parametrize("name,source,dest,key", EXPECTED)
def test_each_bad_partition_fails_its_check(estate, name, source, dest, key):
    systems, _ = estate
    assert key in _errors(systems, name, source, dest)


def test_good_partitions_pass_and_lmb_mismatch_is_caught(estate):
    systems, _ = estate
    for name in ("app01", "app02", "db01", "web01"):
        assert _errors(systems, name, SERVER1, SERVER2) == set(), name
        assert _errors(systems, name, SERVER1, "Server-8231-E2B-SN10D4004") == {"lmb_size"}
    db01 = systems[SERVER1].partition_named("db01")
    assert db01.fc_adapters and db01.fc_adapters[0].fc_port == "fcs0"
    assert {d.vtd_name for d in db01.backing_devices} >= {"db01_rootvg"}
    assert systems[SERVER1].bridged_vlans == (1, 100, 200, 999)


def test_the_estate_loads_with_a_fixed_number_of_queries(estate):
    _, queries = estate
    assert queries <= 7


def test_one_system_or_partition_loads_as_in_the_whole_estate(estate):
    systems, _ = estate
    part = Partition.objects.get(name="db01")
    assert load_partition(part) == systems[SERVER1].partition_named("db01")
    assert load_system(part.system) == systems[SERVER1]
    assert planning.system_from_dict(systems[SERVER1].to_dict()) == systems[SERVER1]
