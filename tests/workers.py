"""Engine workers as child processes (``manage.py run_engine``) against the test database: what runs migrations and
IVM jobs in production, started and stopped by the tests that need one."""

import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

from django.conf import settings

REPO = Path(__file__).resolve().parents[1]


def database_url() -> str:
    db = settings.DATABASES["default"]
    if settings.DATABASE_VENDOR == "sqlite":
        return f"sqlite:///{db['NAME']}"
    auth = db.get("USER") or ""
    if db.get("PASSWORD"):
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db.get('HOST') or '127.0.0.1'}:{db.get('PORT') or 5432}/{db['NAME']}"


class Worker:
    """``manage.py run_engine`` as a child process against the test database (the benches': theirs). A lease or
    poll of None leaves the settings' default (the benches measure what ships)."""

    def __init__(self, worker_id: str, lease: float | None = 3.0, poll: float | None = 0.2, *,
                 jobs_only: bool = False, env: dict | None = None):
        env = {**os.environ, "DATABASE_URL": database_url(), "PYTHONUNBUFFERED": "1", **(env or {})}
        self.log = tempfile.TemporaryFile("w+")  # noqa: SIM115 — closed in stop()
        options = [*(["--lease", str(lease)] if lease is not None else []),
                   *(["--poll", str(poll)] if poll is not None else []), *(["--jobs-only"] if jobs_only else [])]
        self.proc = subprocess.Popen([sys.executable, "manage.py", "run_engine", "--worker-id", worker_id, *options],
                                     cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        self.log.close()

    def output(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()


