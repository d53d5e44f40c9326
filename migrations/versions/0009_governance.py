"""Governance bodies (理事会, 常务理事会, 监事会) per term, and the seats people hold in them.

Revision ID: 0009_governance
Revises: 0008_group_members
Create Date: 2026-11-23 07:50:52.070376
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0009_governance"
down_revision: str | None = "0008_group_members"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "governance_body",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("term_no", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("term_start", sa.Date(), nullable=False),
        sa.Column("term_end", sa.Date(), nullable=True),
        sa.Column("seats", sa.Integer(), nullable=False),
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
            "kind IN ('council', 'standing_council', 'supervisory_board')",
            name=op.f("ck_governance_body_kind"),
        ),
        sa.CheckConstraint("seats >= 1", name=op.f("ck_governance_body_seats")),
        sa.CheckConstraint(
            "term_end IS NULL OR term_end >= term_start", name=op.f("ck_governance_body_term")
        ),
        sa.CheckConstraint("term_no >= 1", name=op.f("ck_governance_body_term_no")),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_governance_body_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_governance_body")),
        sa.UniqueConstraint(
            "org_id", "kind", "term_no", name=op.f("uq_governance_body_org_id_kind_term_no")
        ),
    )
    op.create_table(
        "body_seat",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("body_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("position", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("started_on", sa.Date(), nullable=True),
        sa.Column("ended_on", sa.Date(), nullable=True),
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
            "position IN ('president', 'vice_president', 'secretary_general', 'standing_member', 'member', 'chief_supervisor', 'supervisor')",
            name=op.f("ck_body_seat_position"),
        ),
        sa.CheckConstraint(
            "ended_on IS NULL OR started_on IS NULL OR ended_on >= started_on",
            name=op.f("ck_body_seat_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["body_id"], ["governance_body.id"], name=op.f("fk_body_seat_body_id_governance_body")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_body_seat_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_body_seat")),
        sa.UniqueConstraint("body_id", "person_id", name=op.f("uq_body_seat_body_id_person_id")),
    )
    op.create_index(op.f("ix_body_seat_person_id"), "body_seat", ["person_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_body_seat_person_id"), table_name="body_seat")
    op.drop_table("body_seat")
    op.drop_table("governance_body")
