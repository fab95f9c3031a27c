"""Sign-in throttling (django-axes) through the real sign-in form, on PostgreSQL: the configured number of failures
locks the account, or the client address, for the configured period with a page that says when to try again; the
lockout is in the hash-chained audit trail; time or an admin lifts it. Also the idle session timeout and the demo's
passwords against the validators."""

from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from mobility.governance.audit import verify_chain
from mobility.models import AuditEvent
from tests.markers import postgresql_only

pytestmark = [pytest.mark.django_db, postgresql_only]

LIMIT = settings.AXES_FAILURE_LIMIT
LOCKED = "sign-in is locked"


def sign_in(username: str, password: str, ip: str = "127.0.0.1"):
    """One sign-in through the login form, from a fresh browser at ``ip``; the response, and whether it signed in."""
    client = Client(REMOTE_ADDR=ip)
    response = client.post(reverse("login"), {"username": username, "password": password})
    return response, "_auth_user_id" in client.session


def fail(username: str, times: int, ip: str = "127.0.0.1"):
    return [sign_in(username, "wrong-password", ip)[0] for _ in range(times)]


def assert_locked(response, signed_in):
    assert response.status_code == 429 and not signed_in
    page = response.content.decode()
    assert LOCKED in page
    assert f"Try again in {settings.AXES_COOLOFF_TIME // timedelta(minutes=1)} minutes" in page


def age_attempts(minutes: int):
    """Move the recorded failures ``minutes`` into the past, as if that time had gone by."""
    AccessAttempt.objects.update(attempt_time=F("attempt_time") - timedelta(minutes=minutes))


def test_the_configured_failures_lock_the_account_and_the_right_password_is_refused(requester):
    assert LIMIT == 5 and settings.AXES_COOLOFF_TIME == timedelta(minutes=15)  # the documented defaults
    *before, last = fail("rita", LIMIT)
    for response in before:
        assert response.status_code == 200 and "did not match" in response.content.decode()
    assert_locked(last, False)
    assert_locked(*sign_in("rita", "pw-rita"))


def test_the_lockout_is_in_the_audit_chain(requester):
    fail("rita", LIMIT, ip="10.0.0.7")
    event = AuditEvent.objects.get(action="auth.locked_out")
    assert event.actor_name == "anonymous (rita)"
    assert event.data["username"] == "rita" and event.data["ip"] == "10.0.0.7"
    assert event.data["failures"] == LIMIT
    until = timezone.datetime.fromisoformat(event.data["locked_until"])
    assert abs(until - (timezone.now() + settings.AXES_COOLOFF_TIME)) < timedelta(minutes=1)
    result = verify_chain()
    assert result.ok
    event.refresh_from_db()
    assert event.position is not None and event.hash  # sealed into the chain


def test_sign_in_works_again_after_the_cool_off_period(requester):
    fail("rita", LIMIT)
    age_attempts(14)
    assert_locked(*sign_in("rita", "pw-rita"))  # still locked, and this try starts the period again
    age_attempts(14)
    assert_locked(*sign_in("rita", "pw-rita"))
    age_attempts(16)
    response, signed_in = sign_in("rita", "pw-rita")
    assert signed_in and response.status_code == 302


def test_an_admin_unlocks_with_axes_reset(requester):
    fail("rita", LIMIT)
    assert_locked(*sign_in("rita", "pw-rita"))
    call_command("axes_reset")
    assert sign_in("rita", "pw-rita")[1]


def test_the_account_is_locked_whichever_address_the_failures_come_from(requester, approver):
    for n in range(LIMIT):
        fail("rita", 1, ip=f"10.0.1.{n + 1}")
    assert_locked(*sign_in("rita", "pw-rita", ip="10.0.2.1"))
    assert sign_in("alex", "pw-alex", ip="10.0.1.1")[1]  # neither those addresses nor other accounts are locked


def test_an_address_is_locked_whichever_accounts_it_tries(requester, approver):
    for n in range(LIMIT):
        fail(f"guess{n}", 1, ip="10.0.3.3")
    assert_locked(*sign_in("rita", "pw-rita", ip="10.0.3.3"))
    assert sign_in("rita", "pw-rita", ip="10.0.3.4")[1]  # rita herself is not locked


def test_successful_sign_ins_do_not_count_as_failures(requester):
    fail("rita", LIMIT - 1)
    for _ in range(LIMIT):
        response, signed_in = sign_in("rita", "pw-rita")
        assert signed_in and response.status_code == 302
    assert not AuditEvent.objects.filter(action="auth.locked_out").exists()
    assert_locked(fail("rita", 1)[0], False)  # nor do they wipe the failures: this one is the limit's


def test_an_idle_session_ends_after_the_configured_hours_and_each_request_moves_it_on(requester):
    assert settings.SESSION_COOKIE_AGE == 8 * 3600
    client = Client()
    assert client.post(reverse("login"), {"username": "rita", "password": "pw-rita"}).status_code == 302
    session = Session.objects.get()
    Session.objects.update(expire_date=timezone.now() + timedelta(minutes=1))
    assert client.get(reverse("mobility:inventory")).status_code == 200
    session.refresh_from_db()
    assert session.expire_date > timezone.now() + timedelta(hours=8) - timedelta(minutes=1)


def test_the_demo_passwords_pass_the_validators(db):
    from django.contrib.auth.models import User

    from mobility.demo import ensure_personas

    passwords = ensure_personas()
    assert passwords
    for username, password in passwords.items():
        validate_password(password, User.objects.get(username=username))
    assert [v["NAME"].rsplit(".", 1)[1] for v in settings.AUTH_PASSWORD_VALIDATORS] == [
        "UserAttributeSimilarityValidator", "MinimumLengthValidator", "CommonPasswordValidator",
        "NumericPasswordValidator"]
