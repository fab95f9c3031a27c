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
    username = str(credentials.get("username", ""))[:150]
    # The actor's name holds 150 characters, "anonymous (...)" included: a longer name was a 500.
    audit.record("auth.login_failed", actor_name=f"anonymous ({username[:138]})" if username else "anonymous",
                 data={"username": username, **_client(request)})


@receiver(user_locked_out, dispatch_uid="ivmweb-audit-locked-out")
def audit_locked_out(sender, request, username=None, ip_address=None, **kwargs):
    # Sent for the failure that reaches the limit and for every try while locked (each starts the period again),
    # so each event says until when this name or address is refused.
    username = str(username or "")[:150]
    until = timezone.now() + get_cool_off(request)
    audit.record("auth.locked_out", actor_name=f"anonymous ({username})" if username else "anonymous",
                 data={"username": username, "failures": getattr(request, "axes_failures_since_start", None),
                       "locked_until": until.isoformat(timespec="seconds"), **_client(request)})
