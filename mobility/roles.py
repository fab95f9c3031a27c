"""Who may do what: roles are Django groups, ownership is team membership."""

from django.db.models import QuerySet

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


def visible_partitions(user, queryset: QuerySet) -> QuerySet:
    """Partitions a user may see: auditors and admins see all; others, their teams' partitions."""
    if has_role(user, Role.AUDITOR, Role.ADMIN):
        return queryset
    return queryset.filter(team__members=user)
