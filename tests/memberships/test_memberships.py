"""Memberships over HTTP: one identity across societies, member numbers, races, history, /me."""

from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest
from sqlalchemy import text

from services.registry.core.security import mask_document

from ..factories import plan, plan_nodes, resident_id, statements, wait_for_lock_waiter

PROBLEM = "application/problem+json"


def fields_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    body = response.json()
    assert body["status"] == response.status_code
    return {e["field"] for e in body.get("errors", [])}


def url(org) -> str:  # type: ignore[no-untyped-def]
    return f"/api/v1/orgs/{org.code}/memberships"


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国力学学会" + uuid.uuid4().hex[:4])


@pytest.fixture
def staff(factory, society) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factory.caller("org_admin", society)


def member_no() -> str:
    return "M" + uuid.uuid4().hex[:8].upper()


def inline(**fields) -> dict:  # type: ignore[no-untyped-def]
    fields.setdefault("name", "张" + uuid.uuid4().hex[:4])
    return fields


def history_rows(db, entity_id) -> list:  # type: ignore[no-untyped-def]
    db.rollback()
    return db.execute(
        text(
            "SELECT field, old_value, new_value, reason, actor, source FROM change_history"
            " WHERE entity = 'membership' AND entity_id = :id ORDER BY id"
        ),
        {"id": str(entity_id)},
    ).all()


# --- creating -------------------------------------------------------------------------------


