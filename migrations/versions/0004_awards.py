"""Awards: programmes, cycles and channels, nominations, conflicts, reviews, credibility.

Revision ID: 0004_awards
Revises: 0003
Create Date: 2026-11-23 07:17:16.494831
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004_awards"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "award_programme",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("owner_org_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column(
            "rules", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
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
            "kind IN ('award', 'academician', 'talent_programme')",
            name=op.f("ck_award_programme_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["owner_org_id"],
            ["organisation.id"],
            name=op.f("fk_award_programme_owner_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_programme")),
        sa.UniqueConstraint("code", name=op.f("uq_award_programme_code")),
    )
    op.create_index(
        op.f("ix_award_programme_owner_org_id"), "award_programme", ["owner_org_id"], unique=False
    )
    op.create_table(
        "award_cycle",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("programme_id", sa.Uuid(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("nominations_open", sa.Date(), nullable=False),
        sa.Column("nominations_close", sa.Date(), nullable=False),
        sa.Column("age_cutoff_date", sa.Date(), nullable=False),
        sa.Column("reviewers_per_nomination", sa.Integer(), nullable=False),
        sa.Column("max_load", sa.Integer(), nullable=False),
        sa.Column("max_per_institution", sa.Integer(), nullable=True),
        sa.Column(
            "min_per_panel",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default="{}",
            nullable=False,
        ),
        sa.Column("conflict_years", sa.Integer(), nullable=False),
        sa.Column(
            "criteria", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("score_min", sa.Integer(), nullable=False),
        sa.Column("score_max", sa.Integer(), nullable=False),
        sa.Column("review_due", sa.Date(), nullable=True),
        sa.Column("review_deadline", sa.Date(), nullable=True),
        sa.Column("review_closed_at", sa.DateTime(timezone=True), nullable=True),
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
        sa.CheckConstraint("max_load >= 1", name=op.f("ck_award_cycle_max_load")),
        sa.CheckConstraint(
            "nominations_close >= nominations_open", name=op.f("ck_award_cycle_window")
        ),
        sa.CheckConstraint(
            "reviewers_per_nomination >= 1", name=op.f("ck_award_cycle_reviewers_per_nomination")
        ),
        sa.CheckConstraint("score_max > score_min", name=op.f("ck_award_cycle_scale")),
        sa.ForeignKeyConstraint(
            ["programme_id"],
            ["award_programme.id"],
            name=op.f("fk_award_cycle_programme_id_award_programme"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_cycle")),
        sa.UniqueConstraint("programme_id", "year", name=op.f("uq_award_cycle_programme_id_year")),
    )
    op.create_table(
        "award_channel",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("quota", sa.Integer(), nullable=False),
        sa.CheckConstraint("quota >= 0", name=op.f("ck_award_channel_quota")),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["award_cycle.id"], name=op.f("fk_award_channel_cycle_id_award_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_award_channel_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_award_channel")),
        sa.UniqueConstraint("cycle_id", "org_id", name=op.f("uq_award_channel_cycle_id_org_id")),
    )
    op.create_index(op.f("ix_award_channel_cycle_id"), "award_channel", ["cycle_id"], unique=False)
    op.create_table(
        "nomination",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("nomination_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("channel_id", sa.Uuid(), nullable=False),
        sa.Column("nominee_person_id", sa.Uuid(), nullable=False),
        sa.Column(
            "team_person_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False
        ),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column(
            "failures", postgresql.JSONB(astext_type=sa.Text()), server_default="[]", nullable=False
        ),
        sa.Column("snapshot", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
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
            "status IN ('draft', 'submitted', 'eligible', 'ineligible', 'in_review', 'scored', 'shortlisted', 'awarded', 'not_awarded', 'withdrawn')",
            name=op.f("ck_nomination_status"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["award_channel.id"],
            name=op.f("fk_nomination_channel_id_award_channel"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["award_cycle.id"], name=op.f("fk_nomination_cycle_id_award_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["nominee_person_id"],
            ["person.id"],
            name=op.f("fk_nomination_nominee_person_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_nomination")),
        sa.UniqueConstraint("nomination_no", name=op.f("uq_nomination_nomination_no")),
    )
    op.create_index(op.f("ix_nomination_channel_id"), "nomination", ["channel_id"], unique=False)
    op.create_index(
        op.f("ix_nomination_cycle_id_status"), "nomination", ["cycle_id", "status"], unique=False
    )
    op.create_index(
        op.f("ix_nomination_nominee_person_id"), "nomination", ["nominee_person_id"], unique=False
    )
    op.create_index(
        "uq_nomination_cycle_id_nominee_person_id",
        "nomination",
        ["cycle_id", "nominee_person_id"],
        unique=True,
        postgresql_where=sa.text("status <> 'withdrawn'"),
    )
    op.create_table(
        "declared_conflict",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_person_id", sa.Uuid(), nullable=False),
        sa.Column("nominee_person_id", sa.Uuid(), nullable=False),
        sa.Column("nomination_id", sa.Uuid(), nullable=True),
        sa.Column("side", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("declared_on", sa.Date(), nullable=False),
        sa.Column("declared_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "side IN ('reviewer', 'nominee', 'committee')", name=op.f("ck_declared_conflict_side")
        ),
        sa.CheckConstraint(
            "reviewer_person_id <> nominee_person_id", name=op.f("ck_declared_conflict_two_people")
        ),
        sa.ForeignKeyConstraint(
            ["nomination_id"],
            ["nomination.id"],
            name=op.f("fk_declared_conflict_nomination_id_nomination"),
        ),
        sa.ForeignKeyConstraint(
            ["nominee_person_id"],
            ["person.id"],
            name=op.f("fk_declared_conflict_nominee_person_id_person"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_person_id"],
            ["person.id"],
            name=op.f("fk_declared_conflict_reviewer_person_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_declared_conflict")),
    )
    op.create_index(
        op.f("ix_declared_conflict_nominee_person_id"),
        "declared_conflict",
        ["nominee_person_id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_declared_conflict_reviewer_person_id"),
        "declared_conflict",
        ["reviewer_person_id"],
        unique=False,
    )
    op.create_table(
        "review_assignment",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=False),
        sa.Column("nomination_id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_person_id", sa.Uuid(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("affinity", sa.Float(), nullable=False),
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
        sa.CheckConstraint(
            "source IN ('solver', 'forced', 'replacement')",
            name=op.f("ck_review_assignment_source"),
        ),
        sa.CheckConstraint(
            "status IN ('assigned', 'reviewed', 'conflict_declared', 'missed')",
            name=op.f("ck_review_assignment_status"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["award_cycle.id"], name=op.f("fk_review_assignment_cycle_id_award_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["nomination_id"],
            ["nomination.id"],
            name=op.f("fk_review_assignment_nomination_id_nomination"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_person_id"],
            ["person.id"],
            name=op.f("fk_review_assignment_reviewer_person_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review_assignment")),
        sa.UniqueConstraint(
            "nomination_id",
            "reviewer_person_id",
            name=op.f("uq_review_assignment_nomination_id_reviewer_person_id"),
        ),
    )
    op.create_index(
        op.f("ix_review_assignment_cycle_id_status"),
        "review_assignment",
        ["cycle_id", "status"],
        unique=False,
    )
    op.create_index(
        op.f("ix_review_assignment_reviewer_person_id_status"),
        "review_assignment",
        ["reviewer_person_id", "status"],
        unique=False,
    )
    op.create_table(
        "review",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("assignment_id", sa.Uuid(), nullable=False),
        sa.Column(
            "scores", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("weighted_total", sa.Float(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("late", sa.Boolean(), nullable=False),
        sa.Column(
            "submitted_at",
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
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["review_assignment.id"],
            name=op.f("fk_review_assignment_id_review_assignment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_review")),
        sa.UniqueConstraint("assignment_id", name=op.f("uq_review_assignment_id")),
    )
    op.create_table(
        "reviewer_event",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("reviewer_person_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("cycle_id", sa.Uuid(), nullable=True),
        sa.Column("nomination_id", sa.Uuid(), nullable=True),
        sa.Column("assignment_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("recorded_by", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "kind IN ('on_time', 'late', 'missed', 'declared_conflict', 'undeclared_conflict', 'outlier_scores', 'misconduct')",
            name=op.f("ck_reviewer_event_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["assignment_id"],
            ["review_assignment.id"],
            name=op.f("fk_reviewer_event_assignment_id_review_assignment"),
        ),
        sa.ForeignKeyConstraint(
            ["cycle_id"], ["award_cycle.id"], name=op.f("fk_reviewer_event_cycle_id_award_cycle")
        ),
        sa.ForeignKeyConstraint(
            ["nomination_id"],
            ["nomination.id"],
            name=op.f("fk_reviewer_event_nomination_id_nomination"),
        ),
        sa.ForeignKeyConstraint(
            ["reviewer_person_id"],
            ["person.id"],
            name=op.f("fk_reviewer_event_reviewer_person_id_person"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_reviewer_event")),
    )
    op.create_index(
        op.f("ix_reviewer_event_reviewer_person_id_created_at"),
        "reviewer_event",
        ["reviewer_person_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(
        op.f("ix_reviewer_event_reviewer_person_id_created_at"), table_name="reviewer_event"
    )
    op.drop_table("reviewer_event")
    op.drop_table("review")
    op.drop_index(
        op.f("ix_review_assignment_reviewer_person_id_status"), table_name="review_assignment"
    )
    op.drop_index(op.f("ix_review_assignment_cycle_id_status"), table_name="review_assignment")
    op.drop_table("review_assignment")
    op.drop_index(op.f("ix_declared_conflict_reviewer_person_id"), table_name="declared_conflict")
    op.drop_index(op.f("ix_declared_conflict_nominee_person_id"), table_name="declared_conflict")
    op.drop_table("declared_conflict")
    op.drop_index(
        "uq_nomination_cycle_id_nominee_person_id",
        table_name="nomination",
        postgresql_where=sa.text("status <> 'withdrawn'"),
    )
    op.drop_index(op.f("ix_nomination_nominee_person_id"), table_name="nomination")
    op.drop_index(op.f("ix_nomination_cycle_id_status"), table_name="nomination")
    op.drop_index(op.f("ix_nomination_channel_id"), table_name="nomination")
    op.drop_table("nomination")
    op.drop_index(op.f("ix_award_channel_cycle_id"), table_name="award_channel")
    op.drop_table("award_channel")
    op.drop_table("award_cycle")
    op.drop_index(op.f("ix_award_programme_owner_org_id"), table_name="award_programme")
    op.drop_table("award_programme")
