"""Expert search at scale: filters as tsvector tokens, a dense ordinal per expert, bitmaps.

The filter tokens (`D:130`, `R:11`, `T:senior`, `G:female`, `O:CODE`) are added to
the rows already indexed, computed from their columns exactly as the document writer renders
them, so filtered searches stay correct without a reindex. The bitmaps start empty, and the
search answers every query through the row path until `registry search reindex` builds them.

Revision ID: 0010_search_bitmaps
Revises: 0009_governance
Create Date: 2026-11-23 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0010_search_bitmaps"
down_revision: str | None = "0009_governance"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHUNK_BITS = 31_744

FILTER_TOKENS = """
    array_to_tsvector(array_remove(
        ARRAY['T:' || title_level, 'G:' || gender]
        || ARRAY(SELECT 'D:' || x FROM unnest(discipline_prefixes) AS x)
        || ARRAY(SELECT 'R:' || x FROM unnest(region_prefixes) AS x)
        || ARRAY(SELECT 'O:' || x FROM unnest(org_codes) AS x),
        NULL))
"""


def upgrade() -> None:
    op.execute("CREATE SEQUENCE expert_doc_ord_seq MINVALUE 0 START 0")
    op.add_column(
        "expert_doc",
        sa.Column(
            "ord",
            sa.Integer(),
            server_default=sa.text("nextval('expert_doc_ord_seq')"),
            nullable=False,
        ),
    )
    op.execute("ALTER SEQUENCE expert_doc_ord_seq OWNED BY expert_doc.ord")
    # The filters are tokens of the tsvector now: one GIN scan intersects them with the text.
    op.drop_index(op.f("ix_expert_doc_birth_date"), table_name="expert_doc")
    op.drop_index(
        op.f("ix_expert_doc_discipline_prefixes"), table_name="expert_doc", postgresql_using="gin"
    )
    op.drop_index(
        op.f("ix_expert_doc_region_prefixes"), table_name="expert_doc", postgresql_using="gin"
    )
    op.drop_index(op.f("ix_expert_doc_org_codes"), table_name="expert_doc", postgresql_using="gin")
    # Every row changes: building the text index again afterwards is faster than updating it.
    op.drop_index(op.f("ix_expert_doc_tsv"), table_name="expert_doc", postgresql_using="gin")
    op.execute(f"UPDATE expert_doc SET tsv = tsv || {FILTER_TOKENS}")  # noqa: S608 - constant
    op.create_index(
        op.f("ix_expert_doc_tsv"), "expert_doc", ["tsv"], unique=False, postgresql_using="gin"
    )
    op.create_index(op.f("ix_expert_doc_ord"), "expert_doc", ["ord"], unique=True)
    op.create_index(
        op.f("ix_expert_doc_institution_uscc"), "expert_doc", ["institution_uscc"], unique=False
    )
    op.create_table(
        "expert_bitmap",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("chunk", sa.Integer(), nullable=False),
        sa.Column("bits", postgresql.BIT(length=CHUNK_BITS), nullable=False),
        sa.PrimaryKeyConstraint("key", "chunk", name=op.f("pk_expert_bitmap")),
    )
    op.execute("ALTER TABLE expert_bitmap ALTER COLUMN bits SET STORAGE PLAIN")
    op.create_table(
        "expert_bitmap_key",
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("facet", sa.Text(), nullable=True),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("df", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_expert_bitmap_key")),
    )


def downgrade() -> None:
    op.drop_table("expert_bitmap_key")
    op.drop_table("expert_bitmap")
    op.create_index(
        op.f("ix_expert_doc_org_codes"),
        "expert_doc",
        ["org_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_expert_doc_region_prefixes"),
        "expert_doc",
        ["region_prefixes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_expert_doc_discipline_prefixes"),
        "expert_doc",
        ["discipline_prefixes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_expert_doc_birth_date"), "expert_doc", ["birth_date"], unique=False)
    op.drop_index(op.f("ix_expert_doc_institution_uscc"), table_name="expert_doc")
    op.drop_index(op.f("ix_expert_doc_ord"), table_name="expert_doc")
    # The old queries ignore the filter tokens; a reindex drops them.
    op.drop_column("expert_doc", "ord")  # drops the sequence it owns
