"""SSH keys: host keys in the OpenSSH "type base64" form an administrator pins (and their fingerprints), and the
private keys ivmweb signs in with."""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
from dataclasses import dataclass

import paramiko

from .errors import InvalidValue


def fingerprint_of(blob: bytes) -> str:
    """OpenSSH-style ``SHA256:...`` fingerprint of a public key blob (unpadded base64)."""
    digest = hashlib.sha256(blob).digest()
    return "SHA256:" + base64.b64encode(digest).decode("ascii").rstrip("=")


@dataclass(frozen=True)
class HostKey:
    """A server public key: ``type`` (e.g. ``ssh-ed25519``), ``base64`` blob and SHA256 ``fingerprint``."""

    type: str
    base64: str
    fingerprint: str

    @classmethod
    def parse(cls, text: str) -> HostKey:
        """Parse ``"ssh-ed25519 AAAA... [comment]"``; refuses anything paramiko cannot load."""
        parts = text.strip().split() if isinstance(text, str) else []
        if len(parts) < 2:
            raise InvalidValue("host key", text, 'expected "<type> <base64>" as in known_hosts')
        key_type, b64 = parts[0], parts[1]
        try:
            blob = base64.b64decode(b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidValue("host key", text, "the key data is not valid base64") from None
        try:
            pkey = paramiko.PKey.from_type_string(key_type, blob)
        except Exception as exc:  # paramiko raises several unrelated types for bad blobs
            raise InvalidValue("host key", text, f"not a usable {key_type} key ({exc})") from None
        return cls.from_pkey(pkey)

    @classmethod
    def from_pkey(cls, pkey: paramiko.PKey) -> HostKey:
        blob = pkey.asbytes()
        return cls(pkey.get_name(), base64.b64encode(blob).decode("ascii"), fingerprint_of(blob))

    def to_pkey(self) -> paramiko.PKey:
        return paramiko.PKey.from_type_string(self.type, base64.b64decode(self.base64))

    @property
    def openssh(self) -> str:
        """The ``"type base64"`` form to store and to pass back as ``IVMClient(host_key=...)``."""
        return f"{self.type} {self.base64}"

    def __str__(self) -> str:
        return f"{self.type} {self.fingerprint}"


def load_private_key(pem: str) -> paramiko.PKey:
    """An unencrypted Ed25519, ECDSA or RSA private key from its PEM text; ``InvalidValue`` (never naming the key)
    for anything else."""
    for cls in (paramiko.Ed25519Key, paramiko.ECDSAKey, paramiko.RSAKey):
        try:
            return cls.from_private_key(io.StringIO(pem))
        except (paramiko.SSHException, ValueError, TypeError):
            continue
    raise InvalidValue("private key", "(redacted)", "not an unencrypted Ed25519, ECDSA or RSA private key")
