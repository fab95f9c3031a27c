"""Registering an IVM through the pages, against the simulator over real SSH."""

import base64

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from django.db import connection
from django.urls import reverse

from mobility.models import AuditEvent, IVMConsole, ManagedSystem
from tests.jobs import answer, pushed, run_jobs

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def form_for(entry: dict, **changes) -> dict:
    data = {"name": entry["name"], "host": entry["host"], "port": str(entry["port"]),
            "username": entry["user"], "password": entry["password"], "private_key": ""}
    data.update(changes)
    return data


def other_key() -> str:
    raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    return raw.decode()


@pytest.fixture
def admin_client(client, admin_user):
    client.force_login(admin_user)
    return client


def register_and_confirm(client, entry, **changes) -> IVMConsole:
    response = client.post(reverse("mobility:console_register"), form_for(entry, **changes))
    console = IVMConsole.objects.get(name=entry["name"])
    assert response["Location"] == reverse("mobility:console_host_key", args=[console.pk])
    client.get(response["Location"])  # a worker asks the IVM for its key
    assert entry["fingerprint"] in answer(client, "scan", **{"HX-Target": "host-key-panel"})
    response = client.post(reverse("mobility:console_pin", args=[console.pk]), {"host_key": entry["host_key"]})
    assert response.status_code == 200, response.content.decode()
    run_jobs()
    console.refresh_from_db()
    assert console.host_key == entry["host_key"]
    return console


def test_the_admin_sees_the_offered_fingerprint_and_pins_exactly_that_key(admin_client, fleet):
    entry = fleet.ivm("ivmf1")
    response = admin_client.post(reverse("mobility:console_register"), form_for(entry))
    console = IVMConsole.objects.get(name="ivmf1")
    assert console.host_key == "" and console.host_key_fingerprint == ""
    html = admin_client.get(response["Location"]).content.decode()
    assert "Waiting for a worker" in html and entry["fingerprint"] not in html  # the request never waits on SSH
    html = answer(admin_client, "scan", **{"HX-Target": "host-key-panel"})
    assert entry["fingerprint"] in html and "ssh-ed25519" in html
    admin_client.post(reverse("mobility:console_pin", args=[console.pk]), {"host_key": entry["host_key"]})
    console.refresh_from_db()
    assert console.host_key == ""  # not before the worker has checked the IVM still offers it
    run_jobs()
    console.refresh_from_db()
    assert console.host_key == entry["host_key"]
    assert console.host_key_fingerprint == entry["fingerprint"]
    actions = list(AuditEvent.objects.filter(object_type="ivmconsole", object_id=str(console.pk))
                   .values_list("action", flat=True))
    assert actions[:2] == ["console.registered", "console.host_key_confirmed"]


def test_a_confirmation_of_a_key_the_ivm_does_not_offer_is_refused(admin_client, fleet):
    entry = fleet.ivm("ivmf1")
    admin_client.post(reverse("mobility:console_register"), form_for(entry))
    console = IVMConsole.objects.get(name="ivmf1")
    response = admin_client.post(reverse("mobility:console_pin", args=[console.pk]), {"host_key": other_key()})
    assert response.status_code == 200
    html = answer(admin_client, "pin", **{"HX-Target": "host-key-panel"})
    assert "The IVM now offers a different key" in html
    assert "Nothing was pinned" in html
    console.refresh_from_db()
    assert console.host_key == ""
    assert AuditEvent.objects.filter(action="console.host_key_refused", object_id=str(console.pk)).exists()
    # and garbage is refused as not a key at all
    response = admin_client.post(reverse("mobility:console_pin", args=[console.pk]), {"host_key": "ssh-ed25519 !!"})
    assert "not a valid SSH key" in response.content.decode()
    assert run_jobs() == 0


