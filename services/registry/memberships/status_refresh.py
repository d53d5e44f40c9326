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
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, TextClause, bindparam, text
from sqlalchemy.types import Date, String, Uuid

from services.search.replay import replay_point_on

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
    # When memberships changed: the horizon (`horizon_on`) taken before the refresh's
    # snapshot, for `queue_made_searchable` once it has committed.
    horizon: Horizon | None = None

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


@dataclass(frozen=True)
class Horizon:
    """What a snapshot taken after it may not see: changes committed by transactions numbered
    `xmin` or later, stamped at or after `since`."""

    since: datetime  # the rebuild's replay point (`replay.replay_point_on`)
    xmin: str  # the oldest transaction id still running (xid8, as text)


_OLDEST_RUNNING = text("SELECT CAST(pg_snapshot_xmin(pg_current_snapshot()) AS text)")


def horizon_on(conn: Session | Connection) -> Horizon:
    """The horizon of the snapshots taken after this call: a transaction that commits after
    one of them was running when this was called, or began later, so its id is `xmin` or
    newer (ids are handed out in order) and its timestamps are `since` or later."""
    since = replay_point_on(conn)
    xmin: str = conn.execute(_OLDEST_RUNNING).scalar_one()
    return Horizon(since, xmin)


# Who a bulk change of memberships (this refresh, a member import) may have left off the
# search outbox. It queues the people searchable in its own snapshot. A person made searchable
# (opted in, made active again) by a transaction that commits after that snapshot but before
# the change commits is queued by that transaction, and the worker or the API's drain after
# its commit may build their document at once from what is committed then: without the
# change. Once the change has committed, this statement queues each person who is searchable
# now and whose profile was written beyond the horizon taken before the change's first
# snapshot (`horizon_on`), as was one of their memberships (by the change itself, as a rule).
#
# Why that is everyone: the transaction that made the person searchable committed after the
# change's snapshot, so beyond the horizon, and whoever wrote the profile after it did too:
# the newest version of the row carries a transaction id (`xmin`) of the horizon or newer and
# a timestamp (`updated_at`, which every write of a profile sets) of its `since` or later. If
# that transaction committed before this statement's snapshot, this statement sees the person
# searchable and queues them, and the drain that takes the row reads a database holding the
# change. If it commits later, its own outbox row is drained after the change has committed.
# Under READ COMMITTED (as the registry runs) each statement takes its snapshot when it
# starts, so a horizon taken by an earlier statement of the change's own transaction, or
# before it, comes before them all, the parallel parts of `refresh_in_parts` included.
#
# Either condition alone would queue more than that. The timestamp, moved back by the clock
# skew allowed to the application's clock, also holds everyone written in the minute before
# the change, such as the people of an import that ran just before, whom that import queued;
# the transaction id leaves them out. `age()` compares ids in the order they were handed out
# (the difference from the current one, the same throughout a transaction), but a row written
# more than 2^31 transactions ago keeps its old id when frozen, which may then seem new; the
# timestamp leaves those out.
#
# Cheap beside the change: one pass over the profiles (no writes) keeps the few written
# beyond the horizon, and their memberships are looked up by person. `written_by` leaves out
# the profiles whose newest version the change wrote itself: it held their row locks from
# that write to its commit, so nobody could change them in between and it decided on them as
# they are (a member import's people; without it, each of them would be queued twice; a row
# written in a subtransaction carries another id and is merely queued again).
#
# A process that dies between the change's commit and this statement leaves those few people
# to their next change or a reindex: a window of milliseconds, as the rebuild's swap has.
_MADE_SEARCHABLE = f"""
INSERT INTO search_outbox (person_id, attempts)
SELECT p.id, 0
FROM (SELECT age(CAST(CAST(:xmin AS xid8) AS xid)) AS max_age) h
JOIN person p
  ON {SEARCHABLE} AND p.updated_at >= :since AND age(p.xmin) <= h.max_age {{written}}
-- A probe by person (LIMIT keeps the planner, which cannot tell how few rows pass `age`,
-- from hashing every membership instead).
CROSS JOIN LATERAL (
    SELECT 1 FROM membership m
    WHERE m.person_id = p.id AND m.updated_at >= :since AND age(m.xmin) <= h.max_age
    LIMIT 1
) touched
"""  # noqa: S608 - constants only


def queue_made_searchable(
    conn: Session | Connection, *, horizon: Horizon | None, written_by: str | None = None
) -> int:
    """After a bulk change of memberships has committed, in a transaction of its own: queue
    for search the people it may have left off the outbox because they became searchable
    after its snapshot (see `_MADE_SEARCHABLE`). `horizon`: from `horizon_on` before the
    change's first snapshot (None: nothing changed, nothing to do); `written_by`: the change's
    transaction id, when it wrote profiles itself. Returns how many were queued."""
    if horizon is None:
        return 0
    written = "" if written_by is None else "AND p.xmin <> CAST(:written_by AS xid)"
    params: dict[str, Any] = {"since": horizon.since, "xmin": horizon.xmin}
    if written_by is not None:
        params["written_by"] = written_by
    queued = int(conn.execute(text(_MADE_SEARCHABLE.format(written=written)), params).rowcount)
    if queued:
        conn.info["outbox_dirty"] = True
    return queued


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


def _result(rows: list[Any], change_id: uuid.UUID, horizon: Horizon) -> RefreshResult:
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
    return RefreshResult(
        changed,
        groups,
        queued,
        change_id if changed or groups else None,
        horizon if changed else None,
    )


def refresh_in_parts(
    engine: Engine,
    *,
    today: date,
    actor: str = "system",
    source: str = "refresh",
    parts: int | None = None,
    min_rows: int | None = None,
    before_commit: Callable[[], None] | None = None,
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
    `work_mem` (REFRESH_SETTINGS) on the server. Once the parts have ended, the people made
    searchable while they ran are queued (`queue_made_searchable`).

    `before_commit` (tests) is called in each part's thread between its statement and its
    commit."""
    change_id = uuid7()
    params = _params(today, actor, source, change_id)
    count = parts if parts is not None else min(os.cpu_count() or 1, MAX_PARTS)
    with engine.connect() as conn:
        horizon = horizon_on(conn)  # before any part's snapshot
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
            rows = list(conn.execute(statement, job).all())
            if before_commit is not None:
                before_commit()
            return rows

    with ThreadPoolExecutor(len(jobs), thread_name_prefix="refresh") as pool:
        futures = [pool.submit(run, statement, job) for statement, job in jobs]
    # Every part has ended here. The parts that succeeded have committed: the people made
    # searchable while they ran are queued now, then the first part that failed raises its
    # error.
    done = [row for future in futures if future.exception() is None for row in future.result()]
    result = _result(done, change_id, horizon)
    if result.horizon is not None:
        with engine.begin() as conn:
            queue_made_searchable(conn, horizon=result.horizon)
    for future in futures:
        future.result()
    return result


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
    the second waits on the row locks and then finds nothing to do).

    People made searchable by others while it runs are for the caller to queue once its
    transaction has committed: `queue_made_searchable(conn, horizon=result.horizon)`."""
    change_id = uuid7()
    params = _params(today, actor, source, change_id)
    if org_ids is not None:
        params["org_ids"] = list(org_ids)
    horizon = horizon_on(session)  # before the statement's snapshot
    with server_settings(session, REFRESH_SETTINGS):
        rows = session.execute(refresh_statement(scoped=org_ids is not None), params).all()
    result = _result(list(rows), change_id, horizon)
    if result.queued_for_search:
        session.info["outbox_dirty"] = True
    return result
