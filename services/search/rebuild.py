"""Rebuilding the index from PostgreSQL: stream every searchable person from one snapshot, then
replay the changes that snapshot cannot hold. Each backend swaps its new index in atomically."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from datetime import date, datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.registry.core.db import transaction
from services.registry.memberships.models import Membership
from services.registry.people.models import Person

from . import documents
from .documents import ExpertSource
from .outbox import enqueue_people

BATCH = 2_000
REBUILD_VERSION = 0  # any later outbox write (version = its id, always > 0) replaces a rebuilt doc
# How far a change's timestamps may lie before the moment its transaction began, as the
# database's clock sees it. Timestamps come from the database (`now()`: the transaction's
# start) or from the application's clock when an object is created or changed, a moment later
# within the same transaction. Application hosts keep their clocks within milliseconds of the
# database's by NTP; a minute also covers a request that prepares its objects before its first
# statement. It only widens what is replayed, never what is missed beyond it.
CLOCK_SKEW = timedelta(seconds=60)

# The oldest moment a change invisible to a snapshot taken right after this statement can be
# stamped with: now, or the start of a transaction already open (it may commit later, with
# timestamps from before now). Other roles' sessions show no xact_start without
# pg_read_all_stats: the registry's writes all run as its own role.
_REPLAY_POINT = text(
    "SELECT least(clock_timestamp(), min(xact_start)) FROM pg_stat_activity"
    " WHERE backend_type = 'client backend' AND xact_start IS NOT NULL"
)


def replay_point(sessions: sessionmaker[Session]) -> datetime:
    """Where to replay from after a build whose snapshot is taken after this call returns.

    A change missing from the snapshot was committed after it, by a transaction that either
    began after this call (its timestamps are later than now) or was open during it (its
    timestamps are later than its start). Either way it is stamped at or after the returned
    instant, less CLOCK_SKEW. Changes committed earlier are in the snapshot, so a bulk import
    that finished before the rebuild started is not replayed.
    """
    with sessions() as session:
        point: datetime = session.scalar(_REPLAY_POINT)  # type: ignore[assignment]
    return point - CLOCK_SKEW


def replay_changes_since(sessions: sessionmaker[Session], since: datetime) -> int:
    """Put people changed at or after `since` (from `replay_point`) back on the outbox."""
    with transaction(sessions) as session:
        changed = set(
            session.scalars(
                select(Person.id).where(or_(Person.updated_at >= since, Person.created_at >= since))
            )
        )
        changed |= set(
            session.scalars(
                select(Membership.person_id).where(
                    or_(Membership.updated_at >= since, Membership.created_at >= since)
                )
            )
        )
        enqueue_people(session, sorted(changed))
    return len(changed)


# -- reading one snapshot ---------------------------------------------------------------------


@contextmanager
def snapshot(sessions: sessionmaker[Session]) -> Iterator[psycopg.Connection[Any]]:
    """A pooled connection inside one read-only REPEATABLE READ transaction (one snapshot)."""
    engine = sessions.kw["bind"]
    pooled = engine.raw_connection()
    try:
        conn: psycopg.Connection[Any] = pooled.driver_connection  # type: ignore[assignment]
        conn.rollback()
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        try:
            yield conn
        finally:
            conn.rollback()
    finally:
        pooled.close()


def _fetch(
    conn: psycopg.Connection[Any], batch: int, low: Any = None, high: Any = None
) -> Iterator[list[tuple[Any, ...]]]:
    """Searchable people's source rows with low <= id < high (None: unbounded), in id order."""
    where = documents.SEARCHABLE
    if low is not None:
        where += " AND p.id >= %(low)s"
    if high is not None:
        where += " AND p.id < %(high)s"
    statement = documents.SOURCE_SQL.format(where=where) + " ORDER BY p.id"
    with conn.cursor(name="expert_sources") as cursor:
        cursor.itersize = batch
        cursor.execute(statement, {"low": low, "high": high})  # type: ignore[arg-type]
        while rows := cursor.fetchmany(batch):
            yield rows


