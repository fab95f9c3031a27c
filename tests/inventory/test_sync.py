"""Inventory sync against the demo fleet over real SSH: the result matches the fleet file, re-syncs write
nothing, a change writes only itself, and the command trail is audited."""

import hashlib
import re
from decimal import Decimal

import pytest

from mobility import inventory
from mobility.governance.audit import verify_chain
from mobility.inventory import forget_digests, sync_console
from mobility.models import (
    AuditEvent,
    FCPort,
    IOSlot,
    ManagedSystem,
    Partition,
    SharedEthernetAdapter,
    StorageDevice,
    VirtualAdapter,
)
from tests.inventory.conftest import ssh_ok
from tests.inventory.helpers import INVENTORY_TABLES, Capture, inventory_writes, writes


def _disk_name(d) -> str:
    return d if isinstance(d, str) else d["device"]


def _vtd_name(d) -> str | None:
    return None if isinstance(d, str) else d.get("vtd")


def test_full_sync_matches_the_fleet_file(consoles, demo_spec):
    for console in consoles.values():
        result = sync_console(console)
        assert result.ok, result.error
        assert result.created == result.rows_written > 0
    assert ManagedSystem.objects.count() == len(demo_spec["system"])
    for spec in demo_spec["system"]:
        system = ManagedSystem.objects.get(name=spec["name"])
        assert system.console.name == spec["ivm"]
        assert (system.type_model, system.serial) == (spec["type_model"], spec["serial"])
        assert system.memory_configurable_mb == spec["memory_mb"]
        assert system.mem_region_size_mb == spec["mem_region_size"]
        assert system.proc_units_configurable == Decimal(str(spec["proc_units"]))
        assert system.compat_modes == spec["compat_modes"]
        assert "active_lpar_mobility_capable" in system.capabilities
        assert system.active_migrations_supported == spec.get("max_active_migrations", 8)
        assert system.console.last_sync_error == "" and system.console.last_sync_ok_at is not None

        vios_spec = spec["vios"]
        parts = {p.name: p for p in Partition.objects.filter(system=system)}
        assert set(parts) == {vios_spec["name"]} | {lp["name"] for lp in spec["lpar"]}
        vios = parts[vios_spec["name"]]
        assert (vios.lpar_id, vios.env) == (1, "vioserver")
        assert vios.max_virtual_slots == vios_spec["max_virtual_slots"]

        # The management partition's devices.
        hdisks = {d.name: d for d in StorageDevice.objects.filter(system=system, kind="hdisk")}
        assert set(hdisks) == {h["name"] for h in vios_spec["hdisk"]}
        for h in vios_spec["hdisk"]:
            assert (hdisks[h["name"]].unique_id, hdisks[h["name"]].reserve_policy) == (
                h["unique_id"], h.get("reserve_policy", "no_reserve"))
        seas = {s.name: s for s in SharedEthernetAdapter.objects.filter(system=system)}
        assert {n: (s.pvid, s.vlans) for n, s in seas.items()} == {
            s["name"]: (s["pvid"], sorted(s["vlans"])) for s in vios_spec["sea"]}
        # lsnports: NPIV as the fleet declares it; one virtual port taken per client vFC adapter bound there.
        bound = [fc["port"] for lp in spec["lpar"] for fc in lp.get("fc", [])]
        assert {f.name: (f.npiv_capable, f.available_ports) for f in FCPort.objects.filter(system=system)} == {
            f["name"]: (f.get("npiv", True), 64 - bound.count(f["name"])) for f in vios_spec["fc_port"]}

        for lp in spec["lpar"]:
            p = parts[lp["name"]]
            assert p.lpar_id == lp["id"]
            assert p.state == lp.get("state", "Not Activated")
            # Not Activated partitions show curr_mem 0 on IVM: the configured (pend) amount is stored.
            assert p.memory_mb == lp["memory_mb"], p.name
            assert p.proc_units == Decimal(str(lp["proc_units"])), p.name
            assert p.desired_compat_mode == lp.get("compat_mode", "default")
            adapters = {(a.kind, a.slot): a for a in p.adapters.all()}
            eth = {s for k, s in adapters if k == "eth"}
            assert eth == {e["slot"] for e in lp.get("eth", [])}
            for e in lp.get("eth", []):
                a = adapters[("eth", e["slot"])]
                assert (a.port_vlan_id, a.addl_vlan_ids) == (e["vlan"], e.get("addl_vlans", []))
            for s in lp.get("scsi", []):
                a = adapters[("scsi", s["slot"])]
                assert a.role == "client" and a.remote_lpar_id == 1
                # Client <-> server pairing: the server adapter on the VIOS points back at this slot.
                server = VirtualAdapter.objects.get(partition=vios, slot=a.remote_slot)
                assert (server.kind, server.role, server.remote_lpar_id, server.remote_slot) == (
                    "scsi", "server", p.lpar_id, s["slot"])
                assert re.fullmatch(r"vhost\d+", server.device_name)
                backed = {d.name: d for d in StorageDevice.objects.filter(server_adapter=server)}
                assert set(backed) == {_disk_name(d) for d in s["disks"]}
                for d in s["disks"]:
                    assert backed[_disk_name(d)].client_partition_id == p.pk
                    if _vtd_name(d):
                        assert backed[_disk_name(d)].vtd_name == _vtd_name(d)
            for f in lp.get("fc", []):
                a = adapters[("fc", f["slot"])]
                assert a.role == "client" and a.fc_port == f["port"] and len(a.wwpns) == 2
            assert sorted(p.io_slots.values_list("drc_name", flat=True)) == sorted(
                s["drc_name"] for s in lp.get("io_slot", []))
    lv = StorageDevice.objects.get(name="lv_badlv")
    assert lv.kind == "lv" and lv.client_partition.name == "bad-lvdisk"
    assert IOSlot.objects.get(partition__isnull=False).partition.name == "bad-physio"
    assert IOSlot.objects.filter(partition__isnull=True).count() == 8  # the free slots lshwres -r io lists too


