"""The audit_event table: append-only records of sensitive reads and security events."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index
from sqlmodel import Field, SQLModel

from ..core.models import created_field, jsonb_field


class AuditEvent(SQLModel, table=True):
    """One sensitive action: an unmasked read, an account link, a refresh-token reuse, a lockout."""

    __tablename__ = "audit_event"
    # Read newest first, by one of these or by id alone (object ids are unique across types).
    __table_args__ = (
        Index(None, "object_id", "id"),
        Index(None, "action", "id"),
        Index(None, "actor", "id"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    at: datetime = created_field()
    actor_id: uuid.UUID | None = None
    actor: str = Field(max_length=128)
    action: str = Field(max_length=64)
    object_type: str | None = Field(default=None, max_length=32)
    object_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = jsonb_field()
