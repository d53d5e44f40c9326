"""The postgres backend's derived table: one row per searchable expert, built from the registry."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import REAL, BigInteger, Column, Index, Text
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR
from sqlmodel import Field, SQLModel

from services.registry.core.models import created_field


def _array() -> Column:
    return Column(ARRAY(Text), nullable=False, server_default="{}")


class ExpertDoc(SQLModel, table=True):
    """Derived data: filters as plain and prefix-array columns, text as one weighted tsvector."""

    __tablename__ = "expert_doc"
    __table_args__ = (
        Index(None, "tsv", postgresql_using="gin"),
        Index(None, "discipline_prefixes", postgresql_using="gin"),
        Index(None, "region_prefixes", postgresql_using="gin"),
        Index(None, "org_codes", postgresql_using="gin"),
        Index(None, "prior", "person_id"),  # read backwards: strongest profiles first
        Index(None, "birth_date"),
        Index(None, "institution_key"),
    )

    person_id: uuid.UUID = Field(primary_key=True)
    version: int = Field(sa_type=BigInteger)
    name: str = Field(sa_type=Text)
    name_en: str | None = Field(default=None, sa_type=Text)
    gender: str | None = Field(default=None, max_length=8)
    birth_date: date | None = None
    title_level: str | None = Field(default=None, max_length=24)
    institution: str | None = Field(default=None, sa_type=Text)
    institution_key: str | None = Field(default=None, sa_type=Text)
    institution_uscc: str | None = Field(default=None, max_length=18)
    region_code: str | None = Field(default=None, max_length=6)
    province: str | None = Field(default=None, max_length=6)
    region_prefixes: list[str] = Field(default_factory=list, sa_column=_array())
    discipline_codes: list[str] = Field(default_factory=list, sa_column=_array())
    discipline_prefixes: list[str] = Field(default_factory=list, sa_column=_array())
    disciplines_l1: list[str] = Field(default_factory=list, sa_column=_array())
    research_fields: list[str] = Field(default_factory=list, sa_column=_array())
    org_codes: list[str] = Field(default_factory=list, sa_column=_array())
    prior: float = Field(sa_type=REAL)
    document: str = Field(sa_type=Text, description="the full document as JSON, for hits")
    tsv: str = Field(sa_column=Column(TSVECTOR, nullable=False))
    indexed_at: datetime = created_field()


class ExpertTombstone(SQLModel, table=True):
    """The version at which an expert left the index: a late, older write cannot restore them."""

    __tablename__ = "expert_doc_tombstone"

    person_id: uuid.UUID = Field(primary_key=True)
    version: int = Field(sa_type=BigInteger)
