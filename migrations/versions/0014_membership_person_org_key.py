"""Memberships keyed by (person_id, org_id): one unique index instead of two indexes.

`uq_membership_org_id_person_id (org_id, person_id)` and `ix_membership_person_id (person_id)`
become one unique `(person_id, org_id)`: it keeps a person to one membership per organisation,
serves every lookup by person (a person's memberships, the foreign-key checks of a deleted
person), and lookups by organisation alone are served by `uq_membership_org_id_member_no`,
which begins with `org_id`. Each membership written costs one index entry fewer, which is a
fifth of the index work of a member-list import.

Revision ID: 0014_membership_person_org_key
Revises: 0013_rate_limit_counter
Create Date: 2026-11-23 12:30:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014_membership_person_org_key"
down_revision: str | None = "0013_rate_limit_counter"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_unique_constraint(
        op.f("uq_membership_person_id_org_id"), "membership", ["person_id", "org_id"]
    )
    op.drop_constraint(op.f("uq_membership_org_id_person_id"), "membership", type_="unique")
    op.drop_index(op.f("ix_membership_person_id"), table_name="membership")


def downgrade() -> None:
    op.create_index(op.f("ix_membership_person_id"), "membership", ["person_id"], unique=False)
    op.create_unique_constraint(
        op.f("uq_membership_org_id_person_id"), "membership", ["org_id", "person_id"]
    )
    op.drop_constraint(op.f("uq_membership_person_id_org_id"), "membership", type_="unique")
