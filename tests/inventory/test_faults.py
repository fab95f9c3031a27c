"""Sync under failure, against a simulator of its own (these tests change host keys and the estate)."""

import paramiko
import pytest

from mobility.inventory import sync_console
from mobility.inventory.connections import client_for
from mobility.models import IVMConsole, Partition
from tests.inventory.conftest import ssh_ok
from tests.inventory.helpers import inventory_state
from tests.simfleet import DEMO_FLEET, SimFleet


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(DEMO_FLEET, time_scale=200.0, seed=2) as sim:
        yield sim


@pytest.fixture(autouse=True)
def no_faults_left(fleet):
    yield
    for ivm in fleet.ivms:
        for _ in range(50):  # a drop-ssh fault also drops the connection that comes to clear it
            try:
                ssh_ok(fleet, ivm["name"], "ivmsim-fault clear all")
                break
            except paramiko.SSHException:
                continue


def test_changed_host_key_is_refused_and_inventory_untouched(consoles, fleet):
    console = consoles["ivm4"]
    assert sync_console(console).ok
    before, ok_at = inventory_state(), IVMConsole.objects.get(pk=console.pk).last_sync_ok_at
    ssh_ok(fleet, "ivm4", "ivmsim-fault add host-key")
    client_for(console).close()  # the next command opens a new connection and meets the new key
    result = sync_console(console)
    assert not result.ok
    assert inventory_state() == before
    stored = IVMConsole.objects.get(pk=console.pk)
    assert stored.last_sync_ok_at == ok_at and stored.last_sync_at > ok_at
    assert "host key changed" in stored.last_sync_error
    assert console.host_key_fingerprint in stored.last_sync_error  # the pinned one
    new_fingerprints = [f for f in stored.last_sync_error.split() if f.startswith("SHA256:")]
    assert len(set(new_fingerprints)) == 2


def test_wrong_password_is_a_clear_error(consoles):
    console = consoles["ivm2"]
    console.set_password("not-the-password")
    console.save()
    result = sync_console(console)
    assert not result.ok
    assert result.error.startswith("wrong credentials") and "padmin" in result.error
    assert IVMConsole.objects.get(pk=console.pk).last_sync_error == result.error
    assert not Partition.objects.filter(system__console=console).exists()


def test_dropped_connection_mid_sync_is_retried_and_completes(consoles, fleet):
    # Fresh from the database: the pooled client is keyed on the console's current address, key and secrets.
    console = IVMConsole.objects.get(pk=consoles["ivm1"].pk)
    client = client_for(console)
    client.connect()
    connects = client.connects
    ssh_ok(fleet, "ivm1", "ivmsim-fault add drop-ssh after=12")
    result = sync_console(console)
    assert result.ok, result.error
    assert client.connects == connects + 1
    assert any("dropped" in (e.get("note") or "") for e in fleet.command_log("ivm1"))
    # The inventory is complete: a second sync over a healthy link finds nothing to change.
    again = sync_console(console)
    assert again.ok and again.rows_written == 0


def test_connection_that_keeps_dropping_fails_cleanly(consoles, fleet):
    console = consoles["ivm3"]
    assert sync_console(console).ok
    before = inventory_state()
    ssh_ok(fleet, "ivm3", "ivmsim-fault add drop-ssh after=0 count=30")
    result = sync_console(console)
    assert not result.ok and "connection" in result.error
    assert inventory_state() == before
    assert IVMConsole.objects.get(pk=console.pk).last_sync_error == result.error


@pytest.mark.parametrize("prefix", ["lshwres -r virtualio --rsubtype eth", "lssyscfg -r lpar",
                                    "ioscli lsmap -all -field", "ioscli lsdev -dev hdisk21 -attr"])
def test_corrupted_output_line_fails_naming_the_line_and_writes_nothing(consoles, fleet, prefix):
    console = consoles["ivm2"]
    ssh_ok(fleet, "ivm2", f"ivmsim-fault add corrupt-output 'command={prefix}' line=3")
    result = sync_console(console)
    assert not result.ok
    assert prefix in result.error
    assert "corrupt~" in result.error  # the mangled line itself is quoted
    assert "line 3" in result.error
    assert not Partition.objects.filter(system__console=console).exists()  # nothing half-written
    assert sync_console(console).ok  # the fault fired once; the next sync is whole


def test_a_partition_moved_away_is_marked_vanished_and_appears_as_new_on_the_destination(consoles, fleet):
    src, dst = consoles["ivm1"], consoles["ivm2"]
    assert sync_console(src).ok and sync_console(dst).ok
    web01 = Partition.objects.get(name="web01", system__console=src)
    ssh_ok(fleet, "ivm1", "migrlpar -o m -t Server-8205-E6C-SN06A2002 --ip 127.0.1.2 -u padmin -p web01")
    fleet.wait_for("ivm1", "lssyscfg -r lpar -F name", lambda out: "web01" not in out.split())
    fleet.wait_for("ivm2", "lssyscfg -r lpar --filter lpar_names=web01 -F state",
                   lambda out: out.strip() == "Not Activated")
    moved_src, moved_dst = sync_console(src), sync_console(dst)
    assert moved_src.ok and moved_dst.ok, (moved_src.error, moved_dst.error)
    assert moved_src.vanished == 1
    web01.refresh_from_db()
    assert web01.vanished_at is not None
    arrived = Partition.objects.get(name="web01", system__console=dst, vanished_at__isnull=True)
    assert arrived.pk != web01.pk and arrived.adapters.filter(kind="scsi", role="client").exists()


def test_a_reserve_policy_change_is_seen_by_the_next_sync_and_updates_only_that_disk(consoles, fleet):
    from mobility.models import StorageDevice

    console = consoles["ivm1"]
    assert sync_console(console).ok
    ssh_ok(fleet, "ivm1", "chdev -dev hdisk11 -attr reserve_policy=no_reserve")
    try:
        again = sync_console(console)
        assert again.ok and again.updated == 1 and again.rows_written == 1
        assert StorageDevice.objects.get(name="hdisk11", system__console=console).reserve_policy == "no_reserve"
    finally:
        ssh_ok(fleet, "ivm1", "chdev -dev hdisk11 -attr reserve_policy=single_path")
