"""``make run``'s topology as a child process group, for tests and benchmarks: ``scripts/run-demo`` itself, with its
defaults in a throw-away data folder (SQLite, ivmsim's state), without DATABASE_URL and REDIS_URL (so the in-memory channel layer and the engine inside
daphne), with the demo users' passwords ``pw-<username>`` as the test personas have them.

    with EmbeddedDemo() as demo:
        demo.url                        # http://127.0.0.1:<port>
        demo.submitted(("app01", "ivm1", "ivm2"))   # [migration id]: planned, validated, submitted by rita
        demo.approve(pk)                # by alex, in a process of its own (as a second web process would)
        demo.django("print(1)")         # Python run by manage.py shell against the demo's database
        demo.interrupt()                # Ctrl-C, as a terminal sends it to the whole group
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

# The Django process behind EmbeddedDemo.django: code blocks (one JSON string a line) run in turn.
SHELL = """
import json, sys, traceback
import django
django.setup()
from django.db import close_old_connections
for line in sys.stdin:
    try:
        exec(json.loads(line), {})
        print("\\n#OK", flush=True)
    except Exception:
        traceback.print_exc(file=sys.stdout)
        print("\\n#FAILED", flush=True)
    close_old_connections()
"""
MIGRATE = "from django.core.management import call_command; call_command('migrate', '--no-input', verbosity=0)"

# The demo users with the test personas' passwords, and migrations waiting for approval, made through the real
# planning, validation (migrlpar -o v) and submission code; then alex's approval of one.
SUBMIT = """
import json
from django.contrib.auth.models import User
from mobility.demo import ensure_personas
from tests.engine.conftest import submitted_migration
ensure_personas()
for user in User.objects.filter(username__in=("rita", "alex")):
    user.set_password(f"pw-{{user.username}}")
    user.save()
