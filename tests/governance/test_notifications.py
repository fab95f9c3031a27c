"""Mail at each notification point, sent only once the change commits, with a link to the site."""

import pytest
from django.db import transaction

from mobility import notifications
from mobility.governance.approvals import approve, reject
from tests.governance.conftest import make_request

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site(settings):
    settings.SITE_URL = "https://ivmweb.example.com"


def test_approvers_of_the_team_hear_of_a_new_request(estate, requester, olga, personas, mailoutbox,
                                                     django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        migration = make_request(estate.app01, requester, estate.b)
        notifications.notify_new_request(migration)
    assert len(mailoutbox) == 1
    mail = mailoutbox[0]
    assert mail.to == ["alex@example.com"]  # not olga (other team), not rita (the requester)
    assert "app01" in mail.subject
    assert f"https://ivmweb.example.com/approvals/{migration.pk}/" in mail.body


@pytest.mark.parametrize(("vote", "word"), [(approve, "approved"), (reject, "rejected")])
def test_the_requester_hears_of_the_decision(pending, approver, mailoutbox, django_capture_on_commit_callbacks,
                                             vote, word):
    with django_capture_on_commit_callbacks(execute=True):
        vote(pending, approver, "Reviewed with the DBA.", plan_hash=pending.latest_plan().content_hash)
    assert [m.to for m in mailoutbox] == [["rita@example.com"]]
    assert word in mailoutbox[0].subject and "Reviewed with the DBA." in mailoutbox[0].body
    assert "https://ivmweb.example.com/" in mailoutbox[0].body


@pytest.mark.parametrize(("notify", "word"), [
    (notifications.notify_started, "started"),
    (notifications.notify_completed, "completed"),
    (notifications.notify_failed, "failed"),
])
def test_the_requester_hears_of_start_completion_and_failure(pending, mailoutbox, django_capture_on_commit_callbacks,
                                                             notify, word):
    pending.outcome = "HSCLA27C The partition did not answer"
    pending.suspend_window_s = 1.25
    with django_capture_on_commit_callbacks(execute=True):
        notify(pending)
    assert len(mailoutbox) == 1 and mailoutbox[0].to == ["rita@example.com"]
    assert f"Migration {word}: app01" in mailoutbox[0].subject
    assert "https://ivmweb.example.com/" in mailoutbox[0].body
    if word == "failed":
        assert "HSCLA27C" in mailoutbox[0].body
    if word == "completed":
        assert "1.2 s" in mailoutbox[0].body or "1.3 s" in mailoutbox[0].body


def test_nothing_is_sent_when_the_change_rolls_back(pending, approver, mailoutbox,
                                                    django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        try:
            with transaction.atomic():
                notifications.notify_started(pending)
                raise RuntimeError("the start failed")
        except RuntimeError:
            pass
    assert callbacks == [] and mailoutbox == []


def test_a_refused_vote_sends_nothing(pending, requester, mailoutbox, django_capture_on_commit_callbacks):
    from mobility.governance.approvals import ApprovalRefused

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(ApprovalRefused):
        approve(pending, requester, "mine", plan_hash=pending.latest_plan().content_hash)
    assert mailoutbox == []
