"""Applications to join a society, and linking member accounts to profiles (by staff, or by the
member with a one-time claim code and their document number)."""

from __future__ import annotations

import threading
import uuid
from datetime import date

import pytest

from services.registry.core.clock import get_today

from ..factories import resident_id

API = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture
def freeze(app):  # type: ignore[no-untyped-def]
    app.dependency_overrides[get_today] = lambda: date(2026, 3, 10)
    yield
    app.dependency_overrides.pop(get_today, None)


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国化学会" + uuid.uuid4().hex[:4])


@pytest.fixture
def admin(factory, society):  # type: ignore[no-untyped-def]
    return factory.caller("org_admin", society)


@pytest.fixture
def applicant(factory):  # type: ignore[no-untyped-def]
    """A person with a member account linked to their profile (no membership yet)."""
    person = factory.person(name="赵敏")
    return person, factory.caller("member", person=person)


def problem(response, status: int, type_: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    if type_:
        assert body["type"].endswith(type_), body
    return body


def make_type(client, society, admin, **fields) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"{API}/orgs/{society.code}/membership-types",
        json={
            "code": "regular",
            "name": "会员",
            "member_no_format": "{org}-{year}-{seq:05d}",
            **fields,
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text


def apply(client, society, headers, **body):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/orgs/{society.code}/applications", json=body, headers=headers)


# --- the path of an application -----------------------------------------------------------------


def test_apply_approve_and_the_applicant_sees_the_outcome(
    client, society, admin, applicant, freeze
) -> None:
    make_type(client, society, admin)
    person, headers = applicant
    response = apply(client, society, headers, type_code="regular", statement="从事力学研究十年")
    assert response.status_code == 201, response.text
    application = response.json()
    assert (application["status"], application["person_id"]) == ("submitted", str(person.id))
    problem(apply(client, society, headers), 409)  # applying twice
    waiting = client.get(
        f"{API}/orgs/{society.code}/applications?status=submitted", headers=admin
    ).json()
    assert [a["id"] for a in waiting["items"]] == [application["id"]]

    approved = client.post(
        f"{API}/applications/{application['id']}/approve",
        json={"reason": "材料齐全"},
        headers=admin,
    )
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert (body["status"], body["decision_reason"]) == ("approved", "材料齐全")
    assert body["member_no"] == f"{society.code}-2026-00001"
    again = client.post(f"{API}/applications/{application['id']}/approve", json={}, headers=admin)
    problem(again, 409, "application-decided")

    mine = client.get(f"{API}/me/applications", headers=headers).json()
    assert [(a["status"], a["member_no"]) for a in mine] == [("approved", body["member_no"])]
    me = client.get(f"{API}/me", headers=headers).json()
    [membership] = me["memberships"]
    assert (membership["org_code"], membership["status"], membership["joined_on"]) == (
        society.code,
        "active",
        "2026-03-10",
    )
    assert membership["valid_until"] == "2026-12-31"
    problem(apply(client, society, headers), 409)  # now a member


def test_reject_needs_a_reason_and_the_applicant_may_apply_again(
    client, society, admin, applicant
) -> None:
    _, headers = applicant
    application = apply(client, society, headers).json()
    path = f"{API}/applications/{application['id']}"
    problem(client.post(f"{path}/reject", json={}, headers=admin), 422)
    rejected = client.post(f"{path}/reject", json={"reason": "缺少推荐信"}, headers=admin).json()
    assert (rejected["status"], rejected["decision_reason"]) == ("rejected", "缺少推荐信")
    assert client.get(path, headers=headers).json()["decision_reason"] == "缺少推荐信"
    problem(client.post(f"{path}/approve", json={}, headers=admin), 409, "application-decided")
    assert apply(client, society, headers).status_code == 201


def test_withdrawing_a_waiting_application(client, society, applicant) -> None:
    _, headers = applicant
    application = apply(client, society, headers).json()
    path = f"{API}/applications/{application['id']}/withdraw"
    assert client.post(path, headers=headers).json()["status"] == "withdrawn"
    problem(client.post(path, headers=headers), 409)


def test_a_type_without_approval_admits_at_once(client, society, admin, applicant, freeze) -> None:
    make_type(client, society, admin, code="student", grade="student", approval_required=False)
    _, headers = applicant
    body = apply(client, society, headers, type_code="student").json()
    assert (body["status"], body["grade"], body["decided_by"]) == ("approved", "student", "system")
    assert body["member_no"] == f"{society.code}-2026-00001"


def test_an_applicant_cannot_admit_themselves_at_a_grade_the_type_does_not_give(
    client, society, admin, applicant, freeze
) -> None:
    """A type without approval admits at its own grade; asking for a higher one (a fellow by a
    student type) waits for the society's staff instead of making the applicant a fellow."""
    make_type(client, society, admin, code="student", grade="student", approval_required=False)
    _, headers = applicant
    body = apply(client, society, headers, type_code="student", grade="fellow").json()
    assert (body["status"], body["grade"], body["membership_id"]) == ("submitted", "fellow", None)
    assert client.get(f"{API}/me", headers=headers).json()["memberships"] == []
    rejected = client.post(
        f"{API}/applications/{body['id']}/reject", json={"reason": "非会士"}, headers=admin
    )
    assert rejected.json()["status"] == "rejected"
    same = apply(client, society, headers, type_code="student", grade="student").json()
    assert (same["status"], same["grade"]) == ("approved", "student")


def test_approving_with_another_type_gives_its_grade_unless_one_is_named(
    client, factory, society, admin, freeze
) -> None:  # type: ignore[no-untyped-def]
    make_type(client, society, admin, code="student", name="学生会员", grade="student")
    for approval, grade in (({}, "student"), ({"grade": "member"}, "member")):
        person = factory.person(org=society)
        application = apply(client, society, factory.caller("member", person=person)).json()
        assert application["grade"] == "member"
        body = client.post(
            f"{API}/applications/{application['id']}/approve",
            json={"type_code": "student", "reason": "在读研究生", **approval},
            headers=admin,
        ).json()
        assert body["grade"] == grade
        m = client.get(f"{API}/memberships/{body['membership_id']}", headers=admin).json()
        assert (m["type_code"], m["grade"]) == ("student", grade)


def test_who_cannot_apply(client, factory, society, applicant) -> None:
    unlinked = factory.caller("member")
    problem(apply(client, society, unlinked), 409, "account-not-linked")
    _, headers = applicant
    problem(client.post(f"{API}/orgs/NOSUCH/applications", json={}, headers=headers), 404)
    problem(apply(client, society, headers, type_code="nope"), 422)
    closed = factory.org()
    client.patch(
        f"{API}/orgs/{closed.code}",
        json={"status": "suspended", "reason": "整顿"},
        headers=factory.caller("platform_admin"),
    )
    problem(apply(client, closed, headers), 409, "society-closed")


def test_a_terminated_member_is_readmitted_with_the_same_number(
    client, factory, society, admin
) -> None:
    person = factory.person(org=society)
    headers = factory.caller("member", person=person)
    created = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(person.id), "member_no": "OLD-7", "joined_on": "2010-01-01"},
        headers=admin,
    ).json()
    client.post(
        f"{API}/memberships/{created['id']}/terminate", json={"reason": "退会"}, headers=admin
    )
    application = apply(client, society, headers).json()
    body = client.post(
        f"{API}/applications/{application['id']}/approve", json={}, headers=admin
    ).json()
    assert (body["membership_id"], body["member_no"]) == (created["id"], "OLD-7")
    membership = client.get(f"{API}/memberships/{created['id']}", headers=admin).json()
    assert (membership["status"], membership["termination_reason"]) == ("active", None)


