"""Role and ownership checks on the inventory and IVM-console pages (no SSH needed)."""

import pytest
from django.urls import reverse

from mobility.models import IVMConsole, StorageDevice, Team
from tests.factories import make_partition, make_system

pytestmark = pytest.mark.django_db

ADMIN_ONLY_GETS = ["mobility:consoles", "mobility:console_register"]
ADMIN_ONLY_POSTS = ["mobility:console_sync_all", "mobility:console_register"]
CONSOLE_GETS = ["mobility:console_detail", "mobility:console_host_key"]
CONSOLE_POSTS = ["mobility:console_pin", "mobility:console_test", "mobility:console_sync"]


@pytest.fixture
def estate(personas):
    """One server with a Payments partition, an Analytics partition and a VIOS (no owner)."""
    system = make_system("Server-F-1")
    pay = make_partition(system, "pay01", 2, team=Team.objects.get(name="Payments"))
    ana = make_partition(system, "ana01", 3, team=Team.objects.get(name="Analytics"))
    vios = make_partition(system, "viosf", 1, env="vioserver")
    StorageDevice.objects.create(system=system, name="hdisk3", kind="hdisk", unique_id="LUN-ANA",
                                 client_partition=ana)
    return {"system": system, "pay01": pay, "ana01": ana, "vios": vios}


@pytest.mark.parametrize("username", ["rita", "alex", "audrey"])
def test_non_admins_are_refused_every_registration_and_sync_endpoint(client, personas, estate, username):
    client.force_login(personas[username])
    console = estate["system"].console
    for name in ADMIN_ONLY_GETS:
        assert client.get(reverse(name)).status_code == 403, name
    for name in ADMIN_ONLY_POSTS:
        assert client.post(reverse(name), {"name": "x", "host": "127.0.0.1", "port": "22",
                                           "username": "padmin", "password": "p"}).status_code == 403, name
    for name in CONSOLE_GETS:
        assert client.get(reverse(name, args=[console.pk])).status_code == 403, name
    for name in CONSOLE_POSTS:
        assert client.post(reverse(name, args=[console.pk]), {"host_key": "x"}).status_code == 403, name
    assert IVMConsole.objects.count() == 1


def test_unknown_ids_answer_404(client, admin_user, estate):
    client.force_login(admin_user)
    for name in CONSOLE_GETS:
        assert client.get(reverse(name, args=[9999])).status_code == 404
    for name in CONSOLE_POSTS:
        assert client.post(reverse(name, args=[9999])).status_code == 404
    assert client.get(reverse("mobility:system_detail", args=[9999])).status_code == 404
    assert client.get(reverse("mobility:partition_detail", args=[9999])).status_code == 404


def test_sync_endpoints_need_post(client, admin_user, estate):
    client.force_login(admin_user)
    console = estate["system"].console
    assert client.get(reverse("mobility:console_sync", args=[console.pk])).status_code == 405
    assert client.get(reverse("mobility:console_sync_all")).status_code == 405


def test_a_requester_sees_only_their_teams_partitions(client, requester, estate):
    client.force_login(requester)
    html = client.get(reverse("mobility:inventory")).content.decode()
    assert 'data-partition="pay01"' in html
    assert 'data-partition="ana01"' not in html and 'data-partition="viosf"' not in html
    # search cannot reach a foreign partition either
    html = client.get(reverse("mobility:inventory"), {"q": "ana"}).content.decode()
    assert 'data-partition="ana01"' not in html and 'data-testid="no-partitions"' in html


def test_a_foreign_partition_page_is_404_like_a_missing_one(client, requester, estate):
    client.force_login(requester)
    assert client.get(reverse("mobility:partition_detail", args=[estate["pay01"].pk])).status_code == 200
    assert client.get(reverse("mobility:partition_detail", args=[estate["ana01"].pk])).status_code == 404
    assert client.get(reverse("mobility:partition_detail", args=[estate["vios"].pk])).status_code == 404


def test_the_server_page_hides_other_teams_partitions(client, requester, estate):
    client.force_login(requester)
    html = client.get(reverse("mobility:system_detail", args=[estate["system"].pk])).content.decode()
    assert 'data-partition="pay01"' in html
    assert "ana01" not in html  # neither in the partition list nor as what hdisk3 backs
    assert "another team's partition" in html


def test_an_auditor_sees_every_partition(client, auditor, estate):
    client.force_login(auditor)
    html = client.get(reverse("mobility:inventory")).content.decode()
    assert all(f'data-partition="{name}"' in html for name in ("pay01", "ana01", "viosf"))
    assert client.get(reverse("mobility:partition_detail", args=[estate["ana01"].pk])).status_code == 200


def test_an_empty_estate_tells_an_admin_where_to_register(client, admin_user):
    client.force_login(admin_user)
    html = client.get(reverse("mobility:inventory")).content.decode()
    assert 'data-testid="empty-inventory"' in html
    assert reverse("mobility:console_register") in html
