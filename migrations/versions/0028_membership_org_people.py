"""The (org_id, id) index of memberships carries person_id: an organisation's people by index alone.

A society's staff list the people of their scope (`GET /api/v1/people`). Walking every profile
in id order and keeping those in scope read the whole table for a small society (its members,
imported at once, have neighbouring ids): about a second a page at 2,000,000 profiles. The list
now reads the scope's people first, from this index, and each profile by its key (scopes under
20,000 people; larger ones fill a page within a few thousand profiles of the walk): a page of a
society of 1,000 among 2,000,000 profiles took 0.4-1.1 s and 12-22 ms in a trial. Without
`person_id` in the index the only way to an organisation's people was a scan of the whole
`(person_id, org_id)` index. The entries grow from 32 to 48 bytes; no index is added to what a membership writes.

Revision ID: 0028_membership_org_people
Revises: 0027_person_name_prefixes
Create Date: 2026-11-24 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_membership_org_people"
down_revision: str | None = "0027_person_name_prefixes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NEW, OLD = "ix_membership_org_id_id_people", "ix_membership_org_id_id"


def _drop_if_invalid(name: str) -> None:
    """Drop the invalid index an interrupted concurrent build left (IF NOT EXISTS keeps it)."""
    invalid = op.get_bind().scalar(
        sa.text("SELECT NOT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:name)"),
        {"name": name},
    )
    if invalid:
        op.execute(f"DROP INDEX CONCURRENTLY {name}")


def upgrade() -> None:
    # Built beside the old one without blocking writes to memberships (tens of millions of
    # rows); the old one serves member lists until the swap, whose rename takes a moment.
    with op.get_context().autocommit_block():
        _drop_if_invalid(NEW)
        op.execute(
            f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {NEW}"
            " ON membership (org_id, id) INCLUDE (person_id)"
        )
        op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {OLD}")
    op.execute(f"ALTER INDEX {NEW} RENAME TO {OLD}")


def downgrade() -> None:
    op.create_index("ix_membership_org_id_id_plain", "membership", ["org_id", "id"])
    op.drop_index(op.f(OLD), table_name="membership")
    op.execute(f"ALTER INDEX ix_membership_org_id_id_plain RENAME TO {OLD}")
