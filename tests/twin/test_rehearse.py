"""Rehearsals of a plan on a twin of its two servers, run as IVM jobs (``tests/jobs.py`` runs them here, as a
worker would): against the demo simulator playing the real IVMs, whose command logs must not move."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mobility import jobs
from mobility.ivm import parse
from mobility.models import (
    AuditEvent,
    IVMConsole,
    IVMJob,
    ManagedSystem,
    Migration,
    MigrationStep,
    Partition,
    Rehearsal,
)
from mobility.twin import rehearsals
from tests.engine.conftest import submitted_migration
from tests.jobs import pushed, run_jobs

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HX-Request": "true", "HX-Target": "plan-rehearsal"}


def command_logs(fleet) -> dict[str, int]:
    return {e["name"]: len(fleet.command_log(e["name"])) for e in fleet.ivms}


def estate_rows() -> dict[str, int]:
    return {m.__name__: m.objects.count() for m in (Migration, MigrationStep, IVMConsole, ManagedSystem, Partition)}


def rehearse_now(migration, user, faults=()) -> Rehearsal:
    jobs.enqueue(IVMJob.Kind.REHEARSE, user=user, migration=migration, params={"faults": list(faults)},
                 timeout_s=rehearsals.bound_s(migration, faults))
    assert run_jobs() == 1
    job = IVMJob.objects.filter(kind=IVMJob.Kind.REHEARSE).latest("pk")
    assert job.status == IVMJob.Status.DONE, (job.error, job.result)
    return Rehearsal.objects.get(pk=job.result["rehearsal"])


def test_a_good_active_plan_completes_on_the_twin_and_the_real_ivms_hear_nothing(estate, fleet, personas):
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    before, rows = command_logs(fleet), estate_rows()
    r = rehearse_now(migration, personas["rita"])
    assert r.outcome == Rehearsal.Outcome.COMPLETED, (r.summary, r.steps)
    assert r.plan == migration.latest_plan() and r.faults == []
    # Active: the engine's step sequence (1, 3-9), each done; a move of some simulated seconds, a suspend window.
    assert [(s["number"], s["status"]) for s in r.steps] == [(n, "done") for n in (1, 3, 4, 5, 6, 7, 8, 9)]
    assert r.duration_s > 10 and 0 < r.suspend_window_s < r.duration_s
    assert r.commands > 20 and not r.messages
    # Nothing reached the real IVMs; no migration, step, console, system or partition row appeared or moved.
    assert command_logs(fleet) == before
    assert estate_rows() == rows
    migration.refresh_from_db()
    assert migration.status == "pending_approval" and migration.start_intent_at is None
    assert Partition.objects.get(name="app01", vanished_at__isnull=True).system.console.name == "ivm1"
    event = AuditEvent.objects.filter(action="plan.rehearsed").latest("pk")
    assert event.data["outcome"] == "completed" and event.data["rehearsal"] == r.pk


def test_a_failure_during_the_transfer_shows_the_ivm_and_the_recover_outcome(estate, fleet, personas):
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    before = command_logs(fleet)
    r = rehearse_now(migration, personas["rita"], ["transfer_failure"])
    assert r.outcome == Rehearsal.Outcome.RECOVERED, (r.summary, r.steps)
    # The IVM's message for the failure after ``migrlpar -o m --async`` returned, by its id.
    assert r.message_codes == [parse.MIGRATION_FAILED_ID]
    assert r.messages[0]["text"].startswith("The migration of partition app01 failed: injected fault")
    assert "Recover: app01 is back on Server-8205-E6C-SN06A1001 (Running)" in r.summary
    assert [s["status"] for s in r.steps if s["number"] == 6] == ["failed"]
    assert r.duration_s is None
    assert command_logs(fleet) == before


def test_an_unreachable_ivm_and_a_changed_host_key_end_before_anything_is_sent(estate, fleet, personas):
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    before = command_logs(fleet)
    gone = rehearse_now(migration, personas["rita"], ["unreachable"])
    assert gone.outcome == Rehearsal.Outcome.UNREACHABLE, gone.summary
    assert "before anything was sent" in gone.summary and gone.steps[0]["status"] == "failed"
    changed = rehearse_now(migration, personas["rita"], ["host_key"])
    assert changed.outcome == Rehearsal.Outcome.UNREACHABLE, changed.summary
    assert "host key changed" in changed.summary
    assert command_logs(fleet) == before


def test_an_ivm_refusal_is_recorded_by_its_message_id(estate, fleet, personas):
    """The twin is the inventory of the last sync: a partition that took the planned slot since (here, a
    bad plan written straight into the snapshot) is refused by the twin's IVM at migrlpar -o m, by its code."""
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    plan = migration.latest_plan()
    snapshot = dict(plan.snapshot, migrlpar={"virtual_scsi_mappings": "3//1/1"})  # slot 1: the VIOS's own
    type(plan).objects.filter(pk=plan.pk).update(snapshot=snapshot)
    r = rehearse_now(migration, personas["rita"])
    assert r.outcome == Rehearsal.Outcome.REFUSED, (r.summary, r.messages)
    assert r.message_codes and all(code.startswith("VIOSE") for code in r.message_codes)
    assert r.summary.startswith("IVM refused to start the migration")


