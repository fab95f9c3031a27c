"""Recommended adapter mappings (process step 4) and the conflicts found in edited ones."""

from dataclasses import replace

import pytest

from mobility.planning import (
    AdapterMapping,
    MappingSyntaxError,
    check_mappings,
    edit_plan,
    parse_mapping,
    recommend_mappings,
)
from mobility.planning.estate import FcPort
from mobility.planning.slots import RESERVED_SLOT_LIMIT

from .fleet import build_fleet, eth, fc, hdisk_backing, scsi, uid, vios


@pytest.fixture
def fleet():
    return build_fleet()


@pytest.fixture
def web(fleet):
    return fleet.partition("lp_web")


def codes(problems, row=None, kind=None):
    return sorted(p.code for p in problems if (row is None or p.row == row) and (kind is None or p.kind == kind))


# --- recommendation ------------------------------------------------------------------------------------------


def test_it_keeps_the_source_server_slots_when_they_are_free(fleet, web):
    plan = recommend_mappings(web, fleet.system("dstC"))
    assert plan.strings == {"virtual_scsi_mappings": "3//1/23,5//1/25",
                            "virtual_fc_mappings": "6//1/26/fcs0,7//1/27/fcs1"}
    assert plan.valid
    assert "keeps server slot 23 as on the source" in [n.text for n in plan.notes]


def test_it_moves_to_the_lowest_free_slot_when_the_source_slot_is_taken(fleet, web):
    plan = recommend_mappings(web, fleet.system("dstB"))  # dstB uses slots 23-25
    assert [(m.client_slot, m.vios_slot) for m in plan.rows] == [(3, 11), (5, 12), (6, 26), (7, 27)]
    note = next(n for n in plan.notes if n.client_slot == 3)
    assert "virtual slot 23 on vios_dstB is already in use" in note.text and "uses slot 11" in note.text
    assert plan.valid


def test_it_recommends_only_free_assignable_slots(fleet, web):
    used = (0, 1, 11, 12, 13, 26)
    dest = replace(fleet.system("dstB"), management_partition=vios("vios_dstB", max_virtual_slots=20,
                                                                   used_slots=used))
    plan = recommend_mappings(web, dest)
    slots = [m.vios_slot for m in plan.rows]
    assert all(s is not None and RESERVED_SLOT_LIMIT < s < 20 and s not in used for s in slots)
    assert len(set(slots)) == len(slots)
    assert slots == [14, 15, 16, 17]
    assert plan.valid


def test_it_never_uses_a_reserved_low_slot_even_if_the_source_did(fleet, web):
    low = replace(web, scsi_adapters=(scsi(3, 5, hdisk_backing("hdisk2", uid("lp_web", 0))),), fc_adapters=())
    dest = replace(fleet.system("dstB"), management_partition=vios("vios_dstB", used_slots=(0, 1)))
    plan = recommend_mappings(low, dest)
    assert plan.rows[0].vios_slot == RESERVED_SLOT_LIMIT + 1
    assert "IVM keeps for itself" in plan.notes[0].text


def test_it_reports_rows_it_cannot_place_when_slots_run_out(fleet, web):
    dest = replace(fleet.system("dstB"), management_partition=vios("vios_dstB", max_virtual_slots=13))
    plan = recommend_mappings(web, dest)
    assert [m.vios_slot for m in plan.rows] == [11, 12, None, None]
    assert codes(plan.problems) == ["no_free_slot", "no_free_slot"]
    assert sum("no free server slot" in n.text for n in plan.notes) == 2


def test_it_addresses_the_vios_by_id_only(fleet, web):
    plan = recommend_mappings(web, fleet.system("dstB"))
    assert all(m.vios_id == 1 and m.vios_name == "" for m in plan.rows)


