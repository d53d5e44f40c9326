"""What expert search accepts and returns (CONTRACT.md), with field-named validation errors."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from services.registry.core import normalize
from services.registry.core.types import DisciplineCode, OrgCode
from services.registry.people.schemas import GenderIn, TitleLevelIn

MAX_LIMIT = 100
# Folded first, as discipline and organisation codes are: `１１` and ` 1101 ` are 11 and 1101.
RegionPrefix = Annotated[
    str,
    StringConstraints(pattern=r"^\d{2}(\d{2}){0,2}$"),
    BeforeValidator(lambda v: normalize.fold(v) if isinstance(v, str) else v),
]


class ExpertSearchRequest(BaseModel):
    """Every field optional; lists mean "any of"; codes match by prefix (`130` finds `13015`)."""

    model_config = ConfigDict(extra="forbid")

    q: Annotated[str, StringConstraints(max_length=200)] | None = Field(
        None, description="free text over name, pinyin, institution, fields, disciplines, biography"
    )
    discipline_codes: list[DisciplineCode] = Field(default_factory=list, max_length=50)
    region_codes: list[RegionPrefix] = Field(
        default_factory=list,
        max_length=50,
        description="GB/T 2260 codes or prefixes: 11, 1100 or 110000; 1101 or 110100; 110108",
    )
    title_levels: list[TitleLevelIn] = Field(default_factory=list, max_length=5)
    gender: GenderIn | None = None
    age_min: int | None = Field(None, ge=0, le=120)
    age_max: int | None = Field(None, ge=0, le=120)
    org_codes: list[OrgCode] = Field(default_factory=list, max_length=50)
    exclude_person_ids: list[uuid.UUID] = Field(default_factory=list, max_length=1000)
    conflicts_with: uuid.UUID | None = Field(
        None, description="leave out this person and everyone with a conflict of interest"
    )
    limit: int = Field(20, ge=1, le=MAX_LIMIT)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _null_is_left_out(cls, data: Any) -> Any:
        # Clients that write every field of their own model send null for those unset.
        if isinstance(data, dict):
            return {key: value for key, value in data.items() if value is not None}
        return data


class ExpertHitRead(BaseModel):
    person_id: uuid.UUID
    name: str
    institution: str | None
    title_level: str | None
    discipline_codes: list[str]
    research_fields: list[str]
    region_code: str | None
    score: float
    highlights: dict[str, list[str]]


class Facets(BaseModel):
    discipline_codes: dict[str, int]
    region_codes: dict[str, int]
    title_level: dict[str, int]
    gender: dict[str, int]


class ExpertSearchResponse(BaseModel):
    total: int
    hits: list[ExpertHitRead]
    facets: Facets
    next_cursor: str | None
    approximate: dict[str, str] | None = Field(
        None, description="present when a very broad query was estimated: what, and how"
    )
