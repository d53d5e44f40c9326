"""Rebuilding the index from PostgreSQL: stream every searchable person from one snapshot, then
replay the changes that snapshot cannot hold. Each backend swaps its new index in atomically."""

from __future__ import annotations

import gc
import multiprocessing
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, closing, contextmanager
from datetime import date, datetime, timedelta
from typing import Any, Protocol

import psycopg
from psycopg import sql
from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session, sessionmaker

from services.registry.core.db import transaction
from services.registry.core.models import ChangeRecord
from services.registry.memberships.models import Membership
from services.registry.people.models import Person

from . import documents
from .documents import ExpertSource
from .outbox import enqueue_people, stage_people
from .replay import replay_point_on

BATCH = 2_000
REBUILD_VERSION = 0  # any later outbox write (version = its id, always > 0) replaces a rebuilt doc
# How long a replay staged before a swap waits (`replay_if_interrupted`).
REPLAY_GRACE = timedelta(minutes=5)


def replay_point(sessions: sessionmaker[Session]) -> datetime:
    """Where to replay from after a build whose snapshot is taken after this call returns
    (`replay.replay_point_on`). Changes committed earlier are in the snapshot, so a bulk
    import that finished before the rebuild started is not replayed."""
    with sessions() as session:
        return replay_point_on(session)


def replay_changes_since(sessions: sessionmaker[Session], since: datetime) -> int:
    """Put people changed at or after `since` (from `replay_point`) back on the outbox."""
    with transaction(sessions) as session:
        return replay_into(session, since)


def replay_into(session: Session, since: datetime) -> int:
    """`replay_changes_since` in the caller's transaction (the postgres backend's swap, so that
    the new tables and their replay commit together).

    A person merged into another meanwhile is gone from `person` but may be in the snapshot:
    the kept person's `merged` history entry names them, so they are replayed too, and the
    worker removes them from the new index.
    """
    changed = _changed_since(session, since)
    enqueue_people(session, changed)
    return len(changed)


def _changed_since(session: Session, since: datetime) -> list[uuid.UUID]:
    recent = or_(Person.updated_at >= since, Person.created_at >= since)
    changed = set(session.scalars(select(Person.id).where(recent)))
    merged_away = session.scalars(
        select(ChangeRecord.new_value)
        .join(Person, Person.id == ChangeRecord.entity_id)
        .where(
            recent,
            ChangeRecord.entity == "person",
            ChangeRecord.field == "merged",
            ChangeRecord.changed_at >= since,
        )
    )
    changed |= {uuid.UUID(value) for value in merged_away if value}
    changed |= set(
        session.scalars(
            select(Membership.person_id).where(
                or_(Membership.updated_at >= since, Membership.created_at >= since)
            )
        )
    )
    return sorted(changed)


_UNSTAGE = text("DELETE FROM search_outbox WHERE id = ANY(CAST(:ids AS bigint[])) AND attempts = 0")


@contextmanager
def replay_if_interrupted(sessions: sessionmaker[Session], since: datetime) -> Iterator[None]:
    """Around a swap that PostgreSQL cannot commit with the replay (an OpenSearch alias): the
    replay is put on the outbox first, due only after REPLAY_GRACE, and taken back when the
    block (the swap and the caller's own replay) ends well. A block that fails, or a process
    that dies in it, leaves those rows, which the worker takes when they fall due: harmless
    if the swap did not happen. (A change both committed and drained between this and the
    swap is not among them: a window of the swap's own milliseconds.)"""
    with transaction(sessions) as session:
        staged = stage_people(session, _changed_since(session, since), REPLAY_GRACE)
    yield
    with transaction(sessions) as session:
        # One array parameter: an IN list takes a parameter per row, and a statement carries
        # at most 65,535 (an import during the build stages more people than that).
        session.execute(_UNSTAGE, {"ids": staged})


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


def _fetch(conn: psycopg.Connection[Any], batch: int) -> Iterator[list[tuple[Any, ...]]]:
    """Every searchable person's source row, in id order."""
    statement = documents.SOURCE_SQL.format(where=documents.SEARCHABLE) + " ORDER BY p.id"
    with conn.cursor(name="expert_sources") as cursor:
        cursor.itersize = batch
        cursor.execute(statement)  # type: ignore[arg-type]
        while rows := cursor.fetchmany(batch):
            yield rows


# The order a clustered stream writes documents in: by first-level discipline, then province.
# A research topic belongs to a discipline, so its experts' rows lie on a few thousand pages of
# the table instead of one page each; a search visits a tenth to a half as many pages.
CLUSTER_KEY = (
    "coalesce(left(p.discipline_codes[1], 3), '') COLLATE \"C\","
    " coalesce(left(p.region_code, 2), '') COLLATE \"C\", p.id"
)
_CLUSTER_KEYS = (
    f"SELECT {CLUSTER_KEY} FROM person p WHERE {documents.SEARCHABLE}{{range}}"  # noqa: S608
    f" ORDER BY {CLUSTER_KEY}"
)


