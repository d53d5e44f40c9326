"""The membership table: one per person and organisation, member numbers unique per organisation."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    text,
)
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field, timestamp_field
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
    grace = "grace"
    lapsed = "lapsed"
    suspended = "suspended"
    terminated = "terminated"


class PeriodKind(StrEnum):
    """How long a membership runs: to the end of a calendar year, N months, or for life."""

    calendar_year = "calendar_year"
    rolling = "rolling"
    lifetime = "lifetime"


class TerminationReason(StrEnum):
    withdrawal = "withdrawal"  # 退会
    expulsion = "expulsion"  # 除名
    death = "death"  # 去世


# Statuses only people set (never the dates): a manual hold kept until it is cleared.
HELD_STATUSES = (MembershipStatus.suspended, MembershipStatus.terminated)
# A membership in good standing: a member whose dues are at most in their grace period.
GOOD_STANDING = (MembershipStatus.active, MembershipStatus.grace)


class MembershipType(SQLModel, table=True):
    """A kind of membership a society offers: its grade and the rules its dates follow."""

    __tablename__ = "membership_type"
    __table_args__ = (
        UniqueConstraint("org_id", "code"),
        CheckConstraint(_in("grade", Grade), name="grade"),
        CheckConstraint(_in("period", PeriodKind), name="period"),
        CheckConstraint(
            "(period = 'rolling') = (period_months IS NOT NULL)", name="rolling_months"
        ),
        CheckConstraint("period_months IS NULL OR period_months BETWEEN 1 AND 120", name="months"),
        CheckConstraint("grace_days BETWEEN 0 AND 730", name="grace_days"),
        CheckConstraint(
            "renewal_window_days IS NULL OR renewal_window_days BETWEEN 0 AND 730",
            name="renewal_window_days",
        ),
    )

    id: uuid.UUID = id_field()
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    code: str = Field(max_length=32)
    name: str = Field(sa_type=Text)
    grade: str = Field(default=Grade.member, max_length=16)
    period: str = Field(default=PeriodKind.calendar_year, max_length=16)
    period_months: int | None = None
    grace_days: int = Field(default=0)
    renewal_window_days: int | None = None
    approval_required: bool = Field(default=True)
    member_no_format: str | None = Field(default=None, max_length=64)
    is_active: bool = Field(default=True)
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class MemberNoSequence(SQLModel, table=True):
    """The last sequence number a society handed out; locked while the next one is drawn,
    and never decremented, so a number is never given twice."""

    __tablename__ = "member_no_sequence"

    org_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True)
    last_value: int = Field(default=0, sa_type=BigInteger)


class Membership(SQLModel, table=True):
    """A person's membership of one organisation.

    `status` is computed from the dates by the rules in `lifecycle.py`, unless
    `status_override` holds a status set by hand (suspension, termination, or a manual
    override), which is kept until it is cleared. `awaiting_approval` says that it was created
    pending and not yet approved, also while a hold hides the `pending`."""

    __tablename__ = "membership"
    __table_args__ = (
        UniqueConstraint("org_id", "member_no"),
        # Also the index for lookups by person (migration 0014).
        UniqueConstraint("person_id", "org_id"),
        # A society's member list, oldest first, a page at a time (migration 0026), and the
        # people of an organisation by index alone (migration 0028).
        Index(None, "org_id", "id", postgresql_include=["person_id"]),
        CheckConstraint(_in("grade", Grade), name="grade"),
        CheckConstraint(_in("status", MembershipStatus), name="status"),
        CheckConstraint(
            "valid_until IS NULL OR joined_on IS NULL OR valid_until >= joined_on", name="dates"
        ),
        CheckConstraint(_in("status_override", MembershipStatus), name="status_override"),
        CheckConstraint(_in("termination_reason", TerminationReason), name="termination_reason"),
        CheckConstraint(
            "termination_reason IS NULL OR status_override = 'terminated'", name="terminated"
        ),
    )

    id: uuid.UUID = id_field()
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    person_id: uuid.UUID = Field(foreign_key="person.id")
    type_id: uuid.UUID | None = Field(default=None, foreign_key="membership_type.id")
    grade: str = Field(default=Grade.member, max_length=16)
    status: str = Field(default=MembershipStatus.active, max_length=16)
    status_override: str | None = Field(default=None, max_length=16)
    override_reason: str | None = Field(default=None, sa_type=Text)
    termination_reason: str | None = Field(default=None, max_length=16)
    awaiting_approval: bool = Field(default=False, sa_column_kwargs={"server_default": "false"})
    member_no: str | None = Field(default=None, max_length=64)
    joined_on: date | None = None
    valid_until: date | None = None
    ended_on: date | None = None
    # The import batch that created it, standing for a `created` history row (as on person).
    import_batch_id: uuid.UUID | None = None
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class GroupGrade(StrEnum):
    member = "member"
    council = "council"
    standing_council = "standing_council"
    vice_president = "vice_president"


class GroupMembership(SQLModel, table=True):
    """团体会员: an institution's membership of an organisation, keyed by its USCC."""

    __tablename__ = "group_membership"
    __table_args__ = (
        UniqueConstraint("org_id", "uscc"),
        UniqueConstraint("org_id", "member_no"),
        CheckConstraint(_in("grade", GroupGrade), name="grade"),
        CheckConstraint(_in("status", MembershipStatus), name="status"),
        CheckConstraint(
            "valid_until IS NULL OR joined_on IS NULL OR valid_until >= joined_on", name="dates"
        ),
        Index(None, "uscc"),
        CheckConstraint("seats BETWEEN 0 AND 1000", name="seats"),
    )

    id: uuid.UUID = id_field()
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    uscc: str = Field(max_length=18)
    name: str = Field(sa_type=Text)
    grade: str = Field(default=GroupGrade.member, max_length=24)
    status: str = Field(default=MembershipStatus.active, max_length=16)
    member_no: str | None = Field(default=None, max_length=64)
    region_code: str | None = Field(default=None, max_length=6)
    # Representatives the institution sends to the society's assemblies.
    seats: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    contact_name: str | None = Field(default=None, sa_type=Text)
    contact_phone: str | None = Field(default=None, max_length=24)
    contact_email: str | None = Field(default=None, max_length=254)
    joined_on: date | None = None
    valid_until: date | None = None
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class MembershipCertificate(SQLModel, table=True):
    """A signed membership certificate handed out (会员认证): its id is the token's `jti`,
    so verification finds the membership and answers with its status now. The token is kept
    so that asking again for unchanged data gives the same certificate."""

    __tablename__ = "membership_certificate"
    __table_args__ = (Index(None, "membership_id", "issued_at"),)

    id: uuid.UUID = id_field()
    membership_id: uuid.UUID = Field(foreign_key="membership.id")
    digest: str = Field(max_length=64)  # SHA-256 of what the certificate asserts
    token: str = Field(sa_type=Text)
    issued_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    issued_by: str = Field(max_length=128)


