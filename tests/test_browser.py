"""Real Chromium through Playwright against daphne serving HTTP and websockets."""

import pytest

from tests.conftest import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_requester_signs_in_through_the_form_and_sees_the_inventory(asgi_server, page, requester):
    login(page, asgi_server, "rita")
    page.wait_for_url(f"{asgi_server}/inventory/")
    assert page.get_by_role("heading", name="Inventory").is_visible()
    assert page.get_by_test_id("whoami").inner_text() == "rita"
    assert page.get_by_test_id("empty-inventory").is_visible()
    # htmx was served from our own static files and loaded
    assert page.evaluate("typeof htmx !== 'undefined' && htmx.version") == "2.0.11"


def test_a_wrong_password_is_refused_with_a_message(asgi_server, page, requester):
    login(page, asgi_server, "rita", "not-her-password")
    assert page.get_by_role("alert").inner_text().startswith("Your user name and password did not match")
