"""Column helpers shared by the domain tables: time-ordered ids, UTC timestamps, history."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, PrimaryKeyConstraint, Text, func
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Column, Field, SQLModel

from .db import metadata
from .ids import uuid7

# Importing db first puts the naming convention on SQLModel.metadata before any table exists.
__all__ = ["ChangeRecord", "metadata"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def id_field() -> Any:
    return Field(default_factory=uuid7, primary_key=True)


def created_field() -> Any:
    return Field(
        default_factory=utcnow,
        sa_type=DateTime(timezone=True),
        sa_column_kwargs={"server_default": func.now(), "nullable": False},
    )


def timestamp_field(*, nullable: bool = True, index: bool = False) -> Any:
    return Field(default=None, sa_type=DateTime(timezone=True), nullable=nullable, index=index)


def text_list_field() -> Any:
    return Field(
        default_factory=list,
        sa_column=Column(ARRAY(Text), nullable=False, server_default="{}"),
    )


def jsonb_field() -> Any:
    return Field(default_factory=dict, sa_column=Column(JSONB, nullable=False, server_default="{}"))


class ChangeRecord(SQLModel, table=True):
    """One field's change on one object: old and new value (sensitive ones masked), who, why."""

    __tablename__ = "change_history"
    # One object's history in order, which is also the key: object ids are unique across tables
    # (migration 0015) and `id` comes from a sequence, so each entry costs one index entry
    # (migration 0017).
    __table_args__ = (PrimaryKeyConstraint("entity_id", "id"),)

    id: int | None = Field(
        default=None,
        sa_type=BigInteger,
        primary_key=True,
        sa_column_kwargs={"autoincrement": True},
    )
    entity: str = Field(max_length=32)
    entity_id: uuid.UUID = Field(primary_key=True)
    change_id: uuid.UUID
    field: str = Field(max_length=64)
    old_value: str | None = Field(default=None, sa_type=Text)
    new_value: str | None = Field(default=None, sa_type=Text)
    reason: str | None = Field(default=None, sa_type=Text)
    actor: str = Field(max_length=128)
    source: str = Field(max_length=128)
    changed_at: datetime = created_field()
