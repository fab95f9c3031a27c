"""Step 5 and the plan page: the immutable, hashed plan version; revisions voiding approvals; drift and
re-validation; who may do what."""

import re

import pytest
from django.urls import reverse

from mobility import planning, plans
from mobility.choices import MigrationStatus
from mobility.governance.approvals import approve
from mobility.models import AuditEvent, Migration
from mobility.models.migrations import InvalidTransition
from tests.jobs import answer, latest, run_jobs
from tests.plans.conftest import counts, lpar, server
from tests.plans.helpers import HTMX, SUBMIT, form_fields, review_and_confirm, submit, validated

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(client, requester):
    client.force_login(requester)
    return client


def submitted(client, name="db01", dest="ivm2", **extra) -> Migration:
    response = submit(client, lpar(name), server(dest), **extra)
    assert response.status_code == 204, response.content.decode()[:1500]
    migration = Migration.objects.get(partition=lpar(name), status=MigrationStatus.PENDING_APPROVAL)
    assert response.headers["HX-Redirect"] == reverse("mobility:plan_detail", args=[migration.pk])
    return migration


def test_submitting_stores_plan_version_one_with_its_hash_mappings_facts_and_validation(estate, rita, requester):
    migration = submitted(rita, wished_start="2030-01-02T03:04")
    assert migration.requester == requester and migration.mode == "active"
    assert migration.destination == server("ivm2") and migration.wished_start.year == 2030
    version = plans.latest_plan(migration)
    assert version.version == 1 and version.content_hash == plans.content_hash(version.snapshot)
    snap = version.snapshot
    assert snap["validation"]["ok"] is True and "ran_at" not in snap["validation"]
    assert snap["facts"]["memory"]["needed_mb"] == 8192
    assert snap["migrlpar"]["virtual_fc_mappings"].startswith("4//1/")
    assert {(m.kind, m.client_slot) for m in version.mappings.all()} == {("scsi", 3), ("fc", 4), ("eth", 2)}
    assert next(m for m in version.mappings.all() if m.kind == "eth").vlans == [1, 200]
    actions = list(AuditEvent.objects.values_list("action", flat=True).order_by("-id")[:10])
    assert {"plan.submitted", "plan.version", "plan.validated"} <= set(actions)


def test_an_inactive_plan_records_whether_to_activate_on_the_destination(estate, rita):
    migration = submitted(rita, "web01", "ivm2", activate_on_destination="on")
    assert migration.mode == "inactive"
    assert plans.latest_plan(migration).snapshot["options"] == {"activate_on_destination": True}


def test_the_same_plan_gives_the_same_hash_and_any_mapping_change_a_new_one(estate):
    partition, dest = lpar("db01"), server("ivm2")
    ctx = plans.plan_context(partition, dest)
    rows = planning.recommend_mappings(ctx.partition, ctx.destination).rows
    validation = {"ok": True, "checks": {}, "ivm_says": [], "error": "", "command": "x"}
    one = plans.plan_snapshot(partition, dest, "active", rows, ctx.checks, {**validation, "ran_at": "1"}, {})
    two = plans.plan_snapshot(partition, dest, "active", rows, ctx.checks, {**validation, "ran_at": "2"}, {})
    assert plans.content_hash(one) == plans.content_hash(two)
    moved = planning.edit_mapping(rows, 0, f"3//1/{rows[0].vios_slot + 1}")
    three = plans.plan_snapshot(partition, dest, "active", moved, ctx.checks, validation, {})
    assert plans.content_hash(three) != plans.content_hash(one)
    other_port = planning.edit_mapping(rows, 1, f"4//1/{rows[1].vios_slot}/fcs1")
    four = plans.plan_snapshot(partition, dest, "active", other_port, ctx.checks, validation, {})
    assert len({plans.content_hash(x) for x in (one, three, four)}) == 3


