"""What one running service holds: settings, the engine, keys and the PII cipher."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session, sessionmaker

from ..auth.principals import Principal
from ..auth.tokens import AccessTokens, KeySet
from .cache import ExpiringCache
from .config import Settings
from .db import ReadPool, make_engine, make_sessionmaker
from .security import PiiCipher

if TYPE_CHECKING:
    from services.search.protocol import SearchBackend
    from services.search.worker import InlineDrainer


READ_POOL_SIZE = 8


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    read_sessions: sessionmaker[Session]
    reads: ReadPool  # the busiest single-row reads, on the event loop
    keys: KeySet
    access_tokens: AccessTokens
    pii: PiiCipher
    search: SearchBackend
    drainer: InlineDrainer | None = field(default=None)
    principals: ExpiringCache[Principal] = field(default_factory=lambda: ExpiringCache(10_000))

    @classmethod
    def build(cls, settings: Settings, database_url: str) -> Runtime:
        from services.search.backends import make_backend

        engine = make_engine(database_url, pool_size=settings.db_pool_size)
        keys = KeySet.from_settings(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            read_sessions=make_sessionmaker(engine.execution_options(isolation_level="AUTOCOMMIT")),
            # A handful per process: each statement holds its connection for well under 1 ms.
            reads=ReadPool(database_url, engine.dialect, max_size=READ_POOL_SIZE),
            keys=keys,
            access_tokens=AccessTokens(keys, settings),
            pii=PiiCipher(settings.pii_key_bytes, settings.blind_index_key_bytes),
            search=make_backend(settings),
        )

    def start_inline_drain(self) -> None:
        """Drain the search outbox in this process right after each commit that fed it."""
        from services.search.worker import InlineDrainer

        if self.drainer is not None:
            return
        self.drainer = InlineDrainer(self.sessions, self.search)
        self.drainer.start()

        def _committed(session: Session) -> None:
            if session.info.pop("outbox_dirty", False) and self.drainer is not None:
                self.drainer.wake()

        def _rolled_back(session: Session) -> None:
            session.info.pop("outbox_dirty", None)

        event.listen(self.sessions, "after_commit", _committed)
        event.listen(self.sessions, "after_rollback", _rolled_back)

    def close(self) -> None:
        if self.drainer is not None:
            self.drainer.stop()
            self.drainer = None
        self.engine.dispose()