def test_create_for_an_existing_person(client, factory, society, staff, db) -> None:
    person = factory.person(org=society)
    no = member_no()
    response = client.post(
        url(society),
        json={
            "person_id": str(person.id),
            "grade": "高级会员",
            "member_no": no,
            "joined_on": "2020年1月1日",
            "valid_until": "2035/12/31",
        },
        headers=staff,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["person_id"] == str(person.id)
    assert body["person_name"] == person.name
    assert body["org_code"] == society.code
    assert body["org_name"] == society.name
    assert body["grade"] == "senior"
    assert body["status"] == "active"
    assert body["member_no"] == no
    assert (body["joined_on"], body["valid_until"]) == ("2020-01-01", "2035-12-31")
    assert body["person_matched"] is False
    again = client.get(f"/api/v1/memberships/{body['id']}", headers=staff)
    assert again.status_code == 200
    assert again.json()["member_no"] == no
    rows = history_rows(db, body["id"])
    assert [r.field for r in rows] == ["created"]
    db.rollback()
    outbox = db.execute(
        text("SELECT count(*) FROM search_outbox WHERE person_id = :id"), {"id": str(person.id)}
    ).scalar_one()
    assert outbox == 1  # the membership (a profile outside the expert pool queues nothing)


def test_inline_person_without_document_creates_a_new_profile(client, society, staff) -> None:
    response = client.post(
        url(society),
        json={"person": inline(gender="男", phone="１３９ ００００ ２２２２"), "grade": "student"},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["person_matched"] is False
    person = client.get(f"/api/v1/people/{body['person_id']}", headers=staff).json()
    assert (person["gender"], person["phone"]) == ("male", "13900002222")


def test_inline_person_created_by_staff_is_recorded_with_their_name(client, factory, society):  # type: ignore[no-untyped-def]
    account = factory.account("org_admin", society)
    headers = factory.headers(account)
    body = client.post(url(society), json={"person": inline()}, headers=headers).json()
    history = client.get(f"/api/v1/people/{body['person_id']}/history", headers=headers).json()
    assert history["items"][0]["actor"] == account.username


def test_inline_person_matches_existing_identity_across_two_societies(client, factory, db) -> None:
    mechanics, computing = factory.org(), factory.org()
    number = resident_id(date(1978, 4, 5), "female")
    first = client.post(
        url(mechanics),
        json={"person": inline(name="刘洋", id_number=number), "member_no": member_no()},
        headers=factory.caller("org_admin", mechanics),
    )
    assert first.status_code == 201, first.text
    assert first.json()["person_matched"] is False
    db.rollback()
    people_before = db.execute(text("SELECT count(*) FROM person")).scalar_one()

    second = client.post(
        url(computing),
        json={
            "person": inline(name="刘洋", id_number=number.lower(), birth_date="1978/4/5"),
            "member_no": member_no(),
        },
        headers=factory.caller("org_admin", computing),
    )
    assert second.status_code == 201, second.text
    assert second.json()["person_matched"] is True
    assert second.json()["person_id"] == first.json()["person_id"]
    db.rollback()
    assert db.execute(text("SELECT count(*) FROM person")).scalar_one() == people_before

    admin = factory.caller("platform_admin")
    both = client.get(f"/api/v1/people/{first.json()['person_id']}/memberships", headers=admin)
    assert sorted(m["org_code"] for m in both.json()) == sorted([mechanics.code, computing.code])
    only_own = client.get(
        f"/api/v1/people/{first.json()['person_id']}/memberships",
        headers=factory.caller("org_admin", computing),
    )
    assert [m["org_code"] for m in only_own.json()] == [computing.code]


def unique_name() -> str:
    return "赵" + uuid.uuid4().hex[:6]


def join_elsewhere(client, factory, person: dict):  # type: ignore[no-untyped-def]
    """The inline person joining a society of their own, by its administrator."""
    org = factory.org()
    return client.post(url(org), json={"person": person}, headers=factory.caller("org_admin", org))


def test_inline_person_with_the_same_name_birth_date_and_phone_or_email_is_matched(
    client, factory, db
) -> None:  # type: ignore[no-untyped-def]
    """The import's second identity rule holds for inline people too."""
    name = unique_name()
    known = factory.person(
        org=factory.org(), name=name, birth_date=date(1980, 3, 2), phone="13912345678",
        email=f"{name}@example.cn",
    )  # fmt: skip
    for contact in ({"phone": "139 1234 5678"}, {"email": f"{name}@example.cn"}):
        response = join_elsewhere(
            client, factory, inline(name=name, birth_date="1980/3/2", **contact)
        )
        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["person_id"], body["person_matched"]) == (str(known.id), True)
    # Another birth date, or the name and birth date alone, is somebody else.
    for person in (
        inline(name=name, birth_date="1980-03-03", phone="13912345678"),
        inline(name=name, birth_date="1980-03-02"),
    ):
        assert join_elsewhere(client, factory, person).json()["person_matched"] is False
    db.rollback()
    count = db.execute(text("SELECT count(*) FROM person WHERE name = :n"), {"n": name})
    assert count.scalar_one() == 3


def test_inline_person_is_matched_by_the_contacts_of_a_merged_profile(
    client, factory, society, staff, db
) -> None:  # type: ignore[no-untyped-def]
    name = unique_name()
    kept = factory.person(org=society, name="钱" + name[1:], birth_date=date(1975, 1, 1))
    db.execute(
        text(
            "INSERT INTO person_alias (person_id, name, birth_date, phone, source)"
            " VALUES (:p, :n, '1975-01-01', '13700001111', 'merge:test')"
        ),
        {"p": kept.id, "n": name},
    )
    db.commit()
    response = client.post(
        url(society),
        json={"person": inline(name=name, birth_date="1975-01-01", phone="13700001111")},
        headers=staff,
    )
    assert response.status_code == 201, response.text
    assert response.json()["person_id"] == str(kept.id)


def test_a_document_given_inline_is_added_to_a_person_matched_without_one(
    client, factory, society, staff
) -> None:  # type: ignore[no-untyped-def]
    name, number = unique_name(), resident_id(date(1982, 7, 1), "female")
    known = factory.person(org=society, name=name, birth_date=date(1982, 7, 1), phone="13600002222")
    response = join_elsewhere(
        client, factory, inline(name=name, id_number=number, phone="13600002222")
    )
    # The birth date comes from the resident ID number; the person had no document.
    assert response.status_code == 201, response.text
    assert (response.json()["person_id"], response.json()["person_matched"]) == (
        str(known.id),
        True,
    )
    person = client.get(f"/api/v1/people/{known.id}", headers=staff).json()
    assert (person["id_type"], person["id_number_masked"]) == ("resident_id", mask_document(number))
    history = client.get(f"/api/v1/people/{known.id}/history", headers=staff).json()["items"]
    assert "id_number" in {h["field"] for h in history}
    # A person who has another document is not the same person, whatever their contacts.
    another = resident_id(date(1982, 7, 1), "female")
    again = join_elsewhere(
        client, factory, inline(name=name, id_number=another, phone="13600002222")
    )
    assert again.status_code == 201, again.text
    assert again.json()["person_matched"] is False


def test_inline_match_under_another_name_is_refused(client, factory, society, staff) -> None:
    number = resident_id()
    factory.person(name="陈静", id_number=number)
    response = client.post(
        url(society), json={"person": inline(name="陈晶", id_number=number)}, headers=staff
    )
    assert response.status_code == 422
    assert fields_of(response) == {"person.name"}


def test_inline_person_errors_name_the_nested_field(client, society, staff) -> None:
    number = resident_id(date(1980, 1, 1), "male")
    response = client.post(
        url(society),
        json={"person": inline(id_number=number, birth_date="1980-01-02")},
        headers=staff,
    )
    assert response.status_code == 422
    assert fields_of(response) == {"person.id_number"}
    assert number not in response.text
    response = client.post(
        url(society), json={"person": inline(gender="x", org_code="X")}, headers=staff
    )
    assert response.status_code == 422
    assert fields_of(response) == {"person.gender", "person.org_code"}


def test_exactly_one_of_person_id_and_person(client, factory, society, staff) -> None:
    person = factory.person(org=society)
    for body in ({}, {"person_id": str(person.id), "person": inline()}):
        response = client.post(url(society), json=body, headers=staff)
        assert response.status_code == 422
        assert fields_of(response) == {"person"}


def test_unknown_or_foreign_person_id_is_refused_naming_person_id(client, factory, society, staff):  # type: ignore[no-untyped-def]
    elsewhere = factory.person(org=factory.org())
    for pid in (uuid.uuid4(), elsewhere.id):
        response = client.post(url(society), json={"person_id": str(pid)}, headers=staff)
        assert response.status_code == 422
        assert fields_of(response) == {"person_id"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"grade": "platinum"}, "grade"),
        ({"status": "expired"}, "status"),
        ({"status": "terminated"}, "status"),  # terminating records why and when
        ({"member_no": "#1"}, "member_no"),
        ({"joined_on": "2020-02-30"}, "joined_on"),
        ({"joined_on": "9999-06-01"}, "joined_on"),  # dates are kept within 1900..2199
        ({"valid_until": "9999-12-31"}, "valid_until"),  # no end is no date
        ({"joined_on": "1899-12-31"}, "joined_on"),
        ({"fee": 100}, "fee"),
    ],
)
def test_bad_membership_values_are_refused(client, factory, society, staff, body, field):  # type: ignore[no-untyped-def]
    person = factory.person(org=society)
    response = client.post(url(society), json={"person_id": str(person.id), **body}, headers=staff)
    assert response.status_code == 422
    assert fields_of(response) == {field}


