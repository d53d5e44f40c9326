"""What the membership endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationInfo,
    field_validator,
)

from ..auth.models import Role
from ..core import normalize
from ..core.types import AnyDate, BoundedDate, Email, Phone, RegionCode, ShortText, Text, Uscc
from ..people.schemas import IdTypeIn, PersonCreate, PersonRead
from .models import (
    ApplicationStatus,
    Grade,
    GroupActivityKind,
    GroupGrade,
    MembershipStatus,
    PeriodKind,
    TerminationReason,
)


def _folded_text(value: object) -> object:
    return normalize.fold_text(value) if isinstance(value, str) else value


GradeIn = Annotated[
    Grade, BeforeValidator(lambda v: normalize.grade(v) if isinstance(v, str) else v)
]
MemberNo = Annotated[
    str,
    BeforeValidator(lambda v: normalize.member_no(v) if isinstance(v, str) else v),
    Field(min_length=1, max_length=64, pattern=normalize.MEMBER_NO_PATTERN),
]


class InlinePerson(PersonCreate):
    """A person given in full: matched by document number, created when unknown."""

    @field_validator("org_code")
    @classmethod
    def _no_org_code(cls, value: str | None) -> str | None:
        if value is not None:
            raise ValueError("not used here: the organisation in the path records the person")
        return value


class MembershipCreate(BaseModel):
    """A membership for an existing person (`person_id`) or for one given inline (`person`)."""

    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID | None = None
    person: InlinePerson | None = Field(None, validate_default=True)
    type_code: str | None = Field(
        None,
        max_length=32,
        description="the society's membership type: its grade, period and number format apply",
    )
    grade: GradeIn = Grade.member
    status: MembershipStatus = Field(
        MembershipStatus.active,
        description="`active` lets the dates decide; `pending` waits for approval; any other"
        " status is a manual override, except `terminated` (terminate it afterwards, which"
        " records why and when)",
    )
    member_no: MemberNo | None = None
    joined_on: BoundedDate | None = None
    valid_until: BoundedDate | None = Field(None, validate_default=True)

    # Field validators (not a model validator) so that errors name the field.
    @field_validator("status")
    @classmethod
    def _not_terminated(cls, status: MembershipStatus) -> MembershipStatus:
        # A termination records why and when (POST /memberships/{id}/terminate), as on PATCH.
        if status == MembershipStatus.terminated:
            raise ValueError("a membership is not created terminated; terminate it afterwards")
        return status

    @field_validator("person")
    @classmethod
    def _one_person(cls, person: InlinePerson | None, info: ValidationInfo) -> InlinePerson | None:
        if "person_id" not in info.data:
            return person  # person_id itself failed and is reported
        if (info.data["person_id"] is None) == (person is None):
            raise ValueError("give exactly one of person_id and person")
        return person

    @field_validator("valid_until")
    @classmethod
    def _after_joining(cls, valid_until: date | None, info: ValidationInfo) -> date | None:
        joined_on = info.data.get("joined_on")
        if joined_on and valid_until and valid_until < joined_on:
            raise ValueError("must not be before joined_on")
        return valid_until


class MembershipUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type_code: str | None = Field(None, max_length=32)
    grade: GradeIn | None = None
    status: MembershipStatus | None = Field(
        None,
        description="set by hand: kept (with `reason`) until `clear_override`; pending ->"
        " active approves",
    )
    clear_override: bool = Field(False, description="let the dates decide the status again")
    member_no: MemberNo | None = None
    joined_on: BoundedDate | None = None
    valid_until: BoundedDate | None = None
    reason: Text | None = Field(None, description="why; kept in the history")


class MembershipRead(BaseModel):
    id: uuid.UUID
    org_code: str
    org_name: str
    person_id: uuid.UUID
    person_name: str
    type_code: str | None
    grade: Grade
    status: MembershipStatus
    status_override: MembershipStatus | None = Field(
        description="a status set by hand, kept until cleared"
    )
    override_reason: str | None
    termination_reason: TerminationReason | None
    awaiting_approval: bool = Field(
        description="created pending and not yet approved: pending again once a hold is lifted"
    )
    member_no: str | None
    joined_on: date | None
    valid_until: date | None
    ended_on: date | None
    created_at: datetime
    updated_at: datetime


class MembershipCreated(MembershipRead):
    person_matched: bool = Field(
        description="true when an inline person matched an existing profile: by document"
        " number, or by name and birth date with the same phone or e-mail"
    )


class GrantRead(BaseModel):
    role: Role
    org_code: str | None


class AccountRead(BaseModel):
    username: str
    kind: str
    grants: list[GrantRead]


class MeRead(BaseModel):
    """The signed-in account, its own profile (unmasked) and every membership it holds."""

    account: AccountRead
    person: PersonRead | None
    memberships: list[MembershipRead]


class MeUpdate(BaseModel):
    """What members correct themselves: contact data and whether experts search may find them."""

    model_config = ConfigDict(extra="forbid")

    phone: Phone | None = None
    email: Email | None = None
    name_en: ShortText | None = None
    expert_opt_in: bool | None = None


# --- membership types and lifecycle actions -----------------------------------------------------

TypeCode = Annotated[
    str,
    BeforeValidator(lambda v: normalize.fold(v).lower() if isinstance(v, str) else v),
    Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$", description="short code, unique in the society"),
]


def _member_no_format(value: object) -> object:
    if isinstance(value, str):
        from .lifecycle import check_format

        return check_format(normalize.fold(value))
    return value


MemberNoFormat = Annotated[
    str,
    BeforeValidator(_member_no_format),
    Field(
        max_length=64,
        description="e.g. `CSTAM-{year}-{seq:06d}`: `{seq}` (the society's sequence, never"
        " reused), `{year}` (the year of joining), `{org}` (the society's code)",
    ),
]


class MembershipTypeFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText
    grade: GradeIn = Grade.member
    period: PeriodKind = Field(
        PeriodKind.calendar_year,
        description="`calendar_year` (to 31 December), `rolling` (period_months from the"
        " start), `lifetime` (no end)",
    )
    period_months: int | None = Field(None, ge=1, le=120, validate_default=True)
    grace_days: int = Field(
        0, ge=0, le=730, description="days after the end still in good standing"
    )
    renewal_window_days: int | None = Field(
        None, ge=0, le=730, description="how many days before the end a renewal is accepted"
    )
    approval_required: bool = Field(True, description="applications wait for staff approval")
    member_no_format: MemberNoFormat | None = None

    @field_validator("period_months")
    @classmethod
    def _months_with_rolling(cls, months: int | None, info: ValidationInfo) -> int | None:
        period = info.data.get("period")
        if period == PeriodKind.rolling and months is None:
            raise ValueError("required for a rolling period")
        if period is not None and period != PeriodKind.rolling and months is not None:
            raise ValueError("only for a rolling period")
        return months


class MembershipTypeCreate(MembershipTypeFields):
    code: TypeCode


class MembershipTypeUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    grade: GradeIn | None = None
    period: PeriodKind | None = None
    period_months: int | None = Field(None, ge=1, le=120)
    grace_days: int | None = Field(None, ge=0, le=730)
    renewal_window_days: int | None = Field(None, ge=0, le=730)
    approval_required: bool | None = None
    member_no_format: MemberNoFormat | None = None
    is_active: bool | None = None


class MembershipTypeRead(BaseModel):
    code: str
    org_code: str
    name: str
    grade: Grade
    period: PeriodKind
    period_months: int | None
    grace_days: int
    renewal_window_days: int | None
    approval_required: bool
    member_no_format: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class ActionBody(BaseModel):
    """Why: kept in the membership's history with who did it."""

    model_config = ConfigDict(extra="forbid")

    reason: Text


