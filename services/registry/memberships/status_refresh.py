"""The membership status refresh: every membership's status brought in line with the rule by
set-based statements (`registry memberships refresh`, after imports, the demo data): one in
the caller's transaction, or, over a large table, one per range of people at once.

The rule itself (`STATUS_RULE`, documented in `lifecycle`) is here too, with the statement,
so that the command needs only SQLAlchemy's core and this module beyond what `registry`
itself loads: not the membership models, the web framework or the search code, which it does
not need and would pay for at every start.
`lifecycle` re-exports all of it.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlalchemy.types import Date, String, Uuid

from ..core.ids import uuid7

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

# `models.MembershipStatus`, which the tables' CHECK constraints list (a test holds them
# equal); not imported from there, which would define every table of the registry.
STATUSES = ("pending", "active", "grace", "lapsed", "suspended", "terminated")

STATUS_RULE = """
CASE
    WHEN m.status_override IS NOT NULL THEN m.status_override
    WHEN m.awaiting_approval THEN 'pending'
    WHEN m.valid_until IS NULL OR m.valid_until >= :today THEN 'active'
    WHEN m.valid_until + coalesce(t.grace_days, 0) >= :today THEN 'grace'
    ELSE 'lapsed'
END"""

# Group members (institutions) have no types: no grace, and only their dates decide, unless
# their status was set by hand (pending, suspended, terminated).
GROUP_STATUS_RULE = """
CASE
    WHEN g.status IN ('pending', 'suspended', 'terminated') THEN g.status
    WHEN g.valid_until IS NULL OR g.valid_until >= :today THEN 'active'
    ELSE 'lapsed'