def test_resync_without_change_writes_nothing(consoles):
    for console in consoles.values():
        assert sync_console(console).ok
    events_before = AuditEvent.objects.filter(action="ivm.command").count()
    commands_run = 0
    for console in consoles.values():
        with Capture() as ctx:
            result = sync_console(console)
        assert result.ok, result.error
        assert (result.rows_written, result.created, result.updated, result.deleted, result.vanished) == (0,) * 5
        assert result.unchanged > 0
        assert inventory_writes(ctx.captured_queries) == []
        # Outside the inventory: the console's status (one UPDATE) and the command trail (one COPY).
        other = writes(ctx.captured_queries)
        assert len(other) == 2, other
        assert any('UPDATE "mobility_ivmconsole"' in sql for sql in other)
        commands_run += result.commands
    # Every command of the re-sync is on the audit trail, and the chain still verifies.
    assert AuditEvent.objects.filter(action="ivm.command").count() - events_before == commands_run
    assert verify_chain().ok


def _rows_read(queries) -> list[str]:
    """SELECTs of the rows a sync compares (the managed system is always looked up)."""
    tables = [t for t in INVENTORY_TABLES if t != ManagedSystem._meta.db_table]
    return [q["sql"] for q in queries if q["sql"].startswith("SELECT") and any(f'"{t}"' in q["sql"] for t in tables)]


def test_an_ivm_that_prints_what_it_printed_last_time_is_not_even_compared(consoles, monkeypatch):
    console = consoles["ivm1"]
    assert sync_console(console).ok
    with Capture() as ctx:
        same = sync_console(console)
    assert same.ok and same.rows_written == 0 and same.unchanged > 0
    assert _rows_read(ctx.captured_queries) == []
    # A new way of applying (APPLY_VERSION) makes every sync compare again.
    monkeypatch.setattr(inventory.digest, "APPLY_VERSION", "test")
    with Capture() as ctx:
        assert sync_console(console).rows_written == 0
    assert _rows_read(ctx.captured_queries)


def test_rows_written_outside_a_sync_are_compared_again_once_the_digest_is_forgotten(consoles):
    console = consoles["ivm1"]
    assert sync_console(console).ok
    part = Partition.objects.filter(system__console=console, lpar_id__gt=1).order_by("lpar_id").first()
    Partition.objects.filter(pk=part.pk).update(memory_mb=1)
    # The contract: whatever writes synced rows outside a sync (the engine's rehome) forgets the digests.
    assert sync_console(console).rows_written == 0
    forget_digests([console.pk])
    again = sync_console(console)
    assert again.ok and (again.updated, again.rows_written) == (1, 1)
    part.refresh_from_db()
    assert part.memory_mb > 1


def test_command_events_are_audited_with_hash_of_output(consoles, fleet):
    console = consoles["ivm4"]
    result = sync_console(console)
    assert result.ok
    events = list(AuditEvent.objects.filter(action="ivm.command", object_id=str(console.pk)))
    assert len(events) == result.commands
    lpar = next(e for e in events if e.data["command"].startswith("lssyscfg -r lpar"))
    assert lpar.data["console"] == "ivm4" and lpar.data["exit_status"] == 0 and lpar.data["outcome"] == "ok"
    out = ssh_ok(fleet, "ivm4", lpar.data["command"])
    assert lpar.data["stdout_sha256"] == hashlib.sha256(out.encode()).hexdigest()
    assert verify_chain().ok