class ApplicationStatus(StrEnum):
    submitted = "submitted"
    approved = "approved"
    rejected = "rejected"
    withdrawn = "withdrawn"


class MembershipApplication(SQLModel, table=True):
    """A member's application to join a society (入会申请), decided by its staff. At most one
    application per person and society waits for a decision (a partial unique index)."""

    __tablename__ = "membership_application"
    __table_args__ = (
        CheckConstraint(_in("status", ApplicationStatus), name="status"),
        CheckConstraint(_in("grade", Grade), name="grade"),
        Index(
            "uq_membership_application_org_id_person_id_submitted",
            "org_id",
            "person_id",
            unique=True,
            postgresql_where=text("status = 'submitted'"),
        ),
        Index(None, "org_id", "status", "id"),
        Index(None, "person_id"),
    )

    id: uuid.UUID = id_field()
    org_id: uuid.UUID = Field(foreign_key="organisation.id")
    person_id: uuid.UUID = Field(foreign_key="person.id")
    account_id: uuid.UUID | None = Field(
        default=None, foreign_key="account.id", ondelete="SET NULL"
    )
    type_id: uuid.UUID | None = Field(default=None, foreign_key="membership_type.id")
    grade: str = Field(default=Grade.member, max_length=16)
    statement: str | None = Field(default=None, sa_type=Text)
    status: str = Field(default=ApplicationStatus.submitted, max_length=16)
    submitted_at: datetime = created_field()
    decided_at: datetime | None = timestamp_field()
    decided_by: str | None = Field(default=None, max_length=128)
    decision_reason: str | None = Field(default=None, sa_type=Text)
    membership_id: uuid.UUID | None = Field(default=None, foreign_key="membership.id")


class ClaimCode(SQLModel, table=True):
    """A one-time code a society hands a member (by letter, SMS, at its desk) so that they
    can link their account to their profile themselves, together with their document number.
    Only its SHA-256 is kept; it expires, and it works once."""

    __tablename__ = "claim_code"
    __table_args__ = (Index(None, "person_id"),)

    id: uuid.UUID = id_field()
    person_id: uuid.UUID = Field(foreign_key="person.id", ondelete="CASCADE")
    code_hash: bytes = Field(sa_type=LargeBinary, unique=True)
    created_by: str = Field(max_length=128)
    created_at: datetime = created_field()
    expires_at: datetime = Field(sa_type=DateTime(timezone=True))
    used_at: datetime | None = timestamp_field()
    used_by: uuid.UUID | None = Field(default=None, foreign_key="account.id", ondelete="SET NULL")


class MembershipPolicy(SQLModel, table=True):
    """A society's settings that are not per membership type: the cap on group members
    (总量控制) that new group members may not exceed."""

    __tablename__ = "membership_policy"
    __table_args__ = (
        CheckConstraint(
            "group_member_cap IS NULL OR group_member_cap >= 0", name="group_member_cap"
        ),
    )

    org_id: uuid.UUID = Field(foreign_key="organisation.id", primary_key=True)
    group_member_cap: int | None = None
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class GroupActivityKind(StrEnum):
    meeting = "meeting"  # attended an assembly or council meeting
    event = "event"  # organised or co-organised an academic event
    dues = "dues"  # paid dues on time
    award = "award"  # won or nominated for an award
    report = "report"  # filed its annual report
    other = "other"


# Points each kind earns unless staff give others; the activity score is their sum.
ACTIVITY_POINTS = {
    GroupActivityKind.meeting: 3,
    GroupActivityKind.event: 5,
    GroupActivityKind.dues: 2,
    GroupActivityKind.award: 8,
    GroupActivityKind.report: 2,
    GroupActivityKind.other: 1,
}


class GroupActivity(SQLModel, table=True):
    """Something a group member did for the society, recorded by its staff with points."""

    __tablename__ = "group_activity"
    __table_args__ = (
        CheckConstraint(_in("kind", GroupActivityKind), name="kind"),
        CheckConstraint("points BETWEEN 0 AND 100", name="points"),
        Index(None, "group_membership_id", "occurred_on"),
    )

    id: uuid.UUID = id_field()
    group_membership_id: uuid.UUID = Field(foreign_key="group_membership.id")
    kind: str = Field(max_length=16)
    occurred_on: date
    points: int
    note: str | None = Field(default=None, sa_type=Text)
    recorded_by: str = Field(max_length=128)
    created_at: datetime = created_field()
