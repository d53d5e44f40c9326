"""Membership pages keep room for every row to change once: the status refresh stays HOT.

`registry memberships refresh` rewrites `status` (in no index). PostgreSQL updates a row in
place of its page (a HOT update, no index entries) only when the new version fits on the
same page. At fillfactor 85 a page had room for about a sixth of its rows, so a refresh that
moves many memberships at once (the first one after importing old lists, or 1 January, when
every calendar-year membership not yet renewed goes into grace) wrote most new versions
elsewhere, with an entry in each of the table's four indexes: 16 of the 42 s of a catch-up
over a million memberships. At 50 every row of a page can change in one statement and stay
HOT; the table takes about 1.7 times the space. Applies to pages written from now on;
`VACUUM FULL membership` at a quiet time rewrites the existing ones.

Revision ID: 0012_membership_room_for_refresh
Revises: 0011_import_batch_columns
Create Date: 2026-11-23 09:05:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012_membership_room_for_refresh"
down_revision: str | None = "0011_import_batch_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE membership SET (fillfactor = 50)")


def downgrade() -> None:
    op.execute("ALTER TABLE membership SET (fillfactor = 85)")
