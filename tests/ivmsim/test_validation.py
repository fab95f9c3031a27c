"""migrlpar -o v: each demo problem partition fails with its own message; the good ones validate."""

from __future__ import annotations

import pytest

from ivmsim import reference as ref
from tests.ivmsim.conftest import migrlpar


def code(key: str) -> str:
    return ref.MIGRATION_CODES[key][0]


@pytest.mark.parametrize(("lpar", "source", "dest", "rule"), [
    ("bad-physio", "ivm1", "ivm2", "physical_io"),
    ("bad-lvdisk", "ivm1", "ivm2", "lv_backed"),
    ("bad-reserve", "ivm1", "ivm2", "reserve_policy"),
    ("bad-vlan", "ivm1", "ivm2", "vlan_not_bridged"),
    ("bad-lun", "ivm1", "ivm2", "lun_not_visible"),
    ("bad-nameclash", "ivm1", "ivm2", "name_clash"),
    ("bad-rmc", "ivm1", "ivm2", "rmc_inactive"),
    ("bad-bigmem", "ivm1", "ivm2", "memory"),
    ("bad-bigmem", "ivm1", "ivm3", "memory"),
    ("bad-compat", "ivm3", "ivm1", "compat_mode"),
    ("app01", "ivm1", "ivm4", "lmb_mismatch"),
])
def test_problem_partition_fails_with_its_own_message(demo, lpar, source, dest, rule):
    status, out, err = demo.ssh(source, migrlpar("v", lpar, dest))
    assert status != 0 and out == ""
    lines = err.splitlines()
    assert lines == [line for line in lines if line.startswith(f"[{code(rule)}] ")], err
    assert len(lines) == 1


@pytest.mark.parametrize(("lpar", "source", "dest"), [
    ("app01", "ivm1", "ivm2"), ("app02", "ivm1", "ivm3"), ("db01", "ivm1", "ivm3"), ("web01", "ivm1", "ivm2"),
    ("app11", "ivm2", "ivm1"), ("db11", "ivm2", "ivm3"), ("app21", "ivm3", "ivm2"), ("web21", "ivm3", "ivm1"),
])
def test_good_partitions_validate(demo, lpar, source, dest):
    assert demo.ssh(source, migrlpar("v", lpar, dest)) == (0, "", "")


def test_target_checks(demo):
    status, _, err = demo.ssh("ivm1", "migrlpar -o v -t Server-8205-E6C-SN06A2002 --ip 127.0.1.99 -p app01")
    assert status != 0 and err.startswith(f"[{code('unknown_target_ip')}]")
    status, _, err = demo.ssh("ivm1", "migrlpar -o v -t WrongName --ip 127.0.1.2 -p app01")
    assert status != 0 and err.startswith(f"[{code('target_system_mismatch')}]")
    status, _, err = demo.ssh("ivm1", "migrlpar -o v -t Server-8205-E6C-SN06A2002 --ip 127.0.1.2 -u root -p app01")
    assert status != 0 and err.startswith(f"[{code('bad_remote_user')}]")
    status, _, err = demo.ssh("ivm1", 'migrlpar -o v -t "8205-E6C*06A2002" --ip 127.0.1.2 -p nosuch')
    assert status != 0 and err.startswith(f"[{ref.E_LPAR_NOT_FOUND}]")
    status, _, err = demo.ssh("ivm1", 'migrlpar -o v -t "8205-E6C*06A2002" --ip 127.0.1.2 --id 1')
    assert status != 0 and err.startswith(f"[{code('is_vios')}]")


def test_input_mappings_are_checked(demo):
    good = '-i "\\"virtual_scsi_mappings=3/vios2/1/40\\",dest_lpar_id=30"'
    assert demo.ssh("ivm1", migrlpar("v", "app01", "ivm2", good)) == (0, "", "")
    status, _, err = demo.ssh("ivm1", migrlpar("v", "app01", "ivm2", '-i "virtual_scsi_mappings=9/vios2/1"'))
    assert status != 0 and err.startswith(f"[{code('bad_mapping')}]") and "slot 9" in err
    status, _, err = demo.ssh("ivm1", migrlpar("v", "app01", "ivm2", '-i "dest_lpar_id=3"'))
    assert status != 0 and err.startswith(f"[{code('dest_id_taken')}]")
    status, _, err = demo.ssh("ivm1", migrlpar("v", "app01", "ivm2", '-i "bogus_attr=1"'))
    assert status != 0 and err.startswith(f"[{ref.E_BAD_ATTRIBUTE}]")


def test_lslparmigr_virtualio_suggests_destination_slots(demo):
    status, out, _ = demo.ssh("ivm1", 'lslparmigr -r virtualio -t "8205-E6C*06A2002" --ip 127.0.1.2 -u padmin '
                                      '--filter lpar_names=db01 -F lpar_name,suggested_virtual_scsi_mappings,'
                                      'suggested_virtual_fc_mappings')
    assert status == 0
    name, scsi, fc = out.strip().split(",")
    assert name == "db01" and scsi.startswith("3/vios2/1/") and fc.startswith("4/vios2/1/") and fc.endswith("/fcs0")


def test_key_trust_is_needed(demo):
    # the demo fleet declares trust between all IVMs; mkauthkeys --test says so
    assert demo.ssh("ivm1", "mkauthkeys --test --ip 127.0.1.2 -u padmin")[0] == 0
    key = demo.ssh("ivm1", "mkauthkeys -g")[1].strip()
    assert key.startswith(("ssh-ed25519 ", "ssh-rsa ")) and key.endswith("padmin@ivm1")
    assert demo.ssh("ivm2", f'mkauthkeys -a "{key}"') == (0, "", "")
    status, _, err = demo.ssh("ivm2", 'mkauthkeys -a "not a key"')
    assert status != 0 and err.startswith("[VIOSE")
