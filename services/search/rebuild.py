"""Rebuilding the index from PostgreSQL: stream every searchable person, then replay the changes
that arrived meanwhile. Each backend swaps its new index in atomically."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, sessionmaker

from services.registry.core.db import transaction
from services.registry.memberships.models import Membership
from services.registry.people.models import Person

from . import documents
from .outbox import enqueue_people

BATCH = 2_000
# Changes committed up to this long before the rebuild started may be missing from its snapshot
# (a transaction that began earlier and committed late); they are replayed through the outbox.
REPLAY_MARGIN = timedelta(minutes=10)
REBUILD_VERSION = 0  # any later outbox write (version = its id, always > 0) replaces a rebuilt doc


def database_now(sessions: sessionmaker[Session]) -> datetime:
    with sessions() as session:
        return session.scalar(select(func.now()))  # type: ignore[return-value]


def searchable_batches(
    sessions: sessionmaker[Session], batch: int = BATCH
) -> Iterator[list[documents.ExpertDocument]]:
    """Documents of every searchable person, in id order, a batch at a time."""
    after: uuid.UUID | None = None
    while True:
        with sessions() as session:
            query = (
                select(Person.id)
                .where(Person.expert_opt_in.is_(True), Person.status == "active")
                .order_by(Person.id)
                .limit(batch)
            )
            if after is not None:
                query = query.where(Person.id > after)
            ids = list(session.scalars(query))
            if not ids:
                return
            docs, _ = documents.load(session, dict.fromkeys(ids, REBUILD_VERSION))
        after = ids[-1]
        yield docs


def replay_changes_since(sessions: sessionmaker[Session], started: datetime) -> int:
    """Put people changed since the rebuild began (less the margin) back on the outbox."""
    since = started - REPLAY_MARGIN
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
