"""Membership certificates: the signed tokens handed out, for verification and reuse.

Revision ID: 0006_certificates
Revises: 0005_memberships
Create Date: 2026-11-23 07:25:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0006_certificates"
down_revision: str | None = "0005_memberships"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "membership_certificate",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("membership_id", sa.Uuid(), nullable=False),
        sa.Column("digest", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column(
            "issued_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.ForeignKeyConstraint(
            ["membership_id"],
            ["membership.id"],
            name=op.f("fk_membership_certificate_membership_id_membership"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_certificate")),
    )
    op.create_index(
        op.f("ix_membership_certificate_membership_id_issued_at"),
        "membership_certificate",
        ["membership_id", "issued_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_membership_certificate_membership_id_issued_at"),
        table_name="membership_certificate",
    )
    op.drop_table("membership_certificate")
