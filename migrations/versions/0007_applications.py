"""Applications to join a society, and one-time codes to claim a profile.

Revision ID: 0007_applications
Revises: 0006_certificates
Create Date: 2026-11-23 07:32:55.939997
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0007_applications"
down_revision: str | None = "0006_certificates"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "claim_code",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.LargeBinary(), nullable=False),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_claim_code_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["used_by"],
            ["account.id"],
            name=op.f("fk_claim_code_used_by_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claim_code")),
        sa.UniqueConstraint("code_hash", name=op.f("uq_claim_code_code_hash")),
    )
    op.create_index(op.f("ix_claim_code_person_id"), "claim_code", ["person_id"], unique=False)
    op.create_table(
        "membership_application",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("type_id", sa.Uuid(), nullable=True),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "submitted_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("membership_id", sa.Uuid(), nullable=True),
        sa.CheckConstraint(
            "grade IN ('student', 'member', 'senior', 'fellow', 'honorary')",
            name=op.f("ck_membership_application_grade"),
        ),
        sa.CheckConstraint(
            "status IN ('submitted', 'approved', 'rejected', 'withdrawn')",
            name=op.f("ck_membership_application_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_membership_application_account_id_account"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["membership.id"],
            name=op.f("fk_membership_application_membership_id_membership"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"],
            ["organisation.id"],
            name=op.f("fk_membership_application_org_id_organisation"),
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_membership_application_person_id_person")
        ),
        sa.ForeignKeyConstraint(
            ["type_id"],
            ["membership_type.id"],
            name=op.f("fk_membership_application_type_id_membership_type"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_application")),
    )
    op.create_index(
        op.f("ix_membership_application_org_id_status_id"),
        "membership_application",
        ["org_id", "status", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_membership_application_person_id"),
        "membership_application",
        ["person_id"],
        unique=False,
    )
    op.create_index(
        "uq_membership_application_org_id_person_id_submitted",
        "membership_application",
        ["org_id", "person_id"],
        unique=True,
        postgresql_where=sa.text("status = 'submitted'"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_membership_application_org_id_person_id_submitted",
        table_name="membership_application",
        postgresql_where=sa.text("status = 'submitted'"),
    )
    op.drop_index(op.f("ix_membership_application_person_id"), table_name="membership_application")
    op.drop_index(
        op.f("ix_membership_application_org_id_status_id"), table_name="membership_application"
    )
    op.drop_table("membership_application")
    op.drop_index(op.f("ix_claim_code_person_id"), table_name="claim_code")
    op.drop_table("claim_code")
