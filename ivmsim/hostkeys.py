"""SSH keys kept in the state directory: each IVM's host key and its padmin key (for mkauthkeys)."""

from __future__ import annotations

import os
from pathlib import Path

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ivmsim.store import atomic_write


def generate(path: Path) -> paramiko.PKey:
    """Write a new private key (Ed25519; RSA 2048 where Ed25519 cannot be loaded) and return it."""
    try:
        pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
        atomic_write(path, pem.decode(), 0o600)
        return paramiko.Ed25519Key.from_private_key_file(str(path))
    except (paramiko.SSHException, ValueError, AttributeError):
        key = paramiko.RSAKey.generate(2048)
        key.write_private_key_file(str(path) + ".tmp")
        os.replace(str(path) + ".tmp", path)
        return key


def load_or_create(path: Path) -> paramiko.PKey:
    """The key at ``path``, made on first use and reused after restarts."""
    if path.exists():
        try:
            return paramiko.Ed25519Key.from_private_key_file(str(path))
        except paramiko.SSHException:
            return paramiko.RSAKey.from_private_key_file(str(path))
    return generate(path)


def public_line(key: paramiko.PKey) -> str:
    return f"{key.get_name()} {key.get_base64()}"
