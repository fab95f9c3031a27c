"""Sign-ins, failed sign-ins, lockouts (django-axes) and sign-outs go to the audit trail.

Connected on import (with dispatch uids, so importing twice connects once); ``MobilityConfig.ready``
imports this module.
"""

from axes.helpers import get_cool_off
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver
from django.utils import timezone

from mobility.governance import audit

USERNAME_MAX = 150  # User.username's length: longer is no user name, and overflowed the audit and axes' columns


def signin_username(request, credentials) -> str:
    """The name axes counts failed sign-ins under (``AXES_USERNAME_CALLABLE``), cut to a user name's length."""
    name = (credentials or {}).get("username")
    if name is None and request is not None:
        name = request.POST.get("username", "")
    return str(name or "")[:USERNAME_MAX]


def _anonymous(username: str) -> str:
    """The actor's name of a sign-in by nobody yet: it holds 150 characters, "anonymous (...)" included."""
    return f"anonymous ({username[:USERNAME_MAX - 12]})" if username else "anonymous"


def _client(request) -> dict:
    if request is None:
        return {}
    return {"ip": request.META.get("REMOTE_ADDR", ""),
            "user_agent": request.META.get("HTTP_USER_AGENT", "")[:200]}


@receiver(user_logged_in, dispatch_uid="ivmweb-audit-login")
def audit_login(sender, request, user, **kwargs):
    audit.record("auth.login", actor=user, data=_client(request))


@receiver(user_logged_out, dispatch_uid="ivmweb-audit-logout")
def audit_logout(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", actor=user, data=_client(request))


@receiver(user_login_failed, dispatch_uid="ivmweb-audit-login-failed")
def audit_login_failed(sender, credentials, request=None, **kwargs):
    # Django has already masked the password in `credentials`; only the user name is kept.
    username = str(credentials.get("username", ""))[:USERNAME_MAX]
    audit.record("auth.login_failed", actor_name=_anonymous(username),
                 data={"username": username, **_client(request)})


@receiver(user_locked_out, dispatch_uid="ivmweb-audit-locked-out")
def audit_locked_out(sender, request, username=None, ip_address=None, **kwargs):
    # Sent for the failure that reaches the limit and for every try while locked (each starts the period again),
    # so each event says until when this name or address is refused.
    username = str(username or "")[:USERNAME_MAX]
    until = timezone.now() + get_cool_off(request)
    audit.record("auth.locked_out", actor_name=_anonymous(username),
                 data={"username": username, "failures": getattr(request, "axes_failures_since_start", None),
                       "locked_until": until.isoformat(timespec="seconds"), **_client(request)})
