"""Secrets at rest (IVM passwords and private keys), encrypted with IVMWEB_ENCRYPTION_KEYS.

MultiFernet: the first key encrypts, every listed key decrypts, so a key is rotated by putting the
new one first, running ``manage.py rotate_secrets``, then dropping the old one.
"""

from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """The stored secret was encrypted with a key that is no longer configured."""


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(key) for key in keys])


def _current() -> MultiFernet:
    return _fernet(tuple(settings.IVMWEB_ENCRYPTION_KEYS))


def encrypt(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with IVMWEB_ENCRYPTION_KEYS; was a key dropped too early?"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt a token under the first (newest) key."""
    return _current().rotate(token.encode()).decode()
