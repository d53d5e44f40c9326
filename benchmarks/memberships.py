"""The membership lifecycle refresh and the statistics query over 1,000,000 memberships.

    python benchmarks/memberships.py [--memberships 1000000] [--societies 200] [--keep]

In a fresh database `registry_bench_<hex>` (as benchmarks/api.py creates it) the script loads,
with set-based SQL on the server:

- a federation and `--societies` national societies, each with a membership type (calendar
  year or rolling 12 months, 30 or 60 days of grace) and a member-number format;
- people (about 0.6 per membership: many belong to two societies) with genders, birth dates
  1940-2005, regions of origin (mostly mainland, some HK/Macao/Taiwan and foreign),
  province region codes, and one in five opted in to expert search;
- `--memberships` memberships (time-ordered UUIDv7 ids, as the service makes them) with
  grades, join dates 2000-2026 and end dates spread from three years ago to two years ahead,
  all stored `active` (as an import of old lists leaves them), and 1% suspended by hand.

Then it runs the first refresh's statement under EXPLAIN (ANALYZE, BUFFERS, WAL) on a copy of
the database (time, buffers and WAL of each part, and the server process's CPU seconds), and
times, each as the user would run it:

1. `registry memberships refresh --today T --json` as a subprocess (process start included):
   the first run moves the ended memberships to `grace` or `lapsed`, with a history row each,
   and queues for search the searchable people who left good standing (one row each);
2. the same command again (nothing to change: the cost of checking a million rows);
3. the same command a month later (the memberships whose period ended in that month);
4. the statistics query (`memberships.statistics.compute`, what
   `GET /api/v1/statistics/memberships` runs) over everything as the platform administrator,
   and for one society as its administrator; each three times, best and median printed.

The last line of output is one JSON object with every figure. Goal: each under 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics as stats
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402

from benchmarks.common import DEFAULT_SERVER_URL, bench_database, libpq  # noqa: E402
from services.registry.auth.models import Role  # noqa: E402
from services.registry.auth.principals import Grant, Principal  # noqa: E402
from services.registry.core.db import make_engine, make_sessionmaker, transaction  # noqa: E402
from services.registry.memberships import lifecycle, statistics  # noqa: E402

TODAY = date(2026, 11, 23)

LOAD = [
    # The federation and its societies; paths as the service writes them.
    """
    INSERT INTO organisation (id, code, name, kind, path, status, version)
    VALUES ('00000000-0000-7000-8000-000000000000', 'CAST', '中国科学技术协会', 'federation',
            '00000000000070008000000000000000/', 'active', 1)
    """,
    """
    INSERT INTO organisation (id, code, parent_id, name, kind, path, status, version)
    SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(s), 12, '0'))::uuid,
           'S' || lpad(s::text, 4, '0'), '00000000-0000-7000-8000-000000000000',
           '测试学会' || s, 'national_society',
           '00000000000070008000000000000000/'
               || replace('00000000-0000-7000-8000-' || lpad(to_hex(s), 12, '0'), '-', '') || '/',
           'active', 1
    FROM generate_series(1, %(societies)s) AS s
    """,
    """
    INSERT INTO membership_type (id, org_id, code, name, grade, period, period_months,
                                 grace_days, renewal_window_days, approval_required,
                                 member_no_format, is_active, version)
    SELECT gen_random_uuid(), o.id, 'regular', '会员', 'member',
           CASE WHEN n % 2 = 0 THEN 'calendar_year' ELSE 'rolling' END,
           CASE WHEN n % 2 = 0 THEN NULL ELSE 12 END,
           CASE WHEN n % 3 = 0 THEN 60 ELSE 30 END, 90, true, o.code || '-{year}-{seq:06d}',
           true, 1
    FROM (SELECT id, code, row_number() OVER (ORDER BY code) AS n
          FROM organisation WHERE kind = 'national_society') o
    """,
    """
    INSERT INTO person (id, name, gender, birth_date, region_of_origin, region_code,
                        expert_opt_in, status, version)
    SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid,
           '会员' || p,
           CASE WHEN abs(hashint4(p)) % 100 < 62 THEN 'male'
                WHEN abs(hashint4(p)) % 100 < 97 THEN 'female' END,
           date '1940-01-01' + (abs(hashint4(p * 3)) % 23741),
           CASE WHEN abs(hashint4(p * 5)) % 1000 < 970 THEN 'mainland'
                WHEN abs(hashint4(p * 5)) % 1000 < 980 THEN 'hong_kong'
                WHEN abs(hashint4(p * 5)) % 1000 < 984 THEN 'macao'
                WHEN abs(hashint4(p * 5)) % 1000 < 990 THEN 'taiwan'
                ELSE 'foreign' END,
           (ARRAY['110108','310104','440305','320102','510107','420111','330106','370102',
                  '610113','120101','500103','430104','210102','350102','410105'])
               [1 + abs(hashint4(p * 7)) % 15],
           abs(hashint4(p * 11)) % 100 < 20, 'active', 1
    FROM generate_series(0, %(people)s - 1) AS p
    """,
    # Membership i belongs to person i mod P in society (7p + round) mod S: unique per pair.
    # Its id is a UUIDv7 as the service and the importer make them (time-ordered: a list
    # imported row after row gets increasing ids), here one millisecond apart.
    """
    INSERT INTO membership (id, org_id, person_id, type_id, grade, status, status_override,
                            override_reason, member_no, joined_on, valid_until, version)
    SELECT (lpad(to_hex(1735689600000 + i), 12, '0') || '7' || substr(md5(i::text), 1, 3)
            || '8' || substr(md5(i::text), 4, 15))::uuid, o.id,
           ('10000000-0000-4000-8000-' || lpad(to_hex(i % %(people)s), 12, '0'))::uuid, t.id,
           (ARRAY['student','member','member','member','senior','senior','fellow','honorary'])
               [1 + abs(hashint4(i)) % 8],
           CASE WHEN abs(hashint4(i * 11)) % 100 = 0 THEN 'suspended' ELSE 'active' END,
           CASE WHEN abs(hashint4(i * 11)) % 100 = 0 THEN 'suspended' END,
           CASE WHEN abs(hashint4(i * 11)) % 100 = 0 THEN '欠费' END,
           o.code || '-' || i, j.joined, greatest(j.joined, v.until), 1
    FROM generate_series(0, %(memberships)s - 1) AS i
    CROSS JOIN LATERAL (SELECT 1 + ((i % %(people)s) * 7 + i / %(people)s) % %(societies)s AS s) so
    JOIN organisation o ON o.code = 'S' || lpad(so.s::text, 4, '0')
    JOIN membership_type t ON t.org_id = o.id
    CROSS JOIN LATERAL (SELECT date '2000-01-01' + (abs(hashint4(i * 13)) % 9800) AS joined) j
    CROSS JOIN LATERAL (SELECT %(today)s::date - 1095 + (abs(hashint4(i * 17)) % 1826) AS until) v
    """,
    "INSERT INTO member_no_sequence (org_id, last_value) SELECT id, 0 FROM organisation",
    "ANALYZE",
]


def _placeholders(statement: str) -> str:
    """SQL with `%(name)s` parameters and `%` as the modulo operator, escaped for psycopg."""
    return statement.replace("%(", "\0(").replace("%", "%%").replace("\0(", "%(")


def load(url: str, memberships: int, societies: int) -> dict[str, float]:
    people = int(memberships * 0.6)
    params = {
        "memberships": memberships,
        "societies": societies,
        "people": people,
        "today": TODAY,
    }
    started = time.perf_counter()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        for statement in LOAD:
            conn.execute(_placeholders(statement), params)
    seconds = time.perf_counter() - started
    print(
        f"loaded {societies} societies, {people:,} people, {memberships:,} memberships"
        f" in {seconds:.1f} s ({memberships / seconds:,.0f} memberships/s)"
    )
    return {"load_seconds": round(seconds, 2), "people": people}


def refresh(url: str, today: date, label: str) -> dict[str, object]:
    env = {**os.environ, "DATABASE_URL": url}
    started = time.perf_counter()
    done = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "registry"), "memberships", "refresh", "--today",
         today.isoformat(), "--json"],
        env=env, capture_output=True, text=True, check=True, cwd=ROOT,
    )  # fmt: skip
    wall = time.perf_counter() - started
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    print(
        f"refresh {label:<22} {wall:6.2f} s wall ({summary['seconds']:.2f} s in the statement"
        f" and commit), {summary['changed']:,} changed {summary['by_status']},"
        f" {summary['queued_for_search']:,} people queued for search"
    )
    return {"wall_seconds": round(wall, 3), **summary}


def _backend_cpu(conn: psycopg.Connection) -> float | None:
    """CPU seconds used so far by the connection's server process (when it runs here)."""
    pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]  # type: ignore[index]
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def explain_refresh(server_url: str, url: str, today: date) -> dict[str, object]:
    """The first refresh's statement under EXPLAIN (ANALYZE, BUFFERS, WAL) on a copy of the
    loaded database: time, rows, buffers and WAL of each part (the rule, the UPDATE, the
    history and outbox INSERTs), and the server process's CPU seconds."""
    from sqlalchemy.engine import make_url

    source = make_url(url).database
    copy = f"{source}_explain"
    with psycopg.connect(libpq(server_url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{source}"')
    try:
        copy_url = libpq(make_url(url).set(database=copy).render_as_string(hide_password=False))
        statement = lifecycle.refresh_statement(scoped=False).text
        for name in ("today", "actor", "source", "change_id"):
            statement = statement.replace(f":{name}", f"%({name})s")
        with psycopg.connect(copy_url) as conn:
            for setting, value in lifecycle.REFRESH_SETTINGS.items():
                conn.execute("SELECT set_config(%s, %s, true)", (setting, value))
            cpu = _backend_cpu(conn)
            started = time.perf_counter()
            row = conn.execute(
                "EXPLAIN (ANALYZE, BUFFERS, WAL, FORMAT JSON) " + _placeholders(statement),
                {"today": today, "actor": "system", "source": "refresh", "change_id": uuid.uuid4()},
            ).fetchone()
            conn.commit()
            wall = time.perf_counter() - started
            cpu_after = _backend_cpu(conn)
    finally:
        with psycopg.connect(libpq(server_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{copy}"')
    assert row is not None
    plan = row[0][0]
    parts: dict[str, object] = {}
    for node in plan["Plan"].get("Plans", []):
        name = node.get("Subplan Name", "")
        if not name.startswith("CTE ") or node.get("Actual Loops", 0) == 0:
            continue
        total = node["Actual Total Time"]
        children = sum(c["Actual Total Time"] for c in node.get("Plans", []))
        parts[name[4:]] = {
            "node": node["Node Type"] + (f" {node['Operation']}" if "Operation" in node else ""),
            "ms": round(total),
            "own_ms": round(total - children) if node["Node Type"] == "ModifyTable" else None,
            "wal_mb": round(node.get("WAL Bytes", 0) / 2**20, 1),
            "buffers_hit": node.get("Shared Hit Blocks", 0),
        }
    figures = {
        "execution_ms": round(plan["Execution Time"]),
        "wall_seconds_with_commit": round(wall, 2),
        "server_cpu_seconds": None
        if cpu is None or cpu_after is None
        else round(cpu_after - cpu, 2),
        "parts": parts,
    }
    print(f"refresh first, by statement (EXPLAIN ANALYZE on a copy): {json.dumps(figures)}")
    return figures


def hot_share(url: str) -> dict[str, object]:
    """How many membership updates so far were HOT (no index entries written)."""
    with psycopg.connect(libpq(url)) as conn:
        row = conn.execute(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'membership'"
        ).fetchone()
    assert row is not None
    return {"updates": row[0], "hot_updates": row[1]}


def timed_statistics(url: str, principal: Principal, org_code: str | None, label: str) -> dict:
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    times, total = [], 0
    try:
        for _ in range(3):
            started = time.perf_counter()
            with transaction(sessions) as session:
                result = statistics.compute(
                    session, principal=principal, today=TODAY, org_code=org_code
                )
            times.append(time.perf_counter() - started)
            total = result.total
    finally:
        engine.dispose()
    print(
        f"statistics {label:<19} best {min(times):6.2f} s, median {stats.median(times):6.2f} s"
        f" over {total:,} memberships"
    )
    return {
        "best_seconds": round(min(times), 3),
        "median_seconds": round(stats.median(times), 3),
        "memberships": total,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--memberships", type=int, default=1_000_000)
    parser.add_argument("--societies", type=int, default=200)
    parser.add_argument(
        "--server-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server to create the benchmark database on",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    args = parser.parse_args()
    figures: dict[str, object] = {
        "memberships": args.memberships,
        "societies": args.societies,
        "cpus": os.cpu_count(),
    }
    with (
        tempfile.TemporaryDirectory() as scratch,
        bench_database(args.server_url, Path(scratch), keep=args.keep) as url,
    ):
        figures.update(load(url, args.memberships, args.societies))
        figures["refresh_first_by_statement"] = explain_refresh(args.server_url, url, TODAY)
        figures["refresh_first"] = refresh(url, TODAY, "first (many changes)")
        time.sleep(1)  # the refresh's process reports its table statistics as it exits
        figures["membership_updates_first"] = hot_share(url)
        figures["refresh_again"] = refresh(url, TODAY, "again (no changes)")
        figures["refresh_month_later"] = refresh(url, date(2026, 12, 23), "a month later")
        platform = Principal(
            uuid.uuid4(), "bench", "user", None, (Grant(Role.platform_admin, None, None),)
        )
        figures["statistics_all"] = timed_statistics(url, platform, None, "all societies")
        with psycopg.connect(libpq(url)) as conn:
            row = conn.execute("SELECT id, path FROM organisation WHERE code = 'S0001'").fetchone()
        assert row is not None
        society_admin = Principal(
            uuid.uuid4(), "bench-admin", "user", None, (Grant(Role.org_admin, row[0], row[1]),)
        )
        figures["statistics_one_society"] = timed_statistics(
            url, society_admin, "S0001", "one society"
        )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
