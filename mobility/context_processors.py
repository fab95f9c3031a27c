"""Navigation by role: each person sees the pages their roles let them use (``mobility.policy``), nothing else."""

from django.urls import reverse

from mobility import policy
from mobility.governance import approvals
from mobility.roles import roles_of

# (label, url name, the policy action the page is for; None = every signed-in user)
NAVIGATION = (
    ("Inventory", "mobility:inventory", None),
    ("New migration", "mobility:plan_new", "plan"),
    ("Dashboard", "mobility:dashboard", None),
    ("Migrations", "mobility:migrations", None),
    ("Batches", "mobility:batches", None),
    ("Approvals", "mobility:approvals", "vote"),
    ("History", "mobility:history", "read_history"),
    ("IVM consoles", "mobility:consoles", "manage_consoles"),
)


def navigation(request):
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {"nav_items": [], "user_roles": frozenset()}
    items = [
        {"label": label, "url": reverse(name), "active": request.path.startswith(reverse(name))}
        for label, name, action in NAVIGATION
        if action is None or policy.may(user, action)
    ]
    for item in items:
        if item["label"] == "Approvals":  # what waits for this approver's vote (never their own requests)
            item["count"] = approvals.waiting_count(user)
    return {"nav_items": items, "user_roles": roles_of(user)}
