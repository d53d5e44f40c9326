"""People: `person_alias`, the names and contacts a person is also known by.

A merge records the merged profile's name, birth date, phone and e-mail on the kept person, and
an import matches rows by them as by the person's own, so that the society that listed the
merged profile finds the kept person on its next import instead of creating the duplicate again.

Revision ID: 0022_person_alias
Revises: 0021_person_name_spaces
Create Date: 2026-11-24 01:40:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0022_person_alias"
down_revision: str | None = "0021_person_name_spaces"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "person_alias",
        sa.Column("id", sa.BigInteger(), nullable=False),
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("phone", sqlmodel.sql.sqltypes.AutoString(length=24), nullable=True),
        sa.Column("email", sqlmodel.sql.sqltypes.AutoString(length=254), nullable=True),
        sa.Column("source", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.ForeignKeyConstraint(
            ["person_id"],
            ["person.id"],
            name=op.f("fk_person_alias_person_id_person"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_alias")),
    )
    op.create_index(op.f("ix_person_alias_name_birth_date"), "person_alias", ["name", "birth_date"])
    op.create_index(op.f("ix_person_alias_person_id"), "person_alias", ["person_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_person_alias_person_id"), table_name="person_alias")
    op.drop_index(op.f("ix_person_alias_name_birth_date"), table_name="person_alias")
    op.drop_table("person_alias")
