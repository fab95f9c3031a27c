"""Role × action matrix over every governance page, htmx endpoint and export.

Personas: rita (requester, Payments; the request is hers), alex (approver, Payments), olga (approver,
Analytics), audrey (auditor), adam (admin), and an anonymous visitor. 302 for anonymous is the
redirect to the login page; 404 means "not yours", indistinguishable from "does not exist".
"""

import pytest
from django.urls import reverse

from mobility.choices import MigrationStatus
from mobility.models import Approval, AuditEvent

pytestmark = pytest.mark.django_db

WHO = ("anonymous", "rita", "alex", "olga", "audrey", "adam")

GET_MATRIX = {
    #                      anonymous rita alex olga audrey adam
    "approvals":          (302, 403, 200, 200, 200, 403),
    "approval":           (302, 403, 200, 404, 200, 403),
    "approval-htmx":      (302, 403, 200, 404, 200, 403),
    "history":            (302, 403, 403, 403, 200, 403),
    "history-htmx":       (302, 403, 403, 403, 200, 403),
    "history-stats":      (302, 403, 403, 403, 200, 403),
    "export-csv":         (302, 403, 403, 403, 200, 403),
    "export-json":        (302, 403, 403, 403, 200, 403),
    "timeline":           (302, 403, 403, 403, 200, 403),
    "audit-log":          (302, 403, 403, 403, 200, 403),
}


def _url(name, migration):
    return {
        "approvals": (reverse("mobility:approvals"), False),
        "approval": (reverse("mobility:approval", args=[migration.pk]), False),
        "approval-htmx": (reverse("mobility:approval", args=[migration.pk]), True),
        "history": (reverse("mobility:history") + "?status=pending_approval", False),
        "history-htmx": (reverse("mobility:history") + "?status=pending_approval", True),
        "history-stats": (reverse("mobility:history_stats"), False),
        "export-csv": (reverse("mobility:history_export", args=["csv"]), False),
        "export-json": (reverse("mobility:history_export", args=["json"]), False),
        "timeline": (reverse("mobility:history_timeline", args=[migration.pk]), False),
        "audit-log": (reverse("mobility:audit_log") + "?action=plan.", False),
    }[name]


def _sign_in(client, personas, olga, who):
    if who == "olga":
        client.force_login(olga)
    elif who != "anonymous":
        client.force_login(personas[who])


@pytest.mark.parametrize("page", sorted(GET_MATRIX))
@pytest.mark.parametrize("who", WHO)
def test_get_matrix(client, personas, olga, pending, page, who):
    _sign_in(client, personas, olga, who)
    url, htmx = _url(page, pending)
    response = client.get(url, headers={"HX-Request": "true"} if htmx else {})
    expected = GET_MATRIX[page][WHO.index(who)]
    assert response.status_code == expected
    if expected == 302:
        assert response["Location"].startswith(reverse("login"))
    if expected == 200 and page.endswith("htmx"):
        assert b"<html" not in (response.content if not response.streaming else b"")
    if expected == 200:
        assert AuditEvent.objects.filter(action__endswith="refused").count() == 0


# POST vote: (status without htmx, status with htmx); only the team's approver changes anything.
VOTE_MATRIX = {
    "anonymous": (302, 302), "rita": (403, 403), "alex": (302, 200), "olga": (404, 404),
    "audrey": (403, 403), "adam": (403, 403),
}


@pytest.mark.parametrize("htmx", [False, True], ids=["form", "htmx"])
@pytest.mark.parametrize("who", WHO)
def test_vote_matrix(client, personas, olga, pending, who, htmx):
    _sign_in(client, personas, olga, who)
    response = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                           {"plan_hash": pending.latest_plan().content_hash, "decision": "approved", "comment": "go"},
                           headers={"HX-Request": "true"} if htmx else {})
    assert response.status_code == VOTE_MATRIX[who][htmx]
    pending.refresh_from_db()
    if who == "alex":
        assert pending.status == MigrationStatus.APPROVED and Approval.objects.count() == 1
    else:
        assert pending.status == MigrationStatus.PENDING_APPROVAL and not Approval.objects.exists()
    if who in ("rita", "olga", "audrey", "adam"):
        assert AuditEvent.objects.filter(action="approval.refused").count() == 1


def test_unknown_ids_answer_404_like_foreign_ones(client, personas, olga, pending):
    client.force_login(olga)
    foreign = client.post(reverse("mobility:approval_vote", args=[pending.pk]), {"plan_hash": pending.latest_plan().content_hash, "decision": "approved",
                                                                                 "comment": "x"})
    unknown = client.post(reverse("mobility:approval_vote", args=[pending.pk + 999]), {"plan_hash": pending.latest_plan().content_hash, "decision": "approved",
                                                                                       "comment": "x"})
    assert foreign.status_code == unknown.status_code == 404
    client.force_login(personas["audrey"])
    assert client.get(reverse("mobility:history_timeline", args=[pending.pk + 999])).status_code == 404
    assert client.get(reverse("mobility:approval", args=[pending.pk + 999])).status_code == 404


def test_another_teams_approver_does_not_see_the_request_in_the_list(client, olga, personas, pending):
    client.force_login(olga)
    assert f'data-testid="approval-{pending.pk}"' not in client.get(reverse("mobility:approvals")).text
    client.force_login(personas["alex"])
    html = client.get(reverse("mobility:approvals")).text
    assert f'data-testid="approval-{pending.pk}"' in html
    assert pending.plans.get().content_hash in html and "vios1" in html and "RMC was slow" in html
    assert 'name="comment"' in html


def test_auditors_see_every_pending_request_without_a_vote_form(client, personas, pending):
    client.force_login(personas["audrey"])
    html = client.get(reverse("mobility:approvals")).text
    assert f'data-testid="approval-{pending.pk}"' in html and 'name="comment"' not in html


def test_the_requester_as_approver_gets_no_form_and_a_refused_vote(client, personas, pending):
    from django.contrib.auth.models import Group

    rita = personas["rita"]
    rita.groups.add(Group.objects.get(name="approver"))
    client.force_login(rita)
    html = client.get(reverse("mobility:approval", args=[pending.pk])).text
    assert "your own request" in html and 'name="comment"' not in html
    response = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                           {"plan_hash": pending.latest_plan().content_hash, "decision": "approved", "comment": "mine"}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "your own request" in response.text
    assert not Approval.objects.exists()


def test_a_vote_without_comment_is_refused_with_a_message_and_audited(client, approver, pending):
    client.force_login(approver)
    response = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                           {"plan_hash": pending.latest_plan().content_hash, "decision": "approved", "comment": ""}, headers={"HX-Request": "true"})
    assert response.status_code == 400 and "A comment is required." in response.text
    assert not Approval.objects.exists()
    assert AuditEvent.objects.get(action="approval.refused").data["reason"] == "A comment is required."


def test_an_htmx_vote_returns_the_updated_card(client, approver, pending):
    client.force_login(approver)
    response = client.post(reverse("mobility:approval_vote", args=[pending.pk]),
                           {"plan_hash": pending.latest_plan().content_hash, "decision": "rejected", "comment": "Not this week."}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert f'id="approval-{pending.pk}"' in response.text and "Not this week." in response.text
    assert "<html" not in response.text and 'name="comment"' not in response.text
    pending.refresh_from_db()
    assert pending.status == MigrationStatus.REJECTED


def test_get_on_the_vote_endpoint_is_not_allowed(client, approver, pending):
    client.force_login(approver)
    assert client.get(reverse("mobility:approval_vote", args=[pending.pk])).status_code == 405
