"""register_fleet, sync_inventory, sync_all and sync_due, as `make run` and the engine worker use them."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from mobility.inventory import sync_all, sync_due
from mobility.inventory.connections import close_all_clients
from mobility.models import AuditEvent, IVMConsole, Partition


@pytest.fixture
def ready_file(fleet, tmp_path):
    path = tmp_path / "ready.json"
    path.write_text(json.dumps(fleet.ready))
    return path


@pytest.fixture
def closing():
    yield
    close_all_clients()


@pytest.mark.django_db(transaction=True)  # sync_all writes from worker threads
def test_register_fleet_sync_and_demo_teams(ready_file, fleet, closing, capsys):
    # The trail is append-only: other modules may have left events, so count what this test adds.
    registered_before = AuditEvent.objects.filter(action="ivm.registered").count()
    call_command("register_fleet", "--ready-file", str(ready_file), "--sync", "--demo-teams")
    out = capsys.readouterr().out
    assert out.count(": ok in") == 4
    ivm1 = IVMConsole.objects.get(name="ivm1")
    assert ivm1.host_key == fleet.ivm("ivm1")["host_key"] and ivm1.get_password() == "padmin-ivm1"
    assert fleet.ivm("ivm1")["password"] not in ivm1.password_encrypted
    assert AuditEvent.objects.filter(action="ivm.registered").count() == registered_before + 4
    teams = dict(Partition.objects.exclude(env="vioserver").values_list("name", "team__name")
                 .filter(system__console__name="ivm1"))
    assert teams["app01"] == teams["web01"] == teams["bad-lun"] == "Payments"
    assert Partition.objects.get(name="app21").team.name == "Analytics"
    assert not Partition.objects.filter(env="vioserver", team__isnull=False).exists()

    # Idempotent: nothing re-registered, nothing re-written.
    call_command("register_fleet", "--ready-file", str(ready_file), "--sync")
    out = capsys.readouterr().out
    assert out.count("(unchanged)") == 4 and out.count("created 0, updated 0, deleted 0, vanished 0") == 4
    assert AuditEvent.objects.filter(action="ivm.registered").count() == registered_before + 4


@pytest.mark.django_db(transaction=True)
def test_sync_inventory_exits_1_naming_the_failed_ivm(ready_file, closing, capsys):
    call_command("register_fleet", "--ready-file", str(ready_file))
    bad = IVMConsole.objects.get(name="ivm3")
    bad.set_password("wrong")
    bad.save()
    with pytest.raises(CommandError, match="ivm3"):
        call_command("sync_inventory")
    out = capsys.readouterr().out
    assert "ivm3: FAILED" in out and out.count(": ok in") == 3
    call_command("sync_inventory", "--ivm", "ivm1")
    assert capsys.readouterr().out.startswith("ivm1: ok")
    with pytest.raises(CommandError, match="nope"):
        call_command("sync_inventory", "--ivm", "nope")


@pytest.mark.django_db(transaction=True)
def test_sync_due_picks_only_stale_consoles(ready_file, closing, settings):
    settings.IVMWEB_SYNC_WORKERS = 2
    call_command("register_fleet", "--ready-file", str(ready_file))
    results = sync_all()
    assert [r.console.name for r in results] == ["ivm1", "ivm2", "ivm3", "ivm4"] and all(r.ok for r in results)
    assert sync_due() == []
    IVMConsole.objects.filter(name="ivm2").update(
        last_sync_at=timezone.now() - timedelta(seconds=settings.IVMWEB_SYNC_INTERVAL_S + 1))
    assert [r.console.name for r in sync_due()] == ["ivm2"]
