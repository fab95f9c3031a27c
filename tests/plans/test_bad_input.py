"""Bad input to the wizard: unknown, foreign and malformed ids answer 404 and leak nothing; another team's
partition is refused and audited; none of it changes a row."""

import re

import pytest
from django.urls import reverse

from mobility import plans
from mobility.models import AuditEvent, Partition
from tests.plans.conftest import counts, lpar, server
from tests.plans.helpers import HTMX, SUBMIT, VALIDATE, WIZARD, form_fields, validated

pytestmark = pytest.mark.django_db


@pytest.fixture
def rita(client, requester):
    client.force_login(requester)
    return client


@pytest.mark.parametrize("raw", ["999999", "abc", "1;rm -rf /", "-1", "2 OR 1=1", "1" * 40, "$(reboot)"])
def test_unknown_or_malformed_partition_ids_are_404(estate, rita, raw):
    before = counts()
    for url in (WIZARD,):
        response = rita.get(url, {"partition": raw})
        assert response.status_code == 404
    assert rita.post(VALIDATE, {"partition": raw, "destination": "1"}).status_code == 404
    assert counts() == before


def test_a_management_partition_is_not_plannable(estate, client, admin_user):
    client.force_login(admin_user)
    vios = Partition.objects.get(name="vios1")
    assert client.get(WIZARD, {"partition": vios.pk}).status_code == 404


@pytest.mark.parametrize("raw", ["999999", "abc", "1;reboot"])
def test_unknown_or_malformed_server_ids_are_404(estate, rita, raw):
    before = counts()
    assert rita.get(WIZARD, {"partition": lpar("app01").pk, "destination": raw}).status_code == 404
    assert counts() == before


def test_the_partitions_own_server_is_not_a_destination(estate, rita):
    assert rita.get(WIZARD, {"partition": lpar("app01").pk, "destination": server("ivm1").pk}).status_code == 404


def test_another_teams_partition_is_refused_audited_and_looks_unknown(estate, client, personas):
    client.force_login(personas["omar"])  # Analytics; app01 belongs to Payments
    before, audited = counts(), AuditEvent.objects.filter(action="plan.refused").count()
    response = client.get(WIZARD, {"partition": lpar("app01").pk})
    assert response.status_code == 404
    assert b"app01" not in response.content
    unknown = client.get(WIZARD, {"partition": "999999"})
    # indistinguishable (but for the per-response mask of the CSRF token in the layout)
    def unmasked(page):
        return re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', b"", page.content)

    assert unknown.status_code == 404 and unmasked(unknown) == unmasked(response)
    refused = AuditEvent.objects.filter(action="plan.refused").order_by("-id")
    assert refused.count() == audited + 1
    assert refused[0].actor_name == "omar" and refused[0].object_id == str(lpar("app01").pk)
    assert counts() == before
    # his own team's partitions are fine
    assert client.get(WIZARD, {"partition": lpar("app21", "ivm3").pk}).status_code == 200


def test_submit_for_another_teams_partition_through_the_api_is_refused_and_audited(estate, personas):
    omar = personas["omar"]
    before = counts()
    with pytest.raises(plans.PlanRefused):
        plans.submit_plan(partition=lpar("app01"), destination=server("ivm2"), user=omar, mode="active",
                          mappings=(), validation={"ok": True}, reason="x")
    assert counts() == before
    assert AuditEvent.objects.filter(action="plan.refused", actor_name="omar").exists()


def test_a_posted_mode_or_digest_cannot_be_forged(estate, rita, requester):
    html = validated(rita, lpar("app01"), server("ivm2"))
    fields = {**form_fields(html, SUBMIT), "reason": "maintenance"}
    before = counts()
    forged = rita.post(SUBMIT, {**fields, "digest": "0" * 20}, headers=HTMX).content.decode()
    assert 'data-testid="stale"' in forged
    with pytest.raises(plans.PlanRefused, match="shut it down first"):  # inactive while Running: only with step 2
        plans.submit_plan(partition=lpar("app01"), destination=server("ivm2"), user=requester, mode="inactive",
                          mappings=(), validation={"ok": True}, reason="x")
    with pytest.raises(plans.PlanRefused, match="cannot make an active move"):
        plans.submit_plan(partition=lpar("web01"), destination=server("ivm2"), user=requester, mode="active",
                          mappings=(), validation={"ok": True}, reason="x")
    with pytest.raises(plans.PlanRefused, match="validation"):
        plans.submit_plan(partition=lpar("app01"), destination=server("ivm2"), user=requester, mode="active",
                          mappings=(), validation={"ok": False}, reason="x")
    assert counts() == before


def test_validate_and_submit_need_post_and_a_requester(estate, client, auditor, rita):
    assert rita.get(VALIDATE).status_code == 405
    assert rita.get(SUBMIT).status_code == 405
    client.force_login(auditor)
    assert client.post(VALIDATE, {"partition": lpar("app01").pk}).status_code == 403
    assert client.post(SUBMIT, {"partition": lpar("app01").pk}).status_code == 403


def test_anonymous_users_are_sent_to_sign_in(estate, client):
    response = client.get(WIZARD)
    assert response.status_code == 302 and reverse("login") in response.headers["Location"]
