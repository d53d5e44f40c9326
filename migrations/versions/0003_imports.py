"""Imports: batch records, possible duplicate people, group members.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23 06:22:20.667025
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_duplicate",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("other_id", sa.Uuid(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.CheckConstraint(
            "status IN ('open', 'merged', 'dismissed')", name=op.f("ck_person_duplicate_status")
        ),
        sa.CheckConstraint("person_id < other_id", name=op.f("ck_person_duplicate_ordered")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_duplicate")),
        sa.UniqueConstraint(
            "person_id", "other_id", name=op.f("uq_person_duplicate_person_id_other_id")
        ),
    )
    op.create_index(
        op.f("ix_person_duplicate_other_id"), "person_duplicate", ["other_id"], unique=False
    )
    op.create_index(
        op.f("ix_person_duplicate_status_id"), "person_duplicate", ["status", "id"], unique=False
    )
    op.create_table(
        "group_membership",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("uscc", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("member_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column("contact_name", sa.Text(), nullable=True),
        sa.Column("contact_phone", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("contact_email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("joined_on", sa.Date(), nullable=True),
        sa.Column("valid_until", sa.Date(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "grade IN ('member', 'council', 'standing_council', 'vice_president')",
            name=op.f("ck_group_membership_grade"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'lapsed', 'suspended', 'terminated')",
            name=op.f("ck_group_membership_status"),
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR joined_on IS NULL OR valid_until >= joined_on",
            name=op.f("ck_group_membership_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_group_membership_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_membership")),
        sa.UniqueConstraint(
            "org_id", "member_no", name=op.f("uq_group_membership_org_id_member_no")
        ),
        sa.UniqueConstraint("org_id", "uscc", name=op.f("uq_group_membership_org_id_uscc")),
    )
    op.create_index(op.f("ix_group_membership_uscc"), "group_membership", ["uscc"], unique=False)
    op.create_table(
        "import_batch",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("file_sha256", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "summary", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('members', 'group_members', 'orgs')", name=op.f("ck_import_batch_kind")
        ),
        sa.CheckConstraint(
            "status IN ('running', 'completed', 'failed')", name=op.f("ck_import_batch_status")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_import_batch_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_batch")),
    )
    op.create_index(
        op.f("ix_import_batch_org_id_started_at"),
        "import_batch",
        ["org_id", "started_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_import_batch_started_at"), "import_batch", ["started_at"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_import_batch_started_at"), table_name="import_batch")
    op.drop_index(op.f("ix_import_batch_org_id_started_at"), table_name="import_batch")
    op.drop_table("import_batch")
    op.drop_index(op.f("ix_group_membership_uscc"), table_name="group_membership")
    op.drop_table("group_membership")
    op.drop_index(op.f("ix_person_duplicate_status_id"), table_name="person_duplicate")
    op.drop_index(op.f("ix_person_duplicate_other_id"), table_name="person_duplicate")
    op.drop_table("person_duplicate")