END"""

TODAY_PARAM = bindparam("today", type_=Date)

# Who has a search document: `services.search.documents.SEARCHABLE` (a test holds them equal),
# not imported from there because that module loads the Chinese text analysis, which the
# refresh command does not need and would pay for at every start.
SEARCHABLE = "p.expert_opt_in AND p.status = 'active'"


@dataclass
class RefreshResult:
    """How many memberships (and group memberships) moved into each status."""

    changed: dict[str, int]
    groups_changed: dict[str, int]
    # People queued for the search index (searchable, and in or out of good standing).
    queued_for_search: int = 0
    # The change id of every history entry this refresh wrote (one per run, as an import's
    # batch is the change id of what it created).
    change_id: uuid.UUID | None = None

    @property
    def total(self) -> int:
        return sum(self.changed.values())


# Settings for the refresh statement alone. Memory: the changed rows are kept once (the
# data-modifying CTE's result, read by the history and outbox INSERTs and the counts); with
# the server's default work_mem (4 MB), or 64 MB, a catch-up of hundreds of thousands of rows
# writes them to a temporary file and reads them back three times.
# No JIT: over a million rows the plan's cost asks for compiling, inlining and optimising its
# expressions, which takes longer than evaluating them.
REFRESH_SETTINGS = {"work_mem": "256MB", "jit": "off"}

# Every status the tables allow (their CHECK constraints). Each row is joined to its stored
# status in this list, so the UPDATE's RETURNING (which sees only the new row) carries the
# status the row had: the history's old value, read in the same scan that writes the row.
_STATUSES = ", ".join(f"('{status}')" for status in STATUSES)
# The type of memberships without one: no grace (the rule's `coalesce`), joined like a type
# because an UPDATE's FROM list cannot be outer-joined to the updated table.
_NO_TYPE = "'00000000-0000-0000-0000-000000000000'::uuid"


def refresh_statement(
    *, scoped: bool, people: tuple[bool, bool] | None = None, groups: bool = True
) -> TextClause:
    """The refresh as one statement (`:today`, `:actor`, `:source`, `:change_id`, and
    `:org_ids` when `scoped`); `benchmarks/memberships.py` runs it under EXPLAIN ANALYZE.

    `people` limits it to the memberships of a range of people: from the person id `:low`
    when its first item is true, before `:high` when its second is; `groups=False` leaves
    the group memberships to another part."""
    conditions = ["m.org_id = ANY(:org_ids)"] if scoped else []
    if people is not None:
        low, high = people
        conditions += ["m.person_id >= :low"] if low else []
        conditions += ["m.person_id < :high"] if high else []
    where = " AND ".join(conditions) or "TRUE"
    group_where = ("g.org_id = ANY(:org_ids)" if scoped else "TRUE") if groups else "FALSE"
    return text(
        f"""
        WITH changed AS (
            -- One pass over the table: the rule is evaluated as each row is read, and only
            -- the rows whose status it changes are written. No index holds a column set here
            -- and the table keeps room on its pages (fillfactor), so these are HOT updates
            -- that leave the indexes alone. A row changed by someone else since the
            -- statement began is checked again, rule and stored status, on its newest version.
            UPDATE membership m
            SET status = {STATUS_RULE}, updated_at = now(), version = m.version + 1
            FROM (VALUES {_STATUSES}) AS s(old_status),
                 (SELECT id, grace_days FROM membership_type
                  UNION ALL SELECT {_NO_TYPE}, 0) AS t
            WHERE s.old_status = m.status
              AND t.id = coalesce(m.type_id, {_NO_TYPE})
              AND {STATUS_RULE} <> m.status
              AND {where}
            RETURNING m.id, m.person_id, s.old_status, m.status AS new_status
        ), history AS (
            INSERT INTO change_history (entity, entity_id, change_id, field, old_value,
                                        new_value, reason, actor, source)
            SELECT 'membership', id, :change_id, 'status', old_status, new_status, 'dates',
                   :actor, :source
            FROM changed
        ), searchable AS MATERIALIZED (
            -- Read only when something changed (the hash join below ends at once otherwise);
            -- a CTE has no index, so the planner hashes it instead of looking up each person.
            SELECT p.id FROM person p WHERE {SEARCHABLE}
        ), outbox AS (
            -- A search document lists the organisations of the memberships in good standing,
            -- and only searchable people have one: moving between active and grace, or a
            -- person who is not searchable, changes no document. One row per person. The
            -- searchable people (a fifth or so) are hashed and the changes probe them, so
            -- only the matches are made distinct, not every changed membership's person.
            INSERT INTO search_outbox (person_id, attempts)
            SELECT DISTINCT c.person_id, 0
            FROM changed c JOIN searchable s ON s.id = c.person_id
            WHERE (c.old_status IN ('active', 'grace')) <> (c.new_status IN ('active', 'grace'))
            RETURNING person_id
        ), group_changed AS (
            UPDATE group_membership g
            SET status = {GROUP_STATUS_RULE}, updated_at = now(), version = g.version + 1
            FROM (VALUES {_STATUSES}) AS s(old_status)
            WHERE s.old_status = g.status
              AND {GROUP_STATUS_RULE} <> g.status
              AND {group_where}
            RETURNING g.id, s.old_status, g.status AS new_status
        ), group_history AS (
            INSERT INTO change_history (entity, entity_id, change_id, field, old_value,
                                        new_value, reason, actor, source)
            SELECT 'group_membership', id, :change_id, 'status', old_status, new_status,
                   'dates', :actor, :source
            FROM group_changed
        )
        SELECT 'individual', new_status, count(*) FROM changed GROUP BY new_status
        UNION ALL
        SELECT 'group', new_status, count(*) FROM group_changed GROUP BY new_status
        UNION ALL
        SELECT 'outbox', NULL, count(*) FROM outbox
        """  # noqa: S608 - constants only
    ).bindparams(
        TODAY_PARAM,
        bindparam("actor", type_=String),
        bindparam("source", type_=String),
        bindparam("change_id", type_=Uuid),
    )


@contextmanager
def server_settings(
    session: Session | Connection, values: dict[str, str], *, local: bool = True
) -> Iterator[None]:
    """Server settings for the statements inside, then back to what they were, so that the
    caller's transaction (an import's, say) or, with `local=False` on an autocommit
    connection, the pooled connection keeps its own."""
    set_config = text("SELECT set_config(:name, :value, :local)")
    previous = {
        name: session.execute(text("SELECT current_setting(:name)"), {"name": name}).scalar_one()
        for name in values
    }
    for name, value in values.items():
        session.execute(set_config, {"name": name, "value": value, "local": local})
    try:
        yield
    except BaseException:
        # A failed statement aborts the transaction, and with it its local settings.
        if not local:
            _restore(session, set_config, previous, local=local)
        raise
    _restore(session, set_config, previous, local=local)


def _restore(
    session: Session | Connection, set_config: TextClause, values: dict[str, str], *, local: bool
) -> None:
    for name, value in values.items():
        session.execute(set_config, {"name": name, "value": value, "local": local})


# From this many memberships the whole-table refresh of `refresh_in_parts` is split over
# several connections.
PARALLEL_MIN_ROWS = 100_000
MAX_PARTS = 4


def _params(today: date, actor: str, source: str, change_id: uuid.UUID) -> dict[str, Any]:
    return {"today": today, "actor": actor, "source": source, "change_id": change_id}


def _result(rows: list[Any], change_id: uuid.UUID) -> RefreshResult:
    changed: dict[str, int] = {}
    groups: dict[str, int] = {}
    queued = 0
    for kind, status, n in rows:
        if kind == "individual":
            changed[str(status)] = changed.get(str(status), 0) + int(n)
        elif kind == "group":
            groups[str(status)] = groups.get(str(status), 0) + int(n)
        else:
            queued += int(n)
    return RefreshResult(changed, groups, queued, change_id if changed or groups else None)


def refresh_in_parts(
    engine: Engine,
    *,
    today: date,
    actor: str = "system",
    source: str = "refresh",
    parts: int | None = None,
    min_rows: int | None = None,
) -> RefreshResult:
    """Every membership's status brought in line with the rule, as `refresh` does, with the
    people split into ranges of ids whose memberships are refreshed at once, each range in a
    transaction of its own on its own connection: `parts` of them (default: one per CPU of
    this machine, at most MAX_PARTS; one below `min_rows` memberships, by default
    PARALLEL_MIN_ROWS). Each part is the same set-based statement over its people's
    memberships (all of a person's memberships are in one part, so each person is queued for
    search once); all share one change id.

    A part commits as soon as it is done: each is whole on its own, as a run of the refresh
    is, and a part that kept its row locks until the others finish could close a circle of
    waits that PostgreSQL cannot see (another transaction waiting on it while one of the
    other parts waits on that transaction). If a part fails, the parts that succeeded stand,
    the error is raised, and the next run does the rest. Each part has the statement's
    `work_mem` (REFRESH_SETTINGS) on the server."""
    change_id = uuid7()
    params = _params(today, actor, source, change_id)
    count = parts if parts is not None else min(os.cpu_count() or 1, MAX_PARTS)
    with engine.connect() as conn:
        if parts is None:
            estimate = conn.execute(
                text("SELECT reltuples FROM pg_class WHERE oid = 'membership'::regclass")
            ).scalar_one()
            floor = PARALLEL_MIN_ROWS if min_rows is None else min_rows
            count = count if estimate >= floor else 1
        # The person ids that cut the people into `count` equal ranges, in one ordered pass.
        cuts = conn.execute(
            text(
                "SELECT percentile_disc(CAST(:at AS float8[])) WITHIN GROUP (ORDER BY id)"
                " FROM person"
            ),
            {"at": [i / count for i in range(1, count)]},
        ).scalar_one()
    # Distinct cuts only (few people, or none, give fewer), so that no two parts overlap.
    edges = [None, *sorted({cut for cut in cuts or () if cut is not None}), None]
    jobs = []
    for i in range(len(edges) - 1):
        low, high = edges[i], edges[i + 1]
        statement = refresh_statement(
            scoped=False, people=(low is not None, high is not None), groups=i == 0
        )
        jobs.append((statement, dict(params, low=low, high=high)))

    def run(statement: TextClause, job: dict[str, Any]) -> list[Any]:
        with (
            engine.connect() as conn,
            conn.begin(),
            server_settings(conn, REFRESH_SETTINGS),
        ):
            return list(conn.execute(statement, job).all())

    with ThreadPoolExecutor(len(jobs), thread_name_prefix="refresh") as pool:
        futures = [pool.submit(run, statement, job) for statement, job in jobs]
    # Every part has ended here; the first that failed raises its error.
    return _result([row for future in futures for row in future.result()], change_id)


def refresh(
    session: Session | Connection,
    *,
    today: date,
    org_ids: list[uuid.UUID] | None = None,
    actor: str = "system",
    source: str = "refresh",
) -> RefreshResult:
    """Bring every membership's status in line with the rule, in one set-based statement:
    only rows whose status changes are written, each with a history entry, and the people
    whose search document changes are queued for the index in the same transaction. Running
    it again changes nothing, so it is safe at any time (cron, after an import, twice at once:
    the second waits on the row locks and then finds nothing to do)."""
    change_id = uuid7()
    params = _params(today, actor, source, change_id)
    if org_ids is not None:
        params["org_ids"] = list(org_ids)
    with server_settings(session, REFRESH_SETTINGS):
        rows = session.execute(refresh_statement(scoped=org_ids is not None), params).all()
    result = _result(list(rows), change_id)
    if result.queued_for_search:
        session.info["outbox_dirty"] = True
    return result
