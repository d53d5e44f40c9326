"""Award tables: programmes, cycles and channels, nominations, conflicts, reviews, credibility."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Float, Index, Text, UniqueConstraint, Uuid, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Column, Field, SQLModel

from ..core.models import created_field, id_field, jsonb_field, timestamp_field
from ..orgs.models import _in


class ProgrammeKind(StrEnum):
    award = "award"
    academician = "academician"
    talent_programme = "talent_programme"


class NominationStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    eligible = "eligible"
    ineligible = "ineligible"
    in_review = "in_review"
    scored = "scored"
    shortlisted = "shortlisted"
    awarded = "awarded"
    not_awarded = "not_awarded"
    withdrawn = "withdrawn"


class AssignmentStatus(StrEnum):
    assigned = "assigned"
    reviewed = "reviewed"
    conflict_declared = "conflict_declared"
    missed = "missed"


class AssignmentSource(StrEnum):
    solver = "solver"
    forced = "forced"
    replacement = "replacement"


class ConflictSide(StrEnum):
    reviewer = "reviewer"
    nominee = "nominee"
    committee = "committee"


class EventKind(StrEnum):
    on_time = "on_time"
    late = "late"
    missed = "missed"
    declared_conflict = "declared_conflict"
    undeclared_conflict = "undeclared_conflict"
    outlier_scores = "outlier_scores"
    misconduct = "misconduct"


class Programme(SQLModel, table=True):
    """An award or talent programme owned by an organisation; its eligibility rules are data."""

    __tablename__ = "award_programme"
    __table_args__ = (CheckConstraint(_in("kind", ProgrammeKind), name="kind"),)

    id: uuid.UUID = id_field()
    code: str = Field(max_length=32, unique=True)
    name: str = Field(sa_type=Text)
    name_en: str | None = Field(default=None, sa_type=Text)
    owner_org_id: uuid.UUID = Field(foreign_key="organisation.id", index=True)
    kind: str = Field(default=ProgrammeKind.award, max_length=24)
    rules: dict[str, Any] = jsonb_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class Cycle(SQLModel, table=True):
    """One year's round of a programme: nomination window, age cutoff, review settings."""

    __tablename__ = "award_cycle"
    __table_args__ = (
        UniqueConstraint("programme_id", "year"),
        CheckConstraint("nominations_close >= nominations_open", name="window"),
        CheckConstraint("reviewers_per_nomination >= 1", name="reviewers_per_nomination"),
        CheckConstraint("max_load >= 1", name="max_load"),
        CheckConstraint("score_max > score_min", name="scale"),
    )

    id: uuid.UUID = id_field()
    programme_id: uuid.UUID = Field(foreign_key="award_programme.id")
    year: int
    nominations_open: date
    nominations_close: date
    age_cutoff_date: date
    reviewers_per_nomination: int = Field(default=5)
    max_load: int = Field(default=5)
    max_per_institution: int | None = None
    min_per_panel: dict[str, Any] = jsonb_field()
    conflict_years: int = Field(default=3)
    criteria: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    score_min: int = Field(default=0)
    score_max: int = Field(default=10)
    review_due: date | None = None
    review_deadline: date | None = None
    review_closed_at: datetime | None = timestamp_field()
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class Channel(SQLModel, table=True):
    """An organisation that may nominate in a cycle, and how many nominees it may put forward."""

    __tablename__ = "award_channel"
    __table_args__ = (
        UniqueConstraint("cycle_id", "org_id"),
        CheckConstraint("quota >= 0", name="quota"),
    )

    id: uuid.UUID = id_field()
    cycle_id: uuid.UUID = Field(foreign_key="award_cycle.id", index=True)
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    quota: int


