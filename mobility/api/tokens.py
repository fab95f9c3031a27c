"""Personal API tokens: made (shown once), found from the secret a client sends, revoked; each audited.

A token reads ``ivm_<prefix>_<secret>``: the prefix (8 characters) is stored in clear so people can tell their
tokens apart, the whole token only as its SHA-256. 32 random bytes make the secret; a digest of such a secret needs
no slow hash (nothing to guess), and the look-up is by the digest's unique index, so it takes the same time whatever
the token.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from mobility.governance import audit
from mobility.models import ApiToken

PREFIX = "ivm_"
NAME_MAX = 80
# A token used again from the address it was last used from writes its last-used time at most this often.
TOUCH_EVERY = timedelta(seconds=60)


class TokenRefused(ValueError):
    """A token cannot be made as asked; the message says why."""


@dataclass(frozen=True)
class Issued:
    token: ApiToken
    secret: str  # the whole token, shown once


def digest_of(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def create(user, *, name: str, scope: str, days: int) -> Issued:
    """Make a token for ``user``; the returned secret is never stored nor shown again. Audited (``api_token.created``)."""
    name = (name or "").strip()
    if not name:
        raise TokenRefused("Give the token a name (what it is for).")
    if len(name) > NAME_MAX:
        raise TokenRefused(f"The name is longer than {NAME_MAX} characters.")
    if scope not in ApiToken.Scope.values:
        raise TokenRefused("The scope is read, or write (read and write).")
    if not 1 <= days <= settings.IVMWEB_API_TOKEN_MAX_DAYS:
        raise TokenRefused(f"A token lasts from 1 to {settings.IVMWEB_API_TOKEN_MAX_DAYS} days.")
    prefix = secrets.token_hex(4)
    secret = f"{PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    now = timezone.now()
    with transaction.atomic():
        token = ApiToken.objects.create(user=user, name=name, prefix=prefix, digest=digest_of(secret), scope=scope,
                                        created_at=now, expires_at=now + timedelta(days=days))
        audit.record("api_token.created", actor=user, obj=token,
                     data={"name": name, "prefix": prefix, "scope": scope, "expires_at": token.expires_at})
    return Issued(token, secret)


def revoke(user, token_id: int) -> ApiToken | None:
    """Revoke one of ``user``'s own tokens (None: no such token of theirs). Audited (``api_token.revoked``)."""
    with transaction.atomic():
        token = ApiToken.objects.select_for_update().filter(pk=token_id, user=user).first()
        if token is None:
            return None
        if token.revoked_at is None:
            token.revoked_at = timezone.now()
            token.save(update_fields=["revoked_at"])
            audit.record("api_token.revoked", actor=user, obj=token, data={"name": token.name, "prefix": token.prefix})
    return token


def authenticate(secret: str, address: str | None) -> tuple[ApiToken | None, str]:
    """The active token for a secret a client sent, with its user, or (None, why not). A use from another address
    than the last one is audited (``api_token.new_address``); the last-used time is kept to the minute."""
    if not secret.startswith(PREFIX) or len(secret) > 200:
        return None, "The token is not an ivmweb API token."
    token = ApiToken.objects.select_related("user").filter(digest=digest_of(secret)).first()
    if token is None:
        return None, "The token is not known."
    if token.revoked_at is not None:
        return None, "The token was revoked."
    now = timezone.now()
    if token.expires_at <= now:
        return None, "The token has expired."
    if not token.user.is_active:
        return None, "The token's user is inactive."
    moved = address is not None and address != token.last_address
    if moved or token.last_used_at is None or now - token.last_used_at >= TOUCH_EVERY:
        with transaction.atomic():
            ApiToken.objects.filter(pk=token.pk).update(last_used_at=now, last_address=address)
            if moved:
                audit.record("api_token.new_address", actor=token.user, obj=token,
                             data={"prefix": token.prefix, "address": address, "previous": token.last_address})
        token.last_used_at, token.last_address = now, address
    return token, ""