def test_a_changed_partition_updates_only_itself(consoles, fleet):
    console = consoles["ivm2"]
    assert sync_console(console).ok
    db11 = Partition.objects.get(name="db11", system__console=console)
    assert db11.state == "Not Activated"
    others = {p.pk: p.synced_at for p in Partition.objects.exclude(pk=db11.pk)}
    ssh_ok(fleet, "ivm2", "chsysstate -r lpar -o on -n db11")
    fleet.wait_for("ivm2", "lssyscfg -r lpar --filter lpar_names=db11 -F state", lambda out: out.strip() == "Running")
    try:
        with Capture() as ctx:
            result = sync_console(console)
        assert result.ok, result.error
        db11.refresh_from_db()
        assert db11.state == "Running"
        # The partition, and the system whose free memory and processors it now uses; nothing else.
        assert (result.updated, result.created, result.deleted, result.vanished) == (2, 0, 0, 0)
        sql = inventory_writes(ctx.captured_queries)
        assert len(sql) == 2 and all(s.startswith("UPDATE") for s in sql)
        assert {p.pk: p.synced_at for p in Partition.objects.exclude(pk=db11.pk)} == others
    finally:
        ssh_ok(fleet, "ivm2", "chsysstate -r lpar -o shutdown --immed -n db11")
        fleet.wait_for("ivm2", "lssyscfg -r lpar --filter lpar_names=db11 -F state",
                       lambda out: out.strip() == "Not Activated")


def test_vanished_partition_is_marked_and_ownership_kept(consoles, fleet):
    from mobility.models import Team

    console = consoles["ivm3"]
    assert sync_console(console).ok
    team = Team.objects.create(name="Keepers")
    Partition.objects.filter(system__console=console).exclude(env="vioserver").update(team=team)
    # A row for a partition the IVM does not list (as left behind by a partition removed on the IVM).
    ghost = Partition.objects.create(system=ManagedSystem.objects.get(console=console), lpar_id=99, name="ghost",
                                     env="aixlinux", state="Running")
    forget_digests([console.pk])  # a row written outside a sync (ivmsim cannot remove a partition)
    result = sync_console(console)
    assert result.ok and result.vanished == 1
    ghost.refresh_from_db()
    assert ghost.vanished_at is not None
    assert set(Partition.objects.filter(system__console=console).exclude(env="vioserver")
               .exclude(pk=ghost.pk).values_list("team__name", flat=True)) == {"Keepers"}


@pytest.mark.parametrize("name", ["web01; reboot", "web01$(id)", "web01|tail", "-p"])
def test_a_name_with_shell_metacharacters_never_reaches_the_ivm(consoles, fleet, name):
    from mobility.inventory.connections import client_for
    from mobility.ivm import InvalidValue, commands

    client = client_for(consoles["ivm1"])
    before = len(fleet.command_log("ivm1"))
    with pytest.raises(InvalidValue):
        client.run(commands.chsysstate("on", lpar_name=name))
    with pytest.raises(InvalidValue):
        client.run(commands.lsdev_attr(name, "unique_id"))
    log = fleet.command_log("ivm1")
    assert len(log) == before
    assert not any(name in entry["command"] for entry in log)


def test_the_management_partitions_used_slots_are_what_the_ivm_lists(consoles, fleet):
    from mobility.inventory.estate import load_system

    console = consoles["ivm1"]
    assert sync_console(console).ok
    out = ssh_ok(fleet, "ivm1", "lshwres -r virtualio --rsubtype slot --level slot --filter lpar_ids=1 "
                                "-F slot_num,config")
    listed = sorted(int(line.split(",")[0]) for line in out.splitlines() if line.split(",")[1] not in ("", "null"))
    system = ManagedSystem.objects.get(console=console)
    assert system.vios_used_slots == listed and {0, 1} <= set(listed)  # the serial adapters are among them
    assert set(listed) <= set(load_system(system).management_partition.used_slots)


def test_sync_since_shares_a_sync_that_began_late_enough_and_runs_one_otherwise(consoles):
    from django.utils import timezone

    from mobility.inventory import sync_since
    from mobility.models import IVMConsole

    console = consoles["ivm1"]
    asked = timezone.now()
    first = sync_since(console, asked)  # nothing read since: a sync of its own
    assert first.ok and not first.shared and first.commands > 0
    again = sync_since(console, asked)  # that sync began after `asked`: shared, nothing run
    assert again.ok and again.shared and again.commands == 0
    assert IVMConsole.objects.get(pk=console.pk).last_sync_at == IVMConsole.objects.get(pk=console.pk).last_sync_ok_at
    later = sync_since(console, timezone.now())  # asked after that sync began: read the IVM again
    assert later.ok and not later.shared and later.commands > 0