def test_a_member_number_is_read_as_an_import_reads_it(client, factory, society, staff):  # type: ignore[no-untyped-def]
    # Spaces typed inside the number are dropped, full-width forms folded, as `registry import
    # members` does: the same typed number is the same number through either door.
    person = factory.person(org=society)
    response = client.post(
        url(society), json={"person_id": str(person.id), "member_no": "ＣＳ 0099"}, headers=staff
    )
    assert response.status_code == 201, response.text
    assert response.json()["member_no"] == "CS0099"


def test_valid_until_before_joined_on_is_refused_naming_valid_until(
    client, factory, society, staff
):  # type: ignore[no-untyped-def]
    person = factory.person(org=society)
    response = client.post(
        url(society),
        json={"person_id": str(person.id), "joined_on": "2024-05-01", "valid_until": "2024-04-30"},
        headers=staff,
    )
    assert response.status_code == 422
    assert fields_of(response) == {"valid_until"}


# --- uniqueness -------------------------------------------------------------------------------


def test_duplicate_member_no_in_one_org_is_a_409_but_fine_in_another(
    client, factory, society, staff
):  # type: ignore[no-untyped-def]
    no = member_no()
    a, b = factory.person(org=society), factory.person(org=society)
    first = client.post(url(society), json={"person_id": str(a.id), "member_no": no}, headers=staff)
    assert first.status_code == 201
    dup = client.post(url(society), json={"person_id": str(b.id), "member_no": no}, headers=staff)
    assert dup.status_code == 409
    assert fields_of(dup) == {"member_no"}

    other = factory.org()
    c = factory.person(org=other)
    elsewhere = client.post(
        url(other),
        json={"person_id": str(c.id), "member_no": no},
        headers=factory.caller("org_admin", other),
    )
    assert elsewhere.status_code == 201, elsewhere.text


