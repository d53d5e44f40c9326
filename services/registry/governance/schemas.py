"""What the governance endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, ConfigDict, Field

from ..core.types import BoundedDate, ShortText, Text
from .models import BodyKind, Position


class BodyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: BodyKind
    term_no: int = Field(ge=1, le=1000, description="the term (届), e.g. 11 for the 11th council")
    name: ShortText | None = None
    term_start: BoundedDate
    term_end: BoundedDate | None = None
    seats: int = Field(ge=1, le=10_000, description="seats the body has in this term")


class BodyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    term_start: BoundedDate | None = None
    term_end: BoundedDate | None = None
    seats: int | None = Field(None, ge=1, le=10_000)


class BodyRead(BaseModel):
    id: uuid.UUID
    org_code: str
    kind: BodyKind
    term_no: int
    name: str | None
    term_start: date
    term_end: date | None
    seats: int
    filled: int = Field(description="seats held now")
    created_at: datetime
    updated_at: datetime


class SeatCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    person_id: uuid.UUID
    position: Position
    started_on: BoundedDate | None = Field(
        None, description="a day within the term; by default the term's start"
    )


class SeatUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    position: Position | None = None
    ended_on: BoundedDate | None = Field(
        None, description="the last day the seat is held (resignation, death...); null reopens it"
    )
    reason: Text | None = None


class SeatRead(BaseModel):
    id: uuid.UUID
    body_id: uuid.UUID
    person_id: uuid.UUID
    person_name: str
    position: Position
    started_on: date | None
    ended_on: date | None


class Share(BaseModel):
    count: int
    share: float = Field(description="count / seats held, 4 decimals; 0 when no seats are held")


class CompositionRead(BaseModel):
    """Who holds the body's seats now, in the shares the plans ask about."""

    body_id: uuid.UUID
    org_code: str
    kind: BodyKind
    term_no: int
    term_start: date
    seats: int
    held: int
    by_position: dict[str, int]
    women: Share
    young: Share = Field(description="aged young_age or less on the term's start")
    birth_date_unknown: int
    grassroots: Share = Field(description="tagged as grassroots (基层一线) scientists")
    leading_talent: Share = Field(description="tagged 科技领军人才")
    young_backbone: Share = Field(description="young by age, or tagged 青年科技骨干")
    foreign_or_hk_macao_taiwan: Share
    target_group: Share = Field(
        description="科技领军人才、青年科技骨干和基层一线科技工作者: leading talent, young backbone"
        " or grassroots (each person once)"
    )
    target_share: float
    meets_target: bool
    young_age: int
    rules: dict[str, list[str]] = Field(description="the talent tags each group is read from")