def _cluster_range(low: Any, high: Any) -> tuple[str, dict[str, Any]]:
    """The condition on the cluster key for low <= key < high (key tuples; None: unbounded),
    and its parameters."""
    where = ""
    params: dict[str, Any] = {}
    for name, key, operator in (("low", low, ">="), ("high", high, "<")):
        if key is not None:
            names = (f"{name}_d", f"{name}_r", f"{name}_id")
            bound = ", ".join(f"%({n})s" for n in names)
            where += f" AND ({CLUSTER_KEY}) {operator} ({bound})"
            params |= dict(zip(names, key, strict=True))
    return where, params


def _fetch_clustered(
    conn: psycopg.Connection[Any], batch: int, low: Any = None, high: Any = None
) -> Iterator[list[tuple[Any, ...]]]:
    """Searchable people's source rows with low <= cluster key < high, in cluster-key order.

    Only the keys are sorted (a few dozen bytes a person); each batch of people is then read
    by id, and put back in key order here.
    """
    rows_of = documents.SOURCE_SQL.format(where="p.id = ANY(%(ids)s)")
    where, params = _cluster_range(low, high)
    with conn.cursor(name="expert_keys") as keys:
        keys.itersize = batch
        keys.execute(_CLUSTER_KEYS.format(range=where), params)  # type: ignore[arg-type]
        while found := keys.fetchmany(batch):
            ids = [key[2] for key in found]
            place = {person_id: i for i, person_id in enumerate(ids)}
            rows = conn.execute(rows_of, {"ids": ids}).fetchall()  # type: ignore[arg-type]
            rows.sort(key=lambda row: place[row[0]])
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


PARTS = ("reading", "building", "rendering", "writing")
Target = tuple[str, Sequence[str]]  # a table and the columns its COPY lines hold


def libpq_url(sessions: sessionmaker[Session]) -> str:
    """The database URL the sessions use, for connections of another process."""
    url = sessions.kw["bind"].url.set(drivername="postgresql")
    return str(url.render_as_string(hide_password=False))


@contextmanager
def _no_cyclic_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while documents stream. Documents hold no reference
    cycles (reference counting frees them), but each batch allocates enough objects to set off
    collections that walk every object alive, the analysis caches included: measured, about a
    quarter of the stream's CPU time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def _copy_into(url: str, table: str, columns: Sequence[str]) -> Iterator[psycopg.Copy]:
    """A COPY into `table` on a connection of its own, committed when the block ends well."""
    with psycopg.connect(url, application_name="registry-rebuild") as writer:
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with writer.cursor() as cursor, cursor.copy(statement) as copy:
            yield copy
        writer.commit()


def _copy_part(
    url: str,
    snapshot_id: str,
    targets: Sequence[Target],
    part: Part,
    low: Any,
    high: Any,
    batch: int,
    check: Callable[[], None] | None = None,
) -> tuple[int, dict[str, float]]:
    """Build and COPY the documents of one key range, reading from an exported snapshot.

    Returns the count and where the time went: waiting for rows (reading), building documents,
    rendering COPY text, and handing it to PostgreSQL (writing: a full socket means the server
    is still digesting earlier rows). `check` is called after each batch: an exception it
    raises aborts the COPY (the other process of a split stream failed).
    """
    today = date.today()
    build = documents.build
    make = ExpertSource._make
    clock = time.perf_counter
    timing = dict.fromkeys(PARTS, 0.0)
    count = 0
    with _no_cyclic_gc(), psycopg.connect(url, application_name="registry-rebuild") as reader:
        reader.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        reader.read_only = True
        reader.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot_id)))
        with ExitStack() as writers:
            copies = [
                writers.enter_context(_copy_into(url, table, columns)) for table, columns in targets
            ]
            # closed on the way out, failing or not: its thread stops before `reader` closes
            batches = writers.enter_context(
                closing(_prefetched(_fetch_clustered(reader, batch, low, high)))
            )
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
                lines = list(map(part.render, docs))
                blocks = ["".join(column).encode() for column in zip(*lines, strict=True)]
                rendered = clock()
                timing["rendering"] += rendered - built
                for copy, block in zip(copies, blocks, strict=True):
                    copy.write(block)
                timing["writing"] += clock() - rendered
                count += len(rows)
                if check is not None:
                    check()
            finishing = clock()
        timing["writing"] += clock() - finishing
        reader.rollback()
    return count, timing


