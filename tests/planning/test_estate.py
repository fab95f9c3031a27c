"""The estate dataclasses' own behaviour: JSON round trip, derived values, refusing nonsense."""

import json

import pytest

from mobility.planning import recommend_mappings
from mobility.planning.estate import BackingDevice, is_generated_vtd_name, system_from_dict
from mobility.planning.slots import free_slot_count, free_slots

from .fleet import build_fleet, eth, vios


def test_a_system_survives_a_json_round_trip():
    fleet = build_fleet()
    for system in (fleet.source, *fleet.destinations):
        data = json.loads(json.dumps(system.to_dict()))
        assert system_from_dict(data) == system


def test_a_mapping_plan_serialises_to_json():
    fleet = build_fleet()
    data = recommend_mappings(fleet.partition("lp_web"), fleet.system("dstB")).to_dict()
    assert json.loads(json.dumps(data)) == data
    assert data["rows"][0] == {"kind": "scsi", "client_slot": 3, "vios_name": "", "vios_id": 1, "vios_slot": 11,
                               "fc_port": ""}


def test_it_collects_every_vlan_of_a_partition_sorted():
    partition = build_fleet().partition("lp_web")
    assert partition.vlans == (1, 20, 30)
    assert eth(4, 30, 20, 30).vlans == (20, 30)


def test_it_refuses_an_unknown_backing_device_kind():
    with pytest.raises(ValueError, match="unknown backing device kind"):
        BackingDevice("nfs", "/mnt/x", "vt1")


def test_it_tells_generated_vtd_names_from_user_defined_ones():
    assert is_generated_vtd_name("vtscsi12") and is_generated_vtd_name("vtopt0")
    assert not is_generated_vtd_name("web_rootvg") and not is_generated_vtd_name("vtscsi")


def test_it_counts_free_slots_above_the_reserved_range_and_below_the_maximum():
    mp = vios(max_virtual_slots=20, used_slots=(0, 1, 3, 12, 12, 19, 25))
    assert free_slots(mp) == [11, 13, 14, 15, 16, 17, 18]
    assert free_slot_count(mp) == 7


def test_the_target_name_is_type_model_star_serial():
    assert build_fleet().source.target_name == "8205-E6C*06AAAAA"