def test_an_ivm_that_printed_the_same_again_is_not_parsed_again(consoles, fleet):
    from mobility.inventory import forget_parses
    from mobility.inventory.connections import client_for
    from mobility.inventory.sync import fetch_inventory

    console = consoles["ivm2"]
    first, first_digest = fetch_inventory(console, client_for(console))
    again, again_digest = fetch_inventory(console, client_for(console))
    assert again is first and again_digest == first_digest
    forget_parses()  # as a new process: parsed afresh, to the same records
    fresh, fresh_digest = fetch_inventory(console, client_for(console))
    assert fresh is not first and fresh == first and fresh_digest == first_digest
    # Something the IVM prints differently is parsed again.
    ssh_ok(fleet, "ivm2", "chsysstate -r lpar -o on -n db11")
    try:
        fleet.wait_for("ivm2", "lssyscfg -r lpar --filter lpar_names=db11 -F state",
                       lambda out: out.strip() == "Running")
        changed, changed_digest = fetch_inventory(console, client_for(console))
        assert changed.partitions["db11"].state == "Running" and changed_digest != first_digest
    finally:
        ssh_ok(fleet, "ivm2", "chsysstate -r lpar -o shutdown --immed -n db11")
        fleet.wait_for("ivm2", "lssyscfg -r lpar --filter lpar_names=db11 -F state",
                       lambda out: out.strip() == "Not Activated")


def _waiting_sync(console, wait_s: float):
    """``sync_since`` in a thread whose gathering waits ``wait_s``; returns (thread, results) once it waits."""
    import threading

    from django.db import connections
    from django.utils import timezone

    from mobility.inventory import sync_since

    gathering, results = threading.Event(), {}

    def gather() -> float:
        gathering.set()
        return wait_s

    def first(asked):
        try:
            results["first"] = sync_since(console, asked, gather=gather)
        finally:
            connections.close_all()

    thread = threading.Thread(target=first, args=(timezone.now(),))
    thread.start()
    assert gathering.wait(30)
    return thread, results


def test_sync_since_gathers_the_asks_that_come_while_it_waits_into_its_one_sync(transactional_db, consoles):
    from django.utils import timezone

    from mobility.inventory import sync_since
    from mobility.models import IVMConsole

    console = consoles["ivm1"]
    thread, results = _waiting_sync(console, 1.0)
    asked = timezone.now()  # while the first one waits: its sync begins after this
    results["second"] = sync_since(console, asked)
    thread.join(60)
    assert results["first"].ok and not results["first"].shared and results["first"].commands > 0
    assert results["second"].ok and results["second"].shared and results["second"].commands == 0
    row = IVMConsole.objects.get(pk=console.pk)
    assert row.last_sync_ok_at - timezone.timedelta(seconds=row.last_sync_duration_s) >= asked


def test_an_ask_queued_behind_another_sync_runs_its_own_without_gathering_again(transactional_db, consoles):
    """Those that asked while it queued are queued behind it already: a wait for more would only chain the waits."""
    from django.utils import timezone

    from mobility.inventory import sync_since

    console = consoles["ivm1"]
    thread, results = _waiting_sync(console, 0.5)
    asked_gather = []
    # Asked for a read that begins after the first one's sync has begun: it queues behind it, then needs its own.
    second = sync_since(console, timezone.now() + timezone.timedelta(seconds=0.6),
                        gather=lambda: asked_gather.append(1) or 5.0)
    thread.join(60)
    assert results["first"].ok and not results["first"].shared
    assert second.ok and not second.shared and second.commands > 0
    assert asked_gather == []  # it did not wait to gather


def test_a_sync_that_another_process_ran_while_it_waited_serves_it(transactional_db, consoles):
    """The wait for other asks is per process: another process's sync that began after the ask and ended during the
    wait serves it too (checked again after the wait)."""
    console = consoles["ivm1"]
    thread, results = _waiting_sync(console, 5.0)  # ample for the other sync, which takes well under a second here
    other = sync_console(console)  # as another process would: outside this process's one-at-a-time lock
    thread.join(60)
    assert other.ok and other.commands > 0
    assert results["first"].ok and results["first"].shared and results["first"].commands == 0


def test_a_failure_to_tell_whether_to_wait_does_not_fail_the_sync(transactional_db, consoles):
    from django.db import DatabaseError
    from django.utils import timezone

    from mobility.inventory import sync_since

    def gather() -> float:
        raise DatabaseError("the database went away")

    result = sync_since(consoles["ivm1"], timezone.now(), gather=gather)
    assert result.ok and not result.shared and result.commands > 0
