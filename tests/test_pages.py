"""Every page needs login; each role sees only its navigation."""

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db

PAGES = ["mobility:inventory", "mobility:migrations", "mobility:approvals", "mobility:history",
         "mobility:consoles"]
NAV = {
    "rita": {"Inventory", "New migration", "Dashboard", "Migrations"},
    "omar": {"Inventory", "New migration", "Dashboard", "Migrations"},
    "alex": {"Inventory", "Dashboard", "Migrations", "Approvals"},
    "audrey": {"Inventory", "Dashboard", "Migrations", "History"},
    "adam": {"Inventory", "New migration", "Dashboard", "Migrations", "IVM consoles"},
}
ALL_LABELS = set().union(*NAV.values())


@pytest.mark.parametrize("name", PAGES)
def test_every_page_sends_an_anonymous_visitor_to_login(client, name):
    url = reverse(name)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"{reverse('login')}?next={url}"


def test_the_root_redirects_to_the_inventory(client, requester):
    client.force_login(requester)
    assert client.get("/")["Location"] == reverse("mobility:inventory")


@pytest.mark.parametrize("username", sorted(NAV))
def test_each_role_sees_only_its_navigation(client, personas, username):
    client.force_login(personas[username])
    html = client.get(reverse("mobility:inventory")).content.decode()
    nav = html.split('<nav aria-label="Main">', 1)[1].split("</nav>", 1)[0]
    shown = {label for label in ALL_LABELS if f">{label}</a>" in nav}
    assert shown == NAV[username]


@pytest.mark.parametrize(("username", "page", "status"), [
    ("rita", "mobility:approvals", 403), ("rita", "mobility:history", 403), ("rita", "mobility:consoles", 403),
    ("alex", "mobility:approvals", 200), ("alex", "mobility:history", 403),
    ("audrey", "mobility:history", 200), ("audrey", "mobility:consoles", 403),
    ("adam", "mobility:consoles", 200),
])
def test_role_pages_refuse_other_roles(client, personas, username, page, status):
    client.force_login(personas[username])
    assert client.get(reverse(page)).status_code == status


def test_empty_inventory_says_how_to_add_an_ivm(client, requester):
    client.force_login(requester)
    html = client.get(reverse("mobility:inventory")).content.decode()
    assert 'data-testid="empty-inventory"' in html
    assert "registers the IVM" in html


def test_login_form_signs_a_demo_user_in(client, requester):
    response = client.post(reverse("login"), {"username": "rita", "password": "pw-rita"})
    assert response.status_code == 302
    assert client.get(reverse("mobility:inventory")).status_code == 200


def test_htmx_is_vendored_and_loaded_with_the_csrf_header(client, requester):
    client.force_login(requester)
    html = client.get(reverse("mobility:inventory")).content.decode()
    assert "vendor/htmx/htmx-2.0.11.min.js" in html and "vendor/htmx/ext-ws-2.0.4.min.js" in html
    assert "hx-headers='{\"X-CSRFToken\": \"" in html
    assert "cdn" not in html.lower() and "unpkg" not in html
