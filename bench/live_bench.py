"""Live push latency: a state change committed to each websocket client receiving it, through daphne,
``LiveConsumer`` and Redis; against a bare Channels consumer as the floor.

    REDIS_URL=redis://… .venv/bin/python bench/live_bench.py --ivmsim [--migrations 50] [--clients 200]
        [--dashboard 150] [--workers 2] [--memory-mb 4096] [--touched-mb 2560] [--json]
    DATABASE_URL=postgres://… REDIS_URL=redis://… .venv/bin/python bench/live_bench.py [--synthetic]
        [--migrations 50] [--clients 200] [--dashboard 150] [--rate 50] [--seconds 20] [--json]

``--ivmsim`` (~6 min, see ``live_ivmsim.py``): the state changes are the engine's own: 50 migrations driven on
ivmsim by ``manage.py run_engine`` workers in a throw-away database, the clients subscribed before the approvals;
then the floor replays the same timeline (``--floor``: while a bare driver moves the partitions back on ivmsim,
with nothing else running, or both). Exit 1 if a client lost an event or got one out of order, or if a
migration did not complete.

``--synthetic`` (the default, ~1 min): the bench itself calls ``mobility.engine.events.emit`` at ``--rate`` on
real rows (names starting ``bench-``, created in the migrated ``DATABASE_URL`` and deleted at the end); nothing
runs on ivmsim, so it isolates the push path. Exit 1 if any ivmweb client lost an event or received one out of
order.

Clients: ``--dashboard`` of them on the dashboard (the rows of every running migration once, then at most every
``mobility.live.publish.DASHBOARD_INTERVAL_S`` the progress cells of the migrations that changed: latest state
wins), the others spread over the migrations' live pages (every event). Each client behaves like the page's htmx
socket: when its socket closes it reconnects and subscribes again with the last seq it has (closes are counted).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ivmweb.settings")
from inventory_bench import production_settings  # noqa: E402

EVENT = re.compile(r'id="ev-(\d+)-(\d+)"')
# A dashboard row (``<tr … data-migration data-seq>``) or a delta of one row's progress cell (same attributes).
ROW = re.compile(r'data-migration="(\d+)" data-seq="(\d+)"')
GONE = re.compile(r'id="dash-(\d+)" hx-swap-oob="delete"')  # a row's removal (its migration left the dashboard)


def _client_process() -> None:
    """``live_bench.py --client-process PORT COOKIE_NAME COOKIE IDS COUNT DASHBOARDS``: the websocket clients, in
    their own process (autobahn on asyncio here; daphne pins it to Twisted in a Django process). Clients
    0..DASHBOARDS-1 ask for the dashboard, the others subscribe to a migration each (round-robin). Prints READY
    once all have their first answer, then on STOP (stdin) prints {"got": {index: [[mid, seq, received_at],
    ...]}, "closes": n} as JSON."""
    from autobahn.asyncio.websocket import WebSocketClientFactory, WebSocketClientProtocol

    port, cookie_name, cookie, ids = sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
    count, dashboards = int(sys.argv[6]), int(sys.argv[7])
    migration_ids = [int(x) for x in ids.split(",")]
    received: dict[int, list] = {i: [] for i in range(count)}
    sizes: dict[int, list] = {i: [0, 0] for i in range(count)}  # messages, bytes (after the first answer)
    state = {"ready": 0, "closes": 0, "stopping": False}

    async def main():
        loop = asyncio.get_running_loop()
        all_ready = asyncio.Event()

        class Client(WebSocketClientProtocol):
            def onOpen(self):
                f = self.factory
                self.first = True
                msg = {"dashboard": True} if f.dashboard else {"subscribe": f.migration, "last_seq": f.last_seq}
                self.sendMessage(json.dumps(msg).encode())

            def onMessage(self, payload, is_binary):
                now, f, text = time.time(), self.factory, payload.decode()
                if self.first:
                    self.first = False
                    if not f.ready:
                        f.ready = True
                        state["ready"] += 1
                        if state["ready"] == count:
                            all_ready.set()
                elif state["ready"] == count:
                    sizes[f.index][0] += 1
                    sizes[f.index][1] += len(payload)
                pattern = ROW if f.dashboard else EVENT
                found = pattern.findall(text)
                for mid, seq in found:
                    received[f.index].append([int(mid), int(seq), now])
                    if not f.dashboard:
                        f.last_seq = max(f.last_seq, int(seq))
                if f.dashboard and 'id="dashboard-rows"' in text:  # whole rows: note the rows that left (seq -1)
                    shown = {int(mid) for mid, _ in found}
                    received[f.index] += [[m, -1, now] for m in migration_ids if m not in shown]
                elif f.dashboard:  # a removed row left too
                    received[f.index] += [[int(m), -1, now] for m in GONE.findall(text)]

            def onClose(self, was_clean, code, reason):
                if state["stopping"]:
                    return
                state["closes"] += 1  # like the htmx ws extension: reconnect, then subscribe with the last seq
                loop.call_later(0.5, lambda: asyncio.ensure_future(_connect(self.factory)))

        async def _connect(factory):
            await loop.create_connection(factory, "127.0.0.1", int(port))

        for i in range(count):
            factory = WebSocketClientFactory(f"ws://127.0.0.1:{port}/ws/live/", origin=f"http://127.0.0.1:{port}",
                                             headers={"Cookie": f"{cookie_name}={cookie}"})
            factory.protocol, factory.index, factory.ready, factory.last_seq = Client, i, False, 0
            factory.dashboard = i < dashboards
            factory.migration = migration_ids[(i - dashboards) % len(migration_ids)]
            await _connect(factory)
        await asyncio.wait_for(all_ready.wait(), 180)
        print("READY", flush=True)
        await loop.run_in_executor(None, sys.stdin.readline)
        state["stopping"] = True

    asyncio.run(main())
    print(json.dumps({"got": received, "closes": state["closes"], "sizes": sizes}), flush=True)


if __name__ == "__main__" and sys.argv[1:2] == ["--client-process"]:
    _client_process()
    raise SystemExit(0)



if __name__ == "__main__":
    production_settings()

import django  # noqa: E402

if __name__ != "__main__":  # imported by daphne (the floor); main() sets up Django once it knows the database
    django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402
from django.urls import path  # noqa: E402

FLOOR_GROUP = "bench-floor-{}"
FLOOR_DASHBOARD = "bench-floor-dashboard"


class FloorConsumer(AsyncWebsocketConsumer):
    """The floor: accept, join the group named in the first message, forward group messages unchanged."""

    async def connect(self):
        await self.accept()

    async def receive(self, text_data=None, bytes_data=None):
        message = json.loads(text_data)
        group = FLOOR_DASHBOARD if message.get("dashboard") else FLOOR_GROUP.format(message["subscribe"])
        await self.channel_layer.group_add(group, self.channel_name)
        await self.send(text_data="subscribed")

    async def live_push(self, event):
        await self.send(text_data=event["html"])


floor_application = ProtocolTypeRouter({"websocket": URLRouter([path("ws/live/", FloorConsumer.as_asgi())])})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _daphne(app: str, port: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": f"{REPO}:{REPO / 'bench'}"}
    if os.environ.get("BENCH_DEBUG"):  # daphne's log in a scratch file of its own, named on stderr
        log = tempfile.NamedTemporaryFile("a", prefix="live-bench-daphne-", suffix=".log", delete=False)  # noqa: SIM115
        print(f"daphne log: {log.name}", file=sys.stderr)
    else:
        log = open(os.devnull, "a")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port), app], cwd=REPO,
                            env=env, stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"daphne {app} did not start")


def _estate(n: int):
    """Bench rows: a team, a user in it, two servers, n partitions with one running migration each."""
    from django.contrib.auth.models import User
    from django.contrib.sessions.backends.db import SessionStore

    from mobility.models import IVMConsole, ManagedSystem, Migration, Partition, Team

    team, _ = Team.objects.get_or_create(name="bench-team")
    user, _ = User.objects.get_or_create(username="bench-user")
    team.members.add(user)
    systems = []
    for i in (1, 2):
        console = IVMConsole.objects.create(name=f"bench-ivm{i}", host=f"127.0.8.{i}", port=2200)
        systems.append(ManagedSystem.objects.create(console=console, name=f"bench-sys{i}", type_model="8205-E6C",
                                                    serial=f"BENCH{i}"))
    ids = []
    for i in range(n):
        p = Partition.objects.create(system=systems[0], name=f"bench-{i}", lpar_id=i + 2, env="aixlinux",
                                     state="Running", team=team)
        ids.append(Migration.objects.create(partition=p, source=systems[0], destination=systems[1], mode="active",
                                            requester=user, status="running").pk)
    session = SessionStore()
    session["_auth_user_id"] = str(user.pk)
    session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
    session["_auth_user_hash"] = user.get_session_auth_hash()
    session.create()
    return ids, session.session_key


def _cleanup():
    from django.contrib.auth.models import User

    from mobility.models import IVMConsole, ManagedSystem, Migration, Partition, Team

    Migration.objects.filter(partition__name__startswith="bench-").delete()
    Partition.objects.filter(name__startswith="bench-").delete()
    ManagedSystem.objects.filter(name__startswith="bench-").delete()
    IVMConsole.objects.filter(name__startswith="bench-").delete()
    Team.objects.filter(name="bench-team").delete()
    User.objects.filter(username="bench-user").delete()


# The floor's delta of one row's progress cell: the same markup and size as ivmweb's ``_dashboard_cell.html``.
FLOOR_CELL = ('<span id="dash-{m}-pct" data-testid="dash-pct" hx-swap-oob="true" data-migration="{m}" data-seq="{s}">'
              '<progress max="100" value="0.0"></progress> 0 %</span>')


class _FloorDashboard:
    """The floor's dashboard: the same policy as ``mobility.live.publish.push_dashboard`` (at most one message per
    interval, carrying the progress cells of the migrations changed since the last one, latest seq wins) as one
    plain group_send of the changed cells, forwarded unchanged: both paths send the same deltas at one rate."""

    def __init__(self, layer, seqs):
        self.layer, self.seqs, self.lock, self.last, self.timer = layer, seqs, threading.Lock(), 0.0, None
        self.changed_ids: set[int] = set()

    def flush(self):
        from asgiref.sync import async_to_sync

        with self.lock:
            self.last, self.timer = time.monotonic(), None
            cells = "".join(FLOOR_CELL.format(m=m, s=self.seqs[m]) for m in sorted(self.changed_ids))
            self.changed_ids = set()
        if cells:
            async_to_sync(self.layer.group_send)(FLOOR_DASHBOARD, {"type": "live.push", "html": cells})

    def changed(self, mid):
        from mobility.live.publish import DASHBOARD_INTERVAL_S

        with self.lock:
            self.changed_ids.add(mid)
            if self.timer is not None:
                return
            wait = DASHBOARD_INTERVAL_S - (time.monotonic() - self.last)
            if wait > 0:
                self.timer = threading.Timer(wait, self.flush)
                self.timer.start()
                return
        self.flush()


def _produce(migration_ids, rate, seconds, floor: bool) -> dict:
    """Commit (or, for the floor, group_send) events round-robin at ``rate``/s; returns {(mid, seq): time}."""
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    from mobility.engine.events import emit

    sent, layer, seqs = {}, get_channel_layer(), dict.fromkeys(migration_ids, 0)
    dashboard = _FloorDashboard(layer, seqs)
    html = '<div id="live-events-{m}" hx-swap-oob="beforeend"><div id="ev-{m}-{s}" data-seq="{s}">x</div></div>'
    interval, start, i = 1.0 / rate, time.monotonic(), 0
    while time.monotonic() - start < seconds:
        mid = migration_ids[i % len(migration_ids)]
        if floor:
            with dashboard.lock:
                seqs[mid] += 1
            sent[(mid, seqs[mid])] = time.time()
            async_to_sync(layer.group_send)(FLOOR_GROUP.format(mid), {"type": "live.push",
                                                                     "html": html.format(m=mid, s=seqs[mid])})
            dashboard.changed(mid)
        else:
            before = time.time()
            seq = emit(mid, "bench", {"i": i})  # returns after the commit; its on_commit push is rendered, queued
            sent[(mid, seq)] = before
        i += 1
        time.sleep(max(0.0, start + i * interval - time.monotonic()))
    return sent


def _figures(delays: list[float], lost: int, disorder: int) -> dict:
    delays.sort()
    pick = (lambda q: round(delays[min(len(delays) - 1, int(q * len(delays)))], 2)) if delays else (lambda q: None)
    return {"deliveries": len(delays), "p50_ms": pick(0.5), "p99_ms": pick(0.99),
            "mean_ms": round(statistics.fmean(delays), 2) if delays else None, "lost": lost, "out_of_order": disorder}


def _page_figures(received, sent, migration_ids, dashboards) -> dict:
    """Live-page clients: every event of their migration, each once, in order."""
    delays, lost, disorder = [], 0, 0
    for i in range(dashboards, len(received)):
        mid = migration_ids[(i - dashboards) % len(migration_ids)]
        got = [(s, t) for m, s, t in received[i] if m == mid]
        at = {}
        for s, t in got:
            at.setdefault(s, t)
        seqs = [s for s, _ in got]
        disorder += sum(1 for a, b in zip(seqs, seqs[1:], strict=False) if b <= a)
        expected = sorted(s for (m, s) in sent if m == mid)
        lost += len(set(expected) - set(at))
        delays += [(at[s] - sent[(mid, s)]) * 1000 for s in expected if s in at]
    return _figures(delays, lost, disorder)


def _dashboard_figures(received, sent, dashboards) -> dict:
    """Dashboard clients: the latest state wins, so a change counts as delivered when a row or a delta of its cell
    shows its seq or a later one (delay: commit to that first row or cell); lost when the last row a client saw of a migration is behind its last
    committed seq; out of order when a migration's row goes back."""
    delays, lost, disorder = [], 0, 0
    by_mid: dict[int, list[int]] = {}
    for (m, s) in sent:
        by_mid.setdefault(m, []).append(s)
    for i in range(dashboards):
        rows: dict[int, list] = {}
        for m, s, t in received[i]:
            if s >= 0:  # -1: the row left a whole-rows refresh (no status changes here)
                rows.setdefault(m, []).append((s, t))
        for mid, seqs in by_mid.items():
            seen = rows.get(mid, [])
            disorder += sum(1 for a, b in zip(seen, seen[1:], strict=False) if b[0] < a[0])
            top = max((s for s, _ in seen), default=0)
            lost += sum(1 for s in seqs if s > top)
            for s in seqs:
                first = next((t for v, t in seen if v >= s), None)
                if first is not None:
                    delays.append((first - sent[(mid, s)]) * 1000)
    return _figures(delays, lost, disorder)