def test_same_person_twice_in_one_org_is_a_409(client, factory, society, staff) -> None:
    person = factory.person(org=society)
    body = {"person_id": str(person.id)}
    assert client.post(url(society), json=body, headers=staff).status_code == 201
    again = client.post(url(society), json=body, headers=staff)
    assert again.status_code == 409
    assert fields_of(again) == {"person_id"}


def test_racing_member_no_gets_a_409_not_a_500(client, factory, society, staff, runtime, db):  # type: ignore[no-untyped-def]
    """The first insert is held uncommitted, so the request passes its pre-check and then
    meets the unique constraint: it must answer 409 naming member_no."""
    no = member_no()
    first, second = factory.person(org=society), factory.person(org=society)
    results: list = []
    with runtime.engine.connect() as holder:
        holder.execute(
            text(
                "INSERT INTO membership (id, org_id, person_id, grade, status, member_no, version)"
                " VALUES (:id, :org, :person, 'member', 'active', :no, 1)"
            ),
            {"id": uuid.uuid4(), "org": society.id, "person": first.id, "no": no},
        )
        thread = threading.Thread(
            target=lambda: results.append(
                client.post(
                    url(society),
                    json={"person_id": str(second.id), "member_no": no},
                    headers=staff,
                )
            )
        )
        thread.start()
        assert wait_for_lock_waiter(db), "the second insert never waited on the first"
        holder.commit()
    thread.join(10)
    (response,) = results
    assert response.status_code == 409, response.text
    assert fields_of(response) == {"member_no"}


def test_an_inline_person_registered_meanwhile_elsewhere_is_matched(
    client, factory, society, staff, runtime, db
):  # type: ignore[no-untyped-def]
    """Another society's request (or an import) registers the same document between this
    request's lookup and its insert: the insert waits on the unique index, and then the
    person it registered is the one matched, not a 409."""
    from services.registry.people import service as people_service
    from services.registry.people.schemas import PersonCreate

    number = resident_id(date(1985, 3, 2), "male")
    results: list = []
    with runtime.sessions() as racing:
        registered = people_service.create(
            racing, principal=None, pii=runtime.pii, source="test",
            source_org_id=factory.org().id, data=PersonCreate(name="钱多", id_number=number),
        )  # fmt: skip
        racing.flush()  # inserted, not committed: the request does not see it yet
        thread = threading.Thread(
            target=lambda: results.append(
                client.post(
                    url(society),
                    json={"person": {"name": "钱多", "id_number": number}},
                    headers=staff,
                )
            )
        )
        thread.start()
        assert wait_for_lock_waiter(db), "the second insert never waited on the first"
        racing.commit()
    thread.join(10)
    (response,) = results
    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["person_id"], body["person_matched"]) == (str(registered.id), True)
    db.rollback()
    count = db.execute(
        text("SELECT count(*) FROM person WHERE id_number_bidx = :b"),
        {"b": registered.id_number_bidx},
    ).scalar_one()
    assert count == 1


