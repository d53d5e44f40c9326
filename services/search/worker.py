"""The outbox drain: batches locked with SKIP LOCKED, current state reloaded, idempotent writes.

Rows are deleted only in the transaction that wrote their documents (postgres backend) or
after the engine acknowledged them (opensearch backend), so a crash at any point replays
them, and replays are harmless because every write carries a version and older ones lose.

Versions follow the order in which state is read, not the order of outbox ids: a change may
commit after a later-numbered one was drained. Each batch therefore takes per-person advisory
locks (drains of one person run one after another), then draws its version from the outbox
sequence, then reads the people: a later drain always reads newer state with a higher version.
"""

from __future__ import annotations

import logging
import threading
import uuid
from typing import Any

from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from services.registry.core.db import transaction

from . import documents
from .outbox import SearchOutbox
from .protocol import SearchBackend, SearchUnavailable

log = logging.getLogger("registry.search.worker")

_LOCK_PEOPLE = text(
    "SELECT count(pg_advisory_xact_lock(k)) FROM ("
    " SELECT hashtextextended(id::text, 7) AS k FROM unnest(CAST(:ids AS uuid[])) AS id ORDER BY k"
    ") AS ordered"
)
_NEXT_VERSION = text("SELECT nextval(pg_get_serial_sequence('search_outbox', 'id'))")

BATCH_SIZE = 500
MAX_ATTEMPTS = 12
# 1 s, 2 s, 4 s … after each failed attempt (counted before this one), capped at 15 minutes.
# The exponent stops at 10 (17 minutes, over the cap): an outage of days postpones rows hundreds
# of times, and 2^44 seconds is past what an interval holds (it wraps to a negative one).
_BACKOFF = text(
    "least(make_interval(secs => power(2, least(search_outbox.attempts, 10))),"
    " interval '15 minutes')"
)


def drain_batch(
    sessions: sessionmaker[Session], backend: SearchBackend, *, batch_size: int = BATCH_SIZE
) -> int:
    """Process one batch; returns how many outbox rows it settled (0: nothing due).

    A batch the engine cannot take now (SearchUnavailable) waits whole. A batch that fails
    otherwise (a document the engine refuses) is split in halves until the people at fault are
    found: the others are written and settled, only the faulty ones wait and, after
    MAX_ATTEMPTS, are parked (`registry search retry-failed`)."""
    with transaction(sessions) as session:
        rows = session.execute(
            select(SearchOutbox.id, SearchOutbox.person_id)
            .where(SearchOutbox.failed_at.is_(None), SearchOutbox.next_attempt_at <= func.now())
            .order_by(SearchOutbox.id)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        people = sorted({row.person_id for row in rows})
        session.execute(_LOCK_PEOPLE, {"ids": people})
        version = session.scalar(_NEXT_VERSION)
        try:
            # Enough engine calls to find a few refused documents by halving; a failure of the
            # whole batch (a read-only index, credentials) stops splitting when they run out.
            budget = [2 * max(1, len(people) - 1).bit_length() + 2]
            failed = _write(session, backend, people, version, budget)
        except SearchUnavailable as exc:  # the engine is away: every row waits for it
            _postpone(session, [row.id for row in rows], exc, park=False)
            _ENGINE_WAS_AWAY.set()
            return 0
        for exc, ids in _by_error(rows, failed):
            _postpone(session, ids, exc, park=True)
        done = [row.id for row in rows if row.person_id not in failed]
        if done:
            session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(done)))
            if _ENGINE_WAS_AWAY.is_set():
                _ENGINE_WAS_AWAY.clear()
                session.execute(_BACK_AGAIN)
        return len(done)


# The engine took a batch, so it is back: what its absence postponed is due now rather than at
# the end of a back-off of up to 15 minutes. Rows the engine refused, and a rebuild's held-back
# replay (no error yet), keep their time. Asked only by a process that found the engine away
# since (not after every batch of every drain: the API drains after each of its commits); each
# process that did brings the backlog forward on its own next batch.
_ENGINE_WAS_AWAY = threading.Event()
_AWAY = SearchUnavailable.__name__ + ": "
_BACK_AGAIN = (
    update(SearchOutbox)
    .where(
        SearchOutbox.id.in_(
            select(SearchOutbox.id)
            .where(
                SearchOutbox.next_attempt_at > func.now(),
                SearchOutbox.failed_at.is_(None),
                SearchOutbox.last_error.startswith(_AWAY, autoescape=True),
            )
            # Rows another drainer holds are its to settle; locking them in whatever order
            # the scan meets them could deadlock two drainers doing this at once.
            .with_for_update(skip_locked=True)
        )
    )
    .values(next_attempt_at=func.now())
)