def session(app: str, migration_ids, cookie, clients_n: int, dashboards: int, drive, settle: float = 6.0):
    """daphne serving ``app`` and the client process, all subscribed; then ``drive()``; returns (what drive returned,
    received per client, socket closes, [messages, bytes] per client after the first answer)."""
    port = _free_port()
    server = _daphne(app, port)
    clients = subprocess.Popen(
        [sys.executable, __file__, "--client-process", str(port), settings.SESSION_COOKIE_NAME, cookie,
         ",".join(map(str, migration_ids)), str(clients_n), str(dashboards)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        if clients.stdout.readline().strip() != "READY":
            raise SystemExit("the websocket clients did not all subscribe")
        result = drive()
        time.sleep(settle)  # let the last pushes arrive (and the sockets' watch repair what was lost)
        clients.stdin.write("STOP\n")
        clients.stdin.flush()
        answer = json.loads(clients.stdout.readline())
        received = [answer["got"][str(i)] for i in range(clients_n)]
        sizes = [answer["sizes"][str(i)] for i in range(clients_n)]
    finally:
        clients.kill()
        server.terminate()
        server.wait(10)
    return result, received, answer["closes"], sizes


def _measure(app: str, migration_ids, cookie, args, floor: bool) -> dict:
    sent, received, closes, _ = session(app, migration_ids, cookie, args.clients, args.dashboard,
                                        lambda: _produce(migration_ids, args.rate, args.seconds, floor))
    return {"events": len(sent), "socket_closes": closes,
            "pages": _page_figures(received, sent, migration_ids, args.dashboard),
            "dashboard": _dashboard_figures(received, sent, args.dashboard)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--synthetic", action="store_true", help="(the default) events emitted by the bench at --rate "
                      "on bench rows of DATABASE_URL; nothing runs on ivmsim: isolates the push path (~1 min)")
    mode.add_argument("--ivmsim", action="store_true", help="the engine's own events: --migrations real migrations "
                      "driven on ivmsim by run_engine workers, in a throw-away database (~6 min); see live_ivmsim.py")
    parser.add_argument("--migrations", type=int, default=50)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--dashboard", type=int, default=150, help="clients on the dashboard; the rest on pages")
    parser.add_argument("--rate", type=float, default=50.0, help="synthetic: state changes per second, all migrations")
    parser.add_argument("--seconds", type=float, default=20.0, help="synthetic: how long events are emitted")
    parser.add_argument("--workers", type=int, default=2, help="ivmsim: manage.py run_engine processes")
    parser.add_argument("--memory-mb", type=int, default=4096, help="ivmsim: each partition's memory")
    parser.add_argument("--touched-mb", type=int, default=2560, help="ivmsim: memory the workload touches "
                        "(round 0 of the pre-copy sends it: sets how long the transfers run)")
    parser.add_argument("--pairs", type=int, default=5, help="ivmsim: source/destination server pairs")
    parser.add_argument("--floor", choices=("loaded", "idle", "both"), default="both", help="ivmsim: the floor "
                        "replays the timeline while a bare driver moves the partitions back on ivmsim (loaded), with "
                        "nothing else running (idle), or both, one after the other (default)")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="ivmsim: where the throw-away "
                        "database is created")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not 0 <= args.dashboard < args.clients:
        raise SystemExit("--dashboard must leave at least one client for the live pages")
    if not os.environ.get("REDIS_URL"):
        raise SystemExit("set REDIS_URL: the pushes cross processes")
    if args.ivmsim:
        import live_ivmsim

        return live_ivmsim.run(args, sys.modules[__name__])
    django.setup()
    if settings.CHANNEL_LAYER_NAME != "redis":
        raise SystemExit("set REDIS_URL: the pushes cross processes")
    _cleanup()
    ids, cookie = _estate(args.migrations)
    try:
        floor = _measure("live_bench:floor_application", ids, cookie, args, floor=True)
        live = _measure("ivmweb.asgi:application", ids, cookie, args, floor=False)
    finally:
        _cleanup()
    ratio = {kind: round(live[kind]["p99_ms"] / floor[kind]["p99_ms"], 2)
             for kind in ("pages", "dashboard") if live[kind]["p99_ms"] and floor[kind]["p99_ms"]}
    result = {"mode": "synthetic", "migrations": args.migrations, "clients": args.clients,
              "dashboard_clients": args.dashboard, "rate_per_s": args.rate, "seconds": args.seconds,
              "load_average": os.getloadavg(), "floor": floor, "ivmweb": live, "p99_ivmweb_over_floor": ratio}
    print(json.dumps(result, indent=None if args.json else 2))
    bad = any(live[kind]["lost"] or live[kind]["out_of_order"] for kind in ("pages", "dashboard"))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
