"""The whole-table refresh split over connections by ranges of people equals one statement."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from services.registry import migrate
from services.registry.core.db import make_engine
from services.registry.memberships import status_refresh
from tests.conftest import _libpq, create_database, drop_database

TODAY = date(2027, 1, 20)

# Three societies (grace 0, 30 and 60 days), 40 people of whom every third is searchable,
# 100 memberships ending from 2026-10 to 2027-03 (person i % 40 in society i % 3, so most
# people hold two or three), every ninth suspended by hand and every eleventh pending, and
# four group members, three of them ended.
DATA = [
    """
    INSERT INTO organisation (id, code, name, kind, path, status, version)
    VALUES ('00000000-0000-7000-8000-000000000000', 'CAST', '中国科学技术协会', 'federation',
            '00000000000070008000000000000000/', 'active', 1)
    """,
    """
    INSERT INTO organisation (id, code, parent_id, name, kind, path, status, version)
    SELECT ('00000000-0000-7000-8000-00000000000' || s)::uuid, 'S' || s,
           '00000000-0000-7000-8000-000000000000', '学会' || s, 'national_society',
           '00000000000070008000000000000000/0000000000007000800000000000000' || s || '/',
           'active', 1
    FROM generate_series(1, 3) AS s
    """,
    """
    INSERT INTO membership_type (id, org_id, code, name, grade, period, period_months,
                                 grace_days, renewal_window_days, approval_required,
                                 member_no_format, is_active, version)
    SELECT gen_random_uuid(), o.id, 'regular', '会员', 'member', 'rolling', 12,
           (right(o.code, 1)::int - 1) * 30, 90, true, o.code || '-{seq:06d}', true, 1
    FROM organisation o WHERE kind = 'national_society'
    """,
    """
    INSERT INTO person (id, name, expert_opt_in, status, version)
    SELECT ('10000000-0000-4000-8000-' || lpad(to_hex(p), 12, '0'))::uuid, '会员' || p,
           p % 3 = 0, 'active', 1
    FROM generate_series(0, 39) AS p
    """,
    """
    INSERT INTO membership (id, org_id, person_id, type_id, grade, status, status_override,
                            override_reason, awaiting_approval, member_no, joined_on,
                            valid_until, version)
    SELECT gen_random_uuid(), o.id,
           ('10000000-0000-4000-8000-' || lpad(to_hex(i % 40), 12, '0'))::uuid, t.id, 'member',
           CASE WHEN i % 9 = 0 THEN 'suspended' WHEN i % 11 = 0 THEN 'pending'
                ELSE 'active' END,
           CASE WHEN i % 9 = 0 THEN 'suspended' END,
           CASE WHEN i % 9 = 0 THEN '欠费' END,
           i % 9 <> 0 AND i % 11 = 0,
           o.code || '-' || i, date '2025-06-01', date '2026-10-01' + i * 2, 1
    FROM generate_series(0, 99) AS i
    JOIN organisation o ON o.code = 'S' || (1 + i % 3)
    JOIN membership_type t ON t.org_id = o.id
    """,
    """
    INSERT INTO group_membership (id, org_id, uscc, name, grade, status, valid_until, version)
    SELECT gen_random_uuid(), o.id, '91110000MA0000000' || g, '单位' || g, 'member', 'active',
           date '2027-01-01' + (g - 2) * 30, 1
    FROM generate_series(0, 3) AS g JOIN organisation o ON o.code = 'S1'
    """,
]


def _state(url: str) -> dict[str, Any]:
    with psycopg.connect(_libpq(url)) as conn:
        return {
            "statuses": sorted(conn.execute("SELECT id, status FROM membership").fetchall()),
            "groups": sorted(conn.execute("SELECT id, status FROM group_membership").fetchall()),
            "history": sorted(
                conn.execute(
                    "SELECT entity, entity_id, old_value, new_value, reason, actor, source"
                    " FROM change_history"
                ).fetchall()
            ),
            "change_ids": conn.execute(
                "SELECT count(DISTINCT change_id) FROM change_history"
            ).fetchone(),
            "outbox": conn.execute(
                "SELECT person_id FROM search_outbox ORDER BY person_id"
            ).fetchall(),
        }


def test_a_refresh_split_in_parts_writes_what_one_statement_writes(server_url: str) -> None:
    split_url = create_database(server_url, "registry_test_parts")
    whole_url = None
    try:
        migrate.upgrade(split_url)
        with psycopg.connect(_libpq(split_url), autocommit=True) as conn:
            for statement in DATA:
                conn.execute(statement)
        # The same rows, ids included, for the single statement.
        whole_url = create_database(server_url, "registry_test_whole")
        whole = whole_url.rsplit("/", 1)[1].split("?")[0]
        split = split_url.rsplit("/", 1)[1].split("?")[0]
        with psycopg.connect(_libpq(server_url), autocommit=True) as admin:
            admin.execute(f'DROP DATABASE "{whole}"')
            admin.execute(f'CREATE DATABASE "{whole}" TEMPLATE "{split}"')

        engine = make_engine(split_url, pool_size=4)
        try:
            result = status_refresh.refresh_in_parts(engine, today=TODAY, parts=3)
            again = status_refresh.refresh_in_parts(engine, today=TODAY, parts=3)
        finally:
            engine.dispose()
        engine = make_engine(whole_url, pool_size=1)
        try:
            with engine.begin() as conn:
                expected = status_refresh.refresh(conn, today=TODAY)
        finally:
            engine.dispose()

        assert result.changed == expected.changed
        assert sum(expected.changed.values()) > 20  # the data exercise every move
        assert set(expected.changed) == {"grace", "lapsed"}
        assert result.groups_changed == expected.groups_changed == {"lapsed": 3}
        assert result.queued_for_search == expected.queued_for_search > 0
        assert again.total == 0
        assert again.change_id is None
        assert result.change_id is not None
        split_state, whole_state = _state(split_url), _state(whole_url)
        assert split_state["change_ids"] == (1,)  # every part wrote the run's change id
        assert split_state == whole_state
        # Each searchable person whose standing changed is queued once: all of a person's
        # memberships are in one part.
        assert len(set(split_state["outbox"])) == len(split_state["outbox"])
    finally:
        drop_database(server_url, split_url)
        if whole_url:
            drop_database(server_url, whole_url)


def _loaded(server_url: str, prefix: str) -> str:
    url = create_database(server_url, prefix)
    migrate.upgrade(url)
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        for statement in DATA:
            conn.execute(statement)
        conn.execute("ANALYZE")
    return url


def test_a_failing_part_raises_and_the_next_run_does_the_rest(server_url: str) -> None:
    url = _loaded(server_url, "registry_test_parts_fail")
    try:
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            # A change history that refuses the entry of one membership that moves.
            refused = conn.execute(
                "SELECT id FROM membership WHERE status = 'active'"
                " AND valid_until < DATE '2026-11-01' ORDER BY person_id DESC LIMIT 1"
            ).fetchone()
            assert refused is not None
            conn.execute(
                "ALTER TABLE change_history ADD CONSTRAINT refuse_one CHECK"
                f" (entity_id <> '{refused[0]}')"
            )
        engine = make_engine(url, pool_size=4)
        try:
            with pytest.raises(IntegrityError, match="refuse_one"):
                status_refresh.refresh_in_parts(engine, today=TODAY, parts=3)
            with psycopg.connect(_libpq(url), autocommit=True) as conn:
                row = conn.execute(
                    "SELECT status, version FROM membership WHERE id = %s", refused
                ).fetchone()
                assert row == ("active", 1)  # its part rolled back
                done = conn.execute("SELECT count(*) FROM change_history").fetchone()
                assert done is not None
                assert done[0] > 0  # the other parts stand, each whole
                conn.execute("ALTER TABLE change_history DROP CONSTRAINT refuse_one")
            rest = status_refresh.refresh_in_parts(engine, today=TODAY, parts=3)
            assert rest.total > 0
            assert status_refresh.refresh_in_parts(engine, today=TODAY, parts=3).total == 0
        finally:
            engine.dispose()
        with psycopg.connect(_libpq(url)) as conn:
            moved = conn.execute(
                "SELECT count(*) FROM change_history WHERE entity_id = %s", refused
            ).fetchone()
        assert moved == (1,)  # moved once, by the second run
    finally:
        drop_database(server_url, url)


def test_the_command_refreshes_a_large_table_in_parts(
    server_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from services.registry.cli import app as cli

    url = _loaded(server_url, "registry_test_parts_cli")
    try:
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setattr(status_refresh, "PARALLEL_MIN_ROWS", 50)  # 100 memberships
        parts: list[int] = []
        statement = status_refresh.refresh_statement

        def counted(**kwargs: Any) -> Any:
            parts.append(1)
            return statement(**kwargs)

        monkeypatch.setattr(status_refresh, "refresh_statement", counted)
        result = CliRunner().invoke(
            cli, ["memberships", "refresh", "--today", TODAY.isoformat(), "--json"]
        )
        assert result.exit_code == 0, result.output
        summary = json.loads(result.output.strip().splitlines()[-1])
        assert len(parts) == min(os.cpu_count() or 1, status_refresh.MAX_PARTS)
        assert summary["changed"] > 20
        assert summary["group_members_by_status"] == {"lapsed": 3}
        with psycopg.connect(_libpq(url)) as conn:
            history = conn.execute(
                "SELECT count(*), count(DISTINCT change_id) FROM change_history"
            ).fetchone()
        assert history == (summary["changed"] + 3, 1)
    finally:
        drop_database(server_url, url)


def _wait_for_history_of(conn: psycopg.Connection, person_id: str) -> None:
    """Until a committed history entry of the person's memberships is visible."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        seen = conn.execute(
            "SELECT count(*) FROM change_history h JOIN membership m"
            " ON m.id = h.entity_id WHERE m.person_id = %s",
            (person_id,),
        ).fetchone()
        conn.rollback()
        if seen and seen[0] > 0:
            return
        time.sleep(0.05)
    pytest.fail("the second part did not commit while the first waited")


