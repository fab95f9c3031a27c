"""A batch rehearsed on one twin of the servers its members involve, as an IVM job (``tests/jobs.py`` runs it here,
as a worker would), against the demo simulator playing the real IVMs, whose command logs must not move."""

from __future__ import annotations

import pytest
from django.urls import reverse

from mobility.batches import planning
from mobility.ivm import parse
from mobility.models import AuditEvent, Batch, BatchRehearsal, IVMJob, Migration, Partition, Rehearsal
from tests.engine.conftest import lpar
from tests.jobs import pushed, run_jobs
from tests.twin.test_rehearse import command_logs, estate_rows

pytestmark = pytest.mark.django_db(transaction=True)
HTMX = {"HX-Request": "true", "HX-Target": "batch-rehearsal"}


def planned_batch(personas, names) -> Batch:
    batch = planning.pick(personas["rita"], [lpar(n) for n in names], reason="rehearse me")
    run_jobs()  # IVM validates each member; the last one settles the batch
    batch.refresh_from_db()
    assert batch.status == "pending_approval", (batch.status, batch.immovable, batch.outcome)
    return batch


def test_a_batch_rehearsal_runs_every_member_on_the_twin_and_the_approver_sees_it(estate, fleet, personas, client):
    batch = planned_batch(personas, ["app01", "web01"])  # one active, one inactive member
    page = reverse("mobility:batch", args=[batch.pk])
    url = reverse("mobility:batch_rehearse", args=[batch.pk])
    client.force_login(personas["audrey"])  # auditors read, never rehearse
    assert client.post(url).status_code == 403
    client.force_login(personas["omar"])  # another team's batch: not even seen
    assert client.post(url).status_code == 404
    client.force_login(personas["rita"])
    assert 'data-testid="no-batch-rehearsal"' in client.get(page).content.decode()
    assert client.post(url, {"faults": ["drop-everything"]}).status_code == 400
    assert not IVMJob.objects.filter(kind=IVMJob.Kind.REHEARSE_BATCH).exists()

    before, rows = command_logs(fleet), estate_rows()
    started = client.post(url, {"faults": ["transfer_failure"]}, headers=HTMX).content.decode()
    job = IVMJob.objects.get(kind=IVMJob.Kind.REHEARSE_BATCH)
    assert job.migration is None and job.params["batch"] == batch.pk and job.timeout_s > 60
    assert started.lstrip().startswith('<div id="batch-rehearsal">') and f'id="job-{job.pk}"' in started
    assert f'ws-connect="/ws/jobs/{job.group}/"' in started  # the page follows the job over its socket
    fragment = pushed("rehearse_batch")  # the worker runs it; its socket then tells the page to fetch the answer
    job.refresh_from_db()
    assert job.status == IVMJob.Status.DONE, (job.error, job.result)
    assert f'hx-get="{job.params["then"]}"' in fragment and 'hx-target="#batch-rehearsal"' in fragment

    whole = BatchRehearsal.objects.get()
    members = {r.migration.partition.name: r for r in whole.members.select_related("migration__partition")}
    # The transfer failure hits the first member: the IVM's message by its id, then Recover; the other goes on.
    first, second = members["app01"], members["web01"]
    assert first.outcome == Rehearsal.Outcome.RECOVERED, (first.summary, first.steps)
    assert first.message_codes == [parse.MIGRATION_FAILED_ID] and first.duration_s is None
    assert second.outcome == Rehearsal.Outcome.COMPLETED, (second.summary, second.steps)
    assert [s["number"] for s in second.steps] == [1, 2, 3, 4, 5, 6, 9, 10] and second.duration_s > 0
    assert first.plan == Migration.objects.get(pk=first.migration_id).latest_plan()
    assert whole.outcome == Rehearsal.Outcome.RECOVERED and whole.content_hash == batch.content_hash
    assert whole.summary.startswith("1 of 2 members completed on the twin")
    assert whole.message_codes == [parse.MIGRATION_FAILED_ID] and whole.messages[0]["partition"] == "app01"
    assert whole.duration_s >= second.duration_s and whole.commands == first.commands + second.commands
    # Nothing reached the real IVMs; no migration, step or inventory row appeared or moved.
    assert command_logs(fleet) == before
    assert estate_rows() == rows
    assert set(Migration.objects.filter(batch=batch).values_list("status", flat=True)) == {"pending_approval"}
    assert Partition.objects.get(name="web01", vanished_at__isnull=True).system.console.name == "ivm1"
    event = AuditEvent.objects.filter(action="batch.rehearsed").latest("pk")
    assert event.data["members"] == {"app01": "recovered", "web01": "completed"}

    answer = client.get(job.params["then"], headers=HTMX).content.decode()
    assert 'data-testid="batch-rehearsal" data-outcome="recovered"' in answer
    # The approver reads it beside the batch's vote form.
    client.force_login(personas["alex"])
    html = client.get(page).content.decode()
    assert 'data-testid="vote-form"' in html and 'data-outcome="recovered"' in html
    assert f'data-code="{parse.MIGRATION_FAILED_ID}"' in html and 'data-member="web01" data-outcome="completed"' in html
    assert "Failure during the transfer" in html and 'data-testid="rehearsal-stale"' not in html
    # A batch that stops at its first failure: the members after the failed one are not rehearsed.
    Batch.objects.filter(pk=batch.pk).update(stop_at_first_failure=True)
    client.force_login(personas["rita"])
    client.post(url, {"faults": ["transfer_failure"]})
    run_jobs()
    again = BatchRehearsal.objects.latest("pk")
    assert again.outcome == Rehearsal.Outcome.RECOVERED and again.skipped == ["web01"]
    assert [r.migration.partition.name for r in again.members.all()] == ["app01"]
    assert "Not rehearsed (the batch stops at its first failure): web01." in again.summary
    assert command_logs(fleet) == before
    # A batch that has started is not rehearsed any more: refused, nothing queued.
    Batch.objects.filter(pk=batch.pk).update(status="running")
    assert client.post(url).status_code == 409
    assert IVMJob.objects.filter(kind=IVMJob.Kind.REHEARSE_BATCH).count() == 2
