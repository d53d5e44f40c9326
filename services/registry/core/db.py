"""Database engine, sessions and the naming convention every table and migration follows."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool
from sqlalchemy import Dialect, Engine, MetaData, create_engine, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlmodel import SQLModel

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

SQLModel.metadata = MetaData(naming_convention=NAMING_CONVENTION)
metadata = SQLModel.metadata


def sqlalchemy_url(url: str) -> str:
    """Accept the usual postgresql:// spellings and pin the psycopg 3 driver."""
    for prefix in ("postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql:// URL")


def make_engine(url: str, *, pool_size: int = 20) -> Engine:
    """A pooled engine; pool plus overflow matches the 40 threads that run sync routes.

    No pre-ping (a round trip per checkout): a connection the server dropped fails once,
    SQLAlchemy then invalidates the pool, and the API answers that request with 503.
    """
    return create_engine(
        sqlalchemy_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_recycle=1800,
        connect_args={"application_name": "registry"},
        # Errors never carry the statement's values into logs or tracebacks: they hold
        # people's names, phones and e-mails.
        hide_parameters=True,
    )


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


class ReadPool:
    """Autocommit connections used on the event loop, for the busiest single-row reads.

    A read through the ORM in a worker thread cost more CPU than the rest of the request:
    SQLAlchemy's execution of even a cached statement is several times the driver's work,
    and the trip to the thread pool and back is as much again. Statements come compiled
    from SQLAlchemy constructs (`compile(dialect)`), so they are written once, as elsewhere.
    A pool belongs to one event loop: it opens on first use in the running loop and the
    application closes it on shutdown.
    """

    def __init__(self, url: str, dialect: Dialect, *, max_size: int, timeout: float = 10.0) -> None:
        self.dialect = dialect
        self._conninfo = make_url(sqlalchemy_url(url)).set(drivername="postgresql")
        self._max_size = max_size
        self._timeout = timeout  # waiting for a connection, then 503
        self._loop: asyncio.AbstractEventLoop | None = None
        self._opening: asyncio.Task[AsyncConnectionPool] | None = None

    async def _pool(self) -> AsyncConnectionPool:
        loop = asyncio.get_running_loop()
        opening = self._opening
        if opening is None or self._loop is not loop:
            self._loop = loop
            self._opening = opening = loop.create_task(self._open())
        if not opening.done():
            await asyncio.wait([opening])  # a request cancelled meanwhile leaves it opening
        if opening.cancelled() or opening.exception() is not None:
            self._opening = None  # try again on the next request
        return opening.result()

    async def _open(self) -> AsyncConnectionPool:
        pool = AsyncConnectionPool(
            self._conninfo.render_as_string(hide_password=False),
            min_size=1,
            max_size=self._max_size,
            timeout=self._timeout,
            kwargs={"autocommit": True, "application_name": "registry"},
            open=False,
        )
        await pool.open()
        return pool

    async def fetch_one(self, sql: str, params: Mapping[str, Any]) -> dict[str, Any] | None:
        """One row of a compiled statement; a database that cannot be reached is reported
        as SQLAlchemy reports it, so the API answers 503 as for any other statement."""
        try:
            pool = await self._pool()
            async with (
                pool.connection() as connection,
                connection.cursor(row_factory=dict_row) as cursor,
            ):
                await cursor.execute(sql, params)  # type: ignore[arg-type]
                return await cursor.fetchone()
        except psycopg.OperationalError as exc:  # also the pool's timeout
            raise OperationalError(sql, None, exc) from exc

    async def close(self) -> None:
        opening, self._opening, self._loop = self._opening, None, None
        if opening is None:
            return
        if not opening.done():
            await asyncio.wait([opening])
        if not opening.cancelled() and opening.exception() is None:
            await opening.result().close()


def refusal_text(exc: BaseException) -> str | None:
    """What a database error was, without its message: PostgreSQL's messages quote the values
    they refuse ("Failing row contains (...)"), which may be personal data. None for other
    exceptions."""
    orig = getattr(exc, "orig", exc)
    code = getattr(orig, "sqlstate", None)
    if not isinstance(orig, psycopg.Error) or code is None:
        return None
    constraint = getattr(orig.diag, "constraint_name", None)
    text = f"the database refused a statement: {type(orig).__name__} (SQLSTATE {code})"
    return f"{text} on constraint {constraint}" if constraint else text
