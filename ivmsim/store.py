"""The state directory: fleet state (atomic JSON), per-IVM command and fault logs, keys."""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path


def atomic_write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write ``text`` so that readers see the old file or the new one, never half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


class StateDir:
    """Layout of ``--state DIR``: ``state.json`` plus ``<ivm>/`` with keys and logs."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    @property
    def state_file(self) -> Path:
        return self.root / "state.json"

    def ivm_dir(self, ivm: str) -> Path:
        d = self.root / ivm
        d.mkdir(parents=True, exist_ok=True)
        return d

    def load_state(self) -> dict | None:
        if not self.state_file.exists():
            return None
        return json.loads(self.state_file.read_text())

    def save_state(self, data: dict) -> None:
        atomic_write(self.state_file, json.dumps(data, indent=1, sort_keys=True))

    def append_jsonl(self, ivm: str, name: str, record: dict) -> None:
        with open(self.ivm_dir(ivm) / name, "a") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")

    def read_jsonl(self, ivm: str, name: str) -> list[dict]:
        path = self.ivm_dir(ivm) / name
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def authorized_keys(self, ivm: str) -> list[str]:
        path = self.ivm_dir(ivm) / "authorized_keys"
        return path.read_text().splitlines() if path.exists() else []

    def add_authorized_key(self, ivm: str, line: str) -> None:
        path = self.ivm_dir(ivm) / "authorized_keys"
        existing = self.authorized_keys(ivm)
        if line not in existing:
            atomic_write(path, "\n".join([*existing, line]) + "\n", 0o600)


def now_iso() -> str:
    # Milliseconds: tests read from the command log which commands ran at the same time.
    now = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
