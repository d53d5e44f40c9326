"""The search outbox: rows appended in the same transaction as the change they announce."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import datetime, timedelta

from sqlalchemy import BigInteger, Index, Text, insert, text
from sqlalchemy.orm import Session
from sqlmodel import Field, SQLModel

from services.registry.core.models import created_field, timestamp_field


class SearchOutbox(SQLModel, table=True):
    """A person whose search document must be rebuilt (or removed) from the database."""

    __tablename__ = "search_outbox"
    __table_args__ = (Index(None, "next_attempt_at", "id"),)

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    person_id: uuid.UUID = Field(index=True)
    enqueued_at: datetime = created_field()
    attempts: int = Field(default=0)
    next_attempt_at: datetime = created_field()
    last_error: str | None = Field(default=None, sa_type=Text)
    failed_at: datetime | None = timestamp_field()


def enqueue_people(session: Session, person_ids: Iterable[uuid.UUID]) -> None:
    """Announce that these people's documents may have changed; the worker reloads them."""
    rows = [{"person_id": pid} for pid in dict.fromkeys(person_ids)]
    if rows:
        session.execute(insert(SearchOutbox), rows)
        session.info["outbox_dirty"] = True


_STAGE = text(
    "INSERT INTO search_outbox (person_id, attempts, next_attempt_at)"
    " SELECT person_id, 0, now() + :due_in FROM unnest(CAST(:ids AS uuid[])) AS person_id"
    " RETURNING id"
)


def stage_people(session: Session, person_ids: Iterable[uuid.UUID], due_in: timedelta) -> list[int]:
    """`enqueue_people`, but due only after `due_in`; returns the rows' ids, so that whoever
    staged them can take them back."""
    ids = list(dict.fromkeys(person_ids))
    if not ids:
        return []
    return list(session.scalars(_STAGE, {"ids": ids, "due_in": due_in}))
