"""No side doors: Django admin, as a real superuser, reads migrations and what governs them but writes none of it;
users, roles and teams stay administrable there, and each change to them is an event in the hash-chained trail."""

import json

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.db import models as db_models
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from mobility.choices import MigrationStatus, Role
from mobility.governance.approvals import approve
from mobility.models import (
    AdapterMapping,
    Approval,
    AuditEvent,
    Migration,
    MigrationEvent,
    MigrationStep,
    PlanVersion,
    Team,
)
from tests.governance.conftest import make_request
from tests.markers import postgresql_only

pytestmark = [pytest.mark.django_db, postgresql_only]

# Each governed model and the edit an attacker would want through the admin.
GOVERNED = {
    Migration: {"status": MigrationStatus.COMPLETED},
    MigrationStep: {"status": "done", "detail": "forged"},
    MigrationEvent: {"kind": "forged"},
    PlanVersion: {"content_hash": "f" * 64},
    AdapterMapping: {"dest_slot": 99},
    Approval: {"decision": Approval.Decision.APPROVED, "comment": "forged"},
    AuditEvent: {"action": "forged"},
}


@pytest.fixture
def governed(estate, requester, approver):
    """One row of every governed model: rita's request, its plan and mapping, alex's vote, a step, an event."""
    migration = make_request(estate.app01, requester, estate.b)
    approve(migration, approver, "fine by me", plan_hash=migration.latest_plan().content_hash)
    MigrationStep.objects.create(migration=migration, number=1, key="validate", title="Validate")
    MigrationEvent.objects.create(migration=migration, seq=99, kind="step", payload={"step": 1})
    return migration


@pytest.fixture
def superuser_client(client, admin_user):
    assert admin_user.is_superuser
    # The sign-in throttle (axes) needs the request authenticate() sees.
    assert client.login(request=HttpRequest(), username=admin_user.username, password=f"pw-{admin_user.username}")
    return client


def _table(model) -> list[dict]:
    return list(model.objects.order_by("pk").values())


def _form_data(obj, **changes) -> dict:
    """What the admin's form for ``obj`` would post, with ``changes``: enough for Django to save it if it let us."""
    data = {}
    for field in obj._meta.concrete_fields:
        if field.primary_key or not field.editable:
            continue
        value = changes.get(field.name, getattr(obj, field.attname))
        if isinstance(field, db_models.DateTimeField):
            local = timezone.localtime(value) if value else None
            data[f"{field.name}_0"] = local.strftime("%Y-%m-%d") if local else ""
            data[f"{field.name}_1"] = local.strftime("%H:%M:%S") if local else ""
        elif isinstance(field, db_models.JSONField):
            data[field.name] = json.dumps(value)
        else:
            data[field.name] = "" if value is None else value
    # The migration page's inline of steps: a management form that adds and changes nothing.
    data.update({"steps-TOTAL_FORMS": "0", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
                 "steps-MAX_NUM_FORMS": "1000", "_save": "Save"})
    return data


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


@pytest.mark.parametrize("model", GOVERNED, ids=lambda model: model.__name__)
def test_a_superuser_cannot_write_a_governed_row_through_the_admin(superuser_client, governed, model):
    obj = model.objects.order_by("pk").first()
    changes = GOVERNED[model]
    before = _table(model)
    refused = {
        "add form": superuser_client.get(_url(model, "add")),
        "add": superuser_client.post(_url(model, "add"), _form_data(obj, **changes)),
        "change": superuser_client.post(_url(model, "change", obj.pk), _form_data(obj, **changes)),
        "delete": superuser_client.post(_url(model, "delete", obj.pk), {"post": "yes"}),
        "delete_selected": superuser_client.post(_url(model, "changelist"), {
            "action": "delete_selected", "_selected_action": [obj.pk], "post": "yes"}),
    }
    assert {what: response.status_code for what, response in refused.items()} == dict.fromkeys(refused, 403)
    assert _table(model) == before


@pytest.mark.parametrize("model", GOVERNED, ids=lambda model: model.__name__)
def test_a_governed_row_stays_readable_in_the_admin(superuser_client, governed, model):
    obj = model.objects.order_by("pk").first()
    listing = superuser_client.get(_url(model, "changelist"))
    assert listing.status_code == 200
    assert 'name="action"' not in listing.text  # no delete_selected, nor any other action
    assert _url(model, "add") not in listing.text
    detail = superuser_client.get(_url(model, "change", obj.pk))
    assert detail.status_code == 200
    assert 'name="_save"' not in detail.text and _url(model, "delete", obj.pk) not in detail.text


