"""People: mainland landlines kept with +86 are stored as dialled at home (+861068571898 is
01068571898).

Phones are stored as `normalize.phone` gives them, and imports and inline memberships find a
person by name, birth date and the same phone. A landline given with +86 or 0086 (also with the
area code's 0 kept, `+86 (0)10 …`) is now stored as dialled at home, as mobiles already lose
the prefix; profiles and merged profiles' contacts stored before kept +86, so the same number
typed again no longer found them and a second profile was created. This brings them into that
form. Each change to a profile is a `phone` entry in its history, masked as phones are there
(actor `system`, source `migration:0025`); phones are not in expert search documents. Not undone
by the downgrade: the numbers are the same either way.

Revision ID: 0025_person_landline_phones
Revises: 0024_audit_log_reading
Create Date: 2026-11-24 07:00:00.000000
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0025_person_landline_phones"
down_revision: str | None = "0024_audit_log_reading"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# normalize._LANDLINE_CN after +86, as a PostgreSQL regular expression.
LANDLINE = r"^\+860?(?!400|800)(10|2[0-9]|[3-9][0-9]{2})[0-9]{7,8}$"
AT_HOME = r"regexp_replace({column}, '^\+860?', '0')"


def _masked(value: str) -> str:
    """security.mask_phone in SQL."""
    return (
        f"CASE WHEN length({value}) = 11 AND {value} ~ '^[0-9]+$'"
        f" THEN left({value}, 3) || '****' || right({value}, 4)"
        f" ELSE repeat('*', greatest(0, length({value}) - 2)) || right({value}, 2) END"
    )


def upgrade() -> None:
    op.execute(
        f"""
        WITH changed AS (
            UPDATE person p SET phone = n.new_phone, updated_at = now(), version = p.version + 1
            FROM (
                SELECT id, phone AS old_phone, {AT_HOME.format(column="phone")} AS new_phone
                FROM person WHERE phone ~ '{LANDLINE}'
            ) n
            WHERE p.id = n.id
            RETURNING p.id, n.old_phone, n.new_phone
        )
        INSERT INTO change_history (entity, entity_id, change_id, field, old_value, new_value,
                                    actor, source)
        SELECT 'person', id, gen_random_uuid(), 'phone', {_masked("old_phone")},
               {_masked("new_phone")}, 'system', 'migration:0025'
        FROM changed
        """  # noqa: S608 - constants only
    )
    op.execute(
        f"UPDATE person_alias SET phone = {AT_HOME.format(column='phone')}"  # noqa: S608
        f" WHERE phone ~ '{LANDLINE}'"
    )


def downgrade() -> None:
    pass
