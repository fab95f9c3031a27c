"""Navigation by role: each person sees the pages their role can use, nothing else."""

from django.urls import reverse

from mobility.choices import Role
from mobility.roles import roles_of

# (label, url name, roles that see it; None = every signed-in user)
NAVIGATION = (
    ("Inventory", "mobility:inventory", None),
    ("New migration", "mobility:plan_new", {Role.REQUESTER, Role.ADMIN}),
    ("Dashboard", "mobility:dashboard", None),
    ("Migrations", "mobility:migrations", None),
    ("Approvals", "mobility:approvals", {Role.APPROVER}),
    ("History", "mobility:history", {Role.AUDITOR}),
    ("IVM consoles", "mobility:consoles", {Role.ADMIN}),
)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": frozenset()}
    roles = roles_of(user)
    items = [
        {"label": label, "url": reverse(name), "active": request.path.startswith(reverse(name))}
        for label, name, allowed in NAVIGATION
        if allowed is None or roles & allowed
    ]
    return {"nav_items": items, "user_roles": roles}