def race(client, path: str, bodies: list[dict], headers: dict) -> list:  # type: ignore[no-untyped-def]
    """POST every body at once from its own thread; the responses in completion order."""
    barrier = threading.Barrier(len(bodies))
    results: list = []

    def attempt(body: dict) -> None:
        barrier.wait()
        results.append(client.post(path, json=body, headers=headers))

    threads = [threading.Thread(target=attempt, args=(b,)) for b in bodies]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert len(results) == len(bodies)
    return results


def test_two_requests_racing_for_one_member_no_give_one_201_and_one_409(
    client, factory, society, staff
):  # type: ignore[no-untyped-def]
    for _ in range(5):
        no = member_no()
        bodies = [
            {"person_id": str(factory.person(org=society).id), "member_no": no} for _ in range(2)
        ]
        results = race(client, url(society), bodies, staff)
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        loser = next(r for r in results if r.status_code == 409)
        assert fields_of(loser) == {"member_no"}


def test_two_requests_adding_one_person_twice_give_one_201_and_one_409(
    client, factory, society, staff
):  # type: ignore[no-untyped-def]
    for _ in range(3):
        person = factory.person(org=society)
        results = race(client, url(society), [{"person_id": str(person.id)}] * 2, staff)
        assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
        assert fields_of(next(r for r in results if r.status_code == 409)) == {"person_id"}


def test_two_requests_registering_one_new_identity_give_one_201_and_one_409(
    client, factory, society, staff
):  # type: ignore[no-untyped-def]
    number = resident_id()
    body = {"person": {"name": "并发", "id_number": number}}
    results = race(client, url(society), [body, body], staff)
    assert sorted(r.status_code for r in results) == [201, 409], [r.text for r in results]
    assert all(number not in r.text for r in results)


# --- the organisation's state ----------------------------------------------------------------


@pytest.mark.parametrize("state", ["suspended", "exited"])
def test_suspended_or_exited_org_refuses_new_members(client, factory, state) -> None:
    org = factory.org()
    admin = factory.caller("platform_admin")
    client.patch(
        f"/api/v1/orgs/{org.code}", json={"status": state, "reason": "整顿"}, headers=admin
    )
    response = client.post(url(org), json={"person": inline()}, headers=admin)
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM)
    assert state in response.json()["detail"]
    assert response.json()["type"].endswith("/society-closed")


@pytest.mark.parametrize("state", ["suspended", "exited"])
def test_suspended_or_exited_org_neither_approves_renews_nor_reinstates(
    client, factory, state
) -> None:
    org = factory.org()
    staff = factory.caller("org_admin", org)
    pending = client.post(url(org), json={"person": inline(), "status": "pending"}, headers=staff)
    current = client.post(
        url(org),
        json={"person": inline(), "joined_on": "2025-01-01", "valid_until": "2025-12-31"},
        headers=staff,
    )
    held = client.post(url(org), json={"person": inline()}, headers=staff).json()["id"]
    suspended = client.post(
        f"/api/v1/memberships/{held}/suspend", json={"reason": "欠费"}, headers=staff
    )
    assert suspended.status_code == 200, suspended.text
    client.patch(
        f"/api/v1/orgs/{org.code}",
        json={"status": state, "reason": "整顿"},
        headers=factory.caller("platform_admin"),
    )
    approved = client.patch(
        f"/api/v1/memberships/{pending.json()['id']}", json={"status": "active"}, headers=staff
    )
    renewed = client.post(
        f"/api/v1/memberships/{current.json()['id']}/renew",
        json={"reason": "续费", "until": "2099-12-31"},
        headers=staff,
    )
    reinstated = client.post(
        f"/api/v1/memberships/{held}/reinstate", json={"reason": "补缴"}, headers=staff
    )
    for response in (approved, renewed, reinstated):
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("society-closed")


