"""The access policy: what a user may see, and whether a user may do an action. The one place for both.

Roles are Django groups (``mobility.roles``; a superuser is an admin). Ownership is membership of the team
that owns the partition; a migration, its plan versions and its votes belong to its partition's team.

Who sees what:
- requesters and approvers: the partitions of their teams, and those partitions' migrations, plans and votes;
- auditors: everything (partitions of every team and none, migrations, plans, votes, history, the audit trail);
- admins: every partition, migration, plan and vote, but not the history pages nor the audit trail unless
  they are auditors too (those are the auditors' pages);
- a person with no role sees their teams' objects and does nothing.
The approvals pages are the workspace of approvers and auditors (``read_approvals``): an admin who is neither
gets 403 there, although the same migrations are open to them on their live and plan pages.

Who does what (``may`` / ``refusal``); an auditor does nothing unless another role grants it:
- plan (a partition): a requester of the owning team, or an admin; nobody plans a management partition (VIOS)
  or one that has vanished from the inventory, or one the inventory sync quarantined (values that break IVM's rules);
- revise, validate (a migration): a requester of the owning team, or an admin; validate also an approver;
- withdraw: the migration's requester, an approver of the owning team, or an admin;
- stop, recover, tick_task: a requester or approver of the owning team, or an admin;
- force_recover: an admin;
- vote: an approver of the owning team who is neither the requester nor the author of any plan version of
  the migration (four eyes; an admin only under the same conditions);
- read_approvals: approvers (their teams') and auditors; read_history, export, read_audit: auditors;
- manage_consoles: admins.
IVM jobs (a connection test, a sync, a validation run by a worker) are seen only by the person who asked for them;
asking needs the action of the page that starts them (manage_consoles, plan, validate, revise).
``may(user, action)`` without an object asks whether the user's roles grant the action at all (a page's
gate). This module answers only who; when (which status allows which move) is the lifecycle's.

Querysets filter by a subquery of the user's team ids (no join, no duplicates, no per-row query).
"""

from django.contrib.auth import get_user_model
from django.db.models import Exists, OuterRef, QuerySet

from mobility.choices import Role
from mobility.models import Approval, AuditEvent, Batch, IVMJob, Migration, Partition, PlanVersion, Team
from mobility.roles import has_role

REQUESTER, APPROVER, AUDITOR, ADMIN = Role.REQUESTER, Role.APPROVER, Role.AUDITOR, Role.ADMIN
SEE_ALL = frozenset({AUDITOR, ADMIN})

# action -> (roles that grant it, what it is in a sentence, whether the grant holds only on the owning team)
ACTIONS: dict[str, tuple[frozenset, str, bool]] = {
    "plan": (frozenset({REQUESTER, ADMIN}), "ask for migrations", True),
    "revise": (frozenset({REQUESTER, ADMIN}), "change a plan", True),
    "validate": (frozenset({REQUESTER, APPROVER, ADMIN}), "validate a plan with IVM", True),
    "withdraw": (frozenset({REQUESTER, APPROVER, ADMIN}), "withdraw a request", True),
    "vote": (frozenset({APPROVER}), "approve or reject requests", True),
    "stop": (frozenset({REQUESTER, APPROVER, ADMIN}), "stop a migration", True),
    "recover": (frozenset({REQUESTER, APPROVER, ADMIN}), "recover a migration", True),
    "force_recover": (frozenset({ADMIN}), "force a recovery", True),
    "tick_task": (frozenset({REQUESTER, APPROVER, ADMIN}), "tick follow-up tasks", True),
    "read_approvals": (frozenset({APPROVER, AUDITOR}), "read the approvals", True),
    "read_history": (frozenset({AUDITOR}), "read the history", False),
    "export": (frozenset({AUDITOR}), "export the history", False),
    "read_audit": (frozenset({AUDITOR}), "read the audit trail", False),
    "manage_consoles": (frozenset({ADMIN}), "manage IVM consoles", False),
}
# Roles whose grant of an action holds on every team's objects (the others: on the owning team's only).
ANY_TEAM = frozenset({ADMIN, AUDITOR})
# Owned by the team of the partition they are about: a partition ("plan" acts on it), or a migration or part of
# one (every other action on an object acts on these).
OF_A_MIGRATION = (Migration, PlanVersion, Approval)
# A batch of migrations belongs to one team (its members are that team's partitions): the same rules as a migration.
TEAM_OWNED = (Partition, *OF_A_MIGRATION, Batch)
ROLE_NAMES = {REQUESTER: "requesters", APPROVER: "approvers", AUDITOR: "auditors", ADMIN: "administrators"}


def _signed_in(user) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def _team_ids(user) -> QuerySet:
    """The ids of the user's teams, as a subquery."""
    return Team.members.through.objects.filter(user_id=user.pk).values("team_id")


def _sees_all(user) -> bool:
    return has_role(user, *SEE_ALL)


# --- what a user may see -------------------------------------------------------------------------------------

