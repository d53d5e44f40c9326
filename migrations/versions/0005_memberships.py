"""Memberships: types per society, member number sequences, lifecycle overrides and grace.

Revision ID: 0005_memberships
Revises: 0004_awards
Create Date: 2026-11-23 07:17:42.590574
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0005_memberships"
down_revision: str | None = "0004_awards"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_STATUSES = "'pending', 'active', 'lapsed', 'suspended', 'terminated'"
NEW_STATUSES = "'pending', 'active', 'grace', 'lapsed', 'suspended', 'terminated'"


def _status_check(table: str, statuses: str) -> None:
    op.drop_constraint(op.f(f"ck_{table}_status"), table, type_="check")
    op.create_check_constraint(op.f(f"ck_{table}_status"), table, f"status IN ({statuses})")


def upgrade() -> None:
    op.create_table(
        "member_no_sequence",
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("last_value", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_member_no_sequence_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("org_id", name=op.f("pk_member_no_sequence")),
    )
    op.create_table(
        "membership_type",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("period", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("period_months", sa.Integer(), nullable=True),
        sa.Column("grace_days", sa.Integer(), nullable=False),
        sa.Column("renewal_window_days", sa.Integer(), nullable=True),
        sa.Column("approval_required", sa.Boolean(), nullable=False),
        sa.Column("member_no_format", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
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
            "(period = 'rolling') = (period_months IS NOT NULL)",
            name=op.f("ck_membership_type_rolling_months"),
        ),
        sa.CheckConstraint(
            "grade IN ('student', 'member', 'senior', 'fellow', 'honorary')",
            name=op.f("ck_membership_type_grade"),
        ),
        sa.CheckConstraint(
            "period IN ('calendar_year', 'rolling', 'lifetime')",
            name=op.f("ck_membership_type_period"),
        ),
        sa.CheckConstraint(
            "grace_days BETWEEN 0 AND 730", name=op.f("ck_membership_type_grace_days")
        ),
        sa.CheckConstraint(
            "period_months IS NULL OR period_months BETWEEN 1 AND 120",
            name=op.f("ck_membership_type_months"),
        ),
        sa.CheckConstraint(
            "renewal_window_days IS NULL OR renewal_window_days BETWEEN 0 AND 730",
            name=op.f("ck_membership_type_renewal_window_days"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_membership_type_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_type")),
        sa.UniqueConstraint("org_id", "code", name=op.f("uq_membership_type_org_id_code")),
    )
    op.add_column("membership", sa.Column("type_id", sa.Uuid(), nullable=True))
    op.add_column(
        "membership",
        sa.Column("status_override", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column("membership", sa.Column("override_reason", sa.Text(), nullable=True))
    op.add_column(
        "membership",
        sa.Column("termination_reason", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
    )
    op.add_column("membership", sa.Column("ended_on", sa.Date(), nullable=True))
    op.create_foreign_key(
        op.f("fk_membership_type_id_membership_type"),
        "membership",
        "membership_type",
        ["type_id"],
        ["id"],
    )
    _status_check("membership", NEW_STATUSES)
    _status_check("group_membership", NEW_STATUSES)
    op.create_check_constraint(
        op.f("ck_membership_status_override"),
        "membership",
        f"status_override IN ({NEW_STATUSES})",
    )
    op.create_check_constraint(
        op.f("ck_membership_termination_reason"),
        "membership",
        "termination_reason IN ('withdrawal', 'expulsion', 'death')",
    )
    op.create_check_constraint(
        op.f("ck_membership_terminated"),
        "membership",
        "termination_reason IS NULL OR status_override = 'terminated'",
    )
    # Suspensions and terminations made before the rules existed were set by hand: keep them.
    op.execute(
        "UPDATE membership SET status_override = status, override_reason = 'before lifecycle rules'"
        " WHERE status IN ('suspended', 'terminated')"
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_membership_terminated"), "membership", type_="check")
    op.drop_constraint(op.f("ck_membership_termination_reason"), "membership", type_="check")
    op.drop_constraint(op.f("ck_membership_status_override"), "membership", type_="check")
    op.execute("UPDATE membership SET status = 'active' WHERE status = 'grace'")
    op.execute("UPDATE group_membership SET status = 'active' WHERE status = 'grace'")
    _status_check("group_membership", OLD_STATUSES)
    _status_check("membership", OLD_STATUSES)
    op.drop_constraint(
        op.f("fk_membership_type_id_membership_type"), "membership", type_="foreignkey"
    )
    op.drop_column("membership", "ended_on")
    op.drop_column("membership", "termination_reason")
    op.drop_column("membership", "override_reason")
    op.drop_column("membership", "status_override")
    op.drop_column("membership", "type_id")
    op.drop_table("membership_type")
    op.drop_table("member_no_sequence")