def _write(
    session: Session,
    backend: SearchBackend,
    people: list[uuid.UUID],
    version: int,
    budget: list[int],
    cause: Exception | None = None,
) -> dict[uuid.UUID, Exception]:
    """Write these people's documents, each half of a failing group on its own while the
    budget of engine calls lasts (then a half fails with its group's error, `cause`); returns
    the people whose writes failed, with the error (SearchUnavailable is raised: no use
    splitting)."""
    if cause is not None and budget[0] <= 0:
        return dict.fromkeys(people, cause)
    budget[0] -= 1
    try:
        with session.begin_nested():
            upserts, deletes = documents.load(session, dict.fromkeys(people, version))
            backend.apply(session, upserts, deletes)
        return {}
    except SearchUnavailable:
        raise
    except Exception as exc:
        if len(people) == 1:
            return {people[0]: exc}
        middle = len(people) // 2
        return _write(session, backend, people[:middle], version, budget, exc) | _write(
            session, backend, people[middle:], version, budget, exc
        )


def _by_error(rows: Any, failed: dict[uuid.UUID, Exception]) -> list[tuple[Exception, list[int]]]:
    """The outbox rows of the failed people, grouped by their error's kind and message."""
    groups: dict[tuple[str, str], tuple[Exception, list[int]]] = {}
    for row in rows:
        exc = failed.get(row.person_id)
        if exc is not None:
            key = (type(exc).__name__, str(exc))
            groups.setdefault(key, (exc, []))[1].append(row.id)
    return list(groups.values())


def _postpone(session: Session, ids: list[int], exc: Exception, *, park: bool) -> None:
    """One statement for the rows: count the attempt, back off, and with `park` put rows out
    of attempts aside. An engine that is away parks nothing: its rows wait, backing off up to
    15 minutes, however long it takes to come back, and are due at once when a batch is
    written again (_BACK_AGAIN)."""
    message = f"{type(exc).__name__}: {exc}"[:1000]  # SearchUnavailable's start with _AWAY
    log.warning("search indexing failed for %d outbox rows: %s", len(ids), type(exc).__name__)
    attempts = SearchOutbox.attempts + 1
    parked = case((attempts >= MAX_ATTEMPTS, func.now()), else_=None) if park else None
    session.execute(
        update(SearchOutbox)
        .where(SearchOutbox.id.in_(ids))
        .values(
            attempts=attempts,
            last_error=message,
            next_attempt_at=func.now() + _BACKOFF,
            failed_at=parked,
        )
    )


def drain(
    sessions: sessionmaker[Session],
    backend: SearchBackend,
    *,
    max_batches: int = 10_000,
    stop: threading.Event | None = None,
) -> int:
    """Drain until nothing is due, or `stop` is set (the batch in flight is finished);
    returns the rows settled."""
    settled = 0
    for _ in range(max_batches):
        if stop is not None and stop.is_set():
            break
        done = drain_batch(sessions, backend)
        if not done:
            break
        settled += done
    return settled


def retry_failed(sessions: sessionmaker[Session]) -> int:
    """Give rows that exhausted their attempts another round."""
    with transaction(sessions) as session:
        result = session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.failed_at.is_not(None))
            .values(failed_at=None, attempts=0, next_attempt_at=func.now())
        )
        return result.rowcount or 0


def run(
    sessions: sessionmaker[Session],
    backend: SearchBackend,
    stop: threading.Event,
    *,
    wake: threading.Event | None = None,
    idle_seconds: float = 1.0,
) -> None:
    """Drain continuously until `stop` is set; `wake` cuts the idle wait short."""
    wake = wake or threading.Event()
    while not stop.is_set():
        try:
            # Stopping (SIGTERM) ends the drain after the batch in flight: a long backlog
            # must not outlast the grace period before the kill.
            settled = drain(sessions, backend, max_batches=100, stop=stop)
        except Exception:  # the database is away: wait and try again
            log.exception("outbox drain failed")
            settled = 0
        if not settled:
            wake.wait(idle_seconds)
            wake.clear()


class InlineDrainer:
    """A background thread in the API process that drains right after a commit enqueued work."""

    def __init__(self, sessions: sessionmaker[Session], backend: SearchBackend) -> None:
        self._sessions = sessions
        self._backend = backend
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-drain", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        run(self._sessions, self._backend, self._stop, wake=self._wake, idle_seconds=2.0)