class RenewBody(ActionBody):
    until: BoundedDate | None = Field(
        None, description="the new end; by default one period of the membership's type"
    )


class TerminateBody(ActionBody):
    termination_reason: TerminationReason | None = Field(
        None,
        validate_default=True,
        description="withdrawal (退会), expulsion (除名) or death (去世); when omitted, the"
        " reason's word if it is one of these, otherwise withdrawal",
    )

    @field_validator("termination_reason", mode="before")
    @classmethod
    def _from_reason(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):
            return normalize.termination_reason(value)
        if value is None:
            reason = info.data.get("reason")
            if reason is None:
                return None  # reason itself failed and is reported
            try:
                return normalize.termination_reason(reason)
            except ValueError:
                # A plain `{"reason"}`, as the contract has it: the member leaves. Expulsion
                # and death, which close the way back, are only ever said.
                return TerminationReason.withdrawal
        return value


# --- certificates -------------------------------------------------------------------------------


class CertificateRead(BaseModel):
    """A membership certificate: the signed token, where to verify it, and its QR code."""

    certificate_id: uuid.UUID
    token: str = Field(description="compact JWS (RS256), verifiable with /.well-known/jwks.json")
    verify_url: str
    qr_svg: str = Field(description="SVG QR code of verify_url")
    issued_at: datetime
    expires_at: datetime
    org_code: str
    org_name: str
    name: str
    grade: Grade
    member_no: str | None
    valid_until: date | None


class VerifyBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: str = Field(min_length=1, max_length=8192)


class CertificateVerification(BaseModel):
    """`valid` only when the signature is genuine and the membership is in good standing now."""

    valid: bool
    status: str = Field(
        description="the membership now (`active`, `grace`, `lapsed`, `suspended`, `pending`,"
        " `revoked` when terminated), or what is wrong with the token (`invalid`, `expired`,"
        " `unknown`)"
    )
    reason: str | None = None
    certificate_id: uuid.UUID | None = None
    issued_at: datetime | None = None
    org_code: str | None = None
    org_name: str | None = None
    member_no: str | None = None
    grade: Grade | None = None
    name: str | None = None
    valid_until: date | None = None


# --- applications and linking accounts to profiles ----------------------------------------------


class ApplicationCreate(BaseModel):
    """What a member sends to join a society."""

    model_config = ConfigDict(extra="forbid")

    type_code: str | None = Field(None, max_length=32, description="one of the society's types")
    grade: GradeIn | None = Field(
        None,
        description="by default the type's grade, or member; a type without approval admits at"
        " once only at its own grade (another grade waits for the society's staff)",
    )
    statement: Annotated[str, BeforeValidator(_folded_text)] | None = Field(
        None, max_length=4000, description="why, in the applicant's words"
    )


class ApplicationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = Field(None, description="kept with the decision; required to reject")


class ApplicationApproval(ApplicationDecision):
    type_code: str | None = Field(
        None, max_length=32, description="overrides the applicant's, with its grade"
    )
    grade: GradeIn | None = Field(None, description="overrides the applicant's (or the type's)")
    member_no: MemberNo | None = Field(
        None, description="by default the next number of the type's format"
    )


class ApplicationRead(BaseModel):
    id: uuid.UUID
    org_code: str
    org_name: str
    person_id: uuid.UUID
    person_name: str
    type_code: str | None
    grade: Grade
    statement: str | None
    status: ApplicationStatus
    submitted_at: datetime
    decided_at: datetime | None
    decided_by: str | None
    decision_reason: str | None
    membership_id: uuid.UUID | None
    member_no: str | None = Field(description="the member number given on approval")


class AccountLink(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Field(min_length=1, max_length=128)


class AccountLinkRead(BaseModel):
    person_id: uuid.UUID
    username: str | None


class ClaimCodeRead(BaseModel):
    """Shown once: hand it to the member; only its hash is kept."""

    code: str
    expires_at: datetime


class ClaimRequest(BaseModel):
    """A member links their own account: the code their society gave them and their document."""

    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=4, max_length=64)
    id_type: IdTypeIn | None = Field(None, description="as on a profile; by default resident_id")
    id_number: SecretStr = Field(min_length=1, max_length=64)


# --- statistics ---------------------------------------------------------------------------------


