"""Auditors' history at scale: filtered page latency and CSV export memory on PostgreSQL.

    .venv/bin/python bench/audit_bench.py                 # 1,000,000 audit events, 100,000 migrations
    .venv/bin/python bench/audit_bench.py --help

It creates a throw-away PostgreSQL database (dropped at the end unless --keep), migrates it, bulk-loads
teams, people, servers, partitions and migrations with generate_series, and audit events with COPY
(the hash chain computed in Python with mobility.governance.audit.compute_hash, so verify_chain
accepts it). Then it measures:

1. the filtered history page (GET /history/?... through the Django test client, as an auditor):
   p50/p95 per filter, against a baseline: a bare SELECT of the same page's rows; with --indexes, first
   without the indexes of migration 0006 (dropped), then with them (re-created with the migration's own
   SQL): the schema as it ships is always what is measured last;
2. one migration's timeline (GET /history/migrations/<id>/), whose audit events are found by the
   expression indexes of 0006 (information);
3. the CSV export of all 100,000 migrations, run in a child process whose peak RSS is read with
   os.wait4 (ru_maxrss), against a baseline child that signs in and renders one history page;
4. verify_chain over the whole trail (constant memory, reported for information).
Exit 1 if a target is missed: the view's p95 (form, count, rows, template) above 100 ms for any filter,
or the export's peak RSS above 150 MB.
"""

import argparse
import importlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# WhiteNoise warns that collectstatic has not run; the bench serves no static file.
warnings.filterwarnings("ignore", message="No directory at")

TEAMS, SYSTEMS, PARTITIONS = 20, 20, 2000
REQUESTERS_PER_TEAM, APPROVERS_PER_TEAM = 5, 2
PAGE_P95_TARGET_MS, EXPORT_RSS_TARGET_MB = 100.0, 150.0
# The PostgreSQL indexes of the history and timeline that ship in migration 0006 (0005's are in the models).
HISTORY_INDEXES = "mobility.migrations.0006_history_perf"


def _configure(db_name: str, base_url: str) -> None:
    """Point Django at the bench database with production-like settings (DEBUG off: no query log)."""
    from cryptography.fernet import Fernet

    os.environ.update({
        "DATABASE_URL": f"{base_url.rstrip('/')}/{db_name}", "DEBUG": "0", "SECRET_KEY": "b" * 64,
        "IVMWEB_ENCRYPTION_KEYS": os.environ.get("BENCH_FERNET_KEY") or Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "testserver", "SECURE_SSL_REDIRECT": "0", "DJANGO_SETTINGS_MODULE": "ivmweb.settings",
        "IVMWEB_DATA_DIR": tempfile.mkdtemp(prefix="audit-bench-"), "IVMWEB_AUDIT_CHECKPOINT_KEY": "c" * 64,
    })
    os.environ["BENCH_FERNET_KEY"] = os.environ["IVMWEB_ENCRYPTION_KEYS"]
    import django

    django.setup()


