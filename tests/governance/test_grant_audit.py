"""Every change to who may do what is an audit event, whatever path makes it (not only the admin's forms)."""

import pytest
from django.contrib.auth.models import Group, User
from django.db import transaction

from mobility.choices import Role
from mobility.governance.grant_audit import changed_by
from mobility.models import AuditEvent, Team

pytestmark = pytest.mark.django_db


@pytest.fixture
def since(personas):
    """The events written after the personas were made, as (actor, action, data)."""
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    return lambda: [(e.actor_name, e.action, e.data) for e in AuditEvent.objects.filter(id__gt=start).order_by("id")]


def test_role_membership_from_either_side(personas, since):
    rita, omar, audrey = personas["rita"], personas["omar"], personas["audrey"]
    approver = Group.objects.get(name=Role.APPROVER)
    approver.user_set.add(rita, omar)
    approver.user_set.add(rita)  # already a member: nothing granted
    rita.groups.remove(approver)
    rita.groups.remove(approver)  # no longer a member: nothing revoked
    approver.user_set.clear()
    audrey.groups.set([approver])
    audrey.groups.clear()
    assert since() == [
        ("system", "role.granted", {"user": "rita", "role": "approver"}),
        ("system", "role.granted", {"user": "omar", "role": "approver"}),
        ("system", "role.revoked", {"user": "rita", "role": "approver"}),
        ("system", "role.revoked", {"user": "alex", "role": "approver"}),
        ("system", "role.revoked", {"user": "omar", "role": "approver"}),
        ("system", "role.revoked", {"user": "audrey", "role": "auditor"}),
        ("system", "role.granted", {"user": "audrey", "role": "approver"}),
        ("system", "role.revoked", {"user": "audrey", "role": "approver"}),
    ]


def test_team_membership_from_either_side_names_who_did_it(personas, since):
    rita, omar, adam = personas["rita"], personas["omar"], personas["adam"]
    analytics = changed_by(Team.objects.get(name="Analytics"), adam)
    analytics.members.add(rita)
    omar.teams.clear()
    assert since() == [
        ("adam", "team.member_added", {"team": "Analytics", "user": "rita"}),
        ("system", "team.member_removed", {"team": "Analytics", "user": "omar"}),
    ]


def test_user_flags_and_new_users(personas, since):
    rita = personas["rita"]
    rita.is_superuser = True
    rita.save()
    rita.save()  # nothing changed
    rita.is_active = False
    rita.save(update_fields=["last_login"])  # a sign-in's save writes no flag
    rita.save(update_fields=["is_active"])
    User.objects.create_user("newcomer")
    assert since() == [
        ("system", "user.access_changed", {"user": "rita", "changed": {"is_superuser": [False, True]}}),
        ("system", "user.access_changed", {"user": "rita", "changed": {"is_active": [True, False]}}),
        ("system", "user.created", {"user": "newcomer", "is_superuser": False, "is_staff": False,
                                    "is_active": True}),
    ]


def test_deleting_a_user_group_or_team_records_the_memberships_that_go_with_it(personas, since):
    Group.objects.create(name="operators").user_set.add(personas["omar"])
    changed_by(personas["omar"], personas["adam"]).delete()
    Group.objects.get(name="operators").delete()
    Team.objects.get(name="Payments").delete()
    assert since()[1:] == [
        ("adam", "user.deleted", {"user": "omar", "is_superuser": False, "is_staff": False, "is_active": True,
                                  "roles": ["operators", "requester"], "teams": ["Analytics"]}),
        ("system", "role.deleted", {"role": "operators", "members": []}),
        ("system", "team.deleted", {"team": "Payments", "members": ["alex", "rita"]}),
    ]


def test_the_record_goes_with_its_change(personas, since):
    with pytest.raises(RuntimeError), transaction.atomic():
        personas["rita"].groups.add(Group.objects.get(name=Role.ADMIN))
        raise RuntimeError("the change is rolled back")
    assert since() == []
    assert not personas["rita"].groups.filter(name=Role.ADMIN).exists()
