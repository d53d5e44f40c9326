"""People found by the start of their name through an index.

The people list (`q`) finds profiles whose name or Latin name starts with the text, and a
society's member list (`q`) members whose name does. LIKE 'x%' uses a b-tree only when it
compares bytes, which an index in the database's collation (C.UTF-8 in deploy/) does not: every
such request walked the profiles by id until it had a page, so a rare name read every profile
(over 1,000,000 profiles, 0.7 s for a name nobody else starts with). `ix_person_name_birth_date`
is rebuilt with `text_pattern_ops`, which serves both the equality lookups it was made for
(name and birth date, in imports and inline memberships) and the prefixes; Latin names get an
index of their lower case (those who have one), which the list now compares (0.2 ms for the
same request).

Revision ID: 0027_person_name_prefixes
Revises: 0026_membership_org_id_id
Create Date: 2026-11-24 08:30:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_person_name_prefixes"
down_revision: str | None = "0026_membership_org_id_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_index(op.f("ix_person_name_birth_date"), table_name="person")
    op.create_index(
        op.f("ix_person_name_birth_date"),
        "person",
        ["name", "birth_date"],
        postgresql_ops={"name": "text_pattern_ops"},
    )
    # Partial: most imported people have no Latin name, and write no entry.
    op.create_index(
        "ix_person_lower_name_en",
        "person",
        [sa.text("lower(name_en) text_pattern_ops")],
        postgresql_where=sa.text("name_en IS NOT NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_person_lower_name_en", table_name="person")
    op.drop_index(op.f("ix_person_name_birth_date"), table_name="person")
    op.create_index(op.f("ix_person_name_birth_date"), "person", ["name", "birth_date"])
