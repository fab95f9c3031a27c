"""Who is calling: a personal API token (``Authorization: Bearer ivm_…``); the browser's session is DRF's own
``SessionAuthentication`` (which enforces CSRF on unsafe methods)."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from mobility.api import tokens


class BearerTokenAuthentication(authentication.BaseAuthentication):
    """A personal API token; ``request.auth`` is the ``ApiToken`` (its scope is checked by the permission)."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword.lower().encode():
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("The Authorization header is 'Bearer <token>'.")
        try:
            secret = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("The token is not an ivmweb API token.") from None
        token, why = tokens.authenticate(secret, request.META.get("REMOTE_ADDR"))
        if token is None:
            raise exceptions.AuthenticationFailed(why)
        return token.user, token

    def authenticate_header(self, request):
        return f'{self.keyword} realm="api"'


class BearerTokenScheme(OpenApiAuthenticationExtension):
    target_class = BearerTokenAuthentication
    name = "apiToken"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "ivm_<prefix>_<secret>",
                "description": "A personal API token, made on the page 'API tokens' (shown once)."}
