"""Requirement checks (ivm-cli.md §2), one behaviour per rule, on the fleet of fleet.py."""

import json
from dataclasses import replace

import pytest

from mobility.planning import Mode, Status, check_partition, mode_for_state
from mobility.planning.estate import BackingDevice, FcPort, Hdisk

from .fleet import build_fleet, fc, partition, scsi, vios


@pytest.fixture
def fleet():
    return build_fleet()


def errors_against(fleet, name, destination=None, mode=None):
    dest = fleet.system(destination) if destination else None
    return check_partition(fleet.partition(name), fleet.source, dest, mode)


def error_keys(assessment):
    return [c.key for c in assessment.errors]


# --- the good ones -------------------------------------------------------------------------------------------


def test_it_passes_a_good_running_partition_as_an_active_move(fleet):
    assessment = errors_against(fleet, "lp_web", "dstB")
    assert assessment.mode is Mode.ACTIVE
    assert assessment.movable, [c.message for c in assessment.errors]
    assert {c.key for c in assessment.checks} >= {
        "state", "not_vios", "physical_io", "migration_state", "rmc", "dlpar", "vopt", "disk_backing",
        "reserve_policy", "capability", "migration_limit", "dest_capability", "dest_migration_limit", "name_free",
        "compat_mode", "memory", "processors", "lmb_size", "vlans_bridged", "lun_visible", "dest_reserve_policy",
        "npiv_ports", "virtual_slots",
    }


def test_it_passes_a_good_shut_down_partition_as_an_inactive_move_without_rmc_or_dlpar(fleet):
    assessment = errors_against(fleet, "lp_batch", "dstB")
    assert assessment.mode is Mode.INACTIVE
    assert assessment.movable
    keys = {c.key for c in assessment.checks}
    assert "rmc" not in keys and "dlpar" not in keys


def test_it_gives_every_check_a_unique_key(fleet):
    keys = [c.key for c in errors_against(fleet, "lp_web", "dstB").checks]
    assert len(keys) == len(set(keys))


# --- state and partition rules -------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "mode"), [("Running", Mode.ACTIVE), ("Not Activated", Mode.INACTIVE),
                                             ("Open Firmware", None), ("Migrating - Running", None)])
def test_it_derives_the_mode_from_the_state(state, mode):
    assert mode_for_state(state) is mode


def test_it_blocks_a_partition_in_open_firmware_with_the_reason(fleet):
    assessment = errors_against(fleet, "lp_openfw", "dstB")
    state = assessment.by_key("state")
    assert state.status is Status.ERROR
    assert "'Open Firmware'" in state.message and "lp_openfw" in state.message
    assert assessment.mode is None
    assert assessment.by_key("rmc") is None and assessment.by_key("dest_migration_limit") is None


def test_it_warns_when_planning_an_inactive_move_of_a_running_partition(fleet):
    assessment = errors_against(fleet, "lp_web", "dstB", mode=Mode.INACTIVE)
    assert assessment.by_key("state").status is Status.WARNING
    assert "osshutdown" in assessment.by_key("state").remedy
    assert assessment.movable


def test_it_refuses_an_active_move_of_a_shut_down_partition(fleet):
    assert "state" in error_keys(errors_against(fleet, "lp_batch", mode=Mode.ACTIVE))


def test_it_blocks_the_management_partition_itself(fleet):
    vio = partition("vios_srcA", 1, env="vioserver")
    check = check_partition(vio, fleet.source).by_key("not_vios")
    assert check.status is Status.ERROR and "Virtual I/O Server" in check.message


def test_it_blocks_partition_with_physical_io(fleet):
    check = errors_against(fleet, "lp_physio").by_key("physical_io")
    assert check.status is Status.ERROR
    assert "U78AA.001.WZSGV7N-P1-C7" in check.message
    assert check.facts == {"physical_io_slots": ["U78AA.001.WZSGV7N-P1-C7"]}


def test_it_blocks_a_partition_that_is_still_migrating(fleet):
    check = errors_against(fleet, "lp_stuck").by_key("migration_state")
    assert check.status is Status.ERROR and "Migration Failed" in check.message
    assert "migrlpar -o r -p lp_stuck" in check.remedy


def test_it_blocks_an_active_move_when_rmc_is_inactive(fleet):
    check = errors_against(fleet, "lp_normc", "dstB").by_key("rmc")
    assert check.status is Status.ERROR and "'inactive'" in check.message
    assert check.facts == {"rmc_state": "inactive"}


def test_it_blocks_an_active_move_without_dlpar_for_processors(fleet):
    check = errors_against(fleet, "lp_nodlpar").by_key("dlpar")
    assert check.status is Status.ERROR and "processor" in check.message and "memory" not in check.message


def test_it_blocks_loaded_virtual_optical_media_and_says_how_to_unload_it(fleet):
    check = errors_against(fleet, "lp_vopt").by_key("vopt")
    assert check.status is Status.ERROR and "aix71.iso" in check.message
    assert "unloadopt -vtd vtopt0" in check.remedy


