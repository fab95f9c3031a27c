"""Rehearsals of a plan on a twin of its two servers, run as IVM jobs (tests/jobs.py runs them here, as a worker)."""

from __future__ import annotations

import pytest

from mobility import jobs
from mobility.models import IVMJob, Migration, Rehearsal
from mobility.twin import rehearse
from tests.engine.conftest import submitted_migration
from tests.jobs import run_jobs

pytestmark = pytest.mark.django_db(transaction=True)


def command_logs(fleet) -> dict[str, int]:
    return {e["name"]: len(fleet.command_log(e["name"])) for e in fleet.ivms}


def rehearse_now(migration, user, faults=()) -> Rehearsal:
    jobs.enqueue(IVMJob.Kind.REHEARSE, user=user, migration=migration, params={"faults": list(faults)},
                 timeout_s=rehearse.bound_s(migration, faults))
    assert run_jobs() == 1
    job = IVMJob.objects.filter(kind=IVMJob.Kind.REHEARSE).latest("pk")
    assert job.status == IVMJob.Status.DONE, (job.error, job.result)
    return Rehearsal.objects.get(pk=job.result["rehearsal"])


def test_a_good_active_plan_completes_on_the_twin_and_the_real_ivms_hear_nothing(estate, fleet, personas):
    migration = submitted_migration(personas, "app01", "ivm1", "ivm2")
    before, rows = command_logs(fleet), Migration.objects.count()
    r = rehearse_now(migration, personas["rita"])
    print(r.summary, r.duration_s, r.suspend_window_s, r.wall_s, r.time_scale, r.steps)
    assert r.outcome == Rehearsal.Outcome.COMPLETED, (r.summary, r.steps)
    assert r.duration_s and r.duration_s > 0
    assert r.suspend_window_s and r.suspend_window_s > 0
    assert command_logs(fleet) == before
    assert Migration.objects.count() == rows
    migration.refresh_from_db()
    assert migration.status == "pending_approval"
