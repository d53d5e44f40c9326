"""Expert search: the postgres backend's derived table, its tombstones, person biographies.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 06:05:49.241940
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "expert_doc",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("gender", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("title_level", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("institution", sa.Text(), nullable=True),
        sa.Column("institution_key", sa.Text(), nullable=True),
        sa.Column("institution_uscc", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column("province", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column(
            "region_prefixes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "discipline_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "discipline_prefixes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "disciplines_l1", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "research_fields", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("org_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("prior", sa.REAL(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("tsv", postgresql.TSVECTOR(), nullable=False),
        sa.Column(
            "indexed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_expert_doc")),
    )
    op.create_index(op.f("ix_expert_doc_birth_date"), "expert_doc", ["birth_date"], unique=False)
    op.create_index(
        op.f("ix_expert_doc_discipline_prefixes"),
        "expert_doc",
        ["discipline_prefixes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_expert_doc_institution_key"), "expert_doc", ["institution_key"], unique=False
    )
    op.create_index(
        op.f("ix_expert_doc_org_codes"),
        "expert_doc",
        ["org_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_expert_doc_prior_person_id"), "expert_doc", ["prior", "person_id"], unique=False
    )
    op.create_index(
        op.f("ix_expert_doc_region_prefixes"),
        "expert_doc",
        ["region_prefixes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(
        op.f("ix_expert_doc_tsv"), "expert_doc", ["tsv"], unique=False, postgresql_using="gin"
    )
    op.create_table(
        "expert_doc_tombstone",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name=op.f("pk_expert_doc_tombstone")),
    )
    op.add_column("person", sa.Column("biography", sa.Text(), nullable=True))
    # Existing experts reach the index through the outbox like every later change.
    op.execute(
        "INSERT INTO search_outbox (person_id, attempts) "
        "SELECT id, 0 FROM person WHERE expert_opt_in AND status = 'active'"
    )


def downgrade() -> None:
    op.drop_column("person", "biography")
    op.drop_table("expert_doc_tombstone")
    op.drop_index(op.f("ix_expert_doc_tsv"), table_name="expert_doc", postgresql_using="gin")
    op.drop_index(
        op.f("ix_expert_doc_region_prefixes"), table_name="expert_doc", postgresql_using="gin"
    )
    op.drop_index(op.f("ix_expert_doc_prior_person_id"), table_name="expert_doc")
    op.drop_index(op.f("ix_expert_doc_org_codes"), table_name="expert_doc", postgresql_using="gin")
    op.drop_index(op.f("ix_expert_doc_institution_key"), table_name="expert_doc")
    op.drop_index(
        op.f("ix_expert_doc_discipline_prefixes"), table_name="expert_doc", postgresql_using="gin"
    )
    op.drop_index(op.f("ix_expert_doc_birth_date"), table_name="expert_doc")
    op.drop_table("expert_doc")