class Part(Protocol):
    """What renders the rows of one key range: `render(doc)` gives the document's row in each
    target table as a line of COPY text and is called once per document, in COPY (key) order;
    `result()` is what the part learnt on the way (returned to the caller, across processes:
    picklable)."""

    def render(self, doc: documents.ExpertDocument) -> tuple[str, ...]: ...

    def result(self) -> Any: ...


# Part factory: called with the ordinal of the part's first document (its place in key order).
Parts = Callable[[int], Part]
PARALLEL_FROM = 50_000  # documents from which the stream is split over two processes


def copy_documents(
    sessions: sessionmaker[Session],
    targets: Sequence[Target],
    parts: Parts,
    *,
    batch: int = BATCH,
    timings: dict[str, float] | None = None,
    parallel_from: int = PARALLEL_FROM,
) -> tuple[int, list[Any]]:
    """COPY every searchable person's document into the `targets` (table, columns), a row in
    each; returns how many, and the `result()` of each part in key order.

    The documents are read from one snapshot exported by this process, so the table holds the
    database as it was at one instant; a batch of rendered rows is sent as one block.
    From `parallel_from` documents the key range is split in two halves at the middle
    document: a second process builds, renders and COPYs the upper half on connections of its
    own, reading the same snapshot, while this one does the lower half (building documents in
    Python takes more CPU than PostgreSQL's side of the stream). `timings` are summed over the
    processes.
    """
    url = libpq_url(sessions)
    with snapshot(sessions) as conn:
        snapshot_id = conn.execute("SELECT pg_export_snapshot()").fetchone()[0]  # type: ignore[index]
        where = documents.SEARCHABLE
        total = conn.execute(f"SELECT count(*) FROM person p WHERE {where}").fetchone()[0]  # type: ignore[index]  # noqa: S608
        middle = None
        if total >= max(parallel_from, 2):
            half = total // 2
            middle = conn.execute(
                _CLUSTER_KEYS.format(range="") + " OFFSET %(half)s LIMIT 1", {"half": half}
            ).fetchone()
        if middle is None:
            part = parts(0)
            count, timing = _copy_part(url, snapshot_id, targets, part, None, None, batch)
            results = [part.result()]
        else:
            job = (url, snapshot_id, list(targets), batch)
            context = multiprocessing.get_context("spawn")
            receive, send = context.Pipe(duplex=False)
            upper = context.Process(
                target=_copy_upper, args=(send, parts, half, middle, *job), name="rebuild-upper"
            )
            upper.start()
            send.close()
            answered: list[Any] = []  # the upper half's outcome, once received

            def ended() -> RuntimeError:
                upper.join(timeout=30)
                return RuntimeError(
                    f"the upper half's process (pid {upper.pid}) ended without an answer,"
                    f" exit code {upper.exitcode}"
                )

            def answer() -> Any:
                try:
                    return receive.recv()
                except EOFError:  # killed or crashed before it could send anything
                    raise ended() from None

            def check() -> None:
                """Take the upper half's outcome if it came early: fail now if it failed."""
                if not answered and (receive.poll() or not upper.is_alive()):
                    # A process that has ended has closed its end: readable, if only as EOF.
                    if not receive.poll(1.0):
                        raise ended()
                    answered.append(answer())
                if answered and isinstance(answered[0], BaseException):
                    raise answered[0]

            try:
                part = parts(0)
                count, timing = _copy_part(
                    url, snapshot_id, targets, part, None, middle, batch, check
                )
                if count != half:
                    raise RuntimeError(f"lower half held {count} documents, not {half}")
                outcome = answered[0] if answered else answer()
            except BaseException:
                upper.terminate()  # its rows go to the build table, which is dropped unused
                raise
            finally:
                upper.join()
                receive.close()
            if isinstance(outcome, BaseException):
                raise outcome
            upper_count, upper_timing, upper_result = outcome
            count += upper_count
            for name, seconds in upper_timing.items():
                timing[name] = timing.get(name, 0.0) + seconds
            results = [part.result(), upper_result]
    if timings is not None:
        for name, seconds in timing.items():
            timings[name] = timings.get(name, 0.0) + seconds
    return count, results


def _copy_upper(
    send: Any,
    parts: Parts,
    first: int,
    middle: Any,
    url: str,
    snapshot_id: str,
    targets: list[Target],
    batch: int,
) -> None:
    """The second process: COPY the upper half, send back (count, timing, result) or the error
    as a RuntimeError holding this process's traceback (the parent raises it)."""
    try:
        part = parts(first)
        count, timing = _copy_part(url, snapshot_id, targets, part, middle, None, batch)
        send.send((count, timing, part.result()))
    except BaseException as exc:  # handed to the parent, which raises it
        send.send(
            RuntimeError(
                f"the upper half of the rebuild (keys from {middle}) failed: {exc!r}\n"
                f"Traceback in its process:\n{traceback.format_exc()}"
            )
        )
    finally:
        send.close()
