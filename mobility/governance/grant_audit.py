"""Every change to what a person may do goes to the audit trail.

Recorded: role grants and removals (Django group membership, from either side: ``user.groups.add/remove/set/
clear`` and ``group.user_set...``), the ``is_superuser`` / ``is_staff`` / ``is_active`` flags, team membership
(a team's members own its partitions), new users, and the deletion of a user, group or team (their memberships
go with the row, without m2m signals).

Recorded from model signals so that no path is missed (admin, shell, demo setup), inside the transaction of the
change: Django sends ``m2m_changed`` and ``pre_delete`` inside its own atomic block, and ``post_save`` inside the
caller's (the admin's views and ``ensure_personas`` are atomic). A bare ``save()`` outside any transaction
(``createsuperuser``) commits its row just before the record.

Who did it: the code that makes the change names them with ``changed_by(obj, user)`` on the object it saves or
deletes (the admin does); the signal reads it from that object, so nothing travels through global state.
Unnamed, the event's actor is "system".
"""

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models.signals import m2m_changed, post_save, pre_delete, pre_save
from django.dispatch import receiver

from mobility.governance import audit
from mobility.models import Team

User = get_user_model()
FLAGS = ("is_superuser", "is_staff", "is_active")
_ACTOR = "_ivmweb_changed_by"
_FLAGS_BEFORE = "_ivmweb_flags_before"


def changed_by(obj, user):
    """Name the person changing ``obj`` (a user, group or team) in the audit events its save or delete writes."""
    setattr(obj, _ACTOR, user)
    return obj


def _actor(obj):
    return getattr(obj, _ACTOR, None)


@dataclass(frozen=True)
class _Membership:
    """A many-to-many between users and a holder (a group, a team); ``user_is_forward`` says whether the
    relation's forward side (the instance of a non-reverse signal) is the user."""

    user_field: str
    holder_field: str
    user_is_forward: bool
    added: str
    removed: str

    def event(self, action: str, user, holder, actor):
        if self.holder_field == "group":
            return audit.new_event(action, actor=actor, obj=user, data={"user": user.get_username(),
                                                                      "role": holder.name})
        return audit.new_event(action, actor=actor, obj=holder, data={"team": holder.name,
                                                                    "user": user.get_username()})


_MEMBERSHIPS = {
    User.groups.through: _Membership("user", "group", True, "role.granted", "role.revoked"),
    Team.members.through: _Membership("user", "team", False, "team.member_added", "team.member_removed"),
}


def _members(through, membership: _Membership, instance_is_user: bool, instance, among=None) -> set:
    """The ids on the other side of ``instance``'s rows in ``through`` (optionally only those in ``among``)."""
    mine, other = ((membership.user_field, membership.holder_field) if instance_is_user
                   else (membership.holder_field, membership.user_field))
    rows = through.objects.filter(**{f"{mine}_id": instance.pk})
    if among is not None:
        rows = rows.filter(**{f"{other}_id__in": among})
    return set(rows.values_list(f"{other}_id", flat=True))


@receiver(m2m_changed, dispatch_uid="ivmweb-audit-membership")
def audit_membership(sender, instance, action, reverse, model, pk_set, **kwargs):
    membership = _MEMBERSHIPS.get(sender)
    if membership is None:
        return
    instance_is_user = reverse != membership.user_is_forward
    # Removals are read before the rows go (remove() accepts non-members; clear() names nobody), additions after
    # (post_add names only the rows actually inserted); both signals fire inside the change's atomic block.
    if action == "post_add":
        ids, name = pk_set, membership.added
    elif action == "pre_remove":
        ids, name = _members(sender, membership, instance_is_user, instance, among=pk_set), membership.removed
    elif action == "pre_clear":
        ids, name = _members(sender, membership, instance_is_user, instance), membership.removed
    else:
        return
    if not ids:
        return
    others = model.objects.in_bulk(ids)
    audit.record_many([
        membership.event(name, *((instance, others[pk]) if instance_is_user else (others[pk], instance)),
                         actor=_actor(instance))
        for pk in sorted(ids)])


@receiver(pre_save, sender=User, dispatch_uid="ivmweb-audit-flags-before")
def read_flags_before(sender, instance, raw, update_fields, **kwargs):
    if raw or instance._state.adding:
        return
    if update_fields is not None and not set(FLAGS) & set(update_fields):
        return  # a sign-in's last_login, a password change: no flag is written
    setattr(instance, _FLAGS_BEFORE, User.objects.filter(pk=instance.pk).values(*FLAGS).first())


@receiver(post_save, sender=User, dispatch_uid="ivmweb-audit-flags")
def audit_user_saved(sender, instance, created, raw, update_fields, **kwargs):
    if raw:
        return
    if created:
        audit.record("user.created", actor=_actor(instance), obj=instance,
                     data={"user": instance.get_username(), **{flag: getattr(instance, flag) for flag in FLAGS}})
        return
    before = instance.__dict__.pop(_FLAGS_BEFORE, None)
    if before is None:
        return
    written = FLAGS if update_fields is None else [flag for flag in FLAGS if flag in update_fields]
    changed = {flag: [before[flag], getattr(instance, flag)] for flag in written
               if before[flag] != getattr(instance, flag)}
    if changed:
        audit.record("user.access_changed", actor=_actor(instance), obj=instance,
                     data={"user": instance.get_username(), "changed": changed})


@receiver(pre_delete, sender=User, dispatch_uid="ivmweb-audit-user-deleted")
def audit_user_deleted(sender, instance, **kwargs):
    audit.record("user.deleted", actor=_actor(instance), obj=instance, data={
        "user": instance.get_username(), **{flag: getattr(instance, flag) for flag in FLAGS},
        "roles": sorted(instance.groups.values_list("name", flat=True)),
        "teams": sorted(instance.teams.values_list("name", flat=True))})


@receiver(pre_delete, sender=Group, dispatch_uid="ivmweb-audit-group-deleted")
def audit_group_deleted(sender, instance, **kwargs):
    audit.record("role.deleted", actor=_actor(instance), obj=instance, data={
        "role": instance.name, "members": sorted(u.get_username() for u in instance.user_set.all())})


@receiver(pre_delete, sender=Team, dispatch_uid="ivmweb-audit-team-deleted")
def audit_team_deleted(sender, instance, **kwargs):
    audit.record("team.deleted", actor=_actor(instance), obj=instance, data={
        "team": instance.name, "members": sorted(u.get_username() for u in instance.members.all())})
