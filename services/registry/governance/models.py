"""Governance bodies with their terms, and the seats people hold in them with a position."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field
from ..orgs.models import _in


class BodyKind(StrEnum):
    council = "council"  # 理事会
    standing_council = "standing_council"  # 常务理事会
    supervisory_board = "supervisory_board"  # 监事会


class Position(StrEnum):
    president = "president"  # 理事长
    vice_president = "vice_president"  # 副理事长
    secretary_general = "secretary_general"  # 秘书长
    standing_member = "standing_member"  # 常务理事
    member = "member"  # 理事
    chief_supervisor = "chief_supervisor"  # 监事长
    supervisor = "supervisor"  # 监事


# Which positions each body has.
POSITIONS: dict[BodyKind, frozenset[Position]] = {
    BodyKind.council: frozenset(
        {Position.president, Position.vice_president, Position.secretary_general, Position.member}
    ),
    BodyKind.standing_council: frozenset(
        {
            Position.president,
            Position.vice_president,
            Position.secretary_general,
            Position.standing_member,
        }
    ),
    BodyKind.supervisory_board: frozenset({Position.chief_supervisor, Position.supervisor}),
}

# Positions one person holds at a time in a body: 理事长, 秘书长, 监事长.
SINGLE_HOLDER: frozenset[Position] = frozenset(
    {Position.president, Position.secretary_general, Position.chief_supervisor}
)


class GovernanceBody(SQLModel, table=True):
    """One term (届) of one body of an organisation, e.g. the 11th council of CSTAM."""

    __tablename__ = "governance_body"
    __table_args__ = (
        UniqueConstraint("org_id", "kind", "term_no"),
        CheckConstraint(_in("kind", BodyKind), name="kind"),
        CheckConstraint("term_no >= 1", name="term_no"),
        CheckConstraint("seats >= 1", name="seats"),
        CheckConstraint("term_end IS NULL OR term_end >= term_start", name="term"),
    )

    id: uuid.UUID = id_field()
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    kind: str = Field(max_length=24)
    term_no: int
    name: str | None = Field(default=None, sa_type=Text)
    term_start: date
    term_end: date | None = None
    seats: int
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class BodySeat(SQLModel, table=True):
    """A person's seat in a body's term, with their position; ended seats stay on record."""

    __tablename__ = "body_seat"
    __table_args__ = (
        UniqueConstraint("body_id", "person_id"),
        CheckConstraint(_in("position", Position), name="position"),
        CheckConstraint(
            "ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on", name="dates"
        ),
        Index(None, "person_id"),
    )

    id: uuid.UUID = id_field()
    body_id: uuid.UUID = Field(foreign_key="governance_body.id")
    person_id: uuid.UUID = Field(foreign_key="person.id")
    position: str = Field(max_length=24)
    started_on: date | None = None
    ended_on: date | None = None
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)
