"""Who may call what, for the routes of the public contract that the scope matrix leaves out:
membership actions, certificates, expert search, organisations' creation and awards.

Inside the caller's scope a route answers 200 (201 for a create); another organisation's
object answers 404; a role without the permission altogether gets 403.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from services.registry.core.db import transaction

from .factories import Factory, unique_code

API = "/api/v1"
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def world(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """ROOT owns programmes; A and B are societies; a member of A with an account."""
    make = Factory(runtime)
    root = make.org(kind="federation", code=unique_code("ROOT"))
    a = make.org(parent=root.code, code=unique_code("A"))
    b = make.org(parent=root.code, code=unique_code("B"))
    other = make.person(org=a, name="李会员")
    return {
        "make": make,
        "root": root,
        "a": a,
        "b": b,
        "other": other,
        "headers": {
            "platform_admin": make.caller("platform_admin"),
            "admin_A": make.caller("org_admin", a),
            "staff_A": make.caller("org_staff", a),
            "admin_B": make.caller("org_admin", b),
            "admin_ROOT": make.caller("org_admin", root),
            "committee_ROOT": make.caller("committee", root),
            "member": make.caller("member", person=make.person(name="张会员")),
            "reviewer": make.caller("reviewer"),
        },
    }


@pytest.fixture
def membership(world):  # type: ignore[no-untyped-def]
    """A fresh active membership in A, valid for years, of a member signed in as `member`."""
    make: Factory = world["make"]
    person = make.person(org=world["a"], name="王会员")
    world["headers"]["member"] = make.caller("member", person=person)
    return make.membership(
        world["a"],
        person,
        member_no=unique_code("M"),
        grade="member",
        status="active",
        joined_on=date.today() - timedelta(days=30),
        valid_until=date.today() + timedelta(days=3000),
    )


def assert_status(response, expected: int) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["status"] == expected


# --- lifecycle actions: that organisation's administrators ---------------------------------

ACTION_BODIES = {
    "renew": {"reason": "dues paid"},
    "suspend": {"reason": "unpaid dues"},
    "terminate": {"reason": "withdrew"},
    "reinstate": {"reason": "settled"},
}
ACTION_CALLERS = {
    "platform_admin": 200,
    "admin_A": 200,
    "admin_ROOT": 200,  # the federation's administrators see the societies below it
    "admin_B": 404,
    "committee_ROOT": 403,
    "member": 403,
    "reviewer": 403,
}


@pytest.mark.parametrize("caller", ACTION_CALLERS)
@pytest.mark.parametrize("action", ["suspend", "terminate"])
def test_membership_actions_are_for_that_organisations_administrators(
    client, world, membership, caller, action
) -> None:
    response = client.post(
        f"{API}/memberships/{membership.id}/{action}",
        json=ACTION_BODIES[action],
        headers=world["headers"][caller],
    )
    assert_status(response, ACTION_CALLERS[caller])


def test_each_action_takes_a_reason_and_answers_the_membership(client, world, membership) -> None:
    headers = world["headers"]["admin_A"]
    url = f"{API}/memberships/{membership.id}"
    suspended = client.post(f"{url}/suspend", json={"reason": "unpaid"}, headers=headers)
    assert_status(suspended, 200)
    assert suspended.json()["status"] == "suspended"
    reinstated = client.post(f"{url}/reinstate", json={"reason": "paid"}, headers=headers)
    assert_status(reinstated, 200)
    assert reinstated.json()["status"] == "active"
    until = (date.today() + timedelta(days=3400)).isoformat()
    renewed = client.post(f"{url}/renew", json={"reason": "paid", "until": until}, headers=headers)
    assert_status(renewed, 200)
    assert renewed.json()["valid_until"] == until
    ended = client.post(f"{url}/terminate", json={"reason": "moved abroad"}, headers=headers)
    assert_status(ended, 200)
    assert ended.json()["status"] == "terminated"


@pytest.mark.parametrize("action", list(ACTION_BODIES))
def test_an_action_without_a_reason_is_a_422_naming_reason(
    client, world, membership, action
) -> None:
    response = client.post(
        f"{API}/memberships/{membership.id}/{action}", json={}, headers=world["headers"]["admin_A"]
    )
    assert_status(response, 422)
    assert [e["field"] for e in response.json()["errors"]] == ["reason"]


# --- certificates: the member, that organisation's administrators --------------------------

CERTIFICATE_CALLERS = {
    "member": 200,
    "admin_A": 200,
    "platform_admin": 200,
    "admin_B": 404,
    "committee_ROOT": 404,  # signed in, but neither the member nor staff of A
    "reviewer": 404,
}


@pytest.mark.parametrize("caller", CERTIFICATE_CALLERS)
def test_a_certificate_is_for_the_member_and_that_organisations_administrators(
    client, world, membership, caller
) -> None:
    response = client.get(
        f"{API}/memberships/{membership.id}/certificate", headers=world["headers"][caller]
    )
    assert_status(response, CERTIFICATE_CALLERS[caller])
    if response.status_code == 200:
        assert {"certificate_id", "token", "verify_url", "qr_svg"} <= set(response.json())
        assert response.json()["token"].count(".") == 2  # compact JWS


def test_another_members_certificate_is_a_404(client, world, membership) -> None:
    make: Factory = world["make"]
    theirs = make.membership(world["a"], world["other"], member_no=unique_code("M"))
    response = client.get(
        f"{API}/memberships/{theirs.id}/certificate", headers=world["headers"]["member"]
    )
    assert_status(response, 404)


def test_verification_answers_the_contracts_fields(client, world, membership, runtime) -> None:
    with transaction(runtime.sessions) as session:
        session.execute(text("DELETE FROM rate_limit_counter"))
    certificate = client.get(
        f"{API}/memberships/{membership.id}/certificate", headers=world["headers"]["member"]
    ).json()
    answer = client.post(f"{API}/certificates/verify", json={"token": certificate["token"]})
    assert_status(answer, 200)
    body = answer.json()
    assert {"valid", "status", "org_code", "member_no", "grade", "name", "valid_until"} <= set(body)
    assert (body["valid"], body["status"], body["org_code"]) == (True, "active", world["a"].code)
    assert (body["member_no"], body["grade"], body["name"]) == (
        membership.member_no,
        "member",
        "王会员",
    )
    assert body["valid_until"] == membership.valid_until.isoformat()


# --- expert search: committees, organisation administrators, the platform administrator ---

SEARCH_CALLERS = {
    "committee_ROOT": 200,
    "admin_A": 200,
    "platform_admin": 200,
    "staff_A": 200,  # society staff too, as the README says
    "member": 403,
    "reviewer": 403,
}


@pytest.mark.parametrize("caller", SEARCH_CALLERS)
def test_expert_search_is_for_committees_and_administrators(client, world, caller) -> None:
    response = client.post(
        f"{API}/search/experts", json={"q": "力学"}, headers=world["headers"][caller]
    )
    assert_status(response, SEARCH_CALLERS[caller])
    if response.status_code == 200:
        body = response.json()
        assert {"total", "hits", "facets", "next_cursor"} <= set(body)
        assert set(body["facets"]) >= {"discipline_codes", "region_codes", "title_level", "gender"}


def test_expert_search_takes_every_field_of_the_contracts_body(client, world) -> None:
    body = {
        "q": "力学",
        "discipline_codes": ["130"],
        "region_codes": ["11"],
        "title_levels": ["senior"],
        "gender": "female",
        "age_min": 30,
        "age_max": 60,
        "org_codes": [world["a"].code],
        "exclude_person_ids": [str(uuid.uuid4())],
        "conflicts_with": str(world["other"].id),
        "limit": 5,
    }
    response = client.post(
        f"{API}/search/experts", json=body, headers=world["headers"]["committee_ROOT"]
    )
    assert_status(response, 200)


# --- organisations: the platform administrator writes ---------------------------------------


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("platform_admin", 201),
        ("admin_ROOT", 403),
        ("admin_A", 403),
        ("committee_ROOT", 403),
        ("member", 403),
    ],
)
def test_only_the_platform_administrator_creates_organisations(
    client, world, caller, expected
) -> None:
    body = {"code": unique_code("N"), "name": "新学会" + uuid.uuid4().hex[:4]}
    body |= {"kind": "national_society", "parent_code": world["root"].code}
    response = client.post(f"{API}/orgs", json=body, headers=world["headers"][caller])
    assert_status(response, expected)


def test_an_organisation_code_taken_is_a_409_naming_code(client, world) -> None:
    body = {"code": world["a"].code, "name": "重名学会", "kind": "national_society"}
    response = client.post(f"{API}/orgs", json=body, headers=world["headers"]["platform_admin"])
    assert_status(response, 409)
    assert [e["field"] for e in response.json().get("errors", [])] == ["code"]


# --- awards: programmes and cycles for the platform and owner organisation's administrators --


def _programme(world: dict[str, Any], owner: str) -> dict[str, Any]:
    return {
        "code": unique_code("P"),
        "name": "测试奖",
        "owner_org_code": world[owner].code,
        "kind": "award",
        "rules": {"max_age": 40, "gender": "female", "region_of_origin": ["mainland"]},
    }


@pytest.mark.parametrize(
    ("caller", "owner", "expected"),
    [
        ("platform_admin", "root", 201),
        ("admin_ROOT", "root", 201),
        # The federation is above A: a body field naming what is out of scope is a 422.
        ("admin_A", "root", 422),
        ("committee_ROOT", "root", 403),
        ("staff_A", "a", 403),
        ("member", "a", 403),
    ],
)
def test_programmes_are_created_by_the_platform_and_owner_administrators(
    client, world, caller, owner, expected
) -> None:
    response = client.post(
        f"{API}/awards/programmes",
        json=_programme(world, owner),
        headers=world["headers"][caller],
    )
    assert_status(response, expected)
    if expected == 201:
        body = response.json()
        assert body["owner_org_code"] == world[owner].code
        assert {"max_age", "gender", "region_of_origin", "requires_membership"} <= set(
            body["rules"]
        )


def _cycle(world: dict[str, Any]) -> dict[str, Any]:
    today = date.today()
    return {
        "year": 2025,
        "nominations_open": (today - timedelta(days=5)).isoformat(),
        "nominations_close": (today + timedelta(days=5)).isoformat(),
        "age_cutoff_date": "2025-06-30",
        "channels": [{"org_code": world["a"].code, "quota": 3}],
        "reviewers_per_nomination": 2,
        "max_load": 3,
    }


@pytest.mark.parametrize(
    ("caller", "expected"),
    [
        ("platform_admin", 201),
        ("admin_ROOT", 201),
        ("admin_A", 404),
        ("committee_ROOT", 403),
        ("staff_A", 403),
    ],
)
def test_cycles_are_opened_by_the_platform_and_owner_administrators(
    client, world, caller, expected
) -> None:
    admin = world["headers"]["platform_admin"]
    programme = client.post(
        f"{API}/awards/programmes", json=_programme(world, "root"), headers=admin
    ).json()
    response = client.post(
        f"{API}/awards/programmes/{programme['code']}/cycles",
        json=_cycle(world),
        headers=world["headers"][caller],
    )
    assert_status(response, expected)
    if expected == 201:
        assert uuid.UUID(response.json()["id"])