def test_a_part_done_does_not_hold_its_rows_while_another_part_waits(server_url: str) -> None:
    """A transaction holding a row of the first part's people, which then writes a row of the
    second part's, waits for nothing: the second part committed when it was done, so no
    circle of waits forms that PostgreSQL could not see (the first part waiting on the
    transaction, the transaction on the second part, the second part on the first)."""
    url = _loaded(server_url, "registry_test_parts_wait")
    first_part = "10000000-0000-4000-8000-000000000001"  # person 1 of 0-39: below the middle cut
    second_part = "10000000-0000-4000-8000-000000000015"  # person 21
    engine = make_engine(url, pool_size=4)
    try:
        with psycopg.connect(_libpq(url)) as holder, psycopg.connect(_libpq(url)) as watch:
            holder.execute("SET lock_timeout = '10s'")
            held = holder.execute(
                "UPDATE membership SET grade = 'senior' WHERE person_id = %s RETURNING id",
                (first_part,),
            ).fetchall()
            assert held
            with ThreadPoolExecutor(1) as pool:
                run = pool.submit(status_refresh.refresh_in_parts, engine, today=TODAY, parts=2)
                try:
                    _wait_for_history_of(watch, second_part)
                    # Would wait on the second part's row locks if it still held them.
                    try:
                        holder.execute(
                            "UPDATE membership SET grade = 'senior' WHERE person_id = %s",
                            (second_part,),
                        )
                    except psycopg.errors.LockNotAvailable:
                        pytest.fail("the second part held its rows while the first waited")
                    holder.commit()
                finally:
                    holder.rollback()  # whatever happened, the first part can go on
                result = run.result(timeout=20)
        assert result.total > 20
    finally:
        engine.dispose()
        drop_database(server_url, url)