def test_it_only_warns_about_an_empty_virtual_optical_device(fleet):
    empty = replace(fleet.partition("lp_vopt"), scsi_adapters=(scsi(3, 42, BackingDevice("vopt", "", "vtopt0")),))
    check = check_partition(empty, fleet.source).by_key("vopt")
    assert check.status is Status.WARNING and "rmvdev -vtd vtopt0" in check.remedy


def test_it_blocks_a_disk_backed_by_a_logical_volume(fleet):
    check = errors_against(fleet, "lp_lv").by_key("disk_backing")
    assert check.status is Status.ERROR
    assert "lp_lv_rootvg (logical volume lv_lp_lv)" in check.message


def test_it_blocks_a_disk_whose_reserve_policy_is_not_no_reserve_and_gives_the_chdev_command(fleet):
    check = errors_against(fleet, "lp_reserve").by_key("reserve_policy")
    assert check.status is Status.ERROR
    assert "hdisk15 (reserve_policy=single_path)" in check.message
    assert "chdev -dev hdisk15 -attr reserve_policy=no_reserve" in check.remedy
    assert check.facts["source_disks"] == [{"hdisk": "hdisk15", "reserve_policy": "single_path"}]


def test_it_blocks_when_the_source_lacks_the_mobility_capability(fleet):
    source = replace(fleet.source, capabilities=("inactive_lpar_mobility_capable",))
    assessment = check_partition(fleet.partition("lp_web"), source)
    assert "capability" in error_keys(assessment)
    assert "active_lpar_mobility_capable" in assessment.by_key("capability").message


def test_it_blocks_when_the_source_runs_its_maximum_of_migrations(fleet):
    source = replace(fleet.source, inactive_migrations_in_progress=64)
    assert "migration_limit" in error_keys(check_partition(fleet.partition("lp_batch"), source))
    assert "migration_limit" not in error_keys(check_partition(fleet.partition("lp_web"), source))


# --- destination rules ---------------------------------------------------------------------------------------


def test_it_blocks_a_destination_that_already_has_the_name(fleet):
    check = errors_against(fleet, "lp_clash", "dstB").by_key("name_free")
    assert check.status is Status.ERROR and "lp_clash" in check.message and "ID 5" in check.message
    assert errors_against(fleet, "lp_clash", "dstC").movable


def test_it_blocks_a_compatibility_mode_the_destination_does_not_support(fleet):
    check = errors_against(fleet, "lp_p8", "dstB").by_key("compat_mode")
    assert check.status is Status.ERROR and "POWER8" in check.message
    assert check.facts["dest_compat_modes"] == ["default", "POWER6", "POWER6+", "POWER7"]


def test_it_blocks_when_no_destination_has_enough_memory(fleet):
    for dest in fleet.destinations:
        check = errors_against(fleet, "lp_huge", dest.name).by_key("memory")
        assert check.status is Status.ERROR
        assert check.facts["needed_mb"] == 524288 and check.facts["after_mb"] < 0
        assert "512.0 GB" in check.message


def test_it_blocks_when_the_destination_lacks_processing_units(fleet):
    check = errors_against(fleet, "lp_cpu", "dstB").by_key("processors")
    assert check.status is Status.ERROR and "24.00" in check.message and "20.00" in check.message
    assert errors_against(fleet, "lp_cpu", "dstD").by_key("processors").status is Status.OK


def test_it_compares_processing_units_at_their_granularity(fleet):
    p = replace(fleet.partition("lp_web"), proc_units=0.3)
    dest = replace(fleet.system("dstB"), proc_units_available=0.1 + 0.2)  # 0.30000000000000004
    assert check_partition(p, fleet.source, dest).by_key("processors").status is Status.OK


def test_it_blocks_a_destination_with_a_different_lmb_size_only(fleet):
    check = errors_against(fleet, "lp_web", "dstD").by_key("lmb_size")
    assert check.status is Status.ERROR and "256 MB" in check.message and "128 MB" in check.message
    assert error_keys(errors_against(fleet, "lp_web", "dstD")) == ["lmb_size"]


def test_it_blocks_a_vlan_that_no_destination_bridges(fleet):
    for dest in fleet.destinations:
        check = errors_against(fleet, "lp_vlan", dest.name).by_key("vlans_bridged")
        assert check.status is Status.ERROR and "VLAN 999 (adapter in slot 2)" in check.message


def test_it_says_when_the_destination_has_no_shared_ethernet_adapter(fleet):
    dest = replace(fleet.system("dstB"), bridged_vlans=())
    check = check_partition(fleet.partition("lp_web"), fleet.source, dest).by_key("vlans_bridged")
    assert check.status is Status.ERROR and "no Shared Ethernet Adapter" in check.message


def test_it_blocks_a_lun_the_destination_does_not_see(fleet):
    check = errors_against(fleet, "lp_lun", "dstB").by_key("lun_visible")
    assert check.status is Status.ERROR and "hdisk17" in check.message
    assert check.facts["disks"][0]["dest_hdisk"] is None


