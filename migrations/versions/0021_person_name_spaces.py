"""People: names lose the spaces put between Chinese characters (张 三 is 张三).

Names are stored as `normalize.person_name` gives them: member lists pad two-character names
with a space (often an ideographic one) to line them up, and the padded name must be the same
name, or an import would find the document number registered under another name, or create a
second profile. This brings names stored before into that form. Each change is a `name`
entry in the person's history (actor `system`, source `migration:0021`), and the person goes on
the search outbox. Not undone by the downgrade: the names are right either way.

Revision ID: 0021_person_name_spaces
Revises: 0020_expert_facet_codes
Create Date: 2026-11-24 01:20:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0021_person_name_spaces"
down_revision: str | None = "0020_expert_facet_codes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The CJK ranges of services.registry.core.normalize, as PostgreSQL regular expressions.
_CJK = "[\\u3007\\u3400-\\u4dbf\\u4e00-\\u9fff\\uf900-\\ufaff\\U00020000-\\U0003134f]"
SPACE_IN_CJK = f"(?<={_CJK}) (?={_CJK})"


def upgrade() -> None:
    op.execute(
        f"""
        WITH changed AS (
            UPDATE person p SET name = n.new_name, updated_at = now(), version = p.version + 1
            FROM (
                SELECT id, name AS old_name, regexp_replace(name, '{SPACE_IN_CJK}', '', 'g')
                    AS new_name
                FROM person WHERE name ~ '{SPACE_IN_CJK}'
            ) n
            WHERE p.id = n.id
            RETURNING p.id, n.old_name, n.new_name
        ), history AS (
            INSERT INTO change_history (entity, entity_id, change_id, field, old_value,
                                        new_value, actor, source)
            SELECT 'person', id, gen_random_uuid(), 'name', old_name, new_name, 'system',
                   'migration:0021'
            FROM changed
        )
        INSERT INTO search_outbox (person_id, attempts) SELECT id, 0 FROM changed
        """  # noqa: S608 - constants only
    )


def downgrade() -> None:
    pass
