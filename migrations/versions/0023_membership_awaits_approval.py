"""Memberships: `awaiting_approval`, so that "not yet approved" outlives a hold.

A pending membership was known only by its status, which a suspension, a termination or a
manual status replaces; lifting the hold let the dates decide, and the membership became active
without anyone approving it. The flag is set while a membership created pending waits for its
approval, and the status rule reads it (`lifecycle.STATUS_RULE`).

Set here for every pending membership, and for those held now whose last status change left
`pending` (a hold put on a pending membership; a chain of holds since is not followed back).

Revision ID: 0023_membership_awaits_approval
Revises: 0022_person_alias
Create Date: 2026-11-25 09:00:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_membership_awaits_approval"
down_revision: str | None = "0022_person_alias"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A constant default: PostgreSQL adds the column without rewriting the table.
    op.add_column(
        "membership",
        sa.Column("awaiting_approval", sa.Boolean(), server_default="false", nullable=False),
    )
    op.execute(
        """
        UPDATE membership m SET awaiting_approval = true
        WHERE m.status = 'pending'
           OR (m.status_override IS NOT NULL
               AND (SELECT h.old_value FROM change_history h
                    WHERE h.entity_id = m.id AND h.entity = 'membership' AND h.field = 'status'
                    ORDER BY h.id DESC LIMIT 1) = 'pending')
        """
    )


def downgrade() -> None:
    # The older rule knows only the status: held memberships not yet approved are left to it.
    op.drop_column("membership", "awaiting_approval")
