"""View guards. Unknown or foreign objects answer 404 so that nothing leaks."""

from functools import wraps

from django.core.exceptions import PermissionDenied

from mobility.roles import has_role


def role_required(*roles: str):
    """Refuse (403) a signed-in user who has none of the roles."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your role does not allow this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
