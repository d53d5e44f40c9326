"""Expert search: the tsvector stays in the row; the institution indexes cover exclusions.

Every search reads the `tsv` of each matching row (to rank it). A row over 2 kB (a long
biography) had its `tsv`, the largest column, moved out of line: a third more page reads
for the matches of a biography word. STORAGE MAIN keeps it in the row and moves the JSON
`document` (read only for the page of hits) out instead. Rows already written keep their
layout until the next `registry search reindex`, which copies the storage.

A conflict rule that excludes an institution's people makes the bitmap path subtract those
inside the match from the total and facets. It needs each one's ordinal and facet values; with
them in the indexes (INCLUDE), a 17,000-person institution is read from about 230 index pages
instead of 17,000 table pages.

Revision ID: 0016_search_exclusion_indexes
Revises: 0015_change_history_by_entity_id
Create Date: 2026-11-23 12:45:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016_search_exclusion_indexes"
down_revision: str | None = "0015_change_history_by_entity_id"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ["ord", "title_level", "gender", "province", "disciplines_l1"]


def upgrade() -> None:
    op.execute("ALTER TABLE expert_doc ALTER COLUMN tsv SET STORAGE MAIN")
    for column in ("institution_key", "institution_uscc"):
        name = f"ix_expert_doc_{column}"
        op.drop_index(name, table_name="expert_doc")
        op.create_index(name, "expert_doc", [column], postgresql_include=COVERED)


def downgrade() -> None:
    op.execute("ALTER TABLE expert_doc ALTER COLUMN tsv SET STORAGE EXTENDED")
    for column in ("institution_key", "institution_uscc"):
        name = f"ix_expert_doc_{column}"
        op.drop_index(name, table_name="expert_doc")
        op.create_index(name, "expert_doc", [column])