def test_an_expelled_member_is_not_readmitted_without_the_staff(
    client, factory, society, admin, freeze
) -> None:
    """A type without approval admits newcomers at once, but a member the society expelled
    (除名) applying again waits for its staff's decision."""
    make_type(client, society, admin, code="student", grade="student", approval_required=False)
    person = factory.person(org=society)
    headers = factory.caller("member", person=person)
    created = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(person.id), "type_code": "student"},
        headers=admin,
    ).json()
    client.post(
        f"{API}/memberships/{created['id']}/terminate", json={"reason": "除名"}, headers=admin
    )
    application = apply(client, society, headers, type_code="student").json()
    assert (application["status"], application["membership_id"]) == ("submitted", None)
    membership = client.get(f"{API}/memberships/{created['id']}", headers=admin).json()
    assert (membership["status"], membership["termination_reason"]) == ("terminated", "expulsion")


def test_applications_are_scoped_to_the_society(client, factory, society, admin, applicant) -> None:
    _, headers = applicant
    application = apply(client, society, headers).json()
    path = f"{API}/applications/{application['id']}"
    other_admin = factory.caller("org_admin", factory.org())
    problem(client.get(path, headers=other_admin), 404)
    problem(client.post(f"{path}/approve", json={}, headers=other_admin), 404)
    problem(client.get(f"{API}/orgs/{society.code}/applications", headers=other_admin), 404)
    stranger = factory.caller("member", person=factory.person())
    problem(client.get(path, headers=stranger), 404)
    problem(client.post(f"{path}/withdraw", headers=stranger), 404)
    problem(client.post(f"{path}/approve", json={}, headers=headers), 403)
    assert client.get(path, headers=admin).status_code == 200


