"""View guards over ``mobility.policy``. Unknown or foreign objects answer 404 (in the views) so that nothing
leaks; a role that does not grant a page's action answers 403 here."""

from functools import wraps

from django.core.exceptions import PermissionDenied

from mobility import policy


def allowed(action: str):
    """Refuse (403, with the policy's reason) a signed-in user whose roles do not grant the action."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            refusal = policy.refusal(request.user, action)
            if refusal is not None:
                raise PermissionDenied(refusal)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
