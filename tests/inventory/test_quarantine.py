"""A partition whose name breaks IVM's rules (``o'brien``, ``bad<lpar``, ``café``), or with an adapter whose values
do (VLAN 4095), is quarantined, over real SSH to ivmsim: the rest of its IVM syncs, the quarantined ones are stored as the IVM printed them and shown with the
reason, planning refuses them, and no IVM command ever carries their names."""

from pathlib import Path

import pytest
from django.urls import reverse

from mobility import inventory, planning, plans, policy
from mobility.inventory import sync_console
from mobility.inventory.estate import load_estate, load_partition
from mobility.models import IVMConsole, ManagedSystem, Partition, Team, VirtualAdapter
from tests.simfleet import SimFleet

FLEET = Path(__file__).parent / "fleets" / "badname.toml"
BAD = {"o'brien": "shell metacharacter", "bad<lpar": "shell metacharacter", "café": "non-ASCII character"}
GOOD = {"viosq", "good1", "good2"}
BAD_ADAPTER = "vlan4095"  # a good name, but its Ethernet adapter in slot 4 carries the reserved VLAN 4095


@pytest.fixture(scope="module")
def fleet():
    with SimFleet(FLEET, time_scale=200.0, seed=1) as sim:
        yield sim


@pytest.fixture
def consoles(db, fleet):
    from mobility.inventory.connections import close_all_clients
    from mobility.management.commands.register_fleet import register_entry

    yield {e["name"]: register_entry(e)[0] for e in fleet.ivms}
    close_all_clients()


@pytest.fixture
def synced(consoles, personas):
    """Both IVMs synced; the partitions of ivmq owned by Payments (rita requests for it, omar does not)."""
    results = {name: sync_console(console) for name, console in consoles.items()}
    Partition.objects.filter(system__console__name="ivmq").update(team=Team.objects.get(name="Payments"))
    return results


def _names_in_commands(fleet) -> list[str]:
    return [c["command"] for ivm in ("ivmq", "ivmr") for c in fleet.command_log(ivm)
            if any(name in c["command"] for name in BAD)]


def test_the_rest_of_the_ivm_syncs_and_the_bad_names_are_quarantined(synced, fleet):
    result = synced["ivmq"]
    assert result.ok, result.error
    assert set(result.quarantined) == {*BAD, BAD_ADAPTER}
    system = ManagedSystem.objects.get(console__name="ivmq")
    parts = {p.name: p for p in Partition.objects.filter(system=system, vanished_at__isnull=True)}
    assert set(parts) == GOOD | set(BAD) | {BAD_ADAPTER}  # stored exactly as the IVM printed them
    for name in GOOD:
        assert parts[name].quarantine_reason == "" and not parts[name].is_quarantined
    for name, rule in BAD.items():
        assert rule in parts[name].quarantine_reason, parts[name].quarantine_reason
        assert repr(name) in parts[name].quarantine_reason
    # The good partition's adapters and the quarantined one's are stored (the quarantined one is read, not used).
    assert {(a.kind, a.slot) for a in VirtualAdapter.objects.filter(partition=parts["good1"])} == {
        ("eth", 2), ("scsi", 3)}
    assert parts["o'brien"].adapters.count() == 2
    # The bad adapter is stored without the value that breaks the rules; its partition is quarantined by it.
    adapters = {a.slot: a for a in parts[BAD_ADAPTER].adapters.all()}
    assert (adapters[2].port_vlan_id, adapters[2].quarantine_reason) == (1, "")
    assert adapters[4].port_vlan_id is None and "4095" in adapters[4].quarantine_reason
    assert parts[BAD_ADAPTER].quarantine_reason == f"virtual adapter in slot 4: {adapters[4].quarantine_reason}"
    assert parts["good1"].backing_devices.get().name == "hdisk1"
    console = IVMConsole.objects.get(name="ivmq")
    assert console.last_sync_error == "" and console.last_sync_ok_at is not None
    # A re-sync finds nothing changed and keeps them quarantined.
    again = sync_console(console)
    assert again.ok and again.rows_written == 0 and set(again.quarantined) == {*BAD, BAD_ADAPTER}
    # The engine's step 1/9 sync gets its inventory instead of retrying forever.
    from django.utils import timezone

    assert inventory.sync_since(console, timezone.now()).ok
    assert _names_in_commands(fleet) == []


def test_pages_show_the_quarantine_and_the_console_page_names_it(synced, client, personas):
    client.force_login(personas["adam"])
    page = client.get(reverse("mobility:inventory")).content.decode()
    assert page.count('data-testid="quarantined"') == len(BAD) + 1
    assert "o&#x27;brien" in page and "bad&lt;lpar" in page and "café" in page and "bad<lpar" not in page
    console = IVMConsole.objects.get(name="ivmq")
    page = client.get(reverse("mobility:console_detail", args=[console.pk])).content.decode()
    assert 'data-testid="quarantined-records"' in page
    for name in ("o&#x27;brien", "bad&lt;lpar", "café", BAD_ADAPTER):
        assert f'data-partition="{name}"' in page
    bad = Partition.objects.get(name="o'brien")
    page = client.get(reverse("mobility:partition_detail", args=[bad.pk])).content.decode()
    assert 'data-testid="quarantine-reason"' in page and "shell metacharacter" in page
    page = client.get(reverse("mobility:partition_detail", args=[Partition.objects.get(name=BAD_ADAPTER).pk]))
    assert page.content.decode().count(">quarantined</span>") == 1  # the adapter in slot 4
    good = IVMConsole.objects.get(name="ivmr")
    assert "quarantined-records" not in client.get(reverse("mobility:console_detail", args=[good.pk])).content.decode()


def test_planning_refuses_it_with_the_reason(synced, client, personas, fleet):
    bad, good = Partition.objects.get(name="o'brien"), Partition.objects.get(name="good1")
    rita, omar, adam = personas["rita"], personas["omar"], personas["adam"]
    assert "quarantined by the inventory sync" in policy.refusal(rita, "plan", bad)
    assert "shell metacharacter" in policy.refusal(adam, "plan", bad)
    assert "quarantined" not in policy.refusal(omar, "plan", bad)  # another team learns nothing of it
    assert policy.refusal(rita, "plan", good) is None
    assert "virtual adapter in slot 4" in policy.refusal(rita, "plan", Partition.objects.get(name=BAD_ADAPTER))

    snap = load_partition(bad)
    source = next(s for s in load_estate()
                  if s.name == bad.system.name)
    quarantine = [c for c in planning.partition_checks(snap, source) if c.key == "quarantine"]
    assert len(quarantine) == 1 and quarantine[0].is_error and "shell metacharacter" in quarantine[0].message
    assert not [c for c in planning.partition_checks(load_partition(good), source) if c.key == "quarantine"]

    destination = ManagedSystem.objects.get(console__name="ivmr")
    with pytest.raises(plans.PlanRefused, match="quarantined"):
        plans.submit_plan(partition=bad, destination=destination, user=rita, mode="active", mappings=(),
                          validation={"ok": True}, reason="move it")

    # The wizard shows its team why, and stops before any IVM command (no validation, no submit).
    client.force_login(rita)
    page = client.get(reverse("mobility:plan_new"), {"partition": bad.pk})
    assert page.status_code == 200 and "shell metacharacter" in page.content.decode()
    answer = client.post(reverse("mobility:plan_validate"), {"partition": bad.pk, "destination": destination.pk})
    assert answer.status_code == 400
    client.force_login(omar)
    assert client.get(reverse("mobility:plan_new"), {"partition": bad.pk}).status_code == 404
    assert _names_in_commands(fleet) == []
