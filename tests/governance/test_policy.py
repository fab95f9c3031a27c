"""The access policy asked directly, on PostgreSQL: roles × teams × objects × actions.

People: one per (roles, team). Roles: requester, approver, both (requester and approver), auditor, admin, none
(a team member without a role). Team: "own" = Payments, which owns app01 and its request; "other" = Analytics.
The request was asked for (and its plan version 1 written) by rick, a Payments requester who is in none of
the matrix rows, so that "a requester of the team" and "the requester" are told apart.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser, Group, User
from django.urls import reverse
from django.utils import timezone

from mobility import policy
from mobility.choices import Role
from mobility.models import Approval, AuditEvent, Migration, Partition, PlanVersion
from tests.factories import make_partition
from tests.governance.conftest import add_plan, make_request

pytestmark = pytest.mark.django_db

ROLES = {
    "requester": (Role.REQUESTER,),
    "approver": (Role.APPROVER,),
    "both": (Role.REQUESTER, Role.APPROVER),
    "auditor": (Role.AUDITOR,),
    "admin": (Role.ADMIN,),
    "none": (),
}
TEAMS = ("own", "other")
PEOPLE = [f"{roles}/{team}" for roles in ROLES for team in TEAMS]


def make_user(name: str, roles, team) -> User:
    user = User.objects.create_user(name.replace("/", "-"), email=f"{name.replace('/', '-')}@example.com")
    user.groups.add(*(Group.objects.get_or_create(name=role)[0] for role in roles))
    if team is not None:
        team.members.add(user)
    return user


@pytest.fixture
def world(estate):
    """The people of the matrix, and one object of each kind owned by Payments."""
    teams = {"own": estate.payments, "other": estate.analytics}
    people = {key: make_user(key, ROLES[key.split("/")[0]], teams[key.split("/")[1]]) for key in PEOPLE}
    rick = make_user("rick", (Role.REQUESTER,), estate.payments)
    migration = make_request(estate.app01, rick, estate.b)
    plan = migration.plans.get()
    vote = Approval.objects.create(migration=migration, plan=plan, content_hash=plan.content_hash,
                                   approver=people["approver/own"], decision="approved", comment="ok",
                                   expires_at=timezone.now() + timedelta(hours=1))
    record = AuditEvent.objects.get(action="plan.submitted")
    return {"people": people, "rick": rick, "partition": estate.app01, "migration": migration, "plan": plan,
            "vote": vote, "audit": record}


# --- what each person sees ------------------------------------------------------------------------------------

THEIR_TEAMS = {"partition", "migration", "plan", "vote"}  # everything but the audit trail
EVERYTHING = THEIR_TEAMS | {"audit"}
SEES = {
    "requester/own": THEIR_TEAMS, "requester/other": set(),
    "approver/own": THEIR_TEAMS, "approver/other": set(),
    "both/own": THEIR_TEAMS, "both/other": set(),
    "auditor/own": EVERYTHING, "auditor/other": EVERYTHING,
    "admin/own": THEIR_TEAMS, "admin/other": THEIR_TEAMS,  # every team's; not the audit trail
    "none/own": THEIR_TEAMS, "none/other": set(),
}
QUERYSETS = {
    "partition": (policy.partitions, Partition),
    "migration": (policy.migrations, Migration),
    "plan": (policy.plans, PlanVersion),
    "vote": (policy.votes, Approval),
    "audit": (policy.audit_records, AuditEvent),
}


@pytest.mark.parametrize("kind", sorted(QUERYSETS))
@pytest.mark.parametrize("who", PEOPLE)
def test_what_each_person_sees(world, who, kind):
    user, obj = world["people"][who], world[kind]
    scope, model = QUERYSETS[kind]
    expected = kind in SEES[who]
    assert scope(user).filter(pk=obj.pk).exists() is expected
    assert scope(user, model.objects.filter(pk=obj.pk)).exists() is expected
    assert policy.may_see(user, obj) is expected


@pytest.mark.parametrize("who", PEOPLE)
def test_the_approvals_pages_and_history_scopes(world, who):
    user, migration = world["people"][who], world["migration"]
    assert policy.approvals(user).filter(pk=migration.pk).exists() is ("migration" in SEES[who])
    assert policy.history(user).filter(pk=migration.pk).exists() is who.startswith("auditor")


def test_a_partition_of_no_team_is_seen_by_auditors_and_admins_only(world, estate):
    vios = make_partition(estate.a, "vios1", 1, env="vioserver")
    seen = {who for who, user in world["people"].items() if policy.partitions(user).filter(pk=vios.pk).exists()}
    assert seen == {"auditor/own", "auditor/other", "admin/own", "admin/other"}


def test_an_anonymous_visitor_sees_nothing_and_may_nothing(world):
    anonymous = AnonymousUser()
    for kind, (scope, _) in QUERYSETS.items():
        assert not scope(anonymous).exists(), kind
        assert not policy.may_see(anonymous, world[kind])
    assert policy.refusal(anonymous, "stop", world["migration"]) == "Sign in first."
    assert not policy.may(anonymous, "read_history")


def test_the_scopes_are_one_query_whatever_the_rows(world, estate, django_assert_num_queries):
    user = world["people"]["requester/own"]
    for partition in (estate.app02, estate.db01, estate.ana01):
        make_request(partition, world["rick"], estate.c)
    policy.may(user, "plan")  # the roles are read once per request and kept on the user
    with django_assert_num_queries(1):
        assert len(list(policy.migrations(user))) == 3  # app01, app02, db01; not ana01
    with django_assert_num_queries(1):
        assert len(list(policy.plans(user))) == 3


# --- what each person may do ----------------------------------------------------------------------------------

MIGRATION_ACTIONS = ("revise", "validate", "withdraw", "vote", "stop", "recover", "force_recover", "tick_task",
                     "read_approvals")
ACTIONS = ("plan", *MIGRATION_ACTIONS, "read_history", "export", "read_audit", "manage_consoles")
TEAM_WORK = {"stop", "recover", "tick_task", "validate"}
READS = {"read_approvals", "read_history", "export", "read_audit"}
ADMIN_WORK = {"plan", "revise", "validate", "withdraw", "stop", "recover", "force_recover", "tick_task",
              "manage_consoles"}
MAY = {
    # requesters of the team plan and revise, but withdraw only their own request (they are not rick)
    "requester/own": {"plan", "revise"} | TEAM_WORK,
    "approver/own": {"withdraw", "vote", "read_approvals"} | TEAM_WORK,
    "both/own": {"plan", "revise", "withdraw", "vote", "read_approvals"} | TEAM_WORK,
    "auditor/own": READS, "auditor/other": READS,  # auditors read everything and change nothing
    "admin/own": ADMIN_WORK, "admin/other": ADMIN_WORK,  # any team; never a vote without being a team approver
    "none/own": set(), "none/other": set(),
    "requester/other": set(), "approver/other": set(), "both/other": set(),
}
ON_NOTHING = {"read_history", "export", "read_audit", "manage_consoles"}  # actions on no particular object


def _target(world, action):
    return None if action in ON_NOTHING else world["partition"] if action == "plan" else world["migration"]


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("who", PEOPLE)
def test_what_each_person_may_do(world, who, action):
    user, obj = world["people"][who], _target(world, action)
    expected = action in MAY[who]
    refusal = policy.refusal(user, action, obj)
    assert (refusal is None) is expected, refusal
    assert policy.may(user, action, obj) is expected
    if not expected:
        assert refusal.strip().endswith(".")  # a sentence a person can act on


# Without an object: whether the roles grant the action at all (a page's gate), whatever the team.
GATES = {
    "requester": {"plan", "revise", "validate", "withdraw", "stop", "recover", "tick_task"},
    "approver": {"validate", "withdraw", "vote", "stop", "recover", "tick_task", "read_approvals"},
    "both": {"plan", "revise", "validate", "withdraw", "vote", "stop", "recover", "tick_task", "read_approvals"},
    "auditor": READS,
    "admin": ADMIN_WORK,
    "none": set(),
}


@pytest.mark.parametrize("action", ACTIONS)
@pytest.mark.parametrize("roles", sorted(ROLES))
def test_what_each_role_grants_at_all(world, roles, action):
    for team in TEAMS:
        assert policy.may(world["people"][f"{roles}/{team}"], action) is (action in GATES[roles])


def test_the_requester_may_work_on_and_withdraw_their_request_but_never_vote(world):
    rick, migration = world["rick"], world["migration"]
    for action in ("revise", "validate", "withdraw", "stop", "recover", "tick_task"):
        assert policy.may(rick, action, migration), action
    assert not policy.may(rick, "force_recover", migration)
    rick.groups.add(Group.objects.get(name=Role.APPROVER), Group.objects.get(name=Role.ADMIN))
    del rick._ivmweb_roles
    assert policy.refusal(rick, "vote", migration) == "You cannot approve or reject your own request."


def test_the_author_of_a_revised_plan_version_may_not_vote(world):
    both, approver, migration = world["people"]["both/own"], world["people"]["approver/own"], world["migration"]
    assert policy.may(both, "vote", migration)
    add_plan(migration, both, edited=True)  # both revises rick's request into version 2...
    refusal = policy.refusal(both, "vote", migration)
    assert refusal is not None and "plan version 2" in refusal  # ...and may no longer vote on it
    assert policy.may(approver, "vote", migration)  # another approver of the team decides
    # the request mail: the team's approvers but rick and both (alex is the demo approver of Payments)
    assert set(policy.approvers(migration).values_list("username", flat=True)) == {"approver-own", "alex"}


def test_an_admin_votes_only_as_an_approver_of_the_team_and_never_on_a_plan_they_wrote(world, estate):
    admin, migration = world["people"]["admin/other"], world["migration"]
    assert "not an approver of the team that owns app01" in policy.refusal(admin, "vote", migration)
    admin.groups.add(Group.objects.get(name=Role.APPROVER))
    del admin._ivmweb_roles
    assert "not an approver of the team that owns app01 (Payments)" in policy.refusal(admin, "vote", migration)
    estate.payments.members.add(admin)
    assert policy.may(admin, "vote", migration)
    add_plan(migration, admin, edited=True)
    assert not policy.may(admin, "vote", migration)


def test_an_auditor_with_another_role_gets_that_roles_actions(world):
    auditor, migration = world["people"]["auditor/own"], world["migration"]
    assert not policy.may(auditor, "stop", migration)
    auditor.groups.add(Group.objects.get(name=Role.APPROVER))
    del auditor._ivmweb_roles
    assert policy.may(auditor, "stop", migration) and policy.may(auditor, "vote", migration)
    assert not policy.may(auditor, "plan", world["partition"])


@pytest.mark.parametrize("which", ["management", "vanished"])
def test_nobody_plans_a_management_or_vanished_partition(world, estate, which):
    if which == "management":
        partition = make_partition(estate.a, "vios1", 1, env="vioserver", team=estate.payments)
    else:
        partition = estate.app02
        Partition.objects.filter(pk=partition.pk).update(vanished_at=timezone.now())
        partition.refresh_from_db()
    for who in ("requester/own", "both/own", "admin/own"):
        refusal = policy.refusal(world["people"][who], "plan", partition)
        assert refusal is not None and partition.name in refusal, who


def test_refusals_name_what_to_do(world):
    people, migration = world["people"], world["migration"]
    assert policy.refusal(people["auditor/own"], "stop", migration) == (
        "Only requesters, approvers and administrators may stop a migration; your role does not allow it.")
    assert policy.refusal(people["requester/other"], "plan", world["partition"]) == (
        "app01 belongs to Payments; you may ask only for your own team's partitions.")
    assert policy.refusal(people["requester/own"], "withdraw", migration) == (
        "Only the requester or an approver of the team may withdraw this request.")


def test_an_unknown_action_or_object_is_an_error_not_a_refusal(world):
    user = world["people"]["admin/own"]
    with pytest.raises(ValueError):
        policy.may(user, "delete_everything", world["migration"])
    with pytest.raises(TypeError):
        policy.may_see(user, user)
    with pytest.raises(TypeError):
        policy.may(user, "plan", world["migration"])
    with pytest.raises(TypeError):
        policy.may(user, "stop", world["partition"])


# --- the pages ask the policy ---------------------------------------------------------------------------------

def test_the_pages_offer_what_the_policy_grants(client, world):
    people, migration = world["people"], world["migration"]
    recover = reverse("mobility:migration_recover", args=[migration.pk])
    client.force_login(people["admin/other"])
    assert 'name="force"' in client.get(recover).text  # force_recover: administrators of any team
    client.force_login(people["requester/own"])
    page = client.get(recover)
    assert page.status_code == 200 and 'name="force"' not in page.text
    client.force_login(people["requester/other"])
    assert client.get(recover).status_code == 404  # foreign: like unknown
    client.force_login(people["auditor/other"])
    assert "read-only" in client.get(reverse("mobility:approvals")).text
    client.force_login(people["both/own"])
    assert "read-only" not in client.get(reverse("mobility:approvals")).text
