"""Initial schema: organisations, people, memberships, accounts, audit log, search outbox.

Revision ID: 0001
Revises:
Create Date: 2026-11-23 05:53:03.538316
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_event",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column(
            "at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("action", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("object_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("object_id", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
        sa.Column(
            "detail", postgresql.JSONB(astext_type=sa.Text()), server_default="{}", nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_event")),
    )
    op.create_index(
        op.f("ix_audit_event_object_type_object_id"),
        "audit_event",
        ["object_type", "object_id"],
        unique=False,
    )
    op.create_table(
        "change_history",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("entity", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("change_id", sa.Uuid(), nullable=False),
        sa.Column("field", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=False),
        sa.Column("old_value", sa.Text(), nullable=True),
        sa.Column("new_value", sa.Text(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("actor", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_change_history")),
    )
    op.create_index(
        op.f("ix_change_history_entity_entity_id_id"),
        "change_history",
        ["entity", "entity_id", "id"],
        unique=False,
    )
    op.create_table(
        "login_throttle",
        sa.Column("key", sqlmodel.sql.sqltypes.AutoString(length=160), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_until", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    op.create_table(
        "organisation",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("uscc", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
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
            "kind IN ('federation', 'national_society', 'provincial_association', 'local_association', 'university_association', 'enterprise_association', 'park_association')",
            name=op.f("ck_organisation_kind"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'probation', 'suspended', 'exited')",
            name=op.f("ck_organisation_status"),
        ),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["organisation.id"], name=op.f("fk_organisation_parent_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organisation")),
        sa.UniqueConstraint("code", name=op.f("uq_organisation_code")),
        sa.UniqueConstraint("uscc", name=op.f("uq_organisation_uscc")),
    )
    op.create_index(op.f("ix_organisation_parent_id"), "organisation", ["parent_id"], unique=False)
    op.create_index(
        "ix_organisation_path",
        "organisation",
        ["path"],
        unique=False,
        postgresql_ops={"path": "text_pattern_ops"},
    )
    op.create_table(
        "search_outbox",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column(
            "enqueued_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_outbox")),
    )
    op.create_index(
        op.f("ix_search_outbox_next_attempt_at_id"),
        "search_outbox",
        ["next_attempt_at", "id"],
        unique=False,
    )
    op.create_index(
        op.f("ix_search_outbox_person_id"), "search_outbox", ["person_id"], unique=False
    )
    op.create_table(
        "person",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=True),
        sa.Column("gender", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("id_type", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=True),
        sa.Column("id_number_enc", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_bidx", sa.LargeBinary(), nullable=True),
        sa.Column("id_number_masked", sqlmodel.sql.sqltypes.AutoString(length=40), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("orcid", sqlmodel.sql.sqltypes.AutoString(length=19), nullable=True),
        sa.Column("nationality", sqlmodel.sql.sqltypes.AutoString(length=2), nullable=True),
        sa.Column("region_of_origin", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=True),
        sa.Column("region_code", sqlmodel.sql.sqltypes.AutoString(length=6), nullable=True),
        sa.Column("institution", sa.Text(), nullable=True),
        sa.Column("institution_uscc", sqlmodel.sql.sqltypes.AutoString(length=18), nullable=True),
        sa.Column("title_level", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("position", sa.Text(), nullable=True),
        sa.Column("highest_degree", sa.Text(), nullable=True),
        sa.Column(
            "discipline_codes", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column(
            "research_fields", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False
        ),
        sa.Column("talent_tags", postgresql.ARRAY(sa.Text()), server_default="{}", nullable=False),
        sa.Column("expert_opt_in", sa.Boolean(), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("source_org_id", sa.Uuid(), nullable=True),
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
        sa.CheckConstraint("gender IN ('male', 'female')", name=op.f("ck_person_gender")),
        sa.CheckConstraint(
            "id_type IN ('resident_id', 'passport', 'hk_macao_permit', 'taiwan_permit', 'foreign_permanent_resident', 'other')",
            name=op.f("ck_person_id_type"),
        ),
        sa.CheckConstraint(
            "region_of_origin IN ('mainland', 'hong_kong', 'macao', 'taiwan', 'foreign')",
            name=op.f("ck_person_region_of_origin"),
        ),
        sa.CheckConstraint(
            "status IN ('active', 'inactive', 'deceased')", name=op.f("ck_person_status")
        ),
        sa.CheckConstraint(
            "title_level IN ('senior', 'associate_senior', 'intermediate', 'junior', 'none')",
            name=op.f("ck_person_title_level"),
        ),
        sa.CheckConstraint(
            "(id_number_enc IS NULL) = (id_number_bidx IS NULL)",
            name=op.f("ck_person_id_number_pair"),
        ),
        sa.ForeignKeyConstraint(
            ["source_org_id"],
            ["organisation.id"],
            name=op.f("fk_person_source_org_id_organisation"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person")),
    )
    op.create_index(
        op.f("ix_person_discipline_codes"),
        "person",
        ["discipline_codes"],
        unique=False,
        postgresql_using="gin",
    )
    op.create_index(op.f("ix_person_id_number_bidx"), "person", ["id_number_bidx"], unique=True)
    op.create_index(
        op.f("ix_person_name_birth_date"), "person", ["name", "birth_date"], unique=False
    )
    op.create_index(op.f("ix_person_source_org_id"), "person", ["source_org_id"], unique=False)
    op.create_table(
        "account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("kind", sqlmodel.sql.sqltypes.AutoString(length=8), nullable=False),
        sa.Column("secret_hash", sqlmodel.sql.sqltypes.AutoString(), nullable=False),
        sa.Column("display_name", sqlmodel.sql.sqltypes.AutoString(), nullable=True),
        sa.Column("person_id", sa.Uuid(), nullable=True),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("last_login_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("kind IN ('user', 'client')", name=op.f("ck_account_kind")),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_account_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("username", name=op.f("uq_account_username")),
    )
    op.create_index(op.f("ix_account_person_id"), "account", ["person_id"], unique=False)
    op.create_table(
        "membership",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("grade", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("status", sqlmodel.sql.sqltypes.AutoString(length=16), nullable=False),
        sa.Column("member_no", sqlmodel.sql.sqltypes.AutoString(length=64), nullable=True),
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
            "grade IN ('student', 'member', 'senior', 'fellow', 'honorary')",
            name=op.f("ck_membership_grade"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'active', 'lapsed', 'suspended', 'terminated')",
            name=op.f("ck_membership_status"),
        ),
        sa.CheckConstraint(
            "valid_until IS NULL OR joined_on IS NULL OR valid_until >= joined_on",
            name=op.f("ck_membership_dates"),
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_membership_org_id_organisation")
        ),
        sa.ForeignKeyConstraint(
            ["person_id"], ["person.id"], name=op.f("fk_membership_person_id_person")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership")),
        sa.UniqueConstraint("org_id", "member_no", name=op.f("uq_membership_org_id_member_no")),
        sa.UniqueConstraint("org_id", "person_id", name=op.f("uq_membership_org_id_person_id")),
    )
    op.create_index(op.f("ix_membership_person_id"), "membership", ["person_id"], unique=False)
    op.create_table(
        "refresh_token",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("family_id", sa.Uuid(), nullable=False),
        sa.Column("token_hash", sa.LargeBinary(), nullable=False),
        sa.Column(
            "issued_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False
        ),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_refresh_token_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refresh_token")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_refresh_token_token_hash")),
    )
    op.create_index(
        op.f("ix_refresh_token_account_id"), "refresh_token", ["account_id"], unique=False
    )
    op.create_index(
        op.f("ix_refresh_token_family_id"), "refresh_token", ["family_id"], unique=False
    )
    op.create_table(
        "role_grant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("org_id", sa.Uuid(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint(
            "role IN ('platform_admin', 'org_admin', 'org_staff', 'committee', 'reviewer', 'member')",
            name=op.f("ck_role_grant_role"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_role_grant_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["org_id"], ["organisation.id"], name=op.f("fk_role_grant_org_id_organisation")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grant")),
    )
    op.create_index(op.f("ix_role_grant_account_id"), "role_grant", ["account_id"], unique=False)
    op.create_index(
        "uq_role_grant_account_id_role",
        "role_grant",
        ["account_id", "role"],
        unique=True,
        postgresql_where=sa.text("org_id IS NULL"),
    )
    op.create_index(
        "uq_role_grant_account_id_role_org_id",
        "role_grant",
        ["account_id", "role", "org_id"],
        unique=True,
        postgresql_where=sa.text("org_id IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index(
        "uq_role_grant_account_id_role_org_id",
        table_name="role_grant",
        postgresql_where=sa.text("org_id IS NOT NULL"),
    )
    op.drop_index(
        "uq_role_grant_account_id_role",
        table_name="role_grant",
        postgresql_where=sa.text("org_id IS NULL"),
    )
    op.drop_index(op.f("ix_role_grant_account_id"), table_name="role_grant")
    op.drop_table("role_grant")
    op.drop_index(op.f("ix_refresh_token_family_id"), table_name="refresh_token")
    op.drop_index(op.f("ix_refresh_token_account_id"), table_name="refresh_token")
    op.drop_table("refresh_token")
    op.drop_index(op.f("ix_membership_person_id"), table_name="membership")
    op.drop_table("membership")
    op.drop_index(op.f("ix_account_person_id"), table_name="account")
    op.drop_table("account")
    op.drop_index(op.f("ix_person_source_org_id"), table_name="person")
    op.drop_index(op.f("ix_person_name_birth_date"), table_name="person")
    op.drop_index(op.f("ix_person_id_number_bidx"), table_name="person")
    op.drop_index(op.f("ix_person_discipline_codes"), table_name="person", postgresql_using="gin")
    op.drop_table("person")
    op.drop_index(op.f("ix_search_outbox_person_id"), table_name="search_outbox")
    op.drop_index(op.f("ix_search_outbox_next_attempt_at_id"), table_name="search_outbox")
    op.drop_table("search_outbox")
    op.drop_index(
        "ix_organisation_path",
        table_name="organisation",
        postgresql_ops={"path": "text_pattern_ops"},
    )
    op.drop_index(op.f("ix_organisation_parent_id"), table_name="organisation")
    op.drop_table("organisation")
    op.drop_table("login_throttle")
    op.drop_index(op.f("ix_change_history_entity_entity_id_id"), table_name="change_history")
    op.drop_table("change_history")
    op.drop_index(op.f("ix_audit_event_object_type_object_id"), table_name="audit_event")
    op.drop_table("audit_event")
