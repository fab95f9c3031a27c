"""A user's roles: Django groups with the names of ``Role``; a superuser is an admin. What the roles allow is
``mobility.policy``'s."""

from mobility.choices import Role


def roles_of(user) -> frozenset[str]:
    """The role names of a user; cached on the user object for the request."""
    if not getattr(user, "is_authenticated", False):
        return frozenset()
    cached = getattr(user, "_ivmweb_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        if user.is_superuser:
            cached |= {Role.ADMIN}
        user._ivmweb_roles = cached
    return cached


def has_role(user, *roles: str) -> bool:
    return bool(roles_of(user) & set(roles))