def test_it_keeps_user_defined_vtd_names_and_lets_ivm_regenerate_vtscsi_names(fleet, web):
    plan = recommend_mappings(web, fleet.system("dstB"))
    by_source = {v.source_name: v for v in plan.vtds}
    assert by_source["web_rootvg"].dest_name == "web_rootvg"
    assert by_source["vtscsi3"].dest_name == "" and "generated" in by_source["vtscsi3"].note


def test_it_flags_a_user_defined_vtd_name_the_destination_already_uses(fleet, web):
    dest = replace(fleet.system("dstB"), management_partition=vios("vios_dstB", vtd_names=("web_rootvg",)))
    vtd = next(v for v in recommend_mappings(web, dest).vtds if v.source_name == "web_rootvg")
    assert vtd.dest_name == "" and "already exists on vios_dstB" in vtd.note


def test_it_keeps_the_fc_port_name_and_falls_back_to_the_roomiest_npiv_port(fleet, web):
    dest = replace(fleet.system("dstB"), fc_ports=(FcPort("fcs0", True, 5), FcPort("fcs2", True, 9),
                                                   FcPort("fcs3", False, 64)))
    plan = recommend_mappings(web, dest)
    assert [m.fc_port for m in plan.rows if m.kind == "fc"] == ["fcs0", "fcs2"]
    assert any("uses fcs2 instead of fcs1" in n.text for n in plan.notes)
    assert plan.valid


def test_it_spreads_fc_adapters_when_a_port_fills_up(fleet, web):
    both_on_fcs0 = replace(web, fc_adapters=(fc(6, 26, "fcs0"), fc(7, 27, "fcs0")))
    dest = replace(fleet.system("dstB"), fc_ports=(FcPort("fcs0", True, 1), FcPort("fcs1", True, 1)))
    plan = recommend_mappings(both_on_fcs0, dest)
    assert [m.fc_port for m in plan.rows if m.kind == "fc"] == ["fcs0", "fcs1"]
    assert plan.valid


def test_it_shows_vlans_per_ethernet_adapter_and_whether_they_are_bridged(fleet):
    p = replace(fleet.partition("lp_web"), ethernet_adapters=(eth(2, 1), eth(4, 20, 999)))
    plan = recommend_mappings(p, fleet.system("dstB"))
    assert [(e.client_slot, e.vlans, e.unbridged, e.bridged) for e in plan.ethernet] == [
        (2, (1,), (), True), (4, (20, 999), (999,), False)]
    assert [(p.kind, p.row, p.code) for p in plan.problems] == [("eth", 1, "vlan_not_bridged")]
    assert "VLAN 999" in plan.problems[0].message


def test_its_migrlpar_input_quotes_lists_with_commas(fleet, web):
    plan = recommend_mappings(web, fleet.system("dstC"))
    assert plan.migrlpar_input == ('"virtual_scsi_mappings=3//1/23,5//1/25",'
                                   '"virtual_fc_mappings=6//1/26/fcs0,7//1/27/fcs1"')
    single = replace(web, scsi_adapters=web.scsi_adapters[:1], fc_adapters=())
    assert recommend_mappings(single, fleet.system("dstC")).migrlpar_input == "virtual_scsi_mappings=3//1/23"


# --- conflicts in edited rows --------------------------------------------------------------------------------


def edited(fleet, web, index, text, dest="dstC"):
    destination = fleet.system(dest)
    return edit_plan(recommend_mappings(web, destination), web, destination, index, text)


def test_it_detects_a_slot_taken_on_the_destination(fleet, web):
    plan = edited(fleet, web, 0, "3//1/15")  # dstC uses 0-20
    assert codes(plan.problems) == ["slot_taken"]
    assert plan.problems[0].message == ("Virtual slot 15 on vios_dstC is already in use: choose another server slot "
                                        "for the virtual SCSI adapter in client slot 3.")
    assert plan.problems[0].mapping == "3//1/15"  # the migrlpar -i text, a detail


def test_it_detects_a_slot_beyond_max_virtual_slots(fleet, web):
    plan = edited(fleet, web, 1, "5//1/64")  # dstC max_virtual_slots=64 → 0..63
    assert codes(plan.problems, row=1) == ["slot_out_of_range"]
    assert "it has 64 virtual slots (max_virtual_slots), so a server adapter may use 11–63" in plan.problems[0].message


