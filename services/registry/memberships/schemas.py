"""What the membership endpoints accept and return."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator

from ..auth.models import Role
from ..core import normalize
from ..core.types import AnyDate, Email, Phone, ShortText, Text
from ..people.schemas import PersonCreate, PersonRead
from .models import Grade, MembershipStatus

GradeIn = Annotated[
    Grade, BeforeValidator(lambda v: normalize.grade(v) if isinstance(v, str) else v)
]
MemberNo = Annotated[
    str,
    BeforeValidator(lambda v: normalize.fold(v) if isinstance(v, str) else v),
    Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"),
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
    grade: GradeIn = Grade.member
    status: MembershipStatus = MembershipStatus.active
    member_no: MemberNo | None = None
    joined_on: AnyDate | None = None
    valid_until: AnyDate | None = Field(None, validate_default=True)

    # Field validators (not a model validator) so that errors name the field.
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

    grade: GradeIn | None = None
    status: MembershipStatus | None = None
    member_no: MemberNo | None = None
    joined_on: AnyDate | None = None
    valid_until: AnyDate | None = None
    reason: Text | None = Field(None, description="why; kept in the history")


class MembershipRead(BaseModel):
    id: uuid.UUID
    org_code: str
    org_name: str
    person_id: uuid.UUID
    person_name: str
    grade: Grade
    status: MembershipStatus
    member_no: str | None
    joined_on: date | None
    valid_until: date | None
    created_at: datetime
    updated_at: datetime


class MembershipCreated(MembershipRead):
    person_matched: bool = Field(
        description="true when an inline person matched an existing profile by document number"
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
