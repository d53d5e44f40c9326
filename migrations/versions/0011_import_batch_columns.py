"""People and memberships created by an import carry their batch; no unused GIN index on
person.discipline_codes.

A bulk import creating a million people wrote a million `created` history rows for people and
as many for memberships; the batch id on the row says the same (the history read shows it as
the `created` entry). The GIN index on `person.discipline_codes` served no query (the people
list filters by code prefix over `unnest()`, expert search uses `expert_doc`) and every
inserted person paid for it.

Revision ID: 0011_import_batch_columns
Revises: 0010_search_bitmaps
Create Date: 2026-11-23 09:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_import_batch_columns"
down_revision: str | None = "0010_search_bitmaps"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("person", sa.Column("import_batch_id", sa.Uuid(), nullable=True))
    op.add_column("membership", sa.Column("import_batch_id", sa.Uuid(), nullable=True))
    op.drop_index(op.f("ix_person_discipline_codes"), table_name="person", postgresql_using="gin")


def downgrade() -> None:
    op.create_index(
        op.f("ix_person_discipline_codes"),
        "person",
        ["discipline_codes"],
        unique=False,
        postgresql_using="gin",
    )
    # The batch columns stood for `created` history rows: write those back before dropping.
    for table, value in (("person", "t.name"), ("membership", "t.status")):
        op.execute(
            f"""
            INSERT INTO change_history (entity, entity_id, change_id, field, old_value,
                                        new_value, actor, source, changed_at)
            SELECT '{table}', t.id, t.import_batch_id, 'created', NULL, {value},
                   coalesce(b.actor, 'import'), 'import:' || t.import_batch_id, t.created_at
            FROM {table} t LEFT JOIN import_batch b ON b.id = t.import_batch_id
            WHERE t.import_batch_id IS NOT NULL
            """  # noqa: S608 - table names from the tuple above
        )
    op.drop_column("membership", "import_batch_id")
    op.drop_column("person", "import_batch_id")
