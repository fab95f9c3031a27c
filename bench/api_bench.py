"""The REST API at scale: a filtered page of migrations and one migration's events, paged, on PostgreSQL.

    .venv/bin/python bench/api_bench.py                   # 100,000 migrations, 1,000,000 events, ~2 min
    .venv/bin/python bench/api_bench.py --help

It creates a throw-away PostgreSQL database (dropped at the end unless --keep), migrates it and loads teams, people,
servers, partitions, 100,000 migrations with their plans and votes (``bench/audit_bench.py``'s loader, built on
generate_series), then 1,000,000 migration events with generate_series: ``--big`` of them for one migration (the one
paged through), the rest spread over the others. Then, through the Django test client with a personal API token
(authentication, throttle, policy, serializer and JSON renderer included), against the floor of the same query
through Django's ORM alone, measured in the same run:

1. GET /api/v1/migrations/?status=…&source=…&page=N (50 rows and the count, capped at 10,000), as an auditor
   (every migration) and as a requester (the policy's team subquery), pages 1, 10 and 100 in turn; target p95
   ≤ 50 ms. The floor is the API's own queries through the ORM alone: the capped count, the page's ids, its rows;
2. GET /api/v1/migrations/<id>/events/?after=…&limit=200, paging through the big migration's events from the first;
   target p95 ≤ 20 ms a page. The floor is the same events query through the ORM.
Exit 1 if a target is missed. The throttle counts in the default (in-process) cache, set high here.
``--keep`` keeps the loaded database; ``--reuse DB`` measures again on a kept one (migrated first, nothing loaded).
"""

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import audit_bench  # noqa: E402 — the loader of migrations, plans and votes, and the bench database's settings

LIST_P95_TARGET_MS, EVENTS_P95_TARGET_MS = 50.0, 20.0


