"""Where a replay starts: the oldest moment a change that a later snapshot cannot see can be
stamped with. SQLAlchemy's core only, so that the membership refresh command can load it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

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


def replay_point_on(conn: Session | Connection) -> datetime:
    """Where to replay from after work whose snapshots are all taken after this call returns
    (later statements of a READ COMMITTED transaction, or later transactions).

    A change missing from such a snapshot was committed after it, by a transaction that either
    began after this call (its timestamps are later than now) or was open during it (its
    timestamps are later than its start). Either way it is stamped at or after the returned
    instant, less CLOCK_SKEW. Called inside a transaction, that transaction's own start
    counts too.
    """
    point: datetime = conn.execute(_REPLAY_POINT).scalar_one()
    return point - CLOCK_SKEW
