"""An IVM whose host key changes (reinstall, or an attacker): old and new shown, explicit re-confirmation.

Its own module, so that its simulator (whose ivmf1 gets a new key) serves no other test.
"""

import pytest
from django.urls import reverse

from mobility.models import AuditEvent
from tests.inventory_ui.conftest import register
from tests.jobs import answer, pushed, run_jobs

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def test_a_changed_host_key_is_shown_and_needs_an_explicit_reconfirmation(client, admin_user, fleet):
    client.force_login(admin_user)
    entry = fleet.ivm("ivmf1")
    console = register(entry)
    old = entry["fingerprint"]
    client.post(reverse("mobility:console_test", args=[console.pk]), **HTMX)
    assert "Connection ok" in pushed("test")

    fleet.ssh("ivmf1", "ivmsim-fault add host-key")

    client.post(reverse("mobility:console_test", args=[console.pk]), **HTMX)
    html = pushed("test")
    assert "Connection test failed" in html and "HOST KEY MISMATCH" in html and old in html
    client.get(reverse("mobility:console_host_key", args=[console.pk]))
    page = answer(client, "scan")
    assert "The host key has changed" in page
    new_key = page.split('name="host_key" value="', 1)[1].split('"', 1)[0]
    new = page.split('data-testid="offered-fingerprint">', 1)[1].split("<", 1)[0]
    assert new != old and old in page

    # the exact new key, but without ticking the box: refused, the old key stays pinned
    url = reverse("mobility:console_pin", args=[console.pk])
    response = client.post(url, {"host_key": new_key})
    assert "Tick the box" in response.content.decode()
    assert run_jobs() == 0
    console.refresh_from_db()
    assert console.host_key_fingerprint == old

    response = client.post(url, {"host_key": new_key, "replace": "on"})
    assert response.status_code == 200
    assert answer(client, "pin") == ""  # done: the page is sent on to the console (HX-Redirect, no body)
    console.refresh_from_db()
    assert console.host_key_fingerprint == new
    event = AuditEvent.objects.get(action="console.host_key_replaced")
    assert event.actor == admin_user and event.data["previous_fingerprint"] == old and event.data["fingerprint"] == new
    client.post(reverse("mobility:console_test", args=[console.pk]), **HTMX)
    assert "Connection ok" in pushed("test")
