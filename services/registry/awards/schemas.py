"""What the awards endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..core.types import AnyDate, DisciplineCode, OrgCode, ShortText, Text, printable
from ..memberships.schemas import GradeIn
from ..people.schemas import GenderIn, RegionOfOriginIn
from .models import (
    AssignmentStatus,
    ConflictSide,
    EventKind,
    NominationStatus,
    ProgrammeKind,
)

ProgrammeCode = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_upper=True, pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$"),
]
CriterionCode = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]
# Prose as typed (line breaks kept, unlike `Text`), without control characters.
Summary = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=8000),
    AfterValidator(printable),
]
Comment = Annotated[
    str, StringConstraints(strip_whitespace=True, max_length=8000), AfterValidator(printable)
]
Trait = Annotated[str, StringConstraints(max_length=32), AfterValidator(printable)]
PanelMinimum = Annotated[int, Field(ge=0, le=50)]


# --- programmes ---------------------------------------------------------------------------


class RequiresMembership(BaseModel):
    """A membership in good standing (active or in grace): of any society (no `org_code`) or of
    one, optionally in some grades."""

    model_config = ConfigDict(extra="forbid")

    org_code: OrgCode | None = None
    grades: list[GradeIn] = Field(default_factory=list, max_length=5)


class ProgrammeRules(BaseModel):
    """Eligibility as data; every rule is optional, and the check explains each one that fails."""

    model_config = ConfigDict(extra="forbid")

    max_age: int | None = Field(
        None,
        ge=1,
        le=120,
        description="the nominee must be younger than this at the cycle's age cutoff date "
        "(中国青年科技奖 'under 40': 40)",
    )
    gender: GenderIn | None = None
    region_of_origin: list[RegionOfOriginIn] = Field(
        default_factory=list, max_length=5, description="allowed regions; empty: any"
    )
    requires_membership: RequiresMembership | None = None
    discipline_codes: list[DisciplineCode] = Field(
        default_factory=list,
        max_length=50,
        description="scope: the nominee has a discipline under one of these codes; empty: any",
    )
    teams_allowed: bool = False
    max_team_size: int = Field(15, ge=2, le=100, description="the lead nominee included")
    exclude_past_winners: bool = True


class ProgrammeCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: ProgrammeCode
    name: ShortText
    name_en: ShortText | None = None
    owner_org_code: OrgCode
    kind: ProgrammeKind = ProgrammeKind.award
    rules: ProgrammeRules = Field(default_factory=ProgrammeRules)


class ProgrammeRead(BaseModel):
    code: str
    name: str
    name_en: str | None
    owner_org_code: str
    kind: ProgrammeKind
    rules: ProgrammeRules
    created_at: datetime
    updated_at: datetime


# --- cycles -------------------------------------------------------------------------------


class ChannelIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    org_code: OrgCode
    quota: int = Field(ge=1, le=10_000)


class ChannelRead(BaseModel):
    org_code: str
    org_name: str
    quota: int
    used: int = Field(description="nominations of this channel that are not withdrawn")


class Criterion(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: CriterionCode
    name: ShortText
    weight: float = Field(1.0, gt=0, le=100)


DEFAULT_CRITERIA = [Criterion(code="overall", name="综合评价", weight=1.0)]


def _each_once(codes: list[str], what: str) -> None:
    """Refuse a list that names something twice, saying what."""
    twice = sorted({code for code in codes if codes.count(code) > 1})
    if twice:
        raise ValueError(f"each {what} at most once; listed twice: {', '.join(twice)}")


class CycleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    year: int = Field(ge=2000, le=2100)
    nominations_open: AnyDate
    nominations_close: AnyDate
    age_cutoff_date: AnyDate
    channels: list[ChannelIn] = Field(min_length=1, max_length=1000)
    reviewers_per_nomination: int = Field(5, ge=1, le=50)
    max_load: int = Field(5, ge=1, le=500)
    max_per_institution: int | None = Field(
        None, ge=1, description="at most this many reviewers from one institution per panel"
    )
    min_per_panel: dict[Trait, PanelMinimum] = Field(
        default_factory=dict,
        description='at least this many reviewers with a trait per panel: {"female": 1}',
    )
    conflict_years: int = Field(
        3, ge=0, le=30, description="a shared institution within this many years is a conflict"
    )
    criteria: list[Criterion] = Field(
        default_factory=lambda: list(DEFAULT_CRITERIA), min_length=1, max_length=20
    )
    score_min: int = Field(0, ge=0, le=1000)
    score_max: int = Field(10, ge=1, le=1000)
    review_due: AnyDate | None = Field(None, description="reviews after this day count as late")
    review_deadline: AnyDate | None = Field(
        None, description="no review is accepted after this day (defaults to review_due)"
    )

    # Rules between fields check the later field against the earlier ones (`info.data`), so
    # that an error names the field that breaks the rule.

    @field_validator("nominations_close")
    @classmethod
    def _closes_after_opening(cls, value: date, info: ValidationInfo) -> date:
        """The window closes on or after the day it opens."""
        opens = info.data.get("nominations_open")
        if opens is not None and value < opens:
            raise ValueError("must not be before nominations_open")
        return value

    @field_validator("channels")
    @classmethod
    def _channels_once(cls, value: list[ChannelIn]) -> list[ChannelIn]:
        """Each organisation is one channel."""
        _each_once([c.org_code for c in value], "organisation")
        return value

    @field_validator("min_per_panel")
    @classmethod
    def _minimums_fit_the_panel(cls, value: dict[str, int], info: ValidationInfo) -> dict[str, int]:
        """No minimum asks for more reviewers than a panel has."""
        k = info.data.get("reviewers_per_nomination")
        over = sorted(trait for trait, count in value.items() if k is not None and count > k)
        if over:
            raise ValueError(f"{', '.join(over)}: more than reviewers_per_nomination ({k})")
        return value

    @field_validator("criteria")
    @classmethod
    def _criteria_once(cls, value: list[Criterion]) -> list[Criterion]:
        """Each criterion code once."""
        _each_once([c.code for c in value], "code")
        return value

    @field_validator("score_max")
    @classmethod
    def _scale_is_a_range(cls, value: int, info: ValidationInfo) -> int:
        """The scale has room between its ends."""
        low = info.data.get("score_min")
        if low is not None and value <= low:
            raise ValueError("must be greater than score_min")
        return value

    @field_validator("review_deadline")
    @classmethod
    def _deadline_after_due(cls, value: date | None, info: ValidationInfo) -> date | None:
        """The deadline is not before the day reviews are due."""
        due = info.data.get("review_due")
        if value is not None and due is not None and value < due:
            raise ValueError("must not be before review_due")
        return value

    @model_validator(mode="after")
    def _deadline_defaults_to_due(self) -> CycleCreate:
        """Without a deadline, reviews are taken until they are due."""
        if self.review_deadline is None:
            self.review_deadline = self.review_due
        return self


class CycleRead(BaseModel):
    id: uuid.UUID
    programme_code: str
    programme_name: str
    year: int
    nominations_open: date
    nominations_close: date
    age_cutoff_date: date
    channels: list[ChannelRead]
    reviewers_per_nomination: int
    max_load: int
    max_per_institution: int | None
    min_per_panel: dict[str, int]
    conflict_years: int
    criteria: list[Criterion]
    score_min: int
    score_max: int
    review_due: date | None
    review_deadline: date | None
    review_closed_at: datetime | None
    created_at: datetime


# --- nominations --------------------------------------------------------------------------


class NominationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nominee_person_id: uuid.UUID
    channel_org_code: OrgCode
    summary: Summary | None = None
    team_person_ids: list[uuid.UUID] = Field(
        default_factory=list, max_length=99, description="further team members (teams only)"
    )


class FailedRule(BaseModel):
    rule: str
    reason: str


class NominationRead(BaseModel):
    id: uuid.UUID
    nomination_no: str
    cycle_id: uuid.UUID
    programme_code: str
    year: int
    channel_org_code: str
    nominee_person_id: uuid.UUID
    nominee_name: str
    team_person_ids: list[uuid.UUID]
    summary: str | None
    status: NominationStatus
    failed_rules: list[FailedRule]
    snapshot: dict[str, Any] | None = Field(
        description="the nominee's profile as submitted; reviewers see this, not later edits"
    )
    submitted_at: datetime | None
    decided_at: datetime | None
    created_at: datetime
    updated_at: datetime


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text


class Decision(BaseModel):
    """The committee's decision on a scored or shortlisted nomination."""

    model_config = ConfigDict(extra="forbid")

    status: NominationStatus = Field(description="shortlisted, awarded or not_awarded")
    reason: Text | None = None


