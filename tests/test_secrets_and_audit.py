import pytest
from cryptography.fernet import Fernet
from django.test import override_settings

from mobility import secrets
from mobility.governance import audit
from mobility.models import AuditEvent, IVMConsole
from tests.markers import postgresql_only

pytestmark = pytest.mark.django_db


def test_ivm_passwords_are_stored_encrypted_and_read_back():
    console = IVMConsole(name="ivm-a", host="127.0.1.1")
    console.set_password("s3cret-padmin")
    console.save()
    stored = IVMConsole.objects.values_list("password_encrypted", flat=True).get()
    assert "s3cret" not in stored
    assert IVMConsole.objects.get().get_password() == "s3cret-padmin"


def test_a_rotated_key_still_decrypts_and_rotation_moves_to_the_new_key(settings):
    old_token = secrets.encrypt("pw")
    new_key = Fernet.generate_key().decode()
    with override_settings(IVMWEB_ENCRYPTION_KEYS=[new_key, *settings.IVMWEB_ENCRYPTION_KEYS]):
        assert secrets.decrypt(old_token) == "pw"
        rotated = secrets.rotate(old_token)
    with override_settings(IVMWEB_ENCRYPTION_KEYS=[new_key]):
        assert secrets.decrypt(rotated) == "pw"
        with pytest.raises(secrets.SecretUnreadable):
            secrets.decrypt(old_token)


def test_audit_events_chain_and_verify(requester):
    before = AuditEvent.objects.count()  # other modules may have left (append-only) events behind
    first = audit.record("login", actor=requester)
    second = audit.record("ivm.registered", actor=requester, data={"host": "127.0.1.1"})
    result = audit.verify_chain()  # seals what is committed first
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.prev_hash == first.hash and second.position == first.position + 1
    assert result.ok and result.checked == before + 2 and result.head == second.hash


@postgresql_only
def test_postgresql_refuses_update_and_delete_of_audit_events(requester):
    from django.db import DatabaseError, transaction

    audit.record("login", actor=requester)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.update(action="tampered")
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic():
        AuditEvent.objects.all().delete()
