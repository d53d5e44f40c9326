"""Alembic environment: runs migrations online against the URL the caller supplies."""

from __future__ import annotations

import os
import time

from alembic import context
from sqlalchemy import Connection, create_engine, pool, text

from services.registry.core.db import sqlalchemy_url
from services.registry.models import metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url") or os.environ.get("DATABASE_URL")
    if not url:
        raise RuntimeError("no database URL: pass one or set DATABASE_URL")
    return sqlalchemy_url(url)


_TRY_LOCK = text("SELECT pg_try_advisory_lock(hashtextextended('registry migrations', 0))")


def _take_turns(conn: Connection) -> None:
    """Wait until no other upgrade of this database runs (two replicas, or an operator beside
    the migration job): the second finds what the first applied instead of failing half-way on
    the same tables. The lock is the session's, held until the connection closes. It is tried
    between short transactions, not waited for in one: an index the first builds CONCURRENTLY
    waits for every open transaction, the waiting one's included, which would never end."""
    while not conn.execute(_TRY_LOCK).scalar():
        conn.rollback()
        time.sleep(0.5)
    conn.commit()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as conn:
        _take_turns(conn)
        context.configure(connection=conn, target_metadata=metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported; run against a database")
run_migrations_online()
