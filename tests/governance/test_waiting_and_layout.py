"""What waits for an approver (the navigation's count, never their own requests), and the pages around the pages:
error pages inside the layout, the favicon, the skip link."""

import pytest
from django.contrib.auth.models import Group, User
from django.urls import reverse

from mobility import policy
from mobility.choices import Role
from mobility.models import Batch, Migration, Team
from tests.factories import make_partition
from tests.governance.conftest import add_plan, make_request

pytestmark = pytest.mark.django_db


def test_votable_is_the_four_eyes_rule_as_a_query(estate, personas, olga):
    rita, alex = personas["rita"], personas["alex"]
    # a Payments approver who also requests: his own request is never his to vote on
    alex.groups.add(Group.objects.get(name=Role.REQUESTER))
    requests = [
        make_request(estate.app01, rita, estate.b),  # alex may vote
        make_request(estate.app02, alex, estate.b),  # his own
        make_request(estate.ana01, rita, estate.b),  # another team's (olga's)
        make_request(estate.db01, rita, estate.c),  # alex wrote its version 2: another approver must decide
    ]
    add_plan(requests[3], alex)
    people = [rita, alex, olga, personas["audrey"], personas["adam"]]
    carol = User.objects.create_user("carol", password="pw-carol")  # an approver of Payments too
    carol.groups.add(Group.objects.get(name=Role.APPROVER))
    Team.objects.get(name="Payments").members.add(carol)
    for user in [*people, carol]:
        query = set(policy.votable(user).values_list("pk", flat=True))
        assert query == {m.pk for m in requests if policy.may(user, "vote", m)}, user
    assert set(policy.votable(alex).values_list("pk", flat=True)) == {requests[0].pk}
    assert set(policy.votable(carol).values_list("pk", flat=True)) == {requests[0].pk, requests[1].pk,
                                                                     requests[3].pk}


def test_the_navigation_counts_what_waits_for_this_approvers_vote(client, estate, personas):
    rita, alex = personas["rita"], personas["alex"]
    make_request(estate.app01, rita, estate.b)
    make_request(estate.app02, rita, estate.b, status="approved")  # decided: not waiting
    client.force_login(alex)
    html = client.get(reverse("mobility:migrations")).content.decode()
    assert '<span class="nav-count" data-testid="waiting-count"' in html and "1 waiting for your vote" in html
    Migration.objects.update(status="rejected")
    assert "waiting-count" not in client.get(reverse("mobility:migrations")).content.decode()
    client.force_login(rita)  # a requester has no approvals page, hence no count
    assert "waiting-count" not in client.get(reverse("mobility:migrations")).content.decode()


def test_a_batch_waits_as_one_vote_in_the_count_the_approvals_page_and_the_api(client, estate, personas):
    """A batch's members are voted on together: the navigation counts the batch once, and neither the approvals page
    nor the API's list of approvals lists its members one by one (they all ask ``approvals.waiting_alone``)."""
    rita, alex = personas["rita"], personas["alex"]
    batch = Batch.objects.create(kind=Batch.Kind.PICKED, status="pending_approval", requester=rita,
                                 team=Team.objects.get(name="Payments"))
    members = [make_request(p, rita, estate.b, batch=batch) for p in (estate.app01, estate.app02)]
    alone = make_request(estate.db01, rita, estate.c)
    client.force_login(alex)
    assert "2 waiting for your vote" in client.get(reverse("mobility:migrations")).content.decode()
    page = client.get(reverse("mobility:approvals")).content.decode()
    assert f'data-testid="approval-batch-{batch.pk}"' in page and f'data-testid="approval-{alone.pk}"' in page
    assert not any(f'data-testid="approval-{m.pk}"' in page for m in members)
    listed = client.get("/api/v1/approvals/").json()
    assert [a["migration"]["id"] for a in listed["results"]] == [alone.pk]
    # The count's query is the policy's four-eyes rule for a batch, for everyone: alex wrote a member's plan version
    # of a second batch, so that one is not his to vote on (another Payments approver's).
    other = Batch.objects.create(kind=Batch.Kind.PICKED, status="pending_approval", requester=rita,
                                 team=Team.objects.get(name="Payments"))
    extra = make_partition(estate.a, "app03", 5, team=estate.payments)
    add_plan(make_request(extra, rita, estate.b, batch=other), alex)
    for user in personas.values():
        assert set(policy.votable_batches(user)) == {b for b in (batch, other) if policy.may(user, "vote", b)}, user
    assert set(policy.votable_batches(alex)) == {batch}


def test_403_and_404_pages_are_inside_the_layout_with_a_way_back(client, personas):
    client.force_login(personas["rita"])
    refused = client.get(reverse("mobility:history"))
    html = refused.content.decode()
    assert refused.status_code == 403 and 'data-testid="error-403"' in html
    assert "auditors" in html and 'class="topbar"' in html and 'href="/">Back to the start page' in html
    missing = client.get("/migrations/999999/")
    html = missing.content.decode()
    assert missing.status_code == 404 and 'data-testid="error-404"' in html and 'class="topbar"' in html
    assert "belongs to another team" in html


def test_every_page_offers_a_skip_link_and_a_favicon(client, personas):
    client.force_login(personas["rita"])
    html = client.get(reverse("mobility:inventory")).content.decode()
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    assert 'rel="icon" href="/static/favicon.svg"' in html
    favicon = client.get("/favicon.ico")
    assert favicon.status_code == 301 and favicon["Location"] == "/static/favicon.svg"
