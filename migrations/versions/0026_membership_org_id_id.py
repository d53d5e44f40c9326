"""Memberships indexed by (org_id, id): a society's member list reads one page, not the society.

`GET /api/v1/orgs/{code}/memberships` lists a society's memberships in id order, a page after
the cursor's id. Since 0014 the only index beginning with `org_id` is
`uq_membership_org_id_member_no`, which gives no id order: a page either read every membership
of the society and sorted them, or walked the primary key through every society's memberships
until it had a page of this one. Over 1,000,000 memberships, a society of 14,000 passed over
3,350 rows for its first page (24 ms, now 2 ms), and a status filter that none of a society of
330,000 matched read all 1,000,100 rows (2.3 s; now the society's own rows, 0.8 s). With this
index a page reads its own rows, and a filter no more than the society's.

Revision ID: 0026_membership_org_id_id
Revises: 0025_person_landline_phones
Create Date: 2026-11-24 08:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0026_membership_org_id_id"
down_revision: str | None = "0025_person_landline_phones"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(op.f("ix_membership_org_id_id"), "membership", ["org_id", "id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_membership_org_id_id"), table_name="membership")
