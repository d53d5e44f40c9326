"""Group members: seats, a cap per society, activity records; room for status updates.

Revision ID: 0008_group_members
Revises: 0007_applications
Create Date: 2026-11-23 07:45:26.412759
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0008_group_members"
down_revision: str | None = "0007_applications"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "membership_policy",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("group_member_cap", sa.Integer(), nullable=True),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "group_member_cap IS NULL OR group_member_cap >= 0",
            name=op.f("ck_membership_policy_group_member_cap"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_membership_policy_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_membership_policy")),
    )
    op.create_table(
        "group_activity",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("group_membership_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("occurred_on", sa.Date(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('meeting', 'event', 'dues', 'award', 'report', 'other')",
            name=op.f("ck_group_activity_kind"),
        ),
        sa.CheckConstraint("points BETWEEN 0 AND 100", name=op.f("ck_group_activity_points")),
        sa.ForeignKeyConstraint(
            ["group_membership_id"],
            ["group_membership.id"],
            name=op.f("fk_group_activity_group_membership_id_group_membership"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_group_activity")),
    )
    op.create_index(
        op.f("ix_group_activity_group_membership_id_occurred_on"),
        "group_activity",
        ["group_membership_id", "occurred_on"],
        unique=False,
    )
    op.add_column(
        "group_membership", sa.Column("seats", sa.Integer(), server_default="1", nullable=False)
    )
    op.create_check_constraint(
        op.f("ck_group_membership_seats"), "group_membership", "seats BETWEEN 0 AND 1000"
    )
    # The refresh rewrites `status` (not indexed): with free space on each page PostgreSQL
    # updates in place (HOT) without touching the indexes. Applies to pages written from now;
    # `VACUUM FULL membership` rewrites the existing ones.
    op.execute("ALTER TABLE membership SET (fillfactor = 85)")


def downgrade() -> None:
    op.execute("ALTER TABLE membership RESET (fillfactor)")
    op.drop_constraint(op.f("ck_group_membership_seats"), "group_membership", type_="check")
    op.drop_column("group_membership", "seats")
    op.drop_index(
        op.f("ix_group_activity_group_membership_id_occurred_on"), table_name="group_activity"
    )
    op.drop_table("group_activity")
    op.drop_table("membership_policy")