def test_a_plan_version_cannot_be_modified(estate, rita):
    version = plans.latest_plan(submitted(rita))
    version.snapshot["mappings"] = []
    with pytest.raises(InvalidTransition):
        version.save()
    version.refresh_from_db()
    assert version.content_hash == plans.content_hash(version.snapshot)


def test_a_second_request_for_the_same_partition_is_refused(estate, rita):
    submitted(rita)
    before = counts()
    response = submit(rita, lpar("db01"), server("ivm2"))
    assert "already has a migration that is not finished" in response.content.decode()
    assert counts() == before


def test_submit_without_a_reason_or_with_a_past_wish_changes_nothing(estate, rita):
    before = counts()
    html = validated(rita, lpar("app01"), server("ivm2"))
    fields = form_fields(html, SUBMIT)
    no_reason = rita.post(SUBMIT, {**fields, "reason": "   "}, headers=HTMX).content.decode()
    assert "Say why the partition should move." in no_reason
    past = rita.post(SUBMIT, {**fields, "reason": "x", "wished_start": "2001-01-01T00:00"}, headers=HTMX)
    assert "The wished start is in the past." in past.content.decode()
    assert counts() == before


def test_a_stale_form_after_the_inventory_changed_is_refused_with_the_fresh_state(estate, rita):
    from django.db.models import F

    from mobility.models import ManagedSystem

    dest = server("ivm2")
    html = validated(rita, lpar("app01"), dest)
    ManagedSystem.objects.filter(pk=dest.pk).update(memory_available_mb=F("memory_available_mb") - 1024)
    before = counts()
    response = rita.post(SUBMIT, {**form_fields(html, SUBMIT), "reason": "maintenance"}, headers=HTMX)
    out = response.content.decode()
    assert 'data-testid="stale"' in out and "The inventory changed since this page was shown" in out
    fresh_memory = out[out.index('data-check="memory"'):][:400]
    assert f"has {(dest.memory_available_mb - 1024) / 1024:.1f} GB free" in fresh_memory
    assert counts() == before
    assert rita.post(SUBMIT, {**form_fields(html, SUBMIT), "reason": "maintenance"}).status_code == 409


def edit_page(client, migration, **edits):
    url = reverse("mobility:plan_detail", args=[migration.pk])
    return client.get(url, edits, headers={"HX-Request": "true", "HX-Target": "plan-edit"}).content.decode()


def revise(client, migration, **edits):
    url = reverse("mobility:plan_detail", args=[migration.pk])
    html = client.get(url).content.decode()
    fields = form_fields(html, reverse("mobility:plan_revise", args=[migration.pk]))
    return client.post(reverse("mobility:plan_revise", args=[migration.pk]), {**fields, **edits})


def test_revising_writes_a_new_version_with_a_new_hash_and_voids_the_approval(estate, rita, approver):
    migration = submitted(rita)
    v1 = plans.latest_plan(migration)
    approval = approve(migration, approver, "ok for the weekend", plan_hash=migration.latest_plan().content_hash)
    migration.refresh_from_db()
    assert migration.status == MigrationStatus.APPROVED
    used = {m.dest_slot for m in v1.mappings.all()}
    free = next(s for s in range(190, 120, -1) if s not in used and
                s not in plans.plan_context(lpar("db01"), server("ivm2")).destination.management_partition.used_slots)
    response = revise(rita, migration, **{"slot-scsi-3": str(free)})
    assert response.status_code == 200 and plans.latest_plan(migration).version == 1  # IVM validates it first
    run_jobs()
    done = latest("revise")
    assert done.status == "done" and done.result["version"] == 2, (done.error, done.result)
    fetched = rita.get(done.params["then"], headers={"HX-Request": "true", "HX-Target": "plan-edit"})
    assert fetched.status_code == 204 and fetched["HX-Redirect"] == reverse("mobility:plan_detail", args=[migration.pk])
    migration.refresh_from_db()
    v2 = plans.latest_plan(migration)
    assert v2.version == 2 and v2.content_hash != v1.content_hash
    assert next(m for m in v2.mappings.all() if m.kind == "scsi").dest_slot == free
    assert migration.status == MigrationStatus.PENDING_APPROVAL
    approval.refresh_from_db()
    assert approval.voided_at is not None
    page = rita.get(reverse("mobility:plan_detail", args=[migration.pk])).content.decode()
    assert v1.content_hash in page and v2.content_hash in page
    assert "plan.revised" in AuditEvent.objects.values_list("action", flat=True)


