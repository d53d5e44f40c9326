"""What one running service holds: settings, the engine, keys and the PII cipher."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from ..auth.tokens import AccessTokens, KeySet
from .config import Settings
from .db import make_engine, make_sessionmaker
from .security import PiiCipher


@dataclass
class Runtime:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    keys: KeySet
    access_tokens: AccessTokens
    pii: PiiCipher

    @classmethod
    def build(cls, settings: Settings, database_url: str) -> Runtime:
        engine = make_engine(database_url, pool_size=settings.db_pool_size)
        keys = KeySet.from_settings(settings)
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            keys=keys,
            access_tokens=AccessTokens(keys, settings),
            pii=PiiCipher(settings.pii_key_bytes, settings.blind_index_key_bytes),
        )
