"""The organisation table: a tree addressed by stable codes, with a lifecycle status."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Text
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field


class OrgKind(StrEnum):
    federation = "federation"
    national_society = "national_society"
    provincial_association = "provincial_association"
    local_association = "local_association"
    university_association = "university_association"
    enterprise_association = "enterprise_association"
    park_association = "park_association"


class OrgStatus(StrEnum):
    active = "active"
    probation = "probation"
    suspended = "suspended"
    exited = "exited"


def _in(column: str, values: type[StrEnum]) -> str:
    return f"{column} IN ({', '.join(repr(v.value) for v in values)})"


class Organisation(SQLModel, table=True):
    """A society or association; `path` holds the ids from the root down, for scope checks."""

    __tablename__ = "organisation"
    __table_args__ = (
        CheckConstraint(_in("kind", OrgKind), name="kind"),
        CheckConstraint(_in("status", OrgStatus), name="status"),
        Index("ix_organisation_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: uuid.UUID = id_field()
    code: str = Field(max_length=32, unique=True)
    name: str = Field(sa_type=Text)
    name_en: str | None = Field(default=None, sa_type=Text)
    kind: str = Field(max_length=32)
    parent_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id", index=True)
    path: str = Field(sa_type=Text)
    uscc: str | None = Field(default=None, max_length=18, unique=True)
    region_code: str | None = Field(default=None, max_length=6)
    status: str = Field(default=OrgStatus.active, max_length=16)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)
