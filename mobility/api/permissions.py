"""The API's one gate of its own: a signed-in caller, and a token of scope 'read' only reads. Everything else (who
may see or do what) is ``mobility.policy``'s, asked by the views."""

from rest_framework import permissions

from mobility.models import ApiToken


class SignedInWithScope(permissions.BasePermission):
    message = "This token's scope is read: it cannot change anything. Make a token of scope write."

    def has_permission(self, request, view):
        if not (request.user and request.user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        token = request.auth
        return not isinstance(token, ApiToken) or token.may_write
