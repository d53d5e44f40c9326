"""The whole-table refresh split over connections by ranges of people equals one statement."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg
import pytest
from sqlalchemy.exc import IntegrityError

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
                            override_reason, member_no, joined_on, valid_until, version)
    SELECT gen_random_uuid(), o.id,
           ('10000000-0000-4000-8000-' || lpad(to_hex(i % 40), 12, '0'))::uuid, t.id, 'member',
           CASE WHEN i % 9 = 0 THEN 'suspended' WHEN i % 11 = 0 THEN 'pending'
                ELSE 'active' END,
           CASE WHEN i % 9 = 0 THEN 'suspended' END,
           CASE WHEN i % 9 = 0 THEN '欠费' END,
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
        # Each searchable person whose standing changed is queued once, although their
        # memberships could have fallen in different parts.
        assert len(set(split_state["outbox"])) == len(split_state["outbox"])
    finally:
        drop_database(server_url, split_url)
        if whole_url:
            drop_database(server_url, whole_url)


def test_a_failing_part_leaves_every_part_rolled_back(server_url: str) -> None:
    url = create_database(server_url, "registry_test_parts_fail")
    try:
        migrate.upgrade(url)
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            for statement in DATA:
                conn.execute(statement)
            # A change history that refuses the entry of one membership that moves: one held
            # by the last person, so in the last part.
            last = conn.execute(
                "SELECT id FROM membership WHERE status = 'active'"
                " AND valid_until < DATE '2026-11-01' ORDER BY person_id DESC LIMIT 1"
            ).fetchone()
            assert last is not None
            conn.execute(
                "ALTER TABLE change_history ADD CONSTRAINT refuse_last CHECK"
                f" (entity_id <> '{last[0]}')"
            )
            before = conn.execute("SELECT id, status, version FROM membership").fetchall()
        engine = make_engine(url, pool_size=4)
        try:
            with pytest.raises(IntegrityError, match="refuse_last"):
                status_refresh.refresh_in_parts(engine, today=TODAY, parts=3)
        finally:
            engine.dispose()
        with psycopg.connect(_libpq(url)) as conn:
            after = conn.execute("SELECT id, status, version FROM membership").fetchall()
            history = conn.execute("SELECT count(*) FROM change_history").fetchone()
            outbox = conn.execute("SELECT count(*) FROM search_outbox").fetchone()
        assert sorted(after) == sorted(before)  # the other parts' moves were undone too
        assert history == (0,)
        assert outbox == (0,)
    finally:
        drop_database(server_url, url)