def _prefetched(batches: Iterator[list[tuple[Any, ...]]]) -> Iterator[list[tuple[Any, ...]]]:
    """The batches, fetched by a thread one ahead: the server reads while documents are built
    (psycopg waits for the server without holding the interpreter lock)."""
    ahead: queue.Queue[Any] = queue.Queue(maxsize=2)
    done = object()
    stop = threading.Event()

    def hand(item: Any) -> bool:
        while not stop.is_set():
            try:
                ahead.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def fetch() -> None:
        try:
            with closing(batches):  # the cursor is closed by the thread that opened it
                for rows in batches:
                    if not hand(rows):
                        return
            hand(done)
        except BaseException as exc:  # handed to the consumer, which raises it
            hand(exc)

    thread = threading.Thread(target=fetch, name="rebuild-fetch", daemon=True)
    thread.start()
    try:
        while (item := ahead.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        thread.join()


def source_batches(
    sessions: sessionmaker[Session], batch: int = BATCH
) -> Iterator[list[documents.ExpertSource]]:
    """Every searchable person as read through documents.SOURCE_SQL, from one snapshot."""
    with snapshot(sessions) as conn:
        for rows in _prefetched(_fetch(conn, batch)):
            yield list(map(documents.ExpertSource._make, rows))


def searchable_batches(
    sessions: sessionmaker[Session], batch: int = BATCH
) -> Iterator[list[documents.ExpertDocument]]:
    """Documents of every searchable person, in id order, a batch at a time, one snapshot."""
    today = date.today()
    for sources in source_batches(sessions, batch):
        yield [documents.build(s, REBUILD_VERSION, today) for s in sources]


# -- writing COPY text ------------------------------------------------------------------------


def _copy_escape(value: str) -> str:
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _array_element(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array(values: Sequence[str]) -> str:
    """A text array literal, every element quoted: `{"a","b c"}`."""
    if not values:
        return "{}"
    inner = '","'.join(values)
    if "\\" in inner or inner.count('"') != 2 * (len(values) - 1):  # quotes inside elements
        return "{" + ",".join(map(_array_element, values)) + "}"
    return '{"' + inner + '"}'


def _field(value: Any) -> str:
    """One value as COPY text, before escaping (`None` is handled by the caller)."""
    kind = type(value)
    if kind is str:
        return value  # type: ignore[no-any-return]
    if kind is list or kind is tuple:
        return _array(value)
    if kind is float:
        return repr(value)
    return str(value)  # int, bool, date, UUID: their str() is PostgreSQL's input form


def copy_line(values: Sequence[Any]) -> str:
    """One row in COPY's text format: tab-separated, `\\N` for NULL, text arrays as `{"a"}`.

    Values seldom hold a backslash, tab or line break, so the row is joined first and escaped
    value by value only when the joined text shows one.
    """
    fields = ["\\N" if value is None else _field(value) for value in values]
    line = "\t".join(fields)
    if (
        line.count("\t") == len(fields) - 1
        and line.count("\\") == values.count(None)  # the backslashes of `\\N` alone
        and "\n" not in line
        and "\r" not in line
    ):
        return line + "\n"
    escaped = ("\\N" if v is None else _copy_escape(_field(v)) for v in values)
    return "\t".join(escaped) + "\n"


Values = Callable[[documents.ExpertDocument], Sequence[Any]]
PARTS = ("reading", "building", "rendering", "writing")


def libpq_url(sessions: sessionmaker[Session]) -> str:
    """The database URL the sessions use, for connections of another process."""
    url = sessions.kw["bind"].url.set(drivername="postgresql")
    return str(url.render_as_string(hide_password=False))


def _copy_part(
    url: str,
    snapshot_id: str,
    table: str,
    columns: Sequence[str],
    values: Values,
    low: Any,
    high: Any,
    batch: int,
) -> tuple[int, dict[str, float]]:
    """Build and COPY the documents of one key range, reading from an exported snapshot.

    Returns the count and where the time went: waiting for rows (reading), building documents,
    rendering COPY text, and handing it to PostgreSQL (writing: a full socket means the server
    is still digesting earlier rows).
    """
    today = date.today()
    build = documents.build
    make = ExpertSource._make
    clock = time.perf_counter
    timing = dict.fromkeys(PARTS, 0.0)
    count = 0
    with psycopg.connect(url, application_name="registry-rebuild") as reader:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.read_only = True
        reader.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
        with psycopg.connect(url, application_name="registry-rebuild") as writer:
            statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
                sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
            )
            with writer.cursor() as cursor, cursor.copy(statement) as copy:
                batches = _prefetched(_fetch(reader, batch, low, high))
                while True:
                    started = clock()
                    rows = next(batches, None)
                    fetched = clock()
                    timing["reading"] += fetched - started
                    if rows is None:
                        break
                    docs = [build(make(row), REBUILD_VERSION, today) for row in rows]
                    built = clock()
                    timing["building"] += built - fetched
                    block = "".join([copy_line(values(doc)) for doc in docs]).encode()
                    rendered = clock()
                    timing["rendering"] += rendered - built
                    copy.write(block)
                    timing["writing"] += clock() - rendered
                    count += len(rows)
                finishing = clock()
            writer.commit()
            timing["writing"] += clock() - finishing
        reader.rollback()
    return count, timing


def copy_documents(
    sessions: sessionmaker[Session],
    table: str,
    columns: Sequence[str],
    values: Values,
    *,
    batch: int = BATCH,
    timings: dict[str, float] | None = None,
) -> int:
    """COPY every searchable person's document into `table`; returns how many.

    `values(doc)` gives the row in `columns` order and is called once per document, in COPY
    order. The documents are read from one snapshot exported by this process, so the table
    holds the database as it was at one instant; rows are rendered as COPY text and sent in
    blocks of about COPY_BLOCK bytes. (Splitting the work over two processes was measured and
    did not pay on two cores: PostgreSQL's GIN build needs the second one.)
    """
    url = libpq_url(sessions)
    with snapshot(sessions) as conn:
        snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        count, timing = _copy_part(url, snapshot_id, table, columns, values, None, None, batch)
    if timings is not None:
        for part, seconds in timing.items():
            timings[part] = timings.get(part, 0.0) + seconds
    return count
