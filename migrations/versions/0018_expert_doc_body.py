"""Expert search: the JSON document leaves `expert_doc` for `expert_doc_body`.

A search visits every matching row of `expert_doc` (to rank it and count its facets), so the
narrower the row, the fewer pages a match costs. The JSON document, read only for the page of
hits, moves to its own table; the display columns it repeats (name, institution, region,
research fields, codes) and the filter arrays go (filters are tsvector tokens already), which
halves the row. Dropped columns keep their space, and rows their place, until the next
`registry search reindex`, which writes the table anew, ordered by discipline.

Revision ID: 0018_expert_doc_body
Revises: 0017_change_history_key
Create Date: 2026-11-23 18:20:00.000000
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0018_expert_doc_body"
down_revision: str | None = "0017_change_history_key"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TEXT_COLUMNS = ("name", "name_en", "institution")
ARRAY_COLUMNS = (
    "region_prefixes",
    "discipline_codes",
    "discipline_prefixes",
    "research_fields",
    "org_codes",
)


def upgrade() -> None:
    op.create_table(
        "expert_doc_body",
        sa.Column("person_id", sa.Uuid(), nullable=False),
        sa.Column("document", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("person_id", name="pk_expert_doc_body"),
    )
    op.execute(
        "INSERT INTO expert_doc_body (person_id, document) SELECT person_id, document"
        " FROM expert_doc"
    )
    for column in ("document", "region_code", *TEXT_COLUMNS, *ARRAY_COLUMNS):
        op.drop_column("expert_doc", column)


def downgrade() -> None:
    op.add_column("expert_doc", sa.Column("document", sa.Text(), nullable=True))
    op.add_column("expert_doc", sa.Column("region_code", sa.String(6), nullable=True))
    for column in TEXT_COLUMNS:
        op.add_column("expert_doc", sa.Column(column, sa.Text(), nullable=True))
    for column in ARRAY_COLUMNS:
        op.add_column(
            "expert_doc",
            sa.Column(column, postgresql.ARRAY(sa.Text()), nullable=False, server_default="{}"),
        )
    # The columns are filled from the document, the filter arrays from the tsvector's tokens
    # (`R:11`, `D:130`, ...), as the previous revision's searches read them.
    op.execute(
        """
        UPDATE expert_doc d SET
            document = b.document,
            name = b.document::jsonb ->> 'name',
            name_en = b.document::jsonb ->> 'name_en',
            institution = b.document::jsonb ->> 'institution',
            region_code = b.document::jsonb ->> 'region_code',
            discipline_codes = ARRAY(
                SELECT jsonb_array_elements_text(b.document::jsonb -> 'discipline_codes')),
            research_fields = ARRAY(
                SELECT jsonb_array_elements_text(b.document::jsonb -> 'research_fields')),
            org_codes = ARRAY(SELECT jsonb_array_elements_text(b.document::jsonb -> 'org_codes')),
            region_prefixes = ARRAY(
                SELECT substr(t, 3) FROM unnest(tsvector_to_array(d.tsv)) t WHERE t LIKE 'R:%'),
            discipline_prefixes = ARRAY(
                SELECT substr(t, 3) FROM unnest(tsvector_to_array(d.tsv)) t WHERE t LIKE 'D:%')
        FROM expert_doc_body b WHERE b.person_id = d.person_id
        """
    )
    # Every row has its body (both are written together): a row without one fails here.
    op.alter_column("expert_doc", "document", nullable=False)
    op.alter_column("expert_doc", "name", nullable=False)
    op.drop_table("expert_doc_body")
