"""Where ivmctl keeps the server's address and the token (config.json, mode 0600) and the last plan drafted
(plan.json): $IVMCTL_CONFIG_DIR, else $XDG_CONFIG_HOME/ivmctl, else ~/.config/ivmctl."""

from __future__ import annotations

import json
import os
from pathlib import Path


def directory() -> Path:
    if os.environ.get("IVMCTL_CONFIG_DIR"):
        return Path(os.environ["IVMCTL_CONFIG_DIR"])
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "ivmctl"


def _write_private(path: Path, data: dict) -> None:
    """Write a file only its owner can read, created with that mode (never readable, even for a moment)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle, indent=2)
    os.chmod(path, 0o600)  # an existing file keeps its old mode through O_CREAT


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def save_login(url: str, token: str) -> Path:
    path = directory() / "config.json"
    _write_private(path, {"url": url.rstrip("/"), "token": token})
    return path


def login() -> dict | None:
    return _read(directory() / "config.json")


def save_plan(plan: dict) -> Path:
    path = directory() / "plan.json"
    _write_private(path, plan)
    return path


def plan() -> dict | None:
    return _read(directory() / "plan.json")