personas = {{u.username: u for u in User.objects.all()}}
print("IDS", json.dumps([submitted_migration(personas, *route, ivm_picks_slots=True).pk for route in {routes!r}]))
"""
APPROVE = """
from django.contrib.auth.models import User
from mobility.models import Migration
from tests.engine.conftest import approved
approved({{"alex": User.objects.get(username="alex")}}, Migration.objects.get(pk={pk}))
"""


class EmbeddedDemo:
    def __init__(self, *, time_scale: float = 20.0, redis_url: str | None = None):
        """``redis_url``: `make run` with REDIS_URL instead, its engine a worker process of its own (the Redis
        topology, the baseline of ``bench/embedded_push.py``)."""
        self.dir = tempfile.TemporaryDirectory(prefix="ivmweb-embedded-")
        # Port 0: daphne binds a free port itself and logs it (start() reads it there): a free port found here and
        # handed on could be taken by another test process before daphne binds it. (run-demo's SITE_URL, for the links
        # in mail, then names port 0: nothing here reads them.)
        self.port: int | None = None
        self.url: str | None = None
        self.log_path = Path(self.dir.name) / "run-demo.log"
        env = {"DJANGO_SETTINGS_MODULE": "ivmweb.settings"} | {k: v for k, v in os.environ.items()
               # (not the xdist worker's name either: the test settings would give the demo that worker's channel
               # prefix in place of its own, below)
               if k not in {"REDIS_URL", "DATABASE_URL", "IVMWEB_ENGINE_IN_WEB", "DJANGO_ALLOW_ASYNC_UNSAFE",
                            "PYTEST_XDIST_WORKER"}}
        self.env = {**env, "DEBUG": "1", "PYTHONUNBUFFERED": "1",
                    "IVMWEB_DATA_DIR": self.dir.name,  # make run's SQLite database, audit key and checkpoints
                    "IVMSIM_STATE": f"{self.dir.name}/ivmsim", "IVMSIM_PORT": "0",
                    "IVMSIM_TIME_SCALE": str(time_scale), "HOST": "127.0.0.1", "PORT": "0"}
        if redis_url:
            self.env |= {"REDIS_URL": redis_url, "IVMWEB_CHANNEL_PREFIX": f"ivmweb-demo-{uuid.uuid4().hex[:12]}"}
        self.proc: subprocess.Popen | None = None
        self.shell: subprocess.Popen | None = None

    def __enter__(self) -> EmbeddedDemo:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self) -> None:
        self.django(MIGRATE)  # as `make run` does before run-demo
        self.log = open(self.log_path, "w+")  # noqa: SIM115 — closed in stop()
        # A session of its own: interrupt() signals the whole group, as a terminal's Ctrl-C does.
        self.proc = subprocess.Popen([str(REPO / "scripts" / "run-demo")], cwd=REPO, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"run-demo exited with {self.proc.returncode}:\n{self.output()}")
            if self.url is None:
                bound = re.search(r"Listening on TCP address 127\.0\.0\.1:(\d+)", self.output())
                if bound is None:
                    time.sleep(0.2)
                    continue
                self.port = int(bound.group(1))
                self.url = f"http://127.0.0.1:{self.port}"
            try:
                with urllib.request.urlopen(f"{self.url}/login/", timeout=2) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"run-demo did not serve within 60 s:\n{self.output()}")

    def django(self, code: str) -> str:
        """Run ``code`` against the demo's database in one long-lived Django process (not one per call: each start
        costs seconds on a busy machine); what it printed. Its logging goes to a file of its own, not in between:
        a thread's log line (the audit sealer's, SSH's) could otherwise split a printed line in two."""
        if self.shell is None:
            self.shell_log = open(Path(self.dir.name) / "shell.log", "w")  # noqa: SIM115 — closed in stop()
            self.shell = subprocess.Popen([sys.executable, "-c", SHELL], cwd=REPO, env=self.env, text=True,
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.shell_log)
        self.shell.stdin.write(json.dumps(code) + "\n")
        self.shell.stdin.flush()
        out = []
        for line in self.shell.stdout:
            if line in ("#OK\n", "#FAILED\n"):
                if line == "#FAILED\n":
                    raise RuntimeError("".join(out))
                return "".join(out)
            out.append(line)
        raise RuntimeError(f"the Django shell ended:\n{''.join(out)}\n{self.shell_output()[-4000:]}")

    def printed(self, code: str, marker: str) -> str:
        """What ``code`` printed after ``marker`` on the line that starts with it."""
        out = self.django(code)
        found = re.search(rf"^{re.escape(marker)} (.*)$", out, re.MULTILINE)
        if found is None:
            raise RuntimeError(f"no line starting with {marker!r} in what the code printed:\n{out}")
        return found.group(1)

    def shell_output(self) -> str:
        """What the Django shell logged."""
        self.shell_log.flush()
        return (Path(self.dir.name) / "shell.log").read_text()

    def submitted(self, *routes: tuple[str, str, str]) -> list[int]:
        """Migrations (partition, source IVM, destination IVM) waiting for approval; the users rita and alex."""
        return json.loads(self.printed(SUBMIT.format(routes=list(routes)), "IDS"))

    def approve(self, pk: int) -> None:
        self.django(APPROVE.format(pk=pk))

    def interrupt(self, timeout: float = 30.0) -> int:
        """Ctrl-C to the whole group; run-demo's exit status once every part has stopped."""
        os.killpg(self.proc.pid, signal.SIGINT)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            print("--- run-demo after Ctrl-C (last 40 lines) ---", *self.output().splitlines()[-40:], sep="\n")
            subprocess.run(["ps", "-o", "pid,stat,etime,args", "-g", str(self.proc.pid)])
            raise

    def ctrl_c_web(self, timeout: float = 20.0) -> float:
        """Ctrl-C to the whole group; seconds until daphne has stopped its engine and no longer answers. (The whole
        group is not waited for: ivmsim sometimes outlives its signals, which stop() then ends.)"""
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGINT)
        while time.monotonic() - started < timeout:
            if "engine stopped in" in self.output():
                try:
                    urllib.request.urlopen(f"{self.url}/login/", timeout=1).close()
                except OSError:
                    return time.monotonic() - started
            time.sleep(0.2)
        raise AssertionError(f"daphne did not stop within {timeout} s:\n{self.output()[-4000:]}")

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc is not None:
            if self.proc.poll() is None:
                try:
                    self.interrupt()
                except subprocess.TimeoutExpired:
                    pass
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)  # whatever outlived Ctrl-C (ivmsim sometimes does)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=10)
        if self.shell is not None:
            self.shell.stdin.close()
            try:
                self.shell.wait(timeout=10)
            except subprocess.TimeoutExpired:  # a shell stuck in a query: killed, not left behind
                self.shell.kill()
                self.shell.wait(timeout=10)
            self.shell_log.close()
        if getattr(self, "log", None) is not None:
            self.log.close()
        self.dir.cleanup()