def _scoped(user, qs: QuerySet, team_field: str) -> QuerySet:
    """``qs`` as the user may see it: nothing signed out, everything for auditors and admins, else the rows whose
    ``team_field`` is one of the user's teams."""
    if not _signed_in(user):
        return qs.none()
    return qs if _sees_all(user) else qs.filter(**{f"{team_field}__in": _team_ids(user)})


def partitions(user, qs: QuerySet | None = None) -> QuerySet:
    """Partitions the user may see: auditors and admins all (VIOS and team-less ones too), others their teams'."""
    return _scoped(user, Partition.objects.all() if qs is None else qs, "team_id")


def migrations(user, qs: QuerySet | None = None) -> QuerySet:
    """Migrations the user may see: those of the partitions they may see."""
    return _scoped(user, Migration.objects.all() if qs is None else qs, "partition__team_id")


def batches(user, qs: QuerySet | None = None) -> QuerySet:
    """Batches the user may see: their teams' (auditors and admins: all)."""
    return _scoped(user, Batch.objects.all() if qs is None else qs, "team_id")


def plans(user, qs: QuerySet | None = None) -> QuerySet:
    """Plan versions of the migrations the user may see."""
    return _scoped(user, PlanVersion.objects.all() if qs is None else qs, "migration__partition__team_id")


def approvals(user, qs: QuerySet | None = None) -> QuerySet:
    """Migrations the approvals pages show this user (their plans and votes with them): as ``migrations``;
    the pages themselves are gated by ``read_approvals``."""
    return migrations(user, qs)


def votable(user, qs: QuerySet | None = None) -> QuerySet:
    """Migrations of ``qs`` the user may vote on: ``_vote_refusal``'s four eyes as one query (an approver of the owning
    team who is neither the requester nor an author of a plan version). What waits for them is these, pending."""
    qs = Migration.objects.all() if qs is None else qs
    if not _signed_in(user) or APPROVER not in _roles(user):
        return qs.none()
    authored = PlanVersion.objects.filter(migration=OuterRef("pk"), created_by=user.pk)
    return (qs.filter(partition__team_id__in=_team_ids(user)).exclude(requester_id=user.pk)
            .exclude(Exists(authored)))


def votable_batches(user, qs: QuerySet | None = None) -> QuerySet:
    """Batches of ``qs`` the user may vote on: ``_batch_vote_refusal``'s four eyes as one query (an approver of the
    batch's team who is not its requester and wrote none of its members' plan versions)."""
    qs = Batch.objects.all() if qs is None else qs
    if not _signed_in(user) or APPROVER not in _roles(user):
        return qs.none()
    authored = PlanVersion.objects.filter(migration__batch=OuterRef("pk"), created_by=user.pk)
    return qs.filter(team_id__in=_team_ids(user)).exclude(requester_id=user.pk).exclude(Exists(authored))


def votes(user, qs: QuerySet | None = None) -> QuerySet:
    """Approval rows (votes) of the migrations the user may see."""
    return _scoped(user, Approval.objects.all() if qs is None else qs, "migration__partition__team_id")


def history(user, qs: QuerySet | None = None) -> QuerySet:
    """Migrations in the history pages: every one for an auditor, none for anybody else."""
    qs = Migration.objects.all() if qs is None else qs
    return qs if may(user, "read_history") else qs.none()


def audit_records(user, qs: QuerySet | None = None) -> QuerySet:
    """The audit trail: all of it for an auditor, nothing for anybody else."""
    qs = AuditEvent.objects.all() if qs is None else qs
    return qs if may(user, "read_audit") else qs.none()


def jobs(user, qs: QuerySet | None = None) -> QuerySet:
    """IVM jobs (tests, scans, syncs, validations): each is seen by the person who asked for it, nobody else."""
    qs = IVMJob.objects.all() if qs is None else qs
    return qs.filter(requested_by=user) if _signed_in(user) else qs.none()


def may_see(user, obj) -> bool:
    """Whether the user may see this partition, migration, plan version, vote or audit record."""
    if isinstance(obj, AuditEvent):
        return may(user, "read_audit")
    if not isinstance(obj, TEAM_OWNED):
        raise TypeError(f"the access policy knows nothing of {type(obj).__name__}")
    if not _signed_in(user):
        return False
    if _sees_all(user):
        return True
    return _member(user, _team_id(obj))


def approvers(migration: Migration) -> QuerySet:
    """The active people who may vote on this migration (four eyes applied), for the request mail."""
    users = get_user_model().objects.filter(is_active=True, groups__name=APPROVER)
    team_id = _team_id(migration)
    if team_id is None:
        return users.none()
    authors = PlanVersion.objects.filter(migration=migration, created_by=OuterRef("pk"))
    return (users.filter(teams=team_id).exclude(pk=migration.requester_id).exclude(Exists(authors))
            .distinct())


# --- what a user may do --------------------------------------------------------------------------------------

def may(user, action: str, obj=None) -> bool:
    """Whether the user may do the action on the object (without one: whether their roles grant it at all)."""
    return refusal(user, action, obj) is None