# --- conflicts and panels -----------------------------------------------------------------


class ConflictDeclare(BaseModel):
    """The nominee's side (or the committee) names a reviewer who must not judge the nominee."""

    model_config = ConfigDict(extra="forbid")

    reviewer_person_id: uuid.UUID
    reason: Text


class DeclaredConflictRead(BaseModel):
    id: uuid.UUID
    reviewer_person_id: uuid.UUID
    nominee_person_id: uuid.UUID
    nomination_id: uuid.UUID | None
    side: ConflictSide
    reason: str
    declared_on: date
    declared_by: str


class ConflictReason(BaseModel):
    rule: str
    reason: str


class SuggestedReviewer(BaseModel):
    person_id: uuid.UUID
    name: str
    institution: str | None
    title_level: str | None
    gender: str | None
    discipline_codes: list[str]
    affinity: float = Field(description="fit to the nomination, 0..1, from expert search")
    credibility: int = Field(description="credibility score, 0..100")
    load: int = Field(description="reviews assigned and not yet submitted, in every cycle")
    score: float = Field(description="affinity x credibility / 100 - 0.05 x load: the ranking")


class ExcludedReviewer(BaseModel):
    person_id: uuid.UUID
    name: str
    institution: str | None
    reasons: list[ConflictReason]