class Nomination(SQLModel, table=True):
    """A nominee put forward by a channel; the profile is frozen into `snapshot` at submission."""

    __tablename__ = "nomination"
    __table_args__ = (
        CheckConstraint(_in("status", NominationStatus), name="status"),
        # One live nomination per nominee per cycle; a withdrawn one frees the place.
        Index(
            "uq_nomination_cycle_id_nominee_person_id",
            "cycle_id",
            "nominee_person_id",
            unique=True,
            postgresql_where=text("status <> 'withdrawn'"),
        ),
        Index(None, "cycle_id", "status"),
        Index(None, "channel_id"),
        Index(None, "nominee_person_id"),
    )

    id: uuid.UUID = id_field()
    nomination_no: str = Field(max_length=64, unique=True)
    cycle_id: uuid.UUID = Field(foreign_key="award_cycle.id")
    channel_id: uuid.UUID = Field(foreign_key="award_channel.id")
    nominee_person_id: uuid.UUID = Field(foreign_key="person.id")
    team_person_ids: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(Uuid), nullable=False, server_default="{}"),
    )
    summary: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=NominationStatus.draft, max_length=16)
    failures: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSONB, nullable=False, server_default="[]")
    )
    snapshot: dict[str, Any] | None = Field(default=None, sa_column=Column(JSONB, nullable=True))
    submitted_at: datetime | None = timestamp_field()
    decided_at: datetime | None = timestamp_field()
    created_by: str = Field(max_length=128)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class DeclaredConflict(SQLModel, table=True):
    """A conflict of interest declared by the reviewer, the nominee's side or the committee."""

    __tablename__ = "declared_conflict"
    __table_args__ = (
        CheckConstraint(_in("side", ConflictSide), name="side"),
        CheckConstraint("reviewer_person_id <> nominee_person_id", name="two_people"),
        Index(None, "reviewer_person_id"),
        Index(None, "nominee_person_id"),
    )

    id: uuid.UUID = id_field()
    reviewer_person_id: uuid.UUID = Field(foreign_key="person.id")
    nominee_person_id: uuid.UUID = Field(foreign_key="person.id")
    nomination_id: uuid.UUID | None = Field(default=None, foreign_key="nomination.id")
    side: str = Field(max_length=16)
    reason: str = Field(sa_type=Text)
    declared_on: date
    declared_by: str = Field(max_length=128)
    created_at: datetime = created_field()


class Assignment(SQLModel, table=True):
    """A reviewer on a nomination's panel."""

    __tablename__ = "review_assignment"
    __table_args__ = (
        UniqueConstraint("nomination_id", "reviewer_person_id"),
        CheckConstraint(_in("status", AssignmentStatus), name="status"),
        CheckConstraint(_in("source", AssignmentSource), name="source"),
        Index(None, "cycle_id", "status"),
        Index(None, "reviewer_person_id", "status"),
    )

    id: uuid.UUID = id_field()
    cycle_id: uuid.UUID = Field(foreign_key="award_cycle.id")
    nomination_id: uuid.UUID = Field(foreign_key="nomination.id")
    reviewer_person_id: uuid.UUID = Field(foreign_key="person.id")
    status: str = Field(default=AssignmentStatus.assigned, max_length=24)
    source: str = Field(default=AssignmentSource.solver, max_length=16)
    affinity: float = Field(default=0.0, sa_type=Float)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()


class Review(SQLModel, table=True):
    """One reviewer's scores for one assignment, per criterion, and their weighted total."""

    __tablename__ = "review"

    id: uuid.UUID = id_field()
    assignment_id: uuid.UUID = Field(foreign_key="review_assignment.id", unique=True)
    scores: dict[str, Any] = jsonb_field()
    weighted_total: float = Field(sa_type=Float)
    comment: str | None = Field(default=None, sa_type=Text)
    late: bool = Field(default=False)
    submitted_at: datetime = created_field()
    updated_at: datetime = created_field()


class ReviewerEvent(SQLModel, table=True):
    """One entry of a reviewer's credibility record (评审专家信誉记录)."""

    __tablename__ = "reviewer_event"
    __table_args__ = (
        CheckConstraint(_in("kind", EventKind), name="kind"),
        Index(None, "reviewer_person_id", "created_at"),
    )

    id: uuid.UUID = id_field()
    reviewer_person_id: uuid.UUID = Field(foreign_key="person.id")
    kind: str = Field(max_length=24)
    delta: int
    cycle_id: uuid.UUID | None = Field(default=None, foreign_key="award_cycle.id")
    nomination_id: uuid.UUID | None = Field(default=None, foreign_key="nomination.id")
    assignment_id: uuid.UUID | None = Field(default=None, foreign_key="review_assignment.id")
    note: str | None = Field(default=None, sa_type=Text)
    recorded_by: str = Field(max_length=128)
    created_at: datetime = created_field()
