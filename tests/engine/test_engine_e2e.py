"""End to end against ivmsim over SSH: active and inactive migrations, each step recorded, inventory re-homed."""

import pytest

from mobility.models import AuditEvent, Migration, MigrationEvent, Partition
from tests.engine.conftest import approved_migration, lpar, status_of, wait_for

pytestmark = pytest.mark.django_db(transaction=True)


def _steps(m):
    return {s.number: s.status for s in m.steps.all()}


def test_an_active_migration_runs_every_step_and_rehomes_the_partition(estate, personas, engine, fleet):
    m = approved_migration(personas, "app02", "ivm1", "ivm2")
    row_id, team = m.partition_id, m.partition.team_id
    engine()
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 90, what="the migration to finish")
    m = Migration.objects.get(pk=m.pk)
    assert m.status == "completed", (m.outcome, list(m.events.values_list("kind", "payload")))
    assert _steps(m) == {1: "done", 3: "done", 4: "done", 5: "done", 6: "done", 7: "done", 8: "done",
                         9: "done", 11: "running"}
    assert m.percent == 100.0 and m.bytes_transmitted > 0
    # the figures never ran backwards
    percents = [e.payload["percent"] for e in m.events.filter(kind="progress").order_by("seq")]
    assert percents == sorted(percents) and len(percents) >= 2
    # seqs are dense and ordered
    seqs = list(m.events.values_list("seq", flat=True))
    assert seqs == list(range(1, m.last_seq + 1))
    # the same row, with its team, now on the destination; a duplicate sync made is retired
    p = Partition.objects.get(pk=row_id)
    assert p.system.console.name == "ivm2" and p.team_id == team and p.vanished_at is None
    assert Partition.objects.filter(name="app02", vanished_at__isnull=True).count() == 1
    assert lpar("app02", "ivm2").pk == row_id
    # IVM: exactly one migrlpar -o m, and the partition runs on ivm2
    starts = [c for c in fleet.command_log("ivm1") if c["command"].startswith("migrlpar -o m -t") and "-p app02" in c["command"]]
    assert len(starts) == 1
    status, out, _ = fleet.ssh("ivm2", "lssyscfg -r lpar --filter lpar_names=app02 -F state")
    assert out.strip() == "Running"
    assert AuditEvent.objects.filter(action="engine.step", object_id=str(m.pk)).count() >= 9
    assert MigrationEvent.objects.filter(migration=m, kind="command", payload__command__startswith="migrlpar").exists()
    # The hash-chained trail ties each IVM command to the migration: exactly one start, with its output digest.
    audited = AuditEvent.objects.filter(action="ivm.command", data__migration=m.pk)
    audited_starts = [e for e in audited if e.data["command"].startswith("migrlpar -o m")]
    assert len(audited_starts) == 1 and audited_starts[0].data["exit_status"] == 0
    assert len(audited_starts[0].data["stdout_sha256"]) == 64


def test_an_inactive_migration_activates_on_the_destination_when_the_plan_asks(estate, personas, engine, fleet):
    m = approved_migration(personas, "web01", "ivm1", "ivm2", options={"activate_on_destination": True})
    engine()
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 90, what="the migration to finish")
    m = Migration.objects.get(pk=m.pk)
    assert m.status == "completed", m.outcome
    assert _steps(m) == {1: "done", 2: "done", 3: "done", 4: "done", 5: "done", 6: "done", 9: "done",
                         10: "done", 11: "running"}
    status, out, _ = fleet.ssh("ivm2", "lssyscfg -r lpar --filter lpar_names=web01 -F state")
    assert out.strip() in ("Running", "Starting")
    assert any(c["command"].startswith("chsysstate -r lpar -o on") for c in fleet.command_log("ivm2"))


def test_a_running_partition_planned_inactive_is_shut_down_moved_and_started_again(estate, personas, engine, fleet):
    m = approved_migration(personas, "app11", "ivm2", "ivm1", mode="inactive",
                           options={"shutdown_source": True, "activate_on_destination": True})
    assert m.mode == "inactive"
    engine(shutdown_timeout_s=30.0)
    wait_for(lambda: status_of(m.pk) in ("completed", "failed"), 120, what="the migration to finish")
    m = Migration.objects.get(pk=m.pk)
    assert m.status == "completed", m.outcome
    assert _steps(m) == {1: "done", 2: "done", 3: "done", 4: "done", 5: "done", 6: "done", 9: "done",
                         10: "done", 11: "running"}
    sent = [c["command"] for c in fleet.command_log("ivm2")]
    shutdown = next(i for i, c in enumerate(sent) if c.startswith("chsysstate -r lpar -o osshutdown") and "app11" in c)
    start = next(i for i, c in enumerate(sent) if c.startswith("migrlpar -o m") and "-p app11" in c)
    assert shutdown < start  # the OS was asked to shut down before the move started
    assert not any(c.startswith("chsysstate -r lpar -o shutdown --immed") and "app11" in c for c in sent)
    status, out, _ = fleet.ssh("ivm1", "lssyscfg -r lpar --filter lpar_names=app11 -F state")
    assert out.strip() in ("Running", "Starting")