def _admin_sql(base_url: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(f"{base_url.rstrip('/')}/postgres", autocommit=True) as conn:
        conn.execute(sql)


# --- loading ------------------------------------------------------------------------------------------

def load(n_migrations: int, n_events: int) -> dict:
    """Fill the database; return the names the measurements filter on."""
    from django.contrib.auth.models import Group, User
    from django.db import connection

    from mobility.models import IVMConsole, ManagedSystem, Partition, Team

    teams = Team.objects.bulk_create(Team(name=f"Team-{t:02d}") for t in range(TEAMS))
    requesters = User.objects.bulk_create(
        User(username=f"req{t:02d}{k}", email=f"req{t:02d}{k}@example.com", password="!")
        for t in range(TEAMS) for k in range(REQUESTERS_PER_TEAM))
    approvers = User.objects.bulk_create(
        User(username=f"apr{t:02d}{k}", email=f"apr{t:02d}{k}@example.com", password="!")
        for t in range(TEAMS) for k in range(APPROVERS_PER_TEAM))
    auditor = User.objects.create(username="auditor", password="!")
    Group.objects.get(name="requester").user_set.add(*requesters)
    Group.objects.get(name="approver").user_set.add(*approvers)
    Group.objects.get(name="auditor").user_set.add(auditor)
    Membership = Team.members.through
    Membership.objects.bulk_create(
        [Membership(team=teams[i // REQUESTERS_PER_TEAM], user=u) for i, u in enumerate(requesters)]
        + [Membership(team=teams[i // APPROVERS_PER_TEAM], user=u) for i, u in enumerate(approvers)])
    team_ids = [t.pk for t in teams]
    req_ids = [u.pk for u in requesters]
    apr_ids = [u.pk for u in approvers]

    # Consoles, servers and partitions through the ORM (2,040 rows): the defaults of their many inventory
    # columns follow the models as they grow. Partition p lives on server p % SYSTEMS, belongs to team p % TEAMS.
    consoles = IVMConsole.objects.bulk_create(
        IVMConsole(name=f"ivm{s}", host=f"127.0.2.{s}") for s in range(1, SYSTEMS + 1))
    systems = ManagedSystem.objects.bulk_create(
        ManagedSystem(console=c, name=f"Server-{s}", type_model="8205-E6C", serial=f"{s:07d}", state="Operating",
                      mem_region_size_mb=256, active_migrations_supported=8, inactive_migrations_supported=8)
        for s, c in enumerate(consoles, start=1))
    system_ids = [system.pk for system in systems]
    Partition.objects.bulk_create(
        (Partition(system_id=system_ids[p % SYSTEMS], lpar_id=2 + p // SYSTEMS, name=f"lpar{p:04d}", env="aixlinux",
                   state="Running", rmc_state="active", memory_mb=4096, proc_mode="shared", proc_units=0.5, procs=1,
                   max_virtual_slots=20, team_id=team_ids[p % TEAMS]) for p in range(PARTITIONS)),
        batch_size=1000)
    with connection.cursor() as cur:
        cur.execute("SELECT min(id) FROM mobility_partition")
        p0 = cur.fetchone()[0]
        # Partition p lives on system p % SYSTEMS and belongs to team p % TEAMS: here TEAMS == SYSTEMS,
        # so requester/approver indexes follow from p too. Every migration is finished (the partial
        # unique constraint allows one unfinished per partition).
        cur.execute("""
            INSERT INTO mobility_migration (partition_id, source_id, destination_id, mode, status, requester_id,
                reason, created_at, updated_at, started_at, finished_at, outcome, claimed_by, stuck,
                recover_needed, bytes_transmitted, percent, suspend_window_s, last_seq, fence)
            SELECT %(p0)s + p, (%(systems)s::bigint[])[p %% %(n_sys)s + 1],
                   (%(systems)s::bigint[])[(p + 1 + g %% 3) %% %(n_sys)s + 1],
                   CASE WHEN g %% 4 = 0 THEN 'inactive' ELSE 'active' END,
                   st, (%(reqs)s::bigint[])[(p %% %(n_teams)s) * %(rpt)s + g %% %(rpt)s + 1],
                   'maintenance window ' || g, created, created,
                   CASE WHEN st IN ('completed', 'failed') THEN created + interval '1 hour' END,
                   CASE WHEN st IN ('completed', 'failed')
                        THEN created + interval '1 hour' + (5 + g %% 40) * interval '1 minute'
                        ELSE created + interval '2 hours' END,
                   st, '', false, false, 0, 100,
                   CASE WHEN st = 'completed' AND g %% 4 <> 0 THEN 0.5 + (g %% 50) / 10.0 END, 0, 0
            FROM (SELECT g, g %% %(n_parts)s AS p,
                         now() - g * interval '10 minutes' AS created,
                         CASE WHEN g %% 100 < 80 THEN 'completed' WHEN g %% 100 < 90 THEN 'failed'
                              WHEN g %% 100 < 95 THEN 'rejected' WHEN g %% 100 < 98 THEN 'expired'
                              ELSE 'cancelled' END AS st
                  FROM generate_series(1, %(n)s) g) gen""",
                    {"p0": p0, "systems": system_ids, "n_sys": SYSTEMS, "reqs": req_ids, "n_teams": TEAMS,
                     "rpt": REQUESTERS_PER_TEAM, "n_parts": PARTITIONS, "n": n_migrations})
        cur.execute("""
            INSERT INTO mobility_planversion (migration_id, version, snapshot, content_hash, created_by_id, created_at)
            SELECT id, 1, jsonb_build_object('mode', mode, 'partition', partition_id),
                   encode(sha256(id::text::bytea), 'hex'), requester_id, created_at
            FROM mobility_migration""")
        cur.execute("""
            INSERT INTO mobility_approval (migration_id, plan_id, content_hash, approver_id, decision, comment,
                expires_at, created_at, void_reason)
            SELECT m.id, pv.id, pv.content_hash,
                   (%(aprs)s::bigint[])[((m.partition_id - %(p0)s) %% %(n_teams)s) * %(apt)s + m.id %% %(apt)s + 1],
                   CASE WHEN m.status = 'rejected' THEN 'rejected' ELSE 'approved' END, 'checked',
                   m.created_at + interval '72 hours', m.created_at + interval '20 minutes', ''
            FROM mobility_migration m JOIN mobility_planversion pv ON pv.migration_id = m.id
            WHERE m.status <> 'cancelled'""",
                    {"aprs": apr_ids, "p0": p0, "n_teams": TEAMS, "apt": APPROVERS_PER_TEAM})
        cur.execute("SELECT min(id), max(id) FROM mobility_migration")
        m_min, m_max = cur.fetchone()
    _load_audit(n_events, m_min, m_max, req_ids + apr_ids)
    with connection.cursor() as cur:
        # What autovacuum would have done by now: statistics, and the visibility map for index-only scans.
        cur.execute("VACUUM ANALYZE")
    return _names()


def _names() -> dict:
    """Filter on people and places that really occur (the busiest requester and approver of Team-07)."""
    from django.db.models import Count

    from mobility.models import Approval, Migration

    busiest = (Migration.objects.filter(partition__team__name="Team-07").values("requester__username")
               .annotate(n=Count("id")).order_by("-n").first())
    voter = (Approval.objects.filter(migration__partition__team__name="Team-07").values("approver__username")
             .annotate(n=Count("id")).order_by("-n").first())
    return {"team": "Team-07", "source": "Server-3", "destination": "Server-4",
            "requester": busiest["requester__username"], "approver": voter["approver__username"]}


class _Row:
    """What audit.compute_hash reads from an event, without a model instance per row."""

    __slots__ = ("at", "actor_name", "action", "object_type", "object_id", "data")


def _load_audit(n_events: int, m_min: int, m_max: int, user_ids: list[int]) -> None:
    from django.contrib.auth.models import User
    from django.db import connection

    from mobility.governance.audit import GENESIS, compute_hash, seal
    from mobility.models import AuditEvent

    names = dict(User.objects.filter(pk__in=user_ids).values_list("pk", "username"))
    start = datetime.now(UTC) - timedelta(days=730)
    seal()  # the generated events go after the chain's head, sealed as they are written
    base, prev = (AuditEvent.objects.filter(position__isnull=False).order_by("-position")
                  .values_list("position", "hash").first()) or (0, GENESIS)
    row = _Row()
    span = m_max - m_min + 1
    with connection.cursor() as cur:
        raw = cur.connection  # the psycopg connection, for COPY
        with raw.cursor().copy(
            "COPY mobility_auditevent (at, actor_id, actor_name, action, object_type, object_id, data, "
            "position, prev_hash, hash) FROM STDIN"
        ) as copy:
            for i in range(n_events):
                actor = user_ids[i % len(user_ids)]
                migration = m_min + (i * 7) % span
                kind = i % 10
                row.at = start + timedelta(microseconds=i * 63_000)
                row.actor_name = names[actor]
                if kind < 6:
                    row.action, row.object_type, row.object_id = "ivm.command", "", ""
                    row.data = {"migration": migration, "command": "lslparmigr -r lpar", "exit_status": 0}
                elif kind < 8:
                    row.action, row.object_type, row.object_id = "migration.step", "migration", str(migration)
                    row.data = {"step": i % 11 + 1, "status": "done"}
                else:
                    row.action, row.object_type, row.object_id = "auth.login", "", ""
                    row.data = {"ip": "10.0.0.1"}
                digest = compute_hash(prev, row)
                copy.write_row((row.at, actor, row.actor_name, row.action, row.object_type, row.object_id,
                                json.dumps(row.data), base + i + 1, prev, digest))
                prev = digest


# --- measuring ----------------------------------------------------------------------------------------

QUERIES = (
    ("status=completed&source={source}", "status = 'completed' AND source_id = {source_id}"),
    ("team={team}&sort=-duration", None),
    ("date_from={d1}&date_to={d2}&mode=active", None),
    ("requester={requester}", "requester_id = {requester_id}"),
    ("approver={approver}&status=failed", None),
    ("", "TRUE"),
    ("page=500", None),
)


def _auditor_client():
    from django.contrib.auth.models import User
    from django.test import Client

    client = Client()
    client.force_login(User.objects.get(username="auditor"))
    return client


def time_pages(names: dict, rounds: int) -> dict:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.utils import timezone

    from mobility.models import ManagedSystem

    today = timezone.now().date()
    fill = {**names, "d1": today - timedelta(days=200), "d2": today - timedelta(days=170),
            "source_id": ManagedSystem.objects.get(name=names["source"]).pk,
            "requester_id": User.objects.get(username=names["requester"]).pk}
    from django.http import QueryDict

    from mobility.forms.governance import HistoryFilterForm
    from mobility.governance.history import history_page

    client = _auditor_client()
    samples, per_query, baseline, function_samples = [], {}, [], []
    for query, _ in QUERIES:
        url = "/history/?" + query.format(**fill)
        response = client.get(url, secure=True)
        assert response.status_code == 200, (url, response.status_code)
        times, function_times = [], []
        for _ in range(rounds):
            t0 = time.perf_counter()
            response = client.get(url, secure=True)
            times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200
            # The query function alone: the filter form's look-ups, the count and the page's rows.
            t0 = time.perf_counter()
            form = HistoryFilterForm(QueryDict(query.format(**fill)))
            assert form.is_valid(), form.errors
            page = history_page(form.cleaned_data, form.cleaned_data.get("page") or 1)
            list(page)
            function_times.append((time.perf_counter() - t0) * 1000)
        samples += times
        function_samples += function_times
        count = re.search(rb'data-testid="history-count">([\d,]+) migration', response.content)
        per_query[query or "(no filter)"] = (statistics.median(times), _p95(times), int(count[1].replace(b",", b"")),
                                             statistics.median(function_times), _p95(function_times))
    # Baseline: a bare SELECT of one page's migrations (no joins, no count, no template).
    with connection.cursor() as cur:
        for _query, where in QUERIES:
            if where is None:
                continue
            sql = (f"SELECT * FROM mobility_migration WHERE {where.format(**fill)} "
                   "ORDER BY created_at DESC, id DESC LIMIT 50")
            for _ in range(rounds):
                t0 = time.perf_counter()
                cur.execute(sql)
                cur.fetchall()
                baseline.append((time.perf_counter() - t0) * 1000)
    return {"p50": statistics.median(samples), "p95": _p95(samples), "per_query": per_query,
            "worst_view_p95": max(p95 for _p50, p95, *_rest in per_query.values()),
            "fn_p50": statistics.median(function_samples), "fn_p95": _p95(function_samples),
            "baseline_p50": statistics.median(baseline), "baseline_p95": _p95(baseline)}


def _report_pages(title: str, pages: dict) -> None:
    print(f"\n{title}: view = GET /history/?... through the test client (form, count, rows, template);")
    print("query function = HistoryFilterForm + history_page() (form look-ups, count, rows)")
    for query, (p50, p95, count, fn50, fn95) in pages["per_query"].items():
        print(f"  {query:44s} {count:>7,} rows  view p50 {p50:6.1f} p95 {p95:6.1f} ms"
              f"  function p50 {fn50:6.1f} p95 {fn95:6.1f} ms")
    print(f"  all filters: view p50 {pages['p50']:.1f} ms, p95 {pages['p95']:.1f} ms (worst filter's view p95 "
          f"{pages['worst_view_p95']:.1f} ms, target ≤ {PAGE_P95_TARGET_MS:.0f} ms); "
          f"query function p50 {pages['fn_p50']:.1f} ms, p95 {pages['fn_p95']:.1f} ms")
    print(f"  baseline (bare SELECT of one page of migration rows): p50 {pages['baseline_p50']:.1f} ms, "
          f"p95 {pages['baseline_p95']:.1f} ms")


def time_timelines(rounds: int) -> dict:
    """One migration's timeline, for `rounds` migrations spread over the table (first request untimed)."""
    from mobility.models import Migration

    client = _auditor_client()
    first, last = Migration.objects.order_by("pk").values_list("pk", flat=True)[:1][0], _last_pk()
    pks = [first + (last - first) * k // max(rounds - 1, 1) for k in range(rounds)]
    client.get(f"/history/migrations/{pks[0]}/", secure=True)
    times = []
    for pk in pks:
        t0 = time.perf_counter()
        response = client.get(f"/history/migrations/{pk}/", secure=True)
        times.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200, (pk, response.status_code)
    return {"p50": statistics.median(times), "p95": _p95(times)}


def _last_pk() -> int:
    from mobility.models import Migration

    return Migration.objects.order_by("-pk").values_list("pk", flat=True)[:1][0]


def _history_indexes(create: bool) -> None:
    """Create (as migration 0006 does) or drop the history indexes, then refresh the statistics."""
    from django.db import connection

    module = importlib.import_module(HISTORY_INDEXES)
    with connection.cursor() as cur:
        for sql in module.create_sql() if create else module.drop_sql():
            cur.execute(sql)
        cur.execute("ANALYZE mobility_migration")
        cur.execute("ANALYZE mobility_approval")
        cur.execute("ANALYZE mobility_auditevent")


def _p95(values):
    ordered = sorted(values)
    return ordered[max(0, -(-95 * len(ordered) // 100) - 1)]


def export_child(baseline: bool) -> None:
    """In a child process: stream the CSV export (or, for the baseline, one page) and report."""
    client = _auditor_client()
    t0 = time.perf_counter()
    if baseline:
        response = client.get("/history/", secure=True)
        rows, size = 0, len(response.content)
    else:
        response = client.get("/history/export.csv", secure=True)
        assert response.status_code == 200 and response.streaming
        rows, size = -1, 0  # minus the header line
        for chunk in response.streaming_content:
            size += len(chunk)
            rows += chunk.count(b"\n")
    print(json.dumps({"rows": rows, "bytes": size, "seconds": time.perf_counter() - t0}))


def run_child(args, baseline: bool) -> dict:
    command = [sys.executable, __file__, "--child", "baseline" if baseline else "export", "--db", args.db,
               "--pg", args.pg]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, env=os.environ.copy())
    out = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    if status != 0:
        raise SystemExit(f"child failed ({status}): {out.decode()}")
    result = json.loads(out.decode().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux reports KiB
    return result


def _migration_count() -> int:
    from mobility.models import Migration

    return Migration.objects.count()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--migrations", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per filter")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL (no db name)")
    parser.add_argument("--db", default=f"ivmweb_audit_bench_{os.getpid()}")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--existing", action="store_true",
                        help="measure an already loaded database (--db, from an earlier --keep run); keep it")
    parser.add_argument("--indexes", action="store_true",
                        help="first time the pages without the indexes of migration 0006, then with them")
    parser.add_argument("--no-verify", action="store_true", help="skip verify_chain over the whole trail")
    parser.add_argument("--child", choices=["export", "baseline"], help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        _configure(args.db, args.pg)
        export_child(args.child == "baseline")
        return 0

    if args.existing:
        args.keep = True
    else:
        _admin_sql(args.pg, f'CREATE DATABASE "{args.db}"')
    try:
        _configure(args.db, args.pg)
        from django.core.management import call_command
        from django.db import connection

        t0 = time.perf_counter()
        if args.existing:
            names = _names()
            args.migrations = _migration_count()
        else:
            call_command("migrate", verbosity=0)
            names = load(args.migrations, args.events)
            print(f"loaded {args.migrations:,} migrations and {args.events:,} audit events "
                  f"into {args.db} in {time.perf_counter() - t0:.0f} s")

        if args.indexes:
            _history_indexes(create=False)
            try:
                _report_pages("filtered history page, 50 rows, WITHOUT the indexes of migration 0006",
                              time_pages(names, args.rounds))
                bare = time_timelines(args.rounds)
                print(f"  one migration's timeline without them: p50 {bare['p50']:.1f} ms, p95 {bare['p95']:.1f} ms")
            finally:
                _history_indexes(create=True)  # an --existing database is left as migrated
        pages = time_pages(names, args.rounds)
        _report_pages("filtered history page, 50 rows, as shipped (indexes of migrations 0005 and 0006)", pages)
        final_p95 = pages["worst_view_p95"]
        timelines = time_timelines(args.rounds)
        print(f"\none migration's timeline (GET /history/migrations/<id>/, {args.rounds} migrations): "
              f"p50 {timelines['p50']:.1f} ms, p95 {timelines['p95']:.1f} ms")

        connection.close()
        base = run_child(args, baseline=True)
        export = run_child(args, baseline=False)
        print(f"\nCSV export of every migration (child process): {export['rows']:,} rows, "
              f"{export['bytes'] / 1e6:.1f} MB in {export['seconds']:.1f} s, peak RSS {export['peak_rss_mb']:.0f} MB "
              f"(target ≤ {EXPORT_RSS_TARGET_MB:.0f} MB)")
        print(f"  baseline child (signs in, renders one page): peak RSS {base['peak_rss_mb']:.0f} MB")

        if not args.no_verify:
            from mobility.governance.audit import verify_chain

            t0 = time.perf_counter()
            result = verify_chain()
            print(f"\nverify_chain: ok={result.ok}, {result.checked:,} events in {time.perf_counter() - t0:.1f} s")
            if not result.ok:
                return 1
        ok = final_p95 <= PAGE_P95_TARGET_MS and export["peak_rss_mb"] <= EXPORT_RSS_TARGET_MB
        ok = ok and export["rows"] == args.migrations
        print("\nRESULT:", "targets met" if ok else "TARGET MISSED")
        return 0 if ok else 1
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            _admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
