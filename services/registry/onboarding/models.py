"""The import batch table: one row per run of `registry import`, with its file and its counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field, jsonb_field, timestamp_field
from ..orgs.models import _in


class ImportKind(StrEnum):
    members = "members"
    group_members = "group_members"
    orgs = "orgs"


class BatchStatus(StrEnum):
    running = "running"
    completed = "completed"
    failed = "failed"


class ImportBatch(SQLModel, table=True):
    """Who imported which file (name, size, SHA-256) when, into which organisation, and how
    it went; history rows written by the batch name it as their source (`import:<id>`)."""

    __tablename__ = "import_batch"
    __table_args__ = (
        CheckConstraint(_in("kind", ImportKind), name="kind"),
        CheckConstraint(_in("status", BatchStatus), name="status"),
        Index(None, "org_id", "started_at"),
        Index(None, "started_at"),
    )

    id: uuid.UUID = id_field()
    kind: str = Field(max_length=16)
    org_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    file_name: str = Field(sa_type=Text)
    file_size: int = Field(sa_type=BigInteger)
    file_sha256: str | None = Field(default=None, max_length=64)
    actor: str = Field(max_length=128)
    status: str = Field(default=BatchStatus.running, max_length=16)
    started_at: datetime = created_field()
    finished_at: datetime | None = timestamp_field()
    summary: dict[str, Any] = jsonb_field()
    error: str | None = Field(default=None, sa_type=Text)

    @property
    def source(self) -> str:
        """The history source of every change this batch makes."""
        return f"import:{self.id}"
