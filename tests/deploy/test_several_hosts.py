"""ivmweb installed as docs/deploy.md says, on several hosts: two web hosts running daphne with the shipped settings
(DEBUG off) and the shipped unit's command line, nginx with the shipped site (a copy with test certificates and
ports) in front, two worker hosts running the shipped worker unit's command line, ivmsim's IVMs at their own
addresses, one PostgreSQL and one Redis. Each host is a network namespace of its own (``tests/deploy/hosts.py``).

20 migrations, 100 browsers' websockets through nginx spread over both web hosts: every client receives every event
of the migration it watches, once, in order; each IVM's command log shows exactly one ``migrlpar -o m`` per
migration. Midway, one web host's daphne is killed: its clients reconnect through nginx to the other and replay
exactly what they missed. Then one worker is killed: the other takes its migrations over.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest
from django.conf import settings

from mobility.models import Migration, MigrationEvent, Partition, Team
from tests.deploy.hosts import (
    HOST_NAME,
    Network,
    free_port,
    nginx_conf,
    nginx_site,
    self_signed,
    unit,
    wait_listening,
)
from tests.engine.conftest import submitted_migration, wait_for
from tests.markers import postgresql_only, redis_only

pytestmark = [pytest.mark.django_db(transaction=True), postgresql_only, redis_only]

REPO = Path(settings.BASE_DIR)
MIGRATIONS, CLIENTS, PER_PAIR, PAIRS = 20, 100, 10, 2
WEB_PORT = 8001  # each web host runs ivmweb-web@8001 on its own address (a free port each on loopback)
LEASE_S = 4


def fleet_toml() -> str:
    """Two pairs of servers, 10 running partitions on each pair's source (lb000-lb019); slots for all at once."""
    sys.path.insert(0, str(REPO / "bench"))
    from live_ivmsim import fleet_toml as bench_fleet

    return bench_fleet(PAIRS, PER_PAIR, memory_mb=4096, touched_mb=3072)


def session_cookie(user, secret_key: str) -> str:
    """A signed-in session of ``user`` in the database, as the web hosts (with their own SECRET_KEY, which signs both
    the session data and the user's session hash) read it."""
    from django.contrib.sessions.backends.db import SessionStore
    from django.test import override_settings

    with override_settings(SECRET_KEY=secret_key):
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.create()
    return f"{settings.SESSION_COOKIE_NAME}={session.session_key}"


def get(url: str, host: str = HOST_NAME) -> tuple[int, bytes]:
    tls = ssl.create_default_context()
    tls.check_hostname, tls.verify_mode = False, ssl.CERT_NONE
    request = urllib.request.Request(url, headers={"Host": host})
    try:
        with urllib.request.urlopen(request, timeout=10, context=tls) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()
    except OSError:
        return 0, b""


def websocket_clients(address: str) -> float | None:
    """The web process's open live sockets, from its own /metrics (scraped from the root namespace)."""
    from prometheus_client.parser import text_string_to_metric_families

    status, body = get(f"http://{address}/metrics")
    if status != 200:
        return None
    for family in text_string_to_metric_families(body.decode()):
        if family.name == "ivmweb_live_websocket_clients":
            return sum(s.value for s in family.samples)
    return None


