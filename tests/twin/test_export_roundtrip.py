"""export_fleet: the synced inventory → an ivmsim fleet → ivmsim → sync again gives the same rows and digests."""

from __future__ import annotations

import tomllib

import pytest
from django.core.management import CommandError, call_command

from mobility.inventory import sync_all
from mobility.inventory.connections import close_all_clients
from mobility.management.commands.register_fleet import register_entry
from mobility.models import (
    FCPort,
    IOSlot,
    IVMConsole,
    ManagedSystem,
    Partition,
    SharedEthernetAdapter,
    StorageDevice,
    VirtualAdapter,
)
from tests.simfleet import DEMO_FLEET, SimFleet


def natural_rows() -> dict:
    """Every inventory row by natural keys (names, slots), without database ids or sync times."""
    def plain(obj, drop=()):
        return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields
                if f.attname not in ("id", "synced_at", "vanished_at", "team_id", *drop)}

    rows = {"systems": sorted((s.console.name, repr(plain(s, ("console_id",))))
                              for s in ManagedSystem.objects.select_related("console")),
            "partitions": sorted((p.system.name, repr(plain(p, ("system_id",))))
                                 for p in Partition.objects.select_related("system")),
            "adapters": sorted((a.partition.system.name, a.partition.name, repr(plain(a, ("partition_id",))))
                               for a in VirtualAdapter.objects.select_related("partition__system")),
            "storage": sorted((d.system.name, repr(plain(d, ("system_id", "server_adapter_id", "client_partition_id"))),
                               d.server_adapter.slot if d.server_adapter else None,
                               d.client_partition.name if d.client_partition else None)
                              for d in StorageDevice.objects.select_related("system", "server_adapter",
                                                                            "client_partition"))}
    for model in (SharedEthernetAdapter, FCPort):
        rows[model.__name__] = sorted((x.system.name, repr(plain(x, ("system_id",))))
                                      for x in model.objects.select_related("system"))
    rows["io_slots"] = sorted((x.system.name, x.drc_name, x.description, x.partition.name if x.partition else None)
                              for x in IOSlot.objects.select_related("system", "partition"))
    return rows


def register_and_sync(fleet: SimFleet) -> dict[str, str]:
    for entry in fleet.ivms:
        register_entry(entry)
    results = sync_all()
    assert results and all(r.ok for r in results), [r.summary() for r in results]
    return dict(IVMConsole.objects.values_list("name", "inventory_digest"))


def forget_everything() -> None:
    close_all_clients()
    for model in (StorageDevice, IOSlot, FCPort, SharedEthernetAdapter, VirtualAdapter, Partition, ManagedSystem,
                  IVMConsole):
        model.objects.all().delete()


@pytest.mark.django_db(transaction=True)
def test_the_twin_answers_as_the_synced_ivms_did(tmp_path):
    with SimFleet(DEMO_FLEET, time_scale=50.0, seed=3) as real:
        digests = register_and_sync(real)
        rows = natural_rows()
        out = tmp_path / "twin.toml"
        call_command("export_fleet", output=str(out))
        close_all_clients()
    twin_spec = tomllib.loads(out.read_text())
    real_spec = tomllib.loads(DEMO_FLEET.read_text())
    assert [s["ivm"] for s in twin_spec["system"]] == sorted(s["ivm"] for s in real_spec["system"])
    # No secret of the real IVMs goes into a twin.
    assert not {s["password"] for s in twin_spec["system"]} & {s.get("password") for s in real_spec["system"]}

    forget_everything()
    with SimFleet(out, time_scale=50.0, seed=3) as twin:
        twin_digests = register_and_sync(twin)
        again = natural_rows()
        for kind in rows:  # one kind at a time, so that a difference names what differs
            assert again[kind] == rows[kind], kind
        assert twin_digests == digests
    close_all_clients()


@pytest.mark.django_db
def test_export_names_an_unknown_ivm_and_needs_a_sync():
    with pytest.raises(CommandError, match="no IVM console named nosuch"):
        call_command("export_fleet", ivm=["nosuch"])
    with pytest.raises(CommandError, match="no synced managed system"):
        call_command("export_fleet")