def test_the_plan_page_checks_edits_inline_and_refuses_conflicts(estate, rita):
    migration = submitted(rita)
    html = edit_page(rita, migration, **{"slot-scsi-3": "5"})
    assert html.lstrip().startswith('<div id="plan-edit"') and 'data-problem="slot_out_of_range"' in html
    before = counts()
    response = revise(rita, migration, **{"slot-scsi-3": "abc"})
    assert response.status_code == 400 and "Enter a whole number for the slot." in response.content.decode()
    response = revise(rita, migration)  # nothing changed
    assert "Nothing changed" in response.content.decode()
    assert counts() == before


def test_drift_lists_what_changed_in_the_inventory_since_the_plan(estate, rita, fleet):
    from mobility.inventory import sync_console

    migration = submitted(rita, "app01", "ivm2")
    page = rita.get(reverse("mobility:plan_detail", args=[migration.pk])).content.decode()
    assert 'data-testid="no-drift"' in page
    assert fleet.ssh("ivm1", "chdev -dev hdisk1 -attr reserve_policy=single_path")[0] == 0
    try:
        assert sync_console(estate["ivm1"]).ok
        page = rita.get(reverse("mobility:plan_detail", args=[migration.pk])).content.decode()
        rita.post(reverse("mobility:plan_revalidate", args=[migration.pk]),
                  headers={"HX-Request": "true", "HX-Target": "plan-validation"})
        revalidated = answer(rita, "validate", **{"HX-Target": "plan-validation"})
    finally:
        fleet.ssh("ivm1", "chdev -dev hdisk1 -attr reserve_policy=no_reserve")
    drift = page[page.index('data-testid="drift"'):]
    assert "Source disks no_reserve" in drift and "single_path" in drift
    assert re.search(r"<td>Source disks no_reserve</td><td>status</td><td><code>ok</code></td><td><code>error", drift)
    assert revalidated.lstrip().startswith('<div id="plan-validation"')
    assert "VIOSE0104A005-0002" in revalidated


def test_an_auditor_reads_the_plan_but_changes_nothing(estate, rita, client, auditor, fleet):
    migration = submitted(rita)
    client.force_login(auditor)
    page = client.get(reverse("mobility:plan_detail", args=[migration.pk]))
    assert page.status_code == 200 and plans.latest_plan(migration).content_hash in page.content.decode()
    assert "Change the mappings" not in page.content.decode() and "Validate again" not in page.content.decode()
    before, log = counts(), len(fleet.command_log("ivm1"))
    assert client.post(reverse("mobility:plan_revise", args=[migration.pk]), {"slot-scsi-3": "150"}).status_code == 403
    assert client.post(reverse("mobility:plan_revalidate", args=[migration.pk])).status_code == 403
    assert counts() == before and len(fleet.command_log("ivm1")) == log


def test_another_teams_requester_gets_404_for_the_plan(estate, rita, client, personas):
    migration = submitted(rita)
    client.force_login(personas["omar"])
    before = counts()
    assert client.get(reverse("mobility:plan_detail", args=[migration.pk])).status_code == 404
    assert client.post(reverse("mobility:plan_revise", args=[migration.pk]), {"slot-scsi-3": "150"}).status_code == 404
    assert client.get(reverse("mobility:plan_detail", args=[987654])).status_code == 404
    assert counts() == before


