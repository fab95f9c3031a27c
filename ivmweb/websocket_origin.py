"""The websocket's Origin check: the same rule as Django's CSRF Origin check for unsafe HTTP requests.

A handshake is let through only when its Origin names, with scheme, host and port, either this site as the
request reached it (the Host header, which must be in ALLOWED_HOSTS, with the request's scheme) or an origin in
CSRF_TRUSTED_ORIGINS (exact, or ``scheme://*.domain`` for its subdomains). Channels' AllowedHostsOriginValidator
compares host names only, so a page on another port or scheme of the same host could open a socket with the
user's cookie. Anything else, a missing Origin included (browsers always send one), is refused before the
handshake completes: the browser sees a 403.
"""

import logging
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import is_same_domain, split_domain_port, validate_host

logger = logging.getLogger("mobility.live")


class SameOriginValidator:
    def __init__(self, application):
        self.application = application

    async def __call__(self, scope, receive, send):
        if scope["type"] != "websocket":
            raise ValueError("SameOriginValidator guards websockets only")
        headers = {}
        for name, value in scope.get("headers", []):
            headers.setdefault(name.lower(), []).append(value.decode("latin1").strip().lower())
        origins = headers.get(b"origin", [])
        if len(origins) == 1 and _allowed(origins[0], scope, headers):
            return await self.application(scope, receive, send)
        logger.warning("websocket refused: Origin %r, Host %r", origins, headers.get(b"host"))
        return await WebsocketDenier()(scope, receive, send)


def _allowed(origin: str, scope, headers) -> bool:
    if origin == _own_origin(scope, headers):
        return True
    trusted = [t.lower() for t in settings.CSRF_TRUSTED_ORIGINS]
    if origin in {t for t in trusted if "*" not in t}:
        return True
    try:
        scheme, netloc = urlsplit(origin)[:2]
        patterns = [urlsplit(t)[:2] for t in trusted if "*" in t]
    except ValueError:
        return False
    return any(scheme == p_scheme and is_same_domain(netloc, p_netloc.lstrip("*")) for p_scheme, p_netloc in patterns)


def _own_origin(scope, headers) -> str | None:
    """This site as the handshake reached it: its Host (when allowed) with its scheme."""
    hosts = headers.get(b"host", [])
    if len(hosts) != 1:
        return None
    domain, _ = split_domain_port(hosts[0])
    allowed = settings.ALLOWED_HOSTS or ([".localhost", "127.0.0.1", "[::1]"] if settings.DEBUG else [])
    if not domain or not validate_host(domain, allowed):
        return None
    return f"{'https' if _is_secure(scope, headers) else 'http'}://{hosts[0]}"


def _is_secure(scope, headers) -> bool:
    """wss directly, or https at a TLS proxy that says so in SECURE_PROXY_SSL_HEADER (as Django trusts it)."""
    if scope.get("scheme") == "wss":
        return True
    proxy = getattr(settings, "SECURE_PROXY_SSL_HEADER", None)
    if not proxy:
        return False
    meta_name, secure_value = proxy
    values = headers.get(meta_name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin1"), [])
    return len(values) == 1 and values[0].split(",", 1)[0].strip() == secure_value.lower()
