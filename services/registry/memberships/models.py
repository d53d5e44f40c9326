"""The membership table: one per person and organisation, member numbers unique per organisation."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field
from ..orgs.models import _in


class Grade(StrEnum):
    student = "student"
    member = "member"
    senior = "senior"
    fellow = "fellow"
    honorary = "honorary"


class MembershipStatus(StrEnum):
    pending = "pending"
    active = "active"
    lapsed = "lapsed"
    suspended = "suspended"
    terminated = "terminated"


class Membership(SQLModel, table=True):
    """A person's membership of one organisation."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("org_id", "member_no"),
        UniqueConstraint("org_id", "person_id"),
        CheckConstraint(_in("grade", Grade), name="grade"),
        CheckConstraint(_in("status", MembershipStatus), name="status"),
        CheckConstraint(
            "valid_until IS NULL OR joined_on IS NULL OR valid_until >= joined_on", name="dates"
        ),
    )

    id: uuid.UUID = id_field()
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    person_id: uuid.UUID = Field(foreign_key="person.id", index=True)
    grade: str = Field(default=Grade.member, max_length=16)
    status: str = Field(default=MembershipStatus.active, max_length=16)
    member_no: str | None = Field(default=None, max_length=64)
    joined_on: date | None = None
    valid_until: date | None = None
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)