def _at_once(calls) -> list:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(len(calls))
    results: list = []

    def run(call) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        results.append(call())

    threads = [threading.Thread(target=run, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    return sorted(r.status_code for r in results)


def test_approving_twice_at_once_admits_once(client, society, admin, applicant) -> None:
    _, headers = applicant
    application = apply(client, society, headers).json()
    path = f"{API}/applications/{application['id']}/approve"
    assert _at_once([lambda: client.post(path, json={}, headers=admin)] * 2) == [200, 409]


def test_applying_twice_at_once_files_one(client, society, applicant) -> None:
    _, headers = applicant
    assert _at_once([lambda: apply(client, society, headers)] * 2) == [201, 409]


# --- linking accounts to profiles ----------------------------------------------------------------


def test_staff_link_a_member_account_to_a_profile(client, factory, society, admin) -> None:
    person = factory.person(org=society, name="孙磊")
    account = factory.account("member")
    path = f"{API}/people/{person.id}/account"
    response = client.put(path, json={"username": account.username}, headers=admin)
    assert response.status_code == 200, response.text
    me = client.get(f"{API}/me", headers=factory.headers(account)).json()
    assert me["person"]["id"] == str(person.id)
    history = client.get(f"{API}/people/{person.id}/history", headers=admin).json()["items"]
    assert (history[-1]["field"], history[-1]["new_value"]) == ("account", account.username)
    another = factory.account("member")
    problem(client.put(path, json={"username": another.username}, headers=admin), 409)
    problem(client.put(path, json={"username": "nobody-" + uuid.uuid4().hex}, headers=admin), 422)
    assert client.delete(path, headers=admin).json()["username"] is None
    assert client.get(f"{API}/me", headers=factory.headers(account)).json()["person"] is None


def test_staff_link_an_account_by_its_name_in_any_letter_case(
    client, factory, society, admin
) -> None:
    """Account names are kept in lower case and signed in with in any case: so are they linked."""
    person = factory.person(org=society, name="孙磊")
    account = factory.account("member")
    path = f"{API}/people/{person.id}/account"
    response = client.put(path, json={"username": f" {account.username.upper()} "}, headers=admin)
    assert response.status_code == 200, response.text
    assert response.json()["username"] == account.username


def test_a_profile_shared_with_another_society_is_linked_by_the_platform_only(
    client, factory, society, admin
) -> None:
    """A linked account reads the person's every membership and changes their contact data:
    one society's staff cannot hand that to an account of their choosing."""
    person = factory.person(org=society)
    factory.membership(society, person, grade="member", status="active")
    factory.membership(factory.org(), person, grade="fellow", status="active")
    account = factory.account("member")
    path = f"{API}/people/{person.id}/account"
    body = problem(client.put(path, json={"username": account.username}, headers=admin), 403)
    assert "claim code" in body["detail"]
    assert client.get(f"{API}/me", headers=factory.headers(account)).json()["person"] is None
    platform = factory.caller("platform_admin")
    linked = client.put(path, json={"username": account.username}, headers=platform)
    assert linked.status_code == 200, linked.text
    problem(client.delete(path, headers=admin), 403)
    assert client.delete(path, headers=platform).json()["username"] is None


def test_a_shared_profile_gets_no_claim_code_from_one_society_and_staff_do_not_claim(
    client, factory, society, admin
) -> None:
    """The claim-code way round the link rule: a society's admin can read the profile's
    document number, so neither a code for a shared profile nor a claim by a staff account
    (the admin's own) may link it."""
    number = resident_id(date(1980, 5, 6), "male")
    shared = factory.person(org=society, name="王强", id_number=number, gender="male")
    factory.membership(society, shared, grade="member", status="active")
    factory.membership(factory.org(), shared, grade="fellow", status="active")
    problem(client.post(f"{API}/people/{shared.id}/claim-codes", headers=admin), 403)
    ours_number = resident_id(date(1981, 6, 7), "female")
    ours = factory.person(org=society, name="李娜", id_number=ours_number, gender="female")
    factory.membership(society, ours, grade="member", status="active")
    code = client.post(f"{API}/people/{ours.id}/claim-codes", headers=admin).json()["code"]
    staff = factory.account("org_admin", society)
    claim = {"code": code, "id_number": ours_number}
    problem(client.post(f"{API}/me/claim", json=claim, headers=factory.headers(staff)), 403)
    member = factory.headers(factory.account("member"))
    assert client.post(f"{API}/me/claim", json=claim, headers=member).status_code == 204


def test_a_profile_with_an_application_to_another_society_is_not_relinked_by_one(
    client, factory, society, admin
) -> None:
    other = factory.org()
    created = client.post(
        f"{API}/orgs/{other.code}/membership-types",
        json={"code": "regular", "name": "会员", "approval_required": True},
        headers=factory.caller("org_admin", other),
    )
    assert created.status_code == 201, created.text
    person = factory.person(org=society, name="陈静")
    factory.membership(society, person, grade="member", status="active")
    own = factory.headers(factory.account("member", person=person))
    applied = client.post(
        f"{API}/orgs/{other.code}/applications", json={"type_code": "regular"}, headers=own
    )
    assert applied.status_code == 201, applied.text
    path = f"{API}/people/{person.id}/account"
    problem(client.delete(path, headers=admin), 403)
    assert client.get(f"{API}/me", headers=own).json()["person"]["id"] == str(person.id)


def test_staff_accounts_are_linked_by_the_platform_only(client, factory, society, admin) -> None:
    person = factory.person(org=society)
    staff_elsewhere = factory.account("org_admin", factory.org())
    path = f"{API}/people/{person.id}/account"
    problem(client.put(path, json={"username": staff_elsewhere.username}, headers=admin), 403)
    platform = factory.caller("platform_admin")
    assert (
        client.put(path, json={"username": staff_elsewhere.username}, headers=platform).status_code
        == 200
    )
    outside = factory.person(org=factory.org())
    member = factory.account("member")
    problem(
        client.put(
            f"{API}/people/{outside.id}/account", json={"username": member.username}, headers=admin
        ),
        404,
    )
    problem(
        client.put(
            path, json={"username": member.username}, headers=factory.caller("org_staff", society)
        ),
        403,
    )


def test_a_member_claims_their_profile_with_the_code_and_their_document(
    client, factory, society, admin
) -> None:
    number = resident_id(date(1985, 3, 2), "female")
    person = factory.person(org=society, name="李娜", id_number=number, gender="female")
    issued = client.post(f"{API}/people/{person.id}/claim-codes", headers=admin)
    assert issued.status_code == 201, issued.text
    code = issued.json()["code"]
    account = factory.account("member")
    headers = factory.headers(account)
    wrong = client.post(
        f"{API}/me/claim", json={"code": code, "id_number": resident_id()}, headers=headers
    )
    assert problem(wrong, 422)["errors"][0]["field"] == "code"
    assert number not in wrong.text
    ok = client.post(
        f"{API}/me/claim", json={"code": code.lower(), "id_number": number}, headers=headers
    )
    assert ok.status_code == 204, ok.text
    assert client.get(f"{API}/me", headers=headers).json()["person"]["id"] == str(person.id)
    # The code worked once; the profile now has an account.
    other = factory.caller("member")
    problem(
        client.post(f"{API}/me/claim", json={"code": code, "id_number": number}, headers=other), 422
    )
    problem(client.post(f"{API}/people/{person.id}/claim-codes", headers=admin), 409)


def test_a_claim_takes_the_document_type_as_people_write_it(client, factory, society, admin):  # type: ignore[no-untyped-def]
    number = "P" + uuid.uuid4().hex[:10].upper()  # a passport of its own
    person = factory.person(org=society, id_type="passport", id_number=number)
    code = client.post(f"{API}/people/{person.id}/claim-codes", headers=admin).json()["code"]
    headers = factory.caller("member")
    unknown = client.post(
        f"{API}/me/claim",
        json={"code": code, "id_type": "驾驶证", "id_number": number},
        headers=headers,
    )
    assert [e["field"] for e in problem(unknown, 422)["errors"]] == ["id_type"]
    ok = client.post(
        f"{API}/me/claim", json={"code": code, "id_type": "护照", "id_number": number},
        headers=headers,
    )  # fmt: skip
    assert ok.status_code == 204, ok.text


def test_a_new_code_voids_the_old_one_and_failures_lock_out(
    client, factory, society, admin
) -> None:
    number = resident_id(date(1990, 5, 6), "male")
    person = factory.person(org=society, id_number=number, gender="male")
    old = client.post(f"{API}/people/{person.id}/claim-codes", headers=admin).json()["code"]
    new = client.post(f"{API}/people/{person.id}/claim-codes", headers=admin).json()["code"]
    headers = factory.caller("member")
    problem(
        client.post(f"{API}/me/claim", json={"code": old, "id_number": number}, headers=headers),
        422,
    )
    for _ in range(4):
        client.post(
            f"{API}/me/claim", json={"code": "AAAA-BBBB-CCCC", "id_number": number}, headers=headers
        )
    locked = client.post(
        f"{API}/me/claim", json={"code": new, "id_number": number}, headers=headers
    )
    assert locked.status_code == 429
    assert int(locked.headers["Retry-After"]) >= 1


def test_no_claim_code_for_a_profile_without_a_document(client, factory, society, admin) -> None:
    person = factory.person(org=society)
    problem(client.post(f"{API}/people/{person.id}/claim-codes", headers=admin), 409, "no-document")