def refusal(user, action: str, obj=None) -> str | None:
    """Why the user may not do the action on the object, in words a person can act on; None if they may."""
    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}")
    granting, what, team_bound = ACTIONS[action]
    if not _signed_in(user):
        return "Sign in first."
    if obj is not None and team_bound and not isinstance(obj, Partition if action == "plan" else (*OF_A_MIGRATION, Batch)):
        raise TypeError(f"{action} is not an action on a {type(obj).__name__}")
    held = granting & _roles(user)
    if action == "vote" and obj is not None:
        return _vote_refusal(user, held, _migration_of(obj))
    if not held:
        return f"Only {_list(granting)} may {what}; your role does not allow it."
    if obj is None:
        return None
    if action == "plan":
        return _plan_refusal(user, held, obj)
    if not team_bound or held & ANY_TEAM:
        return None
    migration = _migration_of(obj)
    if not _member(user, _team_id(migration)):
        if isinstance(migration, Batch):
            return f"Batch #{migration.pk} belongs to {_team_name(migration.team_id)}; you are not a member of it."
        return f"{_team_phrase(migration.partition)}; you are not a member of it."
    if action == "withdraw" and held == {REQUESTER} and migration.requester_id != user.pk:
        return "Only the requester or an approver of the team may withdraw this request."
    return None


def _plan_refusal(user, held, partition: Partition) -> str | None:
    if partition.is_management:
        return f"{partition.name} is a management partition (VIOS); it never moves."
    if partition.vanished_at is not None:
        return f"{partition.name} is no longer in the inventory."
    if ADMIN not in held and not _member(user, partition.team_id):
        return f"{_team_phrase(partition)}; you may ask only for your own team's partitions."
    # After the team rule: only those who could plan it learn why it is quarantined.
    if partition.quarantine_reason:
        return f"{partition.name} is quarantined by the inventory sync: {partition.quarantine_reason}."
    return None


def _vote_refusal(user, held, migration: Migration | Batch) -> str | None:
    """Four eyes: the most specific reason first (the requester hears that it is their own request)."""
    if migration.requester_id == user.pk:
        return "You cannot approve or reject your own request."
    if isinstance(migration, Batch):
        return _batch_vote_refusal(user, held, migration)
    partition = migration.partition
    if not held or not _member(user, partition.team_id):
        team = Team.objects.filter(pk=partition.team_id).values_list("name", flat=True).first() or "no team"
        return f"You are not an approver of the team that owns {partition.name} ({team})."
    authored = (PlanVersion.objects.filter(migration=migration, created_by=user)
                .order_by("version").values_list("version", flat=True).first())
    if authored is not None:
        return f"You wrote plan version {authored} of this request: another approver of the team must decide."
    return None


def _batch_vote_refusal(user, held, batch: Batch) -> str | None:
    """A batch's four eyes: an approver of its team who wrote none of its members' plan versions."""
    if not held or not _member(user, batch.team_id):
        return f"You are not an approver of the team that owns batch #{batch.pk} ({_team_name(batch.team_id)})."
    authored = (PlanVersion.objects.filter(migration__batch=batch, created_by=user)
                .select_related("migration__partition").order_by("migration__batch_position").first())
    if authored is not None:
        return (f"You wrote a plan version of {authored.migration.partition.name} in this batch: another approver of "
                "the team must decide.")
    return None


def batch_approvers(batch: Batch) -> QuerySet:
    """The active people who may vote on this batch (four eyes applied)."""
    users = get_user_model().objects.filter(is_active=True, groups__name=APPROVER)
    authors = PlanVersion.objects.filter(migration__batch=batch, created_by=OuterRef("pk"))
    return users.filter(teams=batch.team_id).exclude(pk=batch.requester_id).exclude(Exists(authors)).distinct()


# --- helpers -------------------------------------------------------------------------------------------------

def _roles(user) -> frozenset:
    return frozenset(role for role in ROLE_NAMES if has_role(user, role))


def _list(roles) -> str:
    names = [ROLE_NAMES[role] for role in ROLE_NAMES if role in roles]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _migration_of(obj) -> Migration | Batch | None:
    if isinstance(obj, Migration | Batch):
        return obj
    if isinstance(obj, OF_A_MIGRATION):
        return obj.migration
    return None


def _team_id(obj) -> int | None:
    """The id of the team that owns the object (None: nobody's)."""
    if isinstance(obj, Partition | Batch):
        return obj.team_id
    migration = _migration_of(obj)
    if migration is None:
        raise TypeError(f"the access policy knows nothing of {type(obj).__name__}")
    # One small query unless the partition is loaded already (pages select_related it).
    if Migration.partition.is_cached(migration):
        return migration.partition.team_id
    return Partition.objects.filter(pk=migration.partition_id).values_list("team_id", flat=True).first()


def _member(user, team_id: int | None) -> bool:
    return team_id is not None and Team.members.through.objects.filter(team_id=team_id, user_id=user.pk).exists()


def _team_name(team_id: int | None) -> str:
    return Team.objects.filter(pk=team_id).values_list("name", flat=True).first() or "no team"


def _team_phrase(partition: Partition) -> str:
    owner = Team.objects.filter(pk=partition.team_id).values_list("name", flat=True).first()
    return f"{partition.name} belongs to {owner}" if owner else f"{partition.name} belongs to no team"