def test_who_may_rehearse_and_bad_input(estate, fleet, personas, client):
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    url = reverse("mobility:plan_rehearse", args=[migration.pk])
    client.force_login(personas["audrey"])  # an auditor reads everything and does nothing
    assert client.post(url, {"faults": ["slow_link"]}).status_code == 403
    assert b"Rehearse</button>" not in client.get(reverse("mobility:plan_detail", args=[migration.pk])).content
    client.force_login(personas["omar"])  # another team's requester does not even see it
    assert client.post(url).status_code == 404
    client.force_login(personas["rita"])
    assert client.post(url, {"faults": ["drop-everything"]}).status_code == 400
    assert not IVMJob.objects.filter(kind=IVMJob.Kind.REHEARSE).exists()
    Migration.objects.filter(pk=migration.pk).update(status="completed")
    assert client.post(url).status_code == 409
    assert not IVMJob.objects.filter(kind=IVMJob.Kind.REHEARSE).exists()


def test_the_page_shows_the_rehearsal_without_reload_and_the_approver_sees_it(estate, fleet, personas, client):
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    page = reverse("mobility:plan_detail", args=[migration.pk])
    client.force_login(personas["rita"])
    assert 'data-testid="no-rehearsal"' in client.get(page).content.decode()
    started = client.post(reverse("mobility:plan_rehearse", args=[migration.pk]), {"faults": ["slow_link"]},
                          headers=HTMX).content.decode()
    job = IVMJob.objects.get(kind=IVMJob.Kind.REHEARSE)
    assert job.timeout_s > 60  # its own bound, beyond IVMWEB_JOB_TIMEOUT_S
    assert 'id="plan-rehearsal"' in started and f'id="job-{job.pk}"' in started
    assert f'ws-connect="/ws/jobs/{job.group}/"' in started  # the page follows the job over its socket
    # What the socket pushes once the worker is done: the page fetches the answer into #plan-rehearsal.
    fragment = pushed("rehearse")
    assert f'hx-get="{page}?rehearsal={job.pk}"' in fragment and 'hx-target="#plan-rehearsal"' in fragment
    answer = client.get(f"{page}?rehearsal={job.pk}", headers=HTMX).content.decode()
    assert answer.lstrip().startswith('<div id="plan-rehearsal">')
    assert 'data-outcome="completed"' in answer and "Slow MSP link" in answer
    r = Rehearsal.objects.get()
    assert f"{r.suspend_window_s} s" in answer and f"{r.duration_s} s" in answer
    client.force_login(personas["alex"])
    card = client.get(reverse("mobility:approvals")).content.decode()
    assert f'data-testid="approval-{migration.pk}"' in card and 'data-outcome="completed"' in card
    assert "Rehearsal of version 1" in card


def test_an_inactive_plan_walks_the_inactive_steps_and_activates_when_asked(estate, fleet, personas):
    migration = submitted_migration(personas, "web01", "ivm1", "ivm2", options={"activate_on_destination": True})
    assert migration.mode == "inactive"
    before = command_logs(fleet)
    r = rehearse_now(migration, personas["rita"])
    assert r.outcome == Rehearsal.Outcome.COMPLETED, (r.summary, r.steps)
    assert [(s["number"], s["status"]) for s in r.steps] == [(n, "done") for n in (1, 2, 3, 4, 5, 6, 9, 10)]
    assert r.steps[-1]["detail"] == "Running on Server-8205-E6C-SN06A2002"
    assert r.duration_s > 0 and r.suspend_window_s is None
    assert command_logs(fleet) == before
