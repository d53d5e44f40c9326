"""Reading profiles: one by id and in lists, the same answer, in scope or 404, contacts masked."""

from __future__ import annotations

import asyncio

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.exc import OperationalError

from services.registry.app import create_app
from services.registry.core.db import ReadPool

from ..factories import Factory, resident_id

PROBLEM = "application/problem+json"
PEOPLE = "/api/v1/people"


@pytest.fixture
def world(factory):  # type: ignore[no-untyped-def]
    """A provincial association with a society below it, a sibling society, and one member
    of the lower society with a document and contact data."""
    province = factory.org(kind="provincial_association")
    society = factory.org(parent=province.code)
    sibling = factory.org()
    person = factory.person(
        org=society,
        id_type="resident_id",
        id_number=resident_id(),
        phone="13812345678",
        email="li.wei@example.org",
        discipline_codes=["110"],
        research_fields=["代数几何"],
    )
    factory.membership(society, person, member_no="R1")
    return province, society, sibling, person


def test_one_profile_reads_exactly_as_the_list_shows_it(client, factory, world) -> None:
    _, society, _, person = world
    headers = factory.caller("platform_admin")
    one = client.get(f"{PEOPLE}/{person.id}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.headers["content-type"] == "application/json"
    listed = client.get(PEOPLE, params={"org_code": society.code}, headers=headers)
    assert listed.status_code == 200, listed.text
    assert listed.json()["items"] == [one.json()]
    body = one.json()
    assert "id_number" not in body
    assert body["id_number_masked"].count("*") == 11
    assert body["phone"] == "13812345678"
    assert body["discipline_codes"] == ["110"]
    assert body["research_fields"] == ["代数几何"]


def test_a_committee_sees_contact_data_masked_in_both_reads(client, factory, world) -> None:
    _, society, _, person = world
    headers = factory.caller("committee", society)
    one = client.get(f"{PEOPLE}/{person.id}", headers=headers).json()
    listed = client.get(PEOPLE, params={"org_code": society.code}, headers=headers).json()
    assert one["phone"] == "138****5678"
    assert one["email"] == "l***@example.org"
    assert listed["items"] == [one]


def test_staff_read_members_of_their_society_and_the_ones_below_it(client, factory, world) -> None:
    province, society, sibling, person = world
    for org, status in ((society, 200), (province, 200), (sibling, 404), (society, 200)):
        response = client.get(f"{PEOPLE}/{person.id}", headers=factory.caller("org_staff", org))
        assert response.status_code == status, (org.code, response.text)


def test_another_societys_profile_is_a_problem_404_like_an_unknown_one(
    client, factory, world
) -> None:
    _, _, sibling, person = world
    response = client.get(f"{PEOPLE}/{person.id}", headers=factory.caller("org_admin", sibling))
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["status"] == 404
    assert "13812345678" not in response.text


def test_reads_work_again_after_the_application_restarts(settings, database_url) -> None:
    """The read pool belongs to an event loop: a restarted application opens a new one."""
    app = create_app(settings, database_url)
    factory = Factory(app.state.runtime)
    person = factory.person()
    headers = factory.caller("platform_admin")
    try:
        for _ in range(2):
            with TestClient(app) as client:
                response = client.get(f"{PEOPLE}/{person.id}", headers=headers)
                assert response.status_code == 200, response.text
    finally:
        app.state.runtime.engine.dispose()


def test_an_unreachable_database_is_reported_as_for_any_other_statement(runtime) -> None:
    """The API's handler turns SQLAlchemy's OperationalError into a 503 problem."""
    reads = ReadPool(
        "postgresql://postgres@127.0.0.1:1/none", runtime.engine.dialect, max_size=1, timeout=0.5
    )

    async def read() -> None:
        try:
            await reads.fetch_one("SELECT 1", {})
        finally:
            await reads.close()

    with pytest.raises(OperationalError):
        asyncio.run(read())


def test_the_list_finds_members_of_an_organisation_by_its_code_typed_full_width(
    client, factory, world
) -> None:
    _, society, _, person = world
    headers = factory.caller("platform_admin")
    typed = "".join(chr(ord(c) + 0xFEE0) for c in society.code.lower())  # Ｔ… full-width
    listed = client.get(PEOPLE, params={"org_code": typed}, headers=headers)
    assert listed.status_code == 200, listed.text
    assert [p["id"] for p in listed.json()["items"]] == [str(person.id)]