def load_events(total: int, big: int) -> int:
    """``big`` events for one migration (returned), the rest spread over the others; ``last_seq`` kept true."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT min(id), max(id), count(*) FROM mobility_migration")
        first, last, count = cur.fetchone()
        cur.execute("""
            INSERT INTO mobility_migrationevent (migration_id, seq, at, kind, payload)
            SELECT %(big_id)s, g, now() - interval '1 day' + g * interval '10 milliseconds',
                   CASE WHEN g %% 20 = 0 THEN 'step' ELSE 'progress' END,
                   jsonb_build_object('sent', g::bigint * 1048576, 'remaining', greatest(0, %(big)s - g)::bigint * 1048576,
                                      'percent', round(100.0 * g / %(big)s, 1))
            FROM generate_series(1, %(big)s) g""", {"big_id": first, "big": big})
        rest, others = total - big, count - 1
        per = max(rest // max(others, 1), 1)
        cur.execute("""
            INSERT INTO mobility_migrationevent (migration_id, seq, at, kind, payload)
            SELECT m, s, now() - interval '2 days', CASE WHEN s = 1 THEN 'status' ELSE 'progress' END,
                   jsonb_build_object('sent', s::bigint * 1048576, 'remaining', 0, 'percent', 100)
            FROM generate_series(%(from)s, %(to)s) m, generate_series(1, %(per)s) s""",
                    {"from": first + 1, "to": last, "per": per})
        cur.execute("UPDATE mobility_migration m SET last_seq = e.n FROM (SELECT migration_id, max(seq) n "
                    "FROM mobility_migrationevent GROUP BY migration_id) e WHERE e.migration_id = m.id")
        cur.execute("SELECT count(*) FROM mobility_migrationevent")
        print(f"  {cur.fetchone()[0]:,} migration events")
        cur.execute("VACUUM ANALYZE mobility_migrationevent")
        cur.execute("VACUUM ANALYZE mobility_migration")
    return first


def _p(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * len(values) + 0.5) - 1))]


def _timed(fn, rounds: int) -> list[float]:
    fn()  # warm: first-use costs (imports, plan cache) are not what a page costs
    out = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def _report(label: str, api: list[float], floor: list[float], target: float) -> bool:
    ok = _p(api, 0.95) <= target
    print(f"  {label:<52} API p50 {_p(api, .5):6.1f} ms  p95 {_p(api, .95):6.1f} ms  | ORM floor p50 "
          f"{_p(floor, .5):6.1f} ms  p95 {_p(floor, .95):6.1f} ms  {'ok' if ok else f'> {target:.0f} ms'}")
    return ok


def measure(rounds: int, big_id: int) -> bool:
    from django.contrib.auth.models import User
    from django.test import Client

    from mobility import policy
    from mobility.api import tokens
    from mobility.api.serializers import LIST_VALUES  # the columns the list reads (its related rows' names)
    from mobility.models import ManagedSystem, Migration, MigrationEvent

    client = Client()
    server8 = ManagedSystem.objects.get(name="Server-8").pk  # Team-07's partitions all live on Server-8
    auditor = User.objects.get(username="auditor")
    requester = User.objects.get(username="req070")
    cases = [("auditor", auditor, {"status": "completed", "mode": "active"}, (1, 10, 100)),
             ("requester of Team-07", requester, {"status": "completed", "source": server8}, (1, 10, 50))]
    ok = True
    print(f"\nGET /api/v1/migrations/ filtered, 50 rows and the count ({rounds} requests per page; target p95 "
          f"≤ {LIST_P95_TARGET_MS:.0f} ms)")
    for who, user, filters, pages in cases:
        header = {"HTTP_AUTHORIZATION": f"Bearer {tokens.create(user, name='bench', scope='read', days=1).secret}"}
        for number in pages:
            params = {**filters, "page": number}

            def api(params=params, header=header):
                response = client.get("/api/v1/migrations/", params, **header)
                assert response.status_code == 200, response.content[:300]
                return response

            def floor(user=user, filters=filters, number=number):
                qs = policy.migrations(user, Migration.objects.all())
                qs = qs.filter(status__in=[filters["status"]])
                if "mode" in filters:
                    qs = qs.filter(mode=filters["mode"])
                if "source" in filters:
                    qs = qs.filter(source_id=filters["source"])
                qs = qs.order_by("-created_at", "-id")
                count = qs.order_by().values("pk")[:10_001].count()  # the capped count
                ids = list(qs.values_list("pk", flat=True)[(number - 1) * 50: number * 50 + 1])
                rows = {m["id"]: m for m in policy.migrations(user, Migration.objects.filter(pk__in=ids))
                        .values(*LIST_VALUES)}
                assert count
                return [rows[pk] for pk in ids][:50]

            assert len(api().json()["results"]) == len(floor()) == 50
            ok &= _report(f"{who}, {filters['status']}, page {number}", _timed(api, rounds), _timed(floor, rounds),
                          LIST_P95_TARGET_MS)

    big = Migration.objects.get(pk=big_id)
    header = {"HTTP_AUTHORIZATION": f"Bearer {tokens.create(auditor, name='bench-events', scope='read', days=1).secret}"}
    step = max(big.last_seq // rounds // 200 * 200, 200)
    afters = [min(k * step, big.last_seq - 200) for k in range(rounds)]
    api_times, floor_times = [], []
    for after in afters:
        def api(after=after):
            response = client.get(f"/api/v1/migrations/{big_id}/events/", {"after": after, "limit": 200}, **header)
            assert response.status_code == 200 and len(response.json()["results"]) == 200
            return response

        def floor(after=after):
            return list(MigrationEvent.objects.filter(migration_id=big_id, seq__gt=after).order_by("seq")
                        .values("seq", "at", "kind", "payload")[:201])

        api_times += _timed(api, 3)
        floor_times += _timed(floor, 3)
    print(f"\nGET /api/v1/migrations/<id>/events/?after=…&limit=200 through {big.last_seq:,} events of one migration "
          f"({len(afters)} pages from the first to the last, 3 times each; target p95 ≤ {EVENTS_P95_TARGET_MS:.0f} ms)")
    ok &= _report("a page of 200 events", api_times, floor_times, EVENTS_P95_TARGET_MS)
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--migrations", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--big", type=int, default=100_000, help="events of the one migration paged through")
    parser.add_argument("--rounds", type=int, default=40, help="timed requests per case")
    parser.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432", help="server URL (no db name)")
    parser.add_argument("--db", default=f"ivmweb_api_bench_{os.getpid()}")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", metavar="DB", help="measure on a database kept by --keep (nothing is loaded)")
    args = parser.parse_args()

    if args.reuse:
        audit_bench._configure(args.reuse, args.pg)
        from django.conf import settings
        from django.core.management import call_command

        settings.IVMWEB_API_RATE = "1000000/minute"
        call_command("migrate", verbosity=0)
        from mobility.models import Migration

        ok = measure(args.rounds, Migration.objects.order_by("pk").values_list("pk", flat=True).first())
        print("\nRESULT:", "targets met" if ok else "TARGET MISSED")
        return 0 if ok else 1

    audit_bench._admin_sql(args.pg, f'CREATE DATABASE "{args.db}"')
    try:
        audit_bench._configure(args.db, args.pg)
        os.environ["IVMWEB_API_RATE"] = "1000000/minute"
        from django.conf import settings
        from django.core.management import call_command

        settings.IVMWEB_API_RATE = "1000000/minute"
        t0 = time.perf_counter()
        call_command("migrate", verbosity=0)
        audit_bench.load(args.migrations, 0)
        big_id = load_events(args.events, args.big)
        print(f"loaded {args.migrations:,} migrations and {args.events:,} events into {args.db} "
              f"in {time.perf_counter() - t0:.0f} s")
        ok = measure(args.rounds, big_id)
        print("\nRESULT:", "targets met" if ok else "TARGET MISSED")
        return 0 if ok else 1
    finally:
        from django.db import connections

        connections.close_all()
        if not args.keep:
            audit_bench._admin_sql(args.pg, f'DROP DATABASE IF EXISTS "{args.db}" WITH (FORCE)')


if __name__ == "__main__":
    sys.exit(main())
