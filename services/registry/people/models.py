"""The person table: a talent profile whose document number is encrypted with a blind index."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Index,
    LargeBinary,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field, text_list_field, timestamp_field
from ..orgs.models import _in


class Gender(StrEnum):
    male = "male"
    female = "female"


class IdType(StrEnum):
    resident_id = "resident_id"
    passport = "passport"
    hk_macao_permit = "hk_macao_permit"
    taiwan_permit = "taiwan_permit"
    foreign_permanent_resident = "foreign_permanent_resident"
    other = "other"


class RegionOfOrigin(StrEnum):
    mainland = "mainland"
    hong_kong = "hong_kong"
    macao = "macao"
    taiwan = "taiwan"
    foreign = "foreign"


class TitleLevel(StrEnum):
    senior = "senior"
    associate_senior = "associate_senior"
    intermediate = "intermediate"
    junior = "junior"
    none = "none"


class PersonStatus(StrEnum):
    active = "active"
    inactive = "inactive"
    deceased = "deceased"


class Person(SQLModel, table=True):
    """One science and technology worker, whatever societies they belong to."""

    __tablename__ = "person"
    __table_args__ = (
        CheckConstraint(_in("gender", Gender), name="gender"),
        CheckConstraint(_in("id_type", IdType), name="id_type"),
        CheckConstraint(_in("region_of_origin", RegionOfOrigin), name="region_of_origin"),
        CheckConstraint(_in("title_level", TitleLevel), name="title_level"),
        CheckConstraint(_in("status", PersonStatus), name="status"),
        CheckConstraint(
            "(id_number_enc IS NULL) = (id_number_bidx IS NULL)", name="id_number_pair"
        ),
        Index(None, "id_number_bidx", unique=True),
        # text_pattern_ops: also the index of name prefixes (lists' `q`), as LIKE 'x%' cannot
        # use an index of the database's collation (migration 0027).
        Index(None, "name", "birth_date", postgresql_ops={"name": "text_pattern_ops"}),
        # Only profiles with a Latin name: most imported people have none and write no entry.
        Index(
            "ix_person_lower_name_en",
            func.lower(text("name_en")),
            postgresql_ops={"lower_1": "text_pattern_ops"},
            postgresql_where=text("name_en IS NOT NULL"),
        ),
        # No GIN index on discipline_codes: the people list filters by code prefix over
        # unnest(), which it cannot serve, and expert search has its own index; every
        # imported person paid for its entries.
    )

    id: uuid.UUID = id_field()
    name: str = Field(sa_type=Text)
    name_en: str | None = Field(default=None, sa_type=Text)
    gender: str | None = Field(default=None, max_length=8)
    birth_date: date | None = None
    id_type: str | None = Field(default=None, max_length=32)
    id_number_enc: bytes | None = Field(default=None, sa_type=LargeBinary)
    id_number_bidx: bytes | None = Field(default=None, sa_type=LargeBinary)
    id_number_masked: str | None = Field(default=None, max_length=40)
    phone: str | None = Field(default=None, max_length=24)
    email: str | None = Field(default=None, max_length=254)
    orcid: str | None = Field(default=None, max_length=19)
    nationality: str | None = Field(default=None, max_length=2)
    region_of_origin: str | None = Field(default=None, max_length=16)
    region_code: str | None = Field(default=None, max_length=6)
    institution: str | None = Field(default=None, sa_type=Text)
    institution_uscc: str | None = Field(default=None, max_length=18)
    title_level: str | None = Field(default=None, max_length=24)
    position: str | None = Field(default=None, sa_type=Text)
    highest_degree: str | None = Field(default=None, sa_type=Text)
    biography: str | None = Field(default=None, sa_type=Text)
    discipline_codes: list[str] = text_list_field()
    research_fields: list[str] = text_list_field()
    talent_tags: list[str] = text_list_field()
    expert_opt_in: bool = Field(default=False)
    status: str = Field(default=PersonStatus.active, max_length=16)
    source_org_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id", index=True)
    # The import batch that created this profile (it stands for a `created` history row);
    # no foreign key, so that a bulk insert checks nothing per row.
    import_batch_id: uuid.UUID | None = None
    created_at: datetime = created_field()
    updated_at: datetime = created_field()
    version: int = Field(default=1)


class DuplicateStatus(StrEnum):
    open = "open"
    merged = "merged"
    dismissed = "dismissed"


class PersonDuplicate(SQLModel, table=True):
    """Two profiles that may be one person (similar name, same birth date, no shared document):
    never merged silently; `registry people merge` merges them on request. No foreign keys, so
    the record of a merge outlives the merged profile."""

    __tablename__ = "person_duplicate"
    __table_args__ = (
        UniqueConstraint("person_id", "other_id"),
        CheckConstraint("person_id < other_id", name="ordered"),
        CheckConstraint(_in("status", DuplicateStatus), name="status"),
        Index(None, "other_id"),
        Index(None, "status", "id"),
    )

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    person_id: uuid.UUID
    other_id: uuid.UUID
    reason: str = Field(sa_type=Text)
    source: str = Field(max_length=128)
    status: str = Field(default=DuplicateStatus.open, max_length=16)
    created_at: datetime = created_field()
    resolved_at: datetime | None = timestamp_field()
    resolved_by: str | None = Field(default=None, max_length=128)


class PersonAlias(SQLModel, table=True):
    """A name and contacts a person is also known by: those of a profile merged into theirs.
    An import matches a row to the person by them too, so that the society that listed the
    merged profile finds the person again instead of creating it anew."""

    __tablename__ = "person_alias"
    __table_args__ = (Index(None, "name", "birth_date"), Index(None, "person_id"))

    id: int | None = Field(default=None, sa_type=BigInteger, primary_key=True)
    person_id: uuid.UUID = Field(foreign_key="person.id", ondelete="CASCADE")
    name: str = Field(sa_type=Text)
    birth_date: date | None = None
    phone: str | None = Field(default=None, max_length=24)
    email: str | None = Field(default=None, max_length=254)
    source: str = Field(max_length=128)
    created_at: datetime = created_field()