def test_the_password_is_stored_encrypted_and_never_shown(admin_client, fleet):
    entry = fleet.ivm("ivmf1")
    console = register_and_confirm(admin_client, entry)
    password = entry["password"]
    assert console.get_password() == password
    with connection.cursor() as cursor:
        cursor.execute("SELECT password_encrypted FROM mobility_ivmconsole WHERE id = %s", [console.pk])
        stored = cursor.fetchone()[0]
    assert stored and password not in stored and base64.b64encode(password.encode()).decode() not in stored
    for url in (reverse("mobility:console_detail", args=[console.pk]), reverse("mobility:consoles"),
                reverse("mobility:console_host_key", args=[console.pk])):
        assert password not in admin_client.get(url).content.decode()
    # nor in the re-rendered form after an error, nor any audit event
    html = admin_client.post(reverse("mobility:console_register"),
                             form_for(entry, name="other", port="0")).content.decode()
    assert password not in html
    assert not any(password in str(e.data) for e in AuditEvent.objects.all())


def test_a_private_key_is_never_echoed_back_in_the_form(admin_client, fleet):
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption()).decode()
    html = admin_client.post(reverse("mobility:console_register"),
                             form_for(fleet.ivm("ivmf1"), password="", private_key=pem, port="abc")).content.decode()
    body = pem.splitlines()[1]
    assert "Port must be a whole number" in html and body not in html
    assert IVMConsole.objects.count() == 0


def test_test_connection_runs_a_read_and_reports_the_system(admin_client, fleet):
    entry = fleet.ivm("ivmf1")
    console = register_and_confirm(admin_client, entry)
    html = admin_client.post(reverse("mobility:console_test", args=[console.pk]), **HTMX).content.decode()
    assert "Waiting for a worker" in html
    html = pushed("test")
    assert "Connection ok" in html and entry["system"] in html
    assert any(line["command"].startswith("lssyscfg -r sys -F name") for line in fleet.command_log("ivmf1"))


def test_test_connection_with_a_wrong_password_names_the_error(admin_client, fleet):
    entry = fleet.ivm("ivmf2")
    console = register_and_confirm(admin_client, {**entry, "password": "not-the-password"})
    admin_client.post(reverse("mobility:console_test", args=[console.pk]), **HTMX)
    html = pushed("test")
    assert "Connection test failed" in html and "AuthenticationFailed" in html


def test_sync_now_fills_the_inventory_and_records_who_asked(admin_client, admin_user, fleet):
    entry = fleet.ivm("ivmf2")
    console = register_and_confirm(admin_client, entry)
    html = admin_client.post(reverse("mobility:console_sync", args=[console.pk]), **HTMX).content.decode()
    assert "Sync queued" in html
    html = pushed("sync")
    assert "Synced:" in html and "created" in html, html
    system = ManagedSystem.objects.get(console=console)
    assert system.name == entry["system"]
    assert set(system.partitions.values_list("name", flat=True)) == {"viosf2", "pay11"}
    event = AuditEvent.objects.get(action="inventory.sync_requested")
    assert event.actor == admin_user and event.data["ok"] is True
    console.refresh_from_db()
    assert console.last_sync_ok_at is not None


@pytest.mark.parametrize(("field", "value", "message"), [
    ("port", "0", "Port must be between 1 and 65535"),
    ("port", "70000", "Port must be between 1 and 65535"),
    ("port", "22;reboot", "Port must be a whole number"),
    ("host", "ivm 1.example.com", "Address is neither an IP address nor a valid host name"),
    ("host", "$(reboot)", "Address is neither an IP address nor a valid host name"),
    ("name", "-oProxyCommand", "IVM name must not start with"),
    ("name", "ivm;1", "IVM name contains shell metacharacter"),
    ("username", "padmin;id", "User must be 1-32 of"),
    ("password", "", "Give the IVM user"),
])
def test_bad_values_are_refused_with_a_clear_message_and_nothing_is_created(admin_client, fleet, field, value,
                                                                            message):
    events = AuditEvent.objects.count()
    response = admin_client.post(reverse("mobility:console_register"), form_for(fleet.ivm("ivmf1"), **{field: value}))
    assert response.status_code == 200
    assert message in response.content.decode().replace("&#x27;", "'")
    assert IVMConsole.objects.count() == 0 and AuditEvent.objects.count() == events


