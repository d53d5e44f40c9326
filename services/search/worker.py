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

from sqlalchemy import case, delete, func, select, text, update
from sqlalchemy.orm import Session, sessionmaker

from services.registry.core.db import transaction

from . import documents
from .outbox import SearchOutbox
from .protocol import SearchBackend

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
_BACKOFF = text(
    "least(make_interval(secs => power(2, search_outbox.attempts)), interval '15 minutes')"
)


def drain_batch(
    sessions: sessionmaker[Session], backend: SearchBackend, *, batch_size: int = BATCH_SIZE
) -> int:
    """Process one batch; returns how many outbox rows it settled (0: nothing due)."""
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
        ids = [row.id for row in rows]
        people = sorted({row.person_id for row in rows})
        session.execute(_LOCK_PEOPLE, {"ids": people})
        version = session.scalar(_NEXT_VERSION)
        versions: dict[uuid.UUID, int] = dict.fromkeys(people, version)
        try:
            with session.begin_nested():
                upserts, deletes = documents.load(session, versions)
                backend.apply(session, upserts, deletes)
        except Exception as exc:  # the engine or the data failed: keep the rows, retry later
            _postpone(session, ids, exc)
            return 0
        session.execute(delete(SearchOutbox).where(SearchOutbox.id.in_(ids)))
        return len(ids)


def _postpone(session: Session, ids: list[int], exc: Exception) -> None:
    """One statement for the batch: count the attempt, back off, park rows out of attempts."""
    message = f"{type(exc).__name__}: {exc}"[:1000]
    log.warning("search indexing failed for %d outbox rows: %s", len(ids), type(exc).__name__)
    attempts = SearchOutbox.attempts + 1
    session.execute(
        update(SearchOutbox)
        .where(SearchOutbox.id.in_(ids))
        .values(
            attempts=attempts,
            last_error=message,
            next_attempt_at=func.now() + _BACKOFF,
            failed_at=case((attempts >= MAX_ATTEMPTS, func.now()), else_=None),
        )
    )


def drain(
    sessions: sessionmaker[Session], backend: SearchBackend, *, max_batches: int = 10_000
) -> int:
    """Drain until nothing is due; returns the rows settled."""
    settled = 0
    for _ in range(max_batches):
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
            settled = drain(sessions, backend, max_batches=100)
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
