"""Sign-ins, failed sign-ins and sign-outs go to the audit trail.

Connected on import (with dispatch uids, so importing twice connects once); ``MobilityConfig.ready``
imports this module.
"""

from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

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