def test_an_address_where_no_ivm_answers_gets_no_key_and_says_why(admin_client, fleet):
    # Registering never waits on the network; the worker's scan says the address does not answer.
    response = admin_client.post(reverse("mobility:console_register"),
                                 form_for(fleet.ivm("ivmf1"), host="127.0.0.1", port="1"))
    admin_client.get(response["Location"])
    html = answer(admin_client, "scan", **{"HX-Target": "host-key-panel"})
    assert "ivmweb could not reach 127.0.0.1:1" in html and "Confirm this fingerprint" not in html
    assert IVMConsole.objects.get().host_key == ""


def test_the_same_name_or_address_cannot_be_registered_twice(admin_client, fleet):
    entry = fleet.ivm("ivmf1")
    register_and_confirm(admin_client, entry)
    html = admin_client.post(reverse("mobility:console_register"), form_for(entry)).content.decode()
    assert "already registered" in html
    html = admin_client.post(reverse("mobility:console_register"), form_for(entry, name="again")).content.decode()
    assert f"{entry['host']}:{entry['port']} is already registered" in html
    assert IVMConsole.objects.count() == 1


# sync_all writes from its worker threads, which see only committed rows: a real transaction is needed.
@pytest.mark.django_db(transaction=True)
def test_sync_all_syncs_every_pinned_ivm_and_skips_an_unconfirmed_one(admin_client, admin_user, fleet):
    from tests.inventory_ui.conftest import register

    for entry in fleet.ivms:
        register(entry)
    unconfirmed = register({**fleet.ivm("ivmf1"), "name": "unconfirmed", "host": "127.0.0.1"}, pin=False)
    html = admin_client.post(reverse("mobility:console_sync_all"), **HTMX).content.decode()
    assert "Syncing 2 IVMs" in html and html.count("Sync queued") == 2
    assert html.count("Last sync: never") == 3 and 'data-console="unconfirmed"' in html
    assert run_jobs() == 2
    assert set(ManagedSystem.objects.values_list("name", flat=True)) == {e["system"] for e in fleet.ivms}
    event = AuditEvent.objects.get(action="inventory.sync_all_requested")
    assert event.actor == admin_user and set(event.data["consoles"]) == {"ivmf1", "ivmf2"}
    assert AuditEvent.objects.filter(action="inventory.sync_requested", actor=admin_user).count() == 2
    unconfirmed.refresh_from_db()
    assert unconfirmed.last_sync_at is None


def test_without_htmx_a_sync_redirects_with_a_message(admin_client, fleet):
    console = register_and_confirm(admin_client, fleet.ivm("ivmf1"))
    response = admin_client.post(reverse("mobility:console_sync", args=[console.pk]), follow=True)
    assert response.redirect_chain[-1][0] == reverse("mobility:console_detail", args=[console.pk])
    assert "Sync of ivmf1 started" in response.content.decode()
    run_jobs()
    assert "Synced:" in admin_client.get(reverse("mobility:console_detail", args=[console.pk])).content.decode()


def test_an_ivm_registered_with_a_private_key_connects_and_keeps_the_key_encrypted(admin_client, fleet):
    private = ed25519.Ed25519PrivateKey.generate()
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
                                serialization.NoEncryption()).decode()
    public = private.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    (fleet.state_dir / "ivmf2" / "authorized_keys").write_text(public.decode() + " ivmweb-test\n")
    entry = fleet.ivm("ivmf2")
    console = register_and_confirm(admin_client, entry, password="", private_key=pem)
    assert console.password_encrypted == "" and console.get_private_key() == pem
    assert pem.splitlines()[1] not in console.private_key_encrypted
    admin_client.post(reverse("mobility:console_test", args=[console.pk]), **HTMX)
    assert "Connection ok" in pushed("test")
    assert pem.splitlines()[1] not in admin_client.get(reverse("mobility:console_detail", args=[console.pk])).content.decode()
