"""Rate limits shared by every API process: hit counters per client and fixed window in
PostgreSQL (public endpoints, per client address)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import DateTime, Index, Integer, bindparam, text
from sqlalchemy.orm import Session
from sqlalchemy.types import Float, String
from sqlmodel import Field, SQLModel

from .errors import TooManyRequests

if TYPE_CHECKING:
    from starlette.requests import Request

    from .runtime import Runtime


class RateLimitCounter(SQLModel, table=True):
    """How often one client hit one limit in one window. Rows of past windows are deleted by
    later hits (a few at a time), so the table holds about one row per recent client."""

    __tablename__ = "rate_limit_counter"
    __table_args__ = (Index(None, "expires_at"),)

    name: str = Field(max_length=32, primary_key=True)
    # A keyed hash of the client address (HMAC with the service's index key, so the 2**32
    # IPv4 addresses cannot simply be tried): the table is not a log of who called.
    client_key: str = Field(max_length=64, primary_key=True)
    window_start: datetime = Field(sa_type=DateTime(timezone=True), primary_key=True)
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    hits: int = Field(sa_type=Integer)


# One statement, on the database's clock so that every process agrees on the window: count
# the hit (one row per client and window, concurrent hits add up under the row lock) and
# delete a few counters of windows that have ended.
_HIT = text(
    """
    WITH stale AS (
        DELETE FROM rate_limit_counter WHERE ctid = ANY(ARRAY(
            SELECT ctid FROM rate_limit_counter WHERE expires_at <= now()
            ORDER BY expires_at LIMIT 20 FOR UPDATE SKIP LOCKED
        ))
    ), slot AS (
        SELECT to_timestamp(floor(extract(epoch FROM now()) / :window) * :window) AS start
    )
    INSERT INTO rate_limit_counter AS c (name, client_key, window_start, expires_at, hits)
    SELECT :name, :key, start, start + make_interval(secs => :window), 1 FROM slot
    ON CONFLICT (name, client_key, window_start) DO UPDATE SET hits = c.hits + 1
    RETURNING c.hits, ceil(extract(epoch FROM c.expires_at - now()))::int
    """
).bindparams(
    bindparam("window", type_=Float),
    bindparam("name", type_=String),
    bindparam("key", type_=String),
)


def hit(session: Session, *, name: str, client: str, limit: int, window: float) -> int | None:
    """Count a hit of `client` (an opaque client key, never a plain address) on the limit
    `name` (at most `limit` per `window` seconds, windows aligned on the epoch); None when
    allowed, else the seconds until the window ends. Run it on an autocommit session: the
    count holds whatever the request does next."""
    hits, retry_after = session.execute(_HIT, {"window": window, "name": name, "key": client}).one()
    if hits > limit:
        return max(1, int(retry_after))
    return None


def limit_address(
    runtime: Runtime, request: Request, *, name: str, limit: int, window: float, detail: str
) -> None:
    """Count a request against the limit `name` of its client address (keyed with the
    service's index key), in the database so that every API process shares it; past the
    limit, 429 with `Retry-After`."""
    address = request.client.host if request.client else "unknown"
    client = runtime.pii.blind_index("rate-limit", address).hex()
    with runtime.read_sessions() as counting:  # autocommit: the count stands on its own
        retry_after = hit(counting, name=name, client=client, limit=limit, window=window)
    if retry_after is not None:
        raise TooManyRequests(detail, retry_after)