class CountRow(BaseModel):
    key: str
    count: int


class OrgCount(BaseModel):
    org_code: str
    org_name: str
    count: int


class RegionCount(BaseModel):
    region_code: str | None = Field(description="the province (GB/T 2260, `110000`); null unknown")
    region_name: str | None
    count: int


class YearGrowth(BaseModel):
    year: int
    joined: int
    ended: int
    members_at_year_end: int = Field(description="joined minus ended, cumulative")


class StatisticsRead(BaseModel):
    """Membership counts by each dimension (each sums to `total`), and growth by year."""

    as_of: date
    org_code: str | None = Field(
        None, description="the organisation counted with those below it; null for the scope"
    )
    total: int
    by_org: list[OrgCount]
    by_grade: list[CountRow]
    by_status: list[CountRow]
    by_gender: list[CountRow]
    by_age_band: list[CountRow] = Field(description="age on `as_of`: under_30 … 70_plus, unknown")
    by_region_of_origin: list[CountRow]
    by_region: list[RegionCount] = Field(description="the province where the member works")
    joined_without_date: int
    growth_by_year: list[YearGrowth]


# --- group members (团体会员) -------------------------------------------------------------------

GroupGradeIn = Annotated[
    GroupGrade, BeforeValidator(lambda v: normalize.group_grade(v) if isinstance(v, str) else v)
]


class GroupMemberCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    uscc: Uscc
    name: ShortText
    grade: GroupGradeIn = GroupGrade.member
    seats: int = Field(1, ge=0, le=1000, description="representatives it sends")
    member_no: MemberNo | None = None
    region_code: RegionCode | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    joined_on: BoundedDate | None = None
    valid_until: BoundedDate | None = None


class GroupMemberUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    grade: GroupGradeIn | None = None
    status: MembershipStatus | None = None
    seats: int | None = Field(None, ge=0, le=1000)
    member_no: MemberNo | None = None
    region_code: RegionCode | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    joined_on: BoundedDate | None = None
    valid_until: BoundedDate | None = None
    reason: Text | None = Field(None, description="why; required when the status changes")


class GroupMemberRead(BaseModel):
    id: uuid.UUID
    org_code: str
    uscc: str
    name: str
    grade: GroupGrade
    status: MembershipStatus
    seats: int
    member_no: str | None
    region_code: str | None
    contact_name: str | None
    contact_phone: str | None
    contact_email: str | None
    joined_on: date | None
    valid_until: date | None
    created_at: datetime
    updated_at: datetime


class GroupActivityCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: GroupActivityKind
    occurred_on: AnyDate
    points: int | None = Field(
        None,
        ge=0,
        le=100,
        description="by default: award 8, event 5, meeting 3, dues 2, report 2, other 1",
    )
    note: Text | None = None


class GroupActivityRead(BaseModel):
    id: uuid.UUID
    kind: GroupActivityKind
    occurred_on: date
    points: int
    note: str | None
    recorded_by: str
    created_at: datetime


class MembershipPolicyRead(BaseModel):
    org_code: str
    group_member_cap: int | None = Field(description="most group members at once; null: no cap")
    group_members: int = Field(description="group members now counted against the cap")


class MembershipPolicyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group_member_cap: int | None = Field(None, ge=0, le=100_000)


class GroupRanking(BaseModel):
    id: uuid.UUID
    uscc: str
    name: str
    grade: GroupGrade
    status: MembershipStatus
    joined_on: date | None
    activity_points: int = Field(description="points of the activities in the window")
    activities: int
    individual_members: int = Field(
        description="its staff who are individual members in good standing (institution USCC)"
    )
    score: int
    rank: int = Field(description="1 is the most active")
    flagged: bool = Field(description="in the bottom N: for review (末位淘汰)")


class GroupReport(BaseModel):
    """Group members in good standing ranked by activity; the bottom N are flagged."""

    org_code: str
    as_of: date
    window_start: date
    cap: int | None
    group_members: int
    over_cap: int
    bottom: int
    score_rule: str
    ranking: list[GroupRanking]