def test_it_detects_a_reserved_low_slot(fleet, web):
    plan = edited(fleet, web, 0, "3//1/4", dest="dstB")
    assert codes(plan.problems) == ["slot_out_of_range"]


def test_it_detects_the_same_slot_twice_on_both_rows(fleet, web):
    plan = edited(fleet, web, 0, "3//1/26")  # row 2 (fc 6) already has 26
    assert [(p.row, p.code) for p in plan.problems] == [(0, "duplicate_slot"), (2, "duplicate_slot")]


def test_it_detects_an_unknown_client_slot_and_names_the_other_kind(fleet, web):
    plan = edited(fleet, web, 0, "9//1/40")
    assert codes(plan.problems) == ["unknown_client_slot"]
    plan = edited(fleet, web, 0, "6//1/40")  # slot 6 is a vFC adapter, not vSCSI
    unknown = [p for p in plan.problems if p.code == "unknown_client_slot"]
    assert unknown and "is its virtual Fibre Channel adapter" in unknown[0].message


def test_it_detects_a_client_slot_mapped_twice(fleet, web):
    plan = edited(fleet, web, 1, "3//1/40")
    assert codes(plan.problems) == ["duplicate_client_slot", "duplicate_client_slot"]


def test_it_detects_an_unknown_fc_port(fleet, web):
    plan = edited(fleet, web, 2, "6//1/26/fcs9")
    assert codes(plan.problems) == ["fc_port_unknown"]
    assert "has no Fibre Channel port fcs9 (it has: fcs0, fcs1)" in plan.problems[0].message


def test_it_detects_a_port_without_npiv_and_a_full_port(fleet, web):
    dest = replace(fleet.system("dstC"), fc_ports=(FcPort("fcs0", True, 1), FcPort("fcs1", False, 8)))
    rows = recommend_mappings(web, fleet.system("dstC")).rows
    assert codes(check_mappings(web, dest, rows)) == ["fc_port_not_npiv"]
    both_fcs0 = (*rows[:3], parse_mapping("7//1/27/fcs0", "fc"))
    problems = check_mappings(web, dest, both_fcs0)
    assert [(p.row, p.code) for p in problems] == [(3, "fc_port_full")]


def test_it_detects_a_vios_that_is_not_the_destination_management_partition(fleet, web):
    assert codes(edited(fleet, web, 0, "3/vios_dstB//40").problems) == ["unknown_vios"]
    assert codes(edited(fleet, web, 0, "3//2/40").problems) == ["unknown_vios"]
    assert edited(fleet, web, 0, "3/vios_dstC//40").valid  # the name form is accepted too


def test_editing_one_row_rechecks_every_row(fleet, web):
    destination = fleet.system("dstC")
    plan = recommend_mappings(web, destination)
    clash = edit_plan(plan, web, destination, 0, "3//1/25")  # row 1 has 25
    assert {p.row for p in clash.problems} == {0, 1}
    fixed = edit_plan(clash, web, destination, 1, "5//1/41")  # editing the *other* row clears both
    assert fixed.valid
    assert fixed.strings["virtual_scsi_mappings"] == "3//1/25,5//1/41"


def test_a_row_that_does_not_parse_changes_nothing(fleet, web):
    destination = fleet.system("dstC")
    plan = recommend_mappings(web, destination)
    with pytest.raises(MappingSyntaxError, match="name or its ID, not both"):
        edit_plan(plan, web, destination, 0, "3/vios_dstC/1/40")
    assert plan.valid and plan.rows[0].vios_slot == 23


def test_a_row_without_slot_lets_ivm_choose(fleet, web):
    plan = edited(fleet, web, 0, "3//1")
    assert plan.valid and plan.rows[0] == AdapterMapping("scsi", 3, "", 1, None, "")
