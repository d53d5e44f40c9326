"""Change history keyed by (entity_id, id): one index per entry instead of two.

Entries were found through `ix_change_history_entity_id_id (entity_id, id)` (migration 0015)
and kept unique by a primary key on `id` alone, which nothing looks up: `id` comes from the
table's sequence, so `(entity_id, id)` is as unique and can be the key itself. Every entry
written (a status refresh writes one per changed membership, an import one per changed field)
then costs one index entry instead of two: the 593,074 entries of a refresh over a million
memberships went in 2.9-3.3 s instead of 3.6-4.4 s (one table each, the same rows, after a
checkpoint).

Revision ID: 0017_change_history_key
Revises: 0016_search_exclusion_indexes
Create Date: 2026-11-23 16:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017_change_history_key"
down_revision: str | None = "0016_search_exclusion_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _drop_if_invalid(name: str) -> None:
    """Drop the invalid index an interrupted concurrent build left (IF NOT EXISTS keeps it)."""
    invalid = op.get_bind().scalar(
        sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    )
    if invalid:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")


def upgrade() -> None:
    # The new key's index is built without blocking writes (history grows with every change,
    # and every write of the API records some); swapping the key then takes a brief lock.
    with op.get_context().autocommit_block():
        _drop_if_invalid("pk_change_history_new")
        op.execute(
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS pk_change_history_new"
            " ON change_history (entity_id, id)"
        )
    op.execute(
        "ALTER TABLE change_history DROP CONSTRAINT pk_change_history,"
        " ADD CONSTRAINT pk_change_history PRIMARY KEY USING INDEX pk_change_history_new"
    )
    op.drop_index(op.f("ix_change_history_entity_id_id"), table_name="change_history")


def downgrade() -> None:
    op.create_index(
        op.f("ix_change_history_entity_id_id"), "change_history", ["entity_id", "id"], unique=False
    )
    op.drop_constraint(op.f("pk_change_history"), "change_history", type_="primary")
    op.create_primary_key(op.f("pk_change_history"), "change_history", ["id"])