def _user_form_data(user, **changes) -> dict:
    data = {"username": user.username, "first_name": user.first_name, "last_name": user.last_name,
            "email": user.email, "groups": list(user.groups.values_list("pk", flat=True)), "user_permissions": [],
            "date_joined_0": timezone.localtime(user.date_joined).strftime("%Y-%m-%d"),
            "date_joined_1": timezone.localtime(user.date_joined).strftime("%H:%M:%S"), "_save": "Save"}
    data.update({flag: "on" for flag in ("is_active", "is_staff", "is_superuser") if getattr(user, flag)})
    data.update(changes)
    return data


def test_a_role_grant_and_a_team_change_through_the_admin_are_in_the_chain(superuser_client, admin_user, personas,
                                                                         capsys):
    omar, rita = personas["omar"], personas["rita"]
    start = AuditEvent.objects.order_by("-id").values_list("id", flat=True).first()
    approver_group, requester_group = Group.objects.get(name=Role.APPROVER), Group.objects.get(name=Role.REQUESTER)

    # omar: requester → approver, and staff.
    response = superuser_client.post(_url(omar.__class__, "change", omar.pk),
                                     _user_form_data(omar, groups=[approver_group.pk], is_staff="on"))
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    omar.refresh_from_db()
    assert list(omar.groups.values_list("name", flat=True)) == [Role.APPROVER] and omar.is_staff

    # Payments: omar joins, rita leaves.
    payments = Team.objects.get(name="Payments")
    members = set(payments.members.values_list("pk", flat=True)) - {rita.pk} | {omar.pk}
    response = superuser_client.post(_url(Team, "change", payments.pk), {"name": "Payments", "members": members,
                                                                          "_save": "Save"})
    assert response.status_code == 302
    assert set(payments.members.values_list("pk", flat=True)) == members

    events = [(e.actor_name, e.action, e.object_type, e.object_id, e.data)
              for e in AuditEvent.objects.filter(id__gt=start).order_by("id")]
    assert events == [
        ("adam", "user.access_changed", "user", str(omar.pk),
         {"user": "omar", "changed": {"is_staff": [False, True]}}),
        ("adam", "role.revoked", "user", str(omar.pk), {"user": "omar", "role": Role.REQUESTER}),
        ("adam", "role.granted", "user", str(omar.pk), {"user": "omar", "role": Role.APPROVER}),
        ("adam", "team.member_removed", "team", str(payments.pk), {"team": "Payments", "user": "rita"}),
        ("adam", "team.member_added", "team", str(payments.pk), {"team": "Payments", "user": "omar"}),
    ]
    assert {e.actor_id for e in AuditEvent.objects.filter(id__gt=start)} == {admin_user.pk}
    assert requester_group.pk not in omar.groups.values_list("pk", flat=True)

    call_command("verify_audit")  # seals what the admin wrote, then walks the whole chain
    assert f"audit chain OK: {AuditEvent.objects.count()} events" in capsys.readouterr().out
    assert not AuditEvent.objects.filter(hash__isnull=True).exists()


def test_a_partition_given_to_another_team_through_the_admin_is_in_the_chain(superuser_client, estate):
    app01 = estate.app01
    response = superuser_client.post(_url(app01.__class__, "change", app01.pk),
                                     {"team": estate.analytics.pk, "adapters-TOTAL_FORMS": "0",
                                      "adapters-INITIAL_FORMS": "0", "_save": "Save"})
    assert response.status_code == 302
    app01.refresh_from_db()
    assert app01.team == estate.analytics
    event = AuditEvent.objects.get(action="partition.team_changed")
    assert (event.actor_name, event.object_id, event.data) == (
        "adam", str(app01.pk), {"partition": "app01", "from": "Payments", "to": "Analytics"})


def test_the_role_groups_keep_their_names_and_cannot_be_deleted(superuser_client):
    admin_group = Group.objects.get(name=Role.ADMIN)
    assert superuser_client.post(_url(Group, "delete", admin_group.pk), {"post": "yes"}).status_code == 403
    assert superuser_client.post(_url(Group, "changelist"), {
        "action": "delete_selected", "_selected_action": [admin_group.pk], "post": "yes"}).status_code == 403
    superuser_client.post(_url(Group, "change", admin_group.pk), {"name": "anyone", "_save": "Save"})
    admin_group.refresh_from_db()
    assert admin_group.name == Role.ADMIN
