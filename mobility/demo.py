"""Demo people and teams for `make run` (also used by tests as personas)."""

import secrets as pysecrets
from dataclasses import dataclass

from django.contrib.auth.models import Group, User
from django.db import transaction

from mobility.choices import Role
from mobility.models import Team


@dataclass(frozen=True)
class Persona:
    username: str
    role: str
    teams: tuple[str, ...]
    full_name: str


PERSONAS = (
    Persona("rita", Role.REQUESTER, ("Payments",), "Rita Requester"),
    Persona("alex", Role.APPROVER, ("Payments",), "Alex Approver"),
    Persona("omar", Role.REQUESTER, ("Analytics",), "Omar Requester"),
    Persona("audrey", Role.AUDITOR, (), "Audrey Auditor"),
    Persona("adam", Role.ADMIN, (), "Adam Admin"),
)


@transaction.atomic
def ensure_personas(*, reset_passwords: bool = False) -> dict[str, str]:
    """Create the demo teams and users; return {username: password} for those whose password was set now."""
    created: dict[str, str] = {}
    for persona in PERSONAS:
        user, is_new = User.objects.get_or_create(username=persona.username)
        first, _, last = persona.full_name.partition(" ")
        user.first_name, user.last_name = first, last
        user.email = f"{persona.username}@example.com"
        user.is_staff = persona.role == Role.ADMIN
        user.is_superuser = persona.role == Role.ADMIN
        if is_new or reset_passwords:
            password = pysecrets.token_urlsafe(12)
            user.set_password(password)
            created[persona.username] = password
        user.save()
        user.groups.add(Group.objects.get_or_create(name=persona.role)[0])
        for team_name in persona.teams:
            Team.objects.get_or_create(name=team_name)[0].members.add(user)
    return created