@pytest.fixture
def deployment(tmp_path, request):
    """The hosts, started; torn down (processes, namespaces, bridge) whatever happens."""
    net = Network({"web1": 1, "web2": 1, "wk1": 1, "wk2": 1, "ivms": 2 * PAIRS})
    request.addfinalizer(net.close)
    if net.mode == "loopback":
        warnings.warn(f"several-hosts test on loopback ports: {net.why_loopback}", stacklevel=1)
        print(f"NOTE: {net.why_loopback}; the same topology runs on loopback addresses instead.")
    db = settings.DATABASES["default"]
    pg = net.forward(free_port(), (db.get("HOST") or "127.0.0.1", int(db.get("PORT") or 5432)))
    redis_url = settings.CHANNEL_LAYERS["default"]["CONFIG"]["hosts"][0]["address"]
    redis_host, redis_port, redis_db = re.fullmatch(r"redis://([^:/]+):(\d+)/(\d+)", redis_url).groups()
    rport = net.forward(free_port(), (redis_host, int(redis_port)))
    gateway = net.gateway if net.mode == "netns" else "127.0.0.1"
    nginx_port = free_port()
    secret_key = secrets.token_urlsafe(64)
    env = {k: v for k, v in os.environ.items() if k not in ("DEBUG", "DJANGO_SETTINGS_MODULE")}
    env.update({
        "DJANGO_SETTINGS_MODULE": "ivmweb.settings", "DEBUG": "0", "PYTHONUNBUFFERED": "1",
        "SECRET_KEY": secret_key, "IVMWEB_ENCRYPTION_KEYS": ",".join(settings.IVMWEB_ENCRYPTION_KEYS),
        "IVMWEB_AUDIT_CHECKPOINT_KEY": settings.IVMWEB_AUDIT_CHECKPOINT_KEY,
        "IVMWEB_AUDIT_CHECKPOINT_FILE": str(tmp_path / "checkpoints.jsonl"),
        "ALLOWED_HOSTS": f"{HOST_NAME},{net.address('web1')},{net.address('web2')}",
        "CSRF_TRUSTED_ORIGINS": f"https://{HOST_NAME}:{nginx_port}",
        "SECURE_PROXY_SSL_HEADER_NAME": "HTTP_X_FORWARDED_PROTO",
        "DATABASE_URL": f"postgres://{db.get('USER') or 'postgres'}@{gateway}:{pg}/{db['NAME']}",
        "REDIS_URL": f"redis://{gateway}:{rport}/{redis_db}",
        "IVMWEB_METRICS_ALLOWED_NETS": f"{net.subnet}.0/24,127.0.0.0/8",
        "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend", "IVMWEB_LOG_FORMAT": "json",
        # 4 processes x 5 under the shared server's max_connections (docs/deploy.md, "Sizing")
        "DATABASE_POOL_MAX_SIZE": "5",
    })
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]

    # ivmsim: every IVM at its own address on the IVM host.
    (tmp_path / "fleet.toml").write_text(fleet_toml())
    ready = tmp_path / "ready.json"
    sim = net.start("ivms", [sys.executable, "-m", "ivmsim", "--fleet", str(tmp_path / "fleet.toml"),
                             "--state", str(tmp_path / "ivmsim"), "--port", "0", "--time-scale", "1", "--seed", "1",
                             "--ready-file", str(ready), "--addresses-from", net.address("ivms")],
                    env={**os.environ, "PYTHONUNBUFFERED": "1"}, log=tmp_path / "ivmsim.log", cwd=REPO)
    wait_for(lambda: ready.exists() or sim.poll() is not None, 30, 0.1, "ivmsim to listen")
    assert sim.poll() is None, (tmp_path / "ivmsim.log").read_text()[-2000:]

    web_argv, web_env, _ = unit("ivmweb-web@.service")
    webs, web_at = {}, {}
    for host in ("web1", "web2"):
        port = WEB_PORT if net.mode == "netns" else free_port(net.address(host))
        web_at[host] = f"{net.address(host)}:{port}"
        argv = [sys.executable, "-m", "daphne", *web_argv[1:]]
        argv[argv.index("--bind") + 1] = net.address(host)
        argv = [a.replace("%i", str(port)) for a in argv]
        metrics_dir = tmp_path / f"{host}-metrics"  # the host's PROMETHEUS_MULTIPROC_DIR
        metrics_dir.mkdir()
        host_env = {**env, **web_env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        webs[host] = net.start(host, argv, env=host_env, log=tmp_path / f"{host}.log", cwd=REPO)
    for host, proc in webs.items():
        wait_listening(net.address(host), int(web_at[host].rsplit(":", 1)[1]), proc)

    worker_argv, worker_env, nice = unit("ivmweb-worker@.service")
    workers = {}
    for host in ("wk1", "wk2"):
        argv = [sys.executable, *worker_argv[1:], "--lease", str(LEASE_S), "--poll", "0.5"]
        argv = ["nice", "-n", str(nice), *[a.replace("%H-%i", f"{host}-1") for a in argv]]
        metrics_dir = tmp_path / f"{host}-metrics"
        metrics_dir.mkdir()
        host_env = {**env, **worker_env, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        workers[host] = net.start(host, argv, env=host_env, log=tmp_path / f"{host}.log", cwd=REPO)

    site = tmp_path / "ivmweb.conf"
    site.write_text(nginx_site([web_at["web1"], web_at["web2"]], nginx_port, free_port(), *self_signed(tmp_path)))
    conf = tmp_path / "nginx.conf"
    conf.write_text(nginx_conf(tmp_path, site))
    checked = subprocess.run(["/usr/sbin/nginx", "-t", "-c", str(conf)], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    nginx = net.start(None, ["/usr/sbin/nginx", "-c", str(conf)], env=os.environ.copy(),
                      log=tmp_path / "nginx.log", cwd=tmp_path)
    wait_listening("127.0.0.1", nginx_port, nginx)

    yield {"net": net, "tmp": tmp_path, "ready": json.loads(ready.read_text()), "webs": webs, "workers": workers,
           "nginx": f"https://127.0.0.1:{nginx_port}", "nginx_port": nginx_port, "secret_key": secret_key,
           "web_at": web_at}
    for name in ("web1", "web2", "wk1", "wk2", "nginx-error"):
        log = tmp_path / f"{name}.log"
        if log.exists():
            lines = [ln for ln in log.read_text(errors="replace").splitlines()
                     if '"WARNING"' in ln or '"ERROR"' in ln or "Traceback" in ln or name == "nginx-error"]
            print(f"--- {name}: warnings and errors (first 10) ---", *lines[:10], sep="\n")


def starts_per_partition(state: Path) -> dict[str, int]:
    """``migrlpar -o m`` executed per partition, from every IVM's own command log."""
    counts: dict[str, int] = {}
    for log in state.glob("*/commands.jsonl"):
        for line in log.read_text().splitlines():
            command = json.loads(line)["command"]
            if command.startswith("migrlpar -o m"):
                name = re.search(r"-p (\S+)", command).group(1)
                counts[name] = counts.get(name, 0) + 1
    return counts


def test_two_web_hosts_behind_nginx_and_two_worker_hosts_survive_losing_one_of_each(deployment, personas):
    from mobility.inventory import sync_all
    from mobility.inventory.connections import close_all_clients
    from mobility.management.commands.register_fleet import register_entry

    d, net = deployment, deployment["net"]
    consoles = [register_entry(e)[0] for e in d["ready"]["ivms"]]
    assert all(c.host.startswith(net.subnet if net.mode == "netns" else "127.") for c in consoles)
    results = sync_all(consoles)
    assert all(r.ok for r in results), [r.summary() for r in results if not r.ok]
    Partition.objects.filter(name__startswith="lb").update(team=Team.objects.get(name="Payments"))
    migrations = [submitted_migration(personas, f"lb{i:03d}", f"ivm{2 * (i // PER_PAIR) + 1}",
                                      f"ivm{2 * (i // PER_PAIR) + 2}", ivm_picks_slots=True) for i in range(MIGRATIONS)]
    close_all_clients()
    ids = [m.pk for m in migrations]

    # Ready through nginx: both workers' heartbeats, the database and Redis as the web hosts reach them.
    def both_workers_ready():
        status, body = get(d["nginx"] + "/readyz")
        return status == 200 and json.loads(body)["checks"]["workers"]["alive"] == 2

    wait_for(both_workers_ready, 60, 0.5, "/readyz through nginx, with both workers alive")

    spec = d["tmp"] / "clients.json"
    spec.write_text(json.dumps({"host": "127.0.0.1", "port": d["nginx_port"],
                                "host_header": f"{HOST_NAME}:{d['nginx_port']}",
                                "origin": f"https://{HOST_NAME}:{d['nginx_port']}",
                                "cookie": session_cookie(personas["rita"], d["secret_key"]), "ids": ids, "count": CLIENTS}))
    clients = subprocess.Popen([sys.executable, str(Path(__file__).with_name("wsclients.py")), str(spec)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    net.procs.append(clients)
    assert clients.stdout.readline().strip() == "READY"
    web1, web2 = d["web_at"]["web1"], d["web_at"]["web2"]
    spread = wait_for(lambda: (lambda a, b: (a, b) if a is not None and b is not None and a + b == CLIENTS
                               else None)(websocket_clients(web1), websocket_clients(web2)),
                      30, 0.5, "both web hosts to count the clients")
    assert min(spread) >= CLIENTS // 4, f"nginx did not spread the clients over both web hosts: {spread}"

    from mobility.governance.approvals import approve

    for m in migrations:  # alex approves the plan he is shown; the workers start at once
        approve(m, personas["alex"], "several hosts", plan_hash=m.latest_plan().content_hash)

    # Kill one web host's daphne mid-run: its clients reconnect through nginx to the other one.
    wait_for(lambda: Migration.objects.filter(pk__in=ids, bytes_transmitted__gt=0).count() >= 3, 120, 0.2,
             "transfers to start")
    d["webs"]["web1"].kill()
    wait_for(lambda: websocket_clients(web2) == CLIENTS, 60, 0.5, "every client to be back, on web2")

    # Kill one worker while it drives migrations: the other takes them over once their leases run out.
    wk1_held = wait_for(lambda: list(Migration.objects.filter(pk__in=ids, status="running",
                                                              claimed_by__startswith="wk1")
                                     .values_list("pk", flat=True)), 60, 0.1, "wk1 to drive a migration")
    d["workers"]["wk1"].kill()

    wait_for(lambda: not Migration.objects.filter(pk__in=ids).exclude(
        status__in=("completed", "failed", "stopped")).exists(), 240, 1.0, "every migration to end")
    outcomes = dict(Migration.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert set(outcomes.values()) == {"completed"}, {pk: Migration.objects.get(pk=pk).outcome
                                                      for pk, s in outcomes.items() if s != "completed"}
    for pk in wk1_held:  # driven by wk1 before it died, finished by wk2
        workers = list(MigrationEvent.objects.filter(migration_id=pk).exclude(payload__worker=None)
                       .order_by("seq").values_list("payload__worker", flat=True))
        assert "wk1-1" in workers and workers[-1] == "wk2-1", (pk, workers)

    time.sleep(3)  # the sockets' watch repairs a lost push within 2 s: give the last events time to arrive
    clients.stdin.write("STOP\n")
    clients.stdin.flush()
    result = json.loads(clients.stdout.readline())
    clients.wait(30)
    last = dict(Migration.objects.filter(pk__in=ids).values_list("pk", "last_seq"))
    for index, seqs in result["got"].items():
        mid = ids[int(index) % len(ids)]
        assert seqs == list(range(1, last[mid] + 1)), (
            f"client {index} of migration {mid}: got {len(seqs)} events, expected 1..{last[mid]} once each in order; "
            f"first differences: {[(i, s) for i, s in enumerate(seqs, 1) if s != i][:5]}")
    reconnected = sum(1 for n in result["closes"].values() if n)
    assert reconnected >= spread[0], (reconnected, spread)  # every client web1 had reconnected (and replayed)

    starts = starts_per_partition(d["tmp"] / "ivmsim")
    assert starts == {f"lb{i:03d}": 1 for i in range(MIGRATIONS)}, starts