def test_org_on_probation_still_accepts_members(client, factory) -> None:
    org = factory.org()
    admin = factory.caller("platform_admin")
    client.patch(
        f"/api/v1/orgs/{org.code}", json={"status": "probation", "reason": "整改"}, headers=admin
    )
    assert client.post(url(org), json={"person": inline()}, headers=admin).status_code == 201


def test_another_societys_staff_get_404(client, factory, society) -> None:
    outsider = factory.caller("org_admin", factory.org())
    assert client.post(url(society), json={"person": inline()}, headers=outsider).status_code == 404
    assert client.get(url(society), headers=outsider).status_code == 404
    person = factory.person(org=society)
    membership = factory.membership(society, person)
    for response in (
        client.get(f"/api/v1/memberships/{membership.id}", headers=outsider),
        client.patch(
            f"/api/v1/memberships/{membership.id}", json={"grade": "fellow"}, headers=outsider
        ),
    ):
        assert response.status_code == 404
        assert response.headers["content-type"].startswith(PROBLEM)


# --- changing ---------------------------------------------------------------------------------


def test_patch_grade_status_and_dates_with_history(client, factory, society, db) -> None:
    account = factory.account("org_admin", society)
    headers = factory.headers(account)
    person = factory.person(org=society)
    created = client.post(
        url(society),
        json={"person_id": str(person.id), "joined_on": "2020-01-01", "valid_until": "2030-12-31"},
        headers=headers,
    ).json()
    response = client.patch(
        f"/api/v1/memberships/{created['id']}",
        json={"grade": "会士", "status": "lapsed", "valid_until": "2031/12/31", "reason": "换届"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["grade"], body["status"], body["valid_until"]) == (
        "fellow",
        "lapsed",
        "2031-12-31",
    )
    # A status set by hand is an override, kept (with its reason) until cleared.
    assert (body["status_override"], body["override_reason"]) == ("lapsed", "换届")
    assert body["updated_at"] > created["updated_at"]
    rows = history_rows(db, created["id"])
    assert [(r.field, r.old_value, r.new_value) for r in rows[1:]] == [
        ("grade", "member", "fellow"),
        ("valid_until", "2030-12-31", "2031-12-31"),
        ("status_override", None, "lapsed"),
        ("status", "active", "lapsed"),
    ]
    assert {(r.reason, r.actor, r.source) for r in rows[1:]} == {("换届", account.username, "api")}


def test_patch_valid_until_before_joined_on_is_refused(client, factory, society, staff) -> None:
    person = factory.person(org=society)
    membership = factory.membership(society, person, joined_on=date(2020, 1, 1))
    response = client.patch(
        f"/api/v1/memberships/{membership.id}", json={"valid_until": "2019-12-31"}, headers=staff
    )
    assert response.status_code == 422
    assert fields_of(response) == {"valid_until"}
    response = client.patch(
        f"/api/v1/memberships/{membership.id}", json={"grade": None}, headers=staff
    )
    assert response.status_code == 422
    assert fields_of(response) == {"grade"}


def test_patch_member_no_to_a_taken_one_is_a_409(client, factory, society, staff) -> None:
    no = member_no()
    factory.membership(society, factory.person(org=society), member_no=no)
    other = factory.membership(society, factory.person(org=society))
    response = client.patch(
        f"/api/v1/memberships/{other.id}", json={"member_no": no}, headers=staff
    )
    assert response.status_code == 409
    assert fields_of(response) == {"member_no"}


# --- lists ------------------------------------------------------------------------------------


def test_list_filters_and_pages(client, factory, society, staff) -> None:
    made = []
    for i in range(5):
        person = factory.person(org=society, name=f"列表{i}")
        made.append(
            factory.membership(
                society,
                person,
                grade="student" if i < 2 else "member",
                status="lapsed" if i == 4 else "active",
                member_no=f"L{i}-{uuid.uuid4().hex[:6]}",
            )
        )
    ids = [str(m.id) for m in made]

    def listed(**params):  # type: ignore[no-untyped-def]
        response = client.get(url(society), params=params, headers=staff)
        assert response.status_code == 200, response.text
        return [m["id"] for m in response.json()["items"]]

    assert listed() == ids
    assert listed(grade="student") == ids[:2]
    assert listed(status="lapsed") == [ids[4]]
    assert listed(member_no=made[3].member_no) == [ids[3]]
    # Typed as people type it: full-width forms and spaces, as the number is read when stored.
    typed = made[3].member_no.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    assert listed(member_no=f" {typed[:3]} {typed[3:]}") == [ids[3]]
    assert listed(q="列表2") == [ids[2]]

    seen, cursor = [], None
    while True:
        page = client.get(
            url(society),
            params={"limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=staff,
        ).json()
        seen.extend(m["id"] for m in page["items"])
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == ids

    for params, field in (
        ({"grade": "gold"}, "grade"),
        ({"member_no": "M#1"}, "member_no"),
        ({"limit": 201}, "limit"),
        ({"cursor": "bad!"}, "cursor"),
    ):
        response = client.get(url(society), params=params, headers=staff)
        assert response.status_code == 422
        assert fields_of(response) == {field}


# --- the member's own view ----------------------------------------------------------------------


def test_me_shows_own_profile_unmasked_and_every_membership(client, factory) -> None:
    first, second = factory.org(), factory.org()
    number = resident_id()
    person = factory.person(org=first, id_number=number, phone="13912345678")
    factory.membership(first, person, member_no=member_no())
    factory.membership(second, person, grade="senior")
    factory.membership(factory.org(), factory.person())  # someone else's
    account = factory.account("member", person=person)
    response = client.get("/api/v1/me", headers=factory.headers(account))
    assert response.status_code == 200, response.text
    me = response.json()
    assert me["account"]["username"] == account.username
    assert me["account"]["grants"] == [{"role": "member", "org_code": None}]
    assert me["person"]["id"] == str(person.id)
    assert me["person"]["phone"] == "13912345678"
    assert "id_number" not in me["person"]
    assert number not in response.text
    assert sorted(m["org_code"] for m in me["memberships"]) == sorted([first.code, second.code])


def test_me_without_a_linked_profile(client, factory) -> None:
    headers = factory.caller("member")
    me = client.get("/api/v1/me", headers=headers).json()
    assert me["person"] is None
    assert me["memberships"] == []
    response = client.patch("/api/v1/me", json={"phone": "13900001111"}, headers=headers)
    assert response.status_code == 404


def test_member_corrects_contact_data_recorded_as_self_service(client, factory) -> None:
    person = factory.person(phone="13900001111", email="old@example.cn")
    account = factory.account("member", person=person)
    headers = factory.headers(account)
    response = client.patch(
        "/api/v1/me",
        json={"phone": "１３８ ０００ ０２２２２", "email": "New@EXAMPLE.CN"},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    me = response.json()["person"]
    assert (me["phone"], me["email"]) == ("13800002222", "New@example.cn")
    admin = factory.caller("platform_admin")
    history = client.get(f"/api/v1/people/{person.id}/history", headers=admin).json()["items"]
    changes = {i["field"]: i for i in history[1:]}
    assert set(changes) == {"phone", "email"}
    assert changes["phone"]["old_value"] == "139****1111"
    assert changes["phone"]["new_value"] == "138****2222"
    assert all(i["source"] == "self-service" for i in changes.values())
    assert all(i["actor"] == account.username for i in changes.values())


def test_member_cannot_change_identity_fields_through_me(client, factory) -> None:
    person = factory.person()
    headers = factory.caller("member", person=person)
    for body in ({"id_number": resident_id()}, {"name": "改名"}, {"birth_date": "1990-01-01"}):
        response = client.patch("/api/v1/me", json=body, headers=headers)
        assert response.status_code == 422
        assert fields_of(response) == set(body)


# --- listing --------------------------------------------------------------------------------


def test_a_page_of_the_member_list_reads_the_society_in_id_order_through_an_index(
    client, factory, society, staff, runtime, db
) -> None:
    """Each page is read in (org_id, id) order from an index, never by sorting the society's
    memberships nor by walking every society's: with millions of memberships both read far
    more than the page. The plan is asked for with another society of 20,000 members in the
    statistics (written and rolled back with it) and sorting and whole-table scans priced out,
    so it shows what the indexes allow at scale, whatever else the test database holds."""
    other = factory.org()
    for org in (society, other, society, other, society):
        factory.membership(org, factory.person(org=org), member_no=member_no())

    def listed(**params) -> tuple[list, dict]:  # type: ignore[no-untyped-def]
        with statements(runtime) as seen:
            r = client.get(url(society), params=params, headers=staff)
        assert r.status_code == 200, r.text
        return seen, r.json()

    seen_one, first = listed(limit=1)
    seen_three, whole = listed(limit=3)
    assert len(seen_one) == len(seen_three)
    assert len(whole["items"]) == 3
    seen_next, rest = listed(limit=1, cursor=first["next_cursor"])
    assert rest["items"][0]["id"] == whole["items"][1]["id"]
    for seen in (seen_three, seen_next):
        (statement, parameters) = next(
            (s, p) for s, p in seen if "FROM membership" in s and "ORDER BY membership.id" in s
        )
        db.exec_driver_sql(
            "CREATE TEMPORARY TABLE crowd ON COMMIT DROP AS"
            " SELECT gen_random_uuid() AS id FROM generate_series(1, 20000)"
        )
        db.exec_driver_sql(
            "INSERT INTO person (id, name, expert_opt_in, status, version)"
            " SELECT id, '成员', false, 'active', 1 FROM crowd"
        )
        db.exec_driver_sql(
            "INSERT INTO membership (id, org_id, person_id, grade, status, version)"
            " SELECT gen_random_uuid(), %(org)s, id, 'member', 'active', 1 FROM crowd",
            {"org": other.id},
        )
        db.exec_driver_sql("ANALYZE membership")
        nodes = list(
            plan_nodes(
                plan(
                    db,
                    statement,
                    parameters,
                    enable_sort="off",
                    enable_seqscan="off",
                    enable_bitmapscan="off",
                )
            )
        )
        assert not [n for n in nodes if n["Node Type"] == "Sort"]
        (scan,) = [n for n in nodes if n.get("Relation Name") == "membership"]
        assert scan["Index Name"] == "ix_membership_org_id_id", scan
        assert "org_id" in scan["Index Cond"], scan


def test_members_found_by_the_start_of_their_name_are_read_through_the_index_of_names(
    client, factory, society, staff, runtime, db
) -> None:
    tag = uuid.uuid4().hex[:6]
    person = factory.person(org=society, name=f"名单{tag}")
    factory.membership(society, person, member_no=member_no())
    with statements(runtime) as seen:
        r = client.get(url(society), params={"q": f"名单{tag}"}, headers=staff)
    assert r.status_code == 200, r.text
    assert [m["person_id"] for m in r.json()["items"]] == [str(person.id)]
    (statement, parameters) = next(
        (s, p) for s, p in seen if "FROM membership" in s and "ORDER BY membership.id" in s
    )
    nodes = list(
        plan_nodes(plan(db, statement, parameters, enable_seqscan="off", enable_indexscan="off"))
    )
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    assert "ix_person_name_birth_date" in {n.get("Index Name") for n in nodes}
