"""No plaintext ID number anywhere in the database, and ciphertexts bound to their rows."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from cryptography.exceptions import InvalidTag
from sqlalchemy import text

from .factories import resident_id

PEOPLE = "/api/v1/people"


def with_x(birth: date) -> str:
    """A resident ID number ending in X, so a lower-case x can be typed and must not be kept."""
    while True:
        number = resident_id(birth)
        if number.endswith("X"):
            return number


def _scannable_columns(db) -> list[tuple[str, str, str, str]]:  # type: ignore[no-untyped-def]
    """Every column of every user table whose values could hold text (text, bytea, jsonb,
    arrays, tsvector, ...): everything but numbers, booleans, dates, times and uuids."""
    return [
        tuple(row)
        for row in db.execute(
            text(
                "SELECT c.table_schema, c.table_name, c.column_name, c.data_type"
                " FROM information_schema.columns c"
                " JOIN information_schema.tables t"
                "   ON t.table_schema = c.table_schema AND t.table_name = c.table_name"
                " WHERE t.table_type = 'BASE TABLE'"
                "   AND c.table_schema NOT IN ('pg_catalog', 'information_schema')"
                "   AND c.data_type NOT IN ('smallint', 'integer', 'bigint', 'numeric', 'real',"
                "        'double precision', 'boolean', 'date', 'interval', 'uuid',"
                "        'timestamp with time zone', 'timestamp without time zone')"
                " ORDER BY 1, 2, 3"
            )
        ).all()
    ]


def _hits(db, needle: str) -> list[str]:  # type: ignore[no-untyped-def]
    """`schema.table.column` of every value containing `needle` (as text or as raw bytes)."""
    found = []
    for schema, table, column, data_type in _scannable_columns(db):
        ident = f'"{schema}"."{table}"'
        col = f'"{column}"'
        if data_type == "bytea":
            condition = (
                f"position(convert_to(:needle, 'UTF8') in {col}) > 0"
                f" OR encode({col}, 'escape') LIKE '%' || :needle || '%'"
            )
        else:
            condition = f"{col}::text LIKE '%' || :needle || '%'"
        count = db.execute(
            text(f"SELECT count(*) FROM {ident} WHERE {condition}"), {"needle": needle}
        ).scalar_one()
        if count:
            found.append(f"{schema}.{table}.{column}")
    return found


@pytest.fixture
def numbers(client, factory) -> list[str]:  # type: ignore[no-untyped-def]
    """People with ID numbers written through every path that takes one."""
    admin = factory.caller("platform_admin")
    org = factory.org()
    staff = factory.caller("org_admin", org)
    made = [with_x(date(1960 + i, 1 + i, 10 + i)) for i in range(3)]
    made.append(with_x(date(1961, 2, 11)))  # the replacement number: same birth date as made[1]
    people = []
    for number in made[:2]:
        response = client.post(
            PEOPLE, json={"name": "静态加密", "id_number": number.lower()}, headers=admin
        )
        assert response.status_code == 201, response.text
        people.append(response.json()["id"])
    membership = client.post(
        f"/api/v1/orgs/{org.code}/memberships",
        json={"person": {"name": "会员加密", "id_number": made[2]}},
        headers=staff,
    )
    assert membership.status_code == 201, membership.text
    # A change of number (history), a read of the unmasked number (audit), a refused
    # duplicate and a refused wrong number (error paths) all leave their traces, if any.
    patched = client.patch(f"{PEOPLE}/{people[1]}", json={"id_number": made[3]}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert client.get(f"{PEOPLE}/{people[0]}/identity", headers=admin).status_code == 200
    assert (
        client.post(PEOPLE, json={"name": "重复", "id_number": made[0]}, headers=admin).status_code
        == 409
    )
    return made


def test_no_table_holds_a_plaintext_id_number(db, numbers) -> None:
    db.rollback()
    columns = {f"{s}.{t}.{c}" for s, t, c, _ in _scannable_columns(db)}
    # The scan covers the tables that matter; if one is renamed, this test must be revisited.
    for must in (
        "public.person.id_number_enc",
        "public.person.id_number_masked",
        "public.change_history.old_value",
        "public.change_history.new_value",
        "public.audit_event.detail",
    ):
        assert must in columns, must
    for number in numbers:
        for needle in (number, number.lower(), number[:17], number[6:17]):
            assert _hits(db, needle) == [], needle


def test_the_scan_would_find_a_plaintext_number(db, numbers) -> None:
    """The scan itself works: a number planted in a text and a bytea column is found."""
    planted = numbers[0]
    try:
        db.execute(
            text("UPDATE person SET position = :n WHERE id_number_masked IS NOT NULL"),
            {"n": f"x{planted}x"},
        )
        db.execute(
            text(
                "UPDATE person SET id_number_bidx = convert_to(:n, 'UTF8')"
                " WHERE id = (SELECT id FROM person WHERE id_number_bidx IS NOT NULL LIMIT 1)"
            ),
            {"n": planted},
        )
        assert set(_hits(db, planted)) == {"public.person.position", "public.person.id_number_bidx"}
    finally:
        db.rollback()


def test_ciphertext_decrypts_only_under_its_own_row_id(db, runtime, numbers) -> None:
    db.rollback()
    rows = db.execute(
        text(
            "SELECT id, id_number_enc FROM person WHERE id_number_enc IS NOT NULL"
            " ORDER BY created_at DESC LIMIT 2"
        )
    ).all()
    (a_id, a_enc), (b_id, b_enc) = rows
    a_enc, b_enc = bytes(a_enc), bytes(b_enc)
    assert runtime.pii.decrypt(a_enc, context=a_id.bytes) in numbers
    assert runtime.pii.decrypt(b_enc, context=b_id.bytes) in numbers
    with pytest.raises(InvalidTag):
        runtime.pii.decrypt(a_enc, context=b_id.bytes)
    with pytest.raises(InvalidTag):
        runtime.pii.decrypt(b_enc, context=a_id.bytes)


def test_swapped_ciphertexts_in_the_table_are_refused_on_read(client, factory, db, runtime) -> None:
    """Copying one person's ciphertext onto another row does not reveal it under that row."""
    admin = factory.caller("platform_admin")
    ids = []
    for _ in range(2):
        response = client.post(
            PEOPLE, json={"name": "交换", "id_number": resident_id()}, headers=admin
        )
        ids.append(uuid.UUID(response.json()["id"]))
    db.rollback()
    encs = {
        row.id: bytes(row.id_number_enc)
        for row in db.execute(
            text("SELECT id, id_number_enc FROM person WHERE id = ANY(:ids)"), {"ids": ids}
        )
    }
    swap = text("UPDATE person SET id_number_enc = :enc WHERE id = :id")
    db.execute(swap, [{"id": ids[0], "enc": encs[ids[1]]}, {"id": ids[1], "enc": encs[ids[0]]}])
    db.commit()
    try:
        for person_id in ids:
            with pytest.raises(InvalidTag):
                runtime.pii.decrypt(encs[person_id], context=ids[1 - ids.index(person_id)].bytes)
            response = client.get(f"{PEOPLE}/{person_id}/identity", headers=admin)
            assert response.status_code >= 500  # an integrity failure, never the other's number
            assert response.headers["content-type"].startswith("application/problem+json")
            assert "Tag" not in response.text
    finally:
        db.rollback()
        db.execute(swap, [{"id": pid, "enc": enc} for pid, enc in encs.items()])
        db.commit()
    assert client.get(f"{PEOPLE}/{ids[0]}/identity", headers=admin).status_code == 200
