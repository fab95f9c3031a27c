"""Fleet file validation: clear errors that name the offending key (no SSH needed)."""

from __future__ import annotations

import tomllib

import pytest

from ivmsim.fleetfile import FleetError, load_fleet, parse_fleet
from tests.simfleet import DEMO_FLEET


def demo_raw() -> dict:
    with open(DEMO_FLEET, "rb") as fh:
        return tomllib.load(fh)


def test_demo_fleet_is_valid_and_big_enough():
    fleet = load_fleet(DEMO_FLEET)
    assert len(fleet.systems) >= 4
    assert sum(len(s.partitions) for s in fleet.systems) >= 20
    names = {p.name for s in fleet.systems for p in s.partitions}
    assert {"bad-physio", "bad-lvdisk", "bad-reserve", "bad-vlan", "bad-lun", "bad-nameclash", "bad-compat",
            "bad-rmc", "bad-bigmem", "app01", "db01", "web01"} <= names


@pytest.mark.parametrize(("mutate", "message"), [
    (lambda r: r["system"][0].__setitem__("memroy_mb", 1), "system[0].memroy_mb: unknown key"),
    (lambda r: r["system"][1].pop("serial"), "system[1].serial: required key is missing"),
    (lambda r: r["system"][0]["lpar"][2].__setitem__("memory_mb", "lots"), "system[0].lpar[2].memory_mb: expected an integer"),
    (lambda r: r["system"][0]["lpar"][0].__setitem__("state", "Sleeping"), "system[0].lpar[0].state: 'Sleeping' is not one of"),
    (lambda r: r["system"][0].__setitem__("mem_region_size", 100), "system[0].mem_region_size:"),
    (lambda r: r["system"][0]["lpar"][0].__setitem__("id", 1), "system[0].lpar[0].id: must be between 2"),
    (lambda r: r["system"][0]["lpar"][0]["scsi"][0].__setitem__("disks", ["hdisk999"]),
     "system[0].lpar[0].scsi[0].disks[0]: 'hdisk999' is neither"),
    (lambda r: r.__setitem__("trust", [["ivm1", "ivm9"]]), "trust[0]:"),
    (lambda r: r["system"][1].__setitem__("ivm", "ivm1"), "system[1].ivm: duplicate value"),
])
def test_errors_name_the_key(mutate, message):
    raw = demo_raw()
    mutate(raw)
    with pytest.raises(FleetError) as exc:
        parse_fleet(raw)
    assert str(exc.value).startswith(message)