def test_a_running_partition_can_be_planned_to_move_shut_down(estate, rita):
    html = validated(rita, lpar("db01"), server("ivm2"), mode="inactive")
    assert 'data-testid="shutdown-notice"' in html and "osshutdown" in html
    response = review_and_confirm(rita, {**form_fields(html, SUBMIT), "reason": "Firmware update on the source"})
    assert response.status_code == 204, response.content.decode()[:1500]
    migration = Migration.objects.get(partition=lpar("db01"), status=MigrationStatus.PENDING_APPROVAL)
    assert migration.mode == "inactive"
    assert plans.latest_plan(migration).snapshot["options"] == {"activate_on_destination": False,
                                                                 "shutdown_source": True}


def test_an_inactive_move_of_a_running_partition_is_refused_without_the_shutdown(estate, requester):
    partition, destination = lpar("db01"), server("ivm2")
    ctx = plans.plan_context(partition, destination, "inactive")
    rows = planning.recommend_mappings(ctx.partition, ctx.destination).rows
    validation = plans.validate_plan(partition, destination, rows, user=requester)
    before = counts()
    with pytest.raises(plans.PlanRefused, match="shut it down first"):
        plans.submit_plan(partition=partition, destination=destination, user=requester, mode="inactive",
                          mappings=rows, validation=validation, reason="x", options={})
    assert counts() == before


@pytest.mark.parametrize("name, mode", [("web01", "active"), ("db01", "sideways")])
def test_a_mode_the_partition_cannot_make_is_refused_clearly(estate, rita, name, mode):
    from tests.plans.helpers import WIZARD

    response = rita.get(WIZARD, {"partition": lpar(name).pk, "destination": server("ivm2").pk, "mode": mode})
    assert response.status_code == 400
    assert f"cannot make a move of mode &#x27;{mode}&#x27; now" in response.content.decode()
    posted = rita.post(SUBMIT, {"partition": lpar(name).pk, "destination": server("ivm2").pk, "mode": mode,
                                "reason": "x", "digest": "0" * 64})
    assert posted.status_code == 400 and not Migration.objects.filter(partition=lpar(name)).exists()
    assert "cannot make a move of mode" in posted.content.decode()


def test_the_review_shows_what_will_be_stored_and_only_its_confirm_submits_exactly_that(estate, rita):
    html = validated(rita, lpar("db01"), server("ivm2"), mode="inactive")
    fields = {**form_fields(html, SUBMIT), "reason": "Firmware update", "activate_on_destination": "on"}
    before = counts()
    review = rita.post(SUBMIT, fields, headers=HTMX).content.decode()
    assert counts() == before  # a review stores nothing
    assert 'data-testid="review-panel"' in review
    assert re.search(r'data-testid="review-activate">ivmweb starts db01 on \S+ \(step 10\)', review)
    assert 'data-testid="review-reason">Firmware update<' in review
    reviewed = re.search(r'data-testid="review-hash">([0-9a-f]{64})<', review).group(1)
    confirm = form_fields(review, SUBMIT)
    assert confirm["reviewed"] == reviewed and confirm["confirm"] == "1"
    # a confirm that does not carry the hash of what was reviewed changes nothing
    refused = rita.post(SUBMIT, {**confirm, "reviewed": "0" * 64}, headers=HTMX).content.decode()
    assert "no longer exactly the one you reviewed" in refused and counts() == before
    response = rita.post(SUBMIT, confirm, headers=HTMX)
    assert response.status_code == 204
    migration = Migration.objects.get(partition=lpar("db01"), status=MigrationStatus.PENDING_APPROVAL)
    latest = plans.latest_plan(migration)
    assert latest.content_hash == reviewed
    assert latest.snapshot["options"] == {"activate_on_destination": True, "shutdown_source": True}
    page = rita.get(response.headers["HX-Redirect"]).content.decode()
    assert f"Submitted: migration #{migration.pk} asks to move db01" in page and "waits for a team lead" in page
