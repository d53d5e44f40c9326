"""What the people endpoints accept and return; document numbers are write-only."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, SecretStr

from ..core import normalize
from ..core.types import (
    DisciplineCode,
    Email,
    Nationality,
    Orcid,
    OrgCode,
    PastDate,
    PersonName,
    Phone,
    RegionCode,
    ShortText,
    Text,
    Uscc,
    printable,
)
from .models import Gender, IdType, PersonStatus, RegionOfOrigin, TitleLevel


def _label(fn):  # type: ignore[no-untyped-def]
    return BeforeValidator(lambda v: fn(v) if isinstance(v, str) else v)


GenderIn = Annotated[Gender, _label(normalize.gender)]
IdTypeIn = Annotated[IdType, _label(normalize.id_type)]
TitleLevelIn = Annotated[TitleLevel, _label(normalize.title_level)]
RegionOfOriginIn = Annotated[RegionOfOrigin, _label(normalize.region_of_origin)]
IdNumber = Annotated[SecretStr, Field(min_length=3, max_length=40)]

LIST_MAX = 50  # items in a list of codes, phrases or tags (the imports take the same)
_LIST = {"max_length": LIST_MAX}


def _distinct(codes: list[str]) -> list[str]:
    """Each code once, in the order given (`130` and `１３０` are one), as imports keep them."""
    return list(dict.fromkeys(codes))


DisciplineCodes = Annotated[list[DisciplineCode], AfterValidator(_distinct)]
Biography = Annotated[str, Field(min_length=1, max_length=4000), AfterValidator(printable)]


class PersonFields(BaseModel):
    """The profile fields a client may write (all optional here; `name` is required on create)."""

    model_config = ConfigDict(extra="forbid")

    name_en: ShortText | None = None
    gender: GenderIn | None = None
    birth_date: PastDate | None = None
    id_type: IdTypeIn | None = None
    id_number: IdNumber | None = Field(None, description="write-only; reads give id_number_masked")
    phone: Phone | None = None
    email: Email | None = None
    orcid: Orcid | None = None
    nationality: Nationality | None = Field(None, description="ISO 3166-1 alpha-2")
    region_of_origin: RegionOfOriginIn | None = None
    region_code: RegionCode | None = Field(None, description="GB/T 2260 code of the workplace")
    institution: ShortText | None = None
    institution_uscc: Uscc | None = None
    title_level: TitleLevelIn | None = None
    position: ShortText | None = None
    highest_degree: ShortText | None = None
    biography: Biography | None = Field(None, description="public summary of work and honours")
    discipline_codes: DisciplineCodes | None = Field(None, **_LIST)
    research_fields: list[ShortText] | None = Field(None, **_LIST)
    talent_tags: list[ShortText] | None = Field(None, **_LIST)
    expert_opt_in: bool | None = Field(None, description="may appear in expert search")


class PersonCreate(PersonFields):
    name: PersonName
    org_code: OrgCode | None = Field(
        None, description="organisation recording this profile; defaults to the caller's own"
    )


class PersonUpdate(PersonFields):
    """Fields to change; null clears a field. `reason` is kept in the history."""

    name: PersonName | None = None
    status: PersonStatus | None = None
    reason: Text | None = None


class PersonRead(BaseModel):
    id: uuid.UUID
    name: str
    name_en: str | None
    gender: Gender | None
    birth_date: date | None
    id_type: IdType | None
    id_number_masked: str | None
    phone: str | None = Field(description="masked unless the caller may see contact data")
    email: str | None = Field(description="masked unless the caller may see contact data")
    orcid: str | None
    nationality: str | None
    region_of_origin: RegionOfOrigin | None
    region_code: str | None
    institution: str | None
    institution_uscc: str | None
    title_level: TitleLevel | None
    position: str | None
    highest_degree: str | None
    biography: str | None
    discipline_codes: list[str]
    research_fields: list[str]
    talent_tags: list[str]
    expert_opt_in: bool
    status: PersonStatus
    created_at: datetime
    updated_at: datetime
    version: int


class PersonIdentity(BaseModel):
    """Unmasked personal data; every read is audited."""

    id: uuid.UUID
    id_type: IdType | None
    id_number: str | None
    phone: str | None
    email: str | None
