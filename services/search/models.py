"""The postgres backend's derived table: one row per searchable expert, built from the registry."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import REAL, BigInteger, Column, Index, Integer, Text, text
from sqlalchemy.dialects.postgresql import ARRAY, BIT, TSVECTOR
from sqlmodel import Field, SQLModel

from services.registry.core.models import created_field

# Bits per bitmap row: 3,968 bytes, so two rows share a page (no TOAST: storage is PLAIN).
CHUNK_BITS = 31_744
# What the bitmap path needs of an excluded person: the ordinal and the facet values.
EXCLUSION_COLUMNS = ("ord", "title_level", "gender", "province", "disciplines_l1")


def _array() -> Column:
    return Column(ARRAY(Text), nullable=False, server_default="{}")


class ExpertDoc(SQLModel, table=True):
    """Derived data: one weighted tsvector holding the text and the filters as tokens
    (`D:130`, `R:11`, `T:senior`, `G:female`, `O:CODE`, `Y:1985`), so one GIN scan intersects
    them; plain columns for ranking, facets and exclusions; a dense ordinal for the bitmaps.

    Only what a search reads of every matching row is here, so that a match costs as few pages
    as it can; the document shown for a hit is in `expert_doc_body`.
    """

    __tablename__ = "expert_doc"
    __table_args__ = (
        Index(None, "tsv", postgresql_using="gin"),
        Index(None, "ord", unique=True),
        Index(None, "prior", "person_id"),  # read backwards: strongest profiles first
        # Conflict rules exclude whole institutions: the bitmap path reads the colleagues'
        # ordinals and facet values from these indexes alone (index-only), not their rows.
        Index(None, "institution_key", postgresql_include=list(EXCLUSION_COLUMNS)),
        Index(None, "institution_uscc", postgresql_include=list(EXCLUSION_COLUMNS)),
        # An age range on bitmaps takes its years of birth whole: those born in the first and
        # last year but outside the range are read from here and subtracted.
        Index(None, "birth_date", postgresql_include=list(EXCLUSION_COLUMNS)),
    )

    person_id: uuid.UUID = Field(primary_key=True)
    version: int = Field(sa_type=BigInteger)
    gender: str | None = Field(default=None, max_length=8)
    birth_date: date | None = None
    title_level: str | None = Field(default=None, max_length=24)
    institution_key: str | None = Field(default=None, sa_type=Text)
    institution_uscc: str | None = Field(default=None, max_length=18)
    province: str | None = Field(default=None, max_length=6)
    disciplines_l1: list[str] = Field(default_factory=list, sa_column=_array())
    facet_cell: int = Field(description="title level, gender and province as one number")
    disciplines_mask: int = Field(
        sa_type=BigInteger, description="first-level disciplines as bits (facet_codes)"
    )
    prior: float = Field(sa_type=REAL)
    tsv: str = Field(sa_column=Column(TSVECTOR, nullable=False))
    indexed_at: datetime = created_field()
    ord: int = Field(
        sa_column=Column(
            Integer, nullable=False, server_default=text("nextval('expert_doc_ord_seq')")
        ),
        description="dense position of the row in every bitmap (expert_bitmap)",
    )


class ExpertDocBody(SQLModel, table=True):
    """The full document of each `expert_doc` row, as JSON: read for the page of hits only."""

    __tablename__ = "expert_doc_body"

    person_id: uuid.UUID = Field(primary_key=True)
    document: str = Field(sa_type=Text)


class ExpertBitmap(SQLModel, table=True):
    """Which experts (bit `ord % CHUNK_BITS` of chunk `ord // CHUNK_BITS`) carry a key: a
    common tsvector token, a facet value, a year of birth, or `*` (everyone). Broad queries
    combine these instead of visiting hundreds of thousands of rows."""

    __tablename__ = "expert_bitmap"

    key: str = Field(sa_type=Text, primary_key=True)
    chunk: int = Field(sa_type=Integer, primary_key=True)
    bits: str = Field(sa_column=Column(BIT(CHUNK_BITS), nullable=False))


class ExpertBitmapKey(SQLModel, table=True):
    """The keys that have a complete bitmap, with their facet (if any) and document count at
    the last rebuild (used only to choose between the row and the bitmap paths)."""

    __tablename__ = "expert_bitmap_key"

    key: str = Field(sa_type=Text, primary_key=True)
    facet: str | None = Field(default=None, sa_type=Text)
    value: str | None = Field(default=None, sa_type=Text)
    df: int = Field(default=0, sa_type=Integer)


class ExpertTombstone(SQLModel, table=True):
    """The version at which an expert left the index: a late, older write cannot restore them."""

    __tablename__ = "expert_doc_tombstone"

    person_id: uuid.UUID = Field(primary_key=True)
    version: int = Field(sa_type=BigInteger)