class Suggestions(BaseModel):
    nomination_id: uuid.UUID
    suggestions: list[SuggestedReviewer]
    excluded: list[ExcludedReviewer] | None = Field(
        None, description="with explain=true: experts left out, and why"
    )


class Pair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    nomination_id: uuid.UUID
    reviewer_person_id: uuid.UUID


class AssignmentRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pool_person_ids: list[uuid.UUID] | None = Field(
        None, max_length=50_000, description="only these experts; default: expert search"
    )
    forced: list[Pair] = Field(default_factory=list, max_length=10_000)
    forbidden: list[Pair] = Field(default_factory=list, max_length=100_000)
    max_per_institution: int | None = Field(None, ge=1, description="default: the cycle's")
    min_per_panel: dict[Trait, PanelMinimum] | None = Field(
        None, description="default: the cycle's"
    )
    candidates_per_nomination: int = Field(50, ge=1, le=500)
    strict: bool = Field(
        False, description="refuse (422, nothing saved) when any seat or minimum stays unmet"
    )


class PanelRead(BaseModel):
    nomination_id: uuid.UUID
    reviewer_person_ids: list[uuid.UUID]


class UnmetRead(BaseModel):
    nomination_id: uuid.UUID
    missing: int
    code: str
    trait: str | None
    reason: str


class RejectedPairRead(BaseModel):
    nomination_id: uuid.UUID | str
    reviewer_id: uuid.UUID | str
    reason: str


class AssignmentResponse(BaseModel):
    assignments: list[PanelRead]
    objective: float
    greedy_objective: float
    unmet: list[UnmetRead]
    rejected_forced: list[RejectedPairRead]
    solver: str
    optimal: bool
    seats_filled: int
    greedy_seats_filled: int
    minimum_shortfall: int


class AssignmentRow(BaseModel):
    """One panel seat, as the committee sees it."""

    id: uuid.UUID
    nomination_id: uuid.UUID
    nomination_no: str
    reviewer_person_id: uuid.UUID
    reviewer_name: str
    status: AssignmentStatus
    source: str
    affinity: float


# --- reviews ------------------------------------------------------------------------------


class MyAssignment(BaseModel):
    """A reviewer's own assignment: never who else sits on the panel."""

    id: uuid.UUID
    status: AssignmentStatus
    cycle_id: uuid.UUID
    programme_name: str
    year: int
    nomination_no: str
    nominee_name: str
    review_due: date | None
    review_deadline: date | None


class MyAssignmentDetail(MyAssignment):
    summary: str | None
    nominee: dict[str, Any] = Field(description="the nominee's profile as submitted")
    criteria: list[Criterion]
    score_min: int
    score_max: int
    my_scores: dict[str, float] | None
    my_comment: str | None


class ReviewSubmit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scores: dict[str, float] = Field(description="one score per criterion code")
    comment: Comment | None = None


class ReviewRead(BaseModel):
    assignment_id: uuid.UUID
    scores: dict[str, float]
    weighted_total: float
    late: bool
    submitted_at: datetime


class ConflictOnAssignment(BaseModel):
    assignment_id: uuid.UUID
    status: AssignmentStatus
    replacement: str = Field(description="`assigned` or `none_available` (the committee acts)")


class CloseReviewRead(BaseModel):
    missed: int
    scored: int
    outliers: int


class ResultRow(BaseModel):
    rank: int
    tied: bool
    nomination_id: uuid.UUID
    nomination_no: str
    nominee_name: str
    channel_org_code: str
    status: NominationStatus
    reviews: int
    mean_total: float = Field(description="mean weighted total on the cycle's scale")
    normalised: float = Field(description="mean of per-reviewer z-scores: the ranking key")
    criteria: dict[str, float] = Field(description="mean raw score per criterion")


class Results(BaseModel):
    cycle_id: uuid.UUID
    rows: list[ResultRow]


# --- credibility --------------------------------------------------------------------------


class EventCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: EventKind
    nomination_id: uuid.UUID | None = None
    note: Text | None = None


class EventRead(BaseModel):
    kind: EventKind
    delta: int
    cycle_id: uuid.UUID | None
    nomination_id: uuid.UUID | None
    note: str | None
    recorded_by: str
    created_at: datetime


class CredibilityRecord(BaseModel):
    person_id: uuid.UUID
    name: str
    score: int
    counts: dict[str, int]
    events: list[EventRead]
