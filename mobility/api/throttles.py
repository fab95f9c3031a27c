"""Rate limit per token (or per signed-in person on the session, or per address), counted in the default cache;
over it the answer is 429 with Retry-After."""

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from mobility.models import ApiToken


class PerTokenThrottle(SimpleRateThrottle):
    scope = "api"

    def get_rate(self):
        return settings.IVMWEB_API_RATE  # read per request: a test or an operator may change it

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            ident = f"token-{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"user-{request.user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return f"ivmweb-throttle-{self.scope}-{ident}"
