"""Expert search: age ranges on bitmaps; a covering index on the birth date.

Each expert's year of birth becomes a tsvector token (`Y:1985`) with a bitmap, so that an age
range is answered from bitmaps like any other filter (before, it visited every matching row:
half a second for a common word with an age range at a million experts). Those born in the
first and last year of a range but outside it are read from this index (index-only, with what
the subtraction needs) and subtracted. The tokens and their bitmaps come with the next
`registry search reindex`; until then age ranges take the row path as before.

Revision ID: 0019_expert_birth_year
Revises: 0018_expert_doc_body
Create Date: 2026-11-23 19:10:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_expert_birth_year"
down_revision: str | None = "0018_expert_doc_body"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COVERED = ["ord", "title_level", "gender", "province", "disciplines_l1"]


def _drop_if_invalid(name: str) -> None:
    """Drop the invalid index an interrupted concurrent build left (IF NOT EXISTS keeps it)."""
    invalid = op.get_bind().scalar(
        sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    )
    if invalid:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")


def upgrade() -> None:
    # Built without blocking the outbox drain's writes; a reindex run before this upgrade may
    # have built it already.
    with op.get_context().autocommit_block():
        _drop_if_invalid("ix_expert_doc_birth_date")
        op.execute(
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS ix_expert_doc_birth_date"
            f" ON expert_doc (birth_date) INCLUDE ({', '.join(COVERED)})"
        )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS ix_expert_doc_birth_date")