def test_it_matches_luns_by_unique_id_not_by_hdisk_name(fleet):
    check = errors_against(fleet, "lp_web", "dstB").by_key("lun_visible")
    assert check.status is Status.OK
    assert all(d["dest_hdisk"].startswith("hdisk1") and d["dest_hdisk"] != d["hdisk"] for d in check.facts["disks"])


def test_it_blocks_a_destination_disk_without_no_reserve_and_names_the_destination_hdisk(fleet):
    web = fleet.partition("lp_web")
    target_uid = web.scsi_adapters[0].backing_devices[0].unique_id
    dest = fleet.system("dstB")
    dest = replace(dest, hdisks=tuple(Hdisk(h.name, h.unique_id, "single_path") if h.unique_id == target_uid else h
                                      for h in dest.hdisks))
    check = check_partition(web, fleet.source, dest).by_key("dest_reserve_policy")
    dest_name = next(h.name for h in dest.hdisks if h.unique_id == target_uid)
    assert check.status is Status.ERROR
    assert f"chdev -dev {dest_name} -attr reserve_policy=no_reserve" in check.remedy
    assert "same LUN as hdisk2" in check.message


def test_it_blocks_npiv_adapters_when_the_destination_has_too_few_free_ports(fleet):
    dest = replace(fleet.system("dstB"), fc_ports=(FcPort("fcs0", True, 1), FcPort("fcs1", False, 64)))
    check = check_partition(fleet.partition("lp_web"), fleet.source, dest).by_key("npiv_ports")
    assert check.status is Status.ERROR and "needs 2 NPIV ports" in check.message and "1 free" in check.message


def test_it_blocks_npiv_adapters_on_a_destination_without_virtual_fc(fleet):
    dest = replace(fleet.system("dstB"), capabilities=("active_lpar_mobility_capable",))
    keys = error_keys(check_partition(fleet.partition("lp_web"), fleet.source, dest))
    assert "npiv_ports" in keys


def test_it_reminds_that_the_inactive_wwpn_must_be_zoned(fleet):
    web = fleet.partition("lp_web")
    check = errors_against(fleet, "lp_web", "dstB").by_key("npiv_ports")
    assert check.status is Status.OK and web.fc_adapters[0].wwpns[1] in check.message


def test_it_blocks_when_the_destination_vios_has_too_few_free_slots(fleet):
    dest = replace(fleet.system("dstB"), management_partition=vios("vios_dstB", max_virtual_slots=14))
    check = check_partition(fleet.partition("lp_web"), fleet.source, dest).by_key("virtual_slots")
    # slots 11, 12, 13 are the only assignable ones; lp_web needs 4 (2 vSCSI + 2 vFC)
    assert check.status is Status.ERROR and check.facts["free"] == 3 and check.facts["needed"] == 4


def test_it_blocks_a_destination_at_its_active_migration_limit_but_not_for_inactive_moves(fleet):
    assert error_keys(errors_against(fleet, "lp_web", "dstE")) == ["dest_migration_limit"]
    assert errors_against(fleet, "lp_batch", "dstE").movable


def test_it_blocks_a_destination_without_mobility_capability(fleet):
    dest = replace(fleet.system("dstB"), capabilities=("active_lpar_mobility_capable", "virtual_fc_capable"))
    assert "dest_capability" in error_keys(check_partition(fleet.partition("lp_batch"), fleet.source, dest))


def test_it_refuses_the_source_as_destination(fleet):
    assert "dest_is_source" in error_keys(check_partition(fleet.partition("lp_web"), fleet.source, fleet.source))


def test_it_gives_one_error_per_broken_rule_for_each_problem_partition(fleet):
    expected = {
        "lp_physio": ["physical_io"], "lp_lv": ["disk_backing"], "lp_reserve": ["reserve_policy"],
        "lp_vlan": ["vlans_bridged"], "lp_lun": ["lun_visible"], "lp_clash": ["name_free"],
        "lp_p8": ["compat_mode"], "lp_normc": ["rmc"], "lp_huge": ["memory"], "lp_vopt": ["vopt"],
        "lp_openfw": ["state"], "lp_stuck": ["migration_state"], "lp_nodlpar": ["dlpar"],
        "lp_cpu": ["processors"], "lp_web": [], "lp_batch": [],
    }
    for name, keys in expected.items():
        assert error_keys(errors_against(fleet, name, "dstB")) == keys, name


def test_it_serialises_an_assessment_to_json_with_the_facts(fleet):
    data = errors_against(fleet, "lp_reserve", "dstB").to_dict()
    text = json.dumps(data)
    assert data["mode"] == "active"
    policy = next(c for c in data["checks"] if c["key"] == "reserve_policy")
    assert policy["status"] == "error" and policy["facts"]["source_disks"][0]["hdisk"] == "hdisk15"
    assert json.loads(text) == data


def test_fc_builder_gives_two_distinct_wwpns():
    adapter = fc(6, 26)
    assert adapter.wwpns[0] != adapter.wwpns[1]
