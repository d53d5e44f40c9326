"""Scoping: a matrix of roles x organisations x routes, and what lists and reads reveal.

The tree:

    ROOT (federation)
    |- A  (national society)
    |- B  (national society)
    `- P  (provincial association)
       `- L  (local association)

People: `pa` in A, `pb` in B, `pl` in L, `pab` in both A and B. Each route is called on the
object that belongs to A, to B and to L. Inside the caller's scope the route answers 200
(201 for a create); another organisation's object answers 404, never 403, so its existence
is not revealed; a caller whose role lacks the permission altogether gets 403.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import text

from services.registry.auth.models import Account, Role

from .factories import Factory, resident_id, unique_code

API = "/api/v1"
PHONE = "13912341234"
MASKED_PHONE = "139****1234"
EMAIL = "zhang.wei@example.cn"


@dataclass
class World:
    orgs: dict[str, Any] = field(default_factory=dict)
    people: dict[str, Any] = field(default_factory=dict)
    memberships: dict[str, Any] = field(default_factory=dict)
    callers: dict[str, Account] = field(default_factory=dict)
    headers: dict[str, dict[str, str]] = field(default_factory=dict)
    id_numbers: dict[str, str] = field(default_factory=dict)

    def code(self, name: str) -> str:
        return self.orgs[name].code


@pytest.fixture(scope="module")
def world(runtime) -> World:  # type: ignore[no-untyped-def]
    make = Factory(runtime)
    w = World()
    w.orgs["ROOT"] = make.org(kind="federation", code=unique_code("ROOT"))
    root = w.orgs["ROOT"].code
    w.orgs["A"] = make.org(parent=root, code=unique_code("A"))
    w.orgs["B"] = make.org(parent=root, code=unique_code("B"))
    w.orgs["P"] = make.org(kind="provincial_association", parent=root, code=unique_code("P"))
    w.orgs["L"] = make.org(kind="local_association", parent=w.orgs["P"].code, code=unique_code("L"))

    for key, orgs in (("pa", "A"), ("pb", "B"), ("pl", "L"), ("pab", "AB")):
        w.id_numbers[key] = resident_id(gender="male")
        w.people[key] = make.person(
            name=f"张{key}", gender="male", id_number=w.id_numbers[key], phone=PHONE, email=EMAIL
        )
        for org in orgs:
            w.memberships[f"{key}@{org}"] = make.membership(
                w.orgs[org], w.people[key], member_no=unique_code("M")
            )

    w.callers = {
        "platform_admin": make.account("platform_admin"),
        "admin_A": make.account("org_admin", w.orgs["A"]),
        "staff_A": make.account("org_staff", w.orgs["A"]),
        "admin_P": make.account("org_admin", w.orgs["P"]),
        "committee_ROOT": make.account("committee", w.orgs["ROOT"]),
        "member": make.account("member", w.orgs["A"], person=w.people["pab"]),
        "reviewer": make.account("reviewer"),
    }
    w.headers = {name: make.headers(account) for name, account in w.callers.items()}
    return w


# --- the matrix -------------------------------------------------------------------------------

TARGET_PERSON = {"A": "pa", "B": "pb", "L": "pl"}
TARGET_MEMBERSHIP = {"A": "pa@A", "B": "pb@B", "L": "pl@L"}


def _request(world: World, route: str, target: str | None) -> tuple[str, str, Any]:
    """Method, URL and JSON body of `route` aimed at the object belonging to `target`."""
    code = world.code(target) if target else ""
    person = world.people[TARGET_PERSON[target]].id if target else None
    membership = world.memberships[TARGET_MEMBERSHIP[target]].id if target else None
    return {
        "GET org": ("GET", f"{API}/orgs/{code}", None),
        "PATCH org": ("PATCH", f"{API}/orgs/{code}", {"name_en": "Renamed Society"}),
        "GET org memberships": ("GET", f"{API}/orgs/{code}/memberships", None),
        "POST org memberships": (
            "POST",
            f"{API}/orgs/{code}/memberships",
            {"person": {"name": "新会员"}, "grade": "member"},
        ),
        "GET person": ("GET", f"{API}/people/{person}", None),
        "PATCH person": ("PATCH", f"{API}/people/{person}", {"position": "研究员"}),
        "GET person history": ("GET", f"{API}/people/{person}/history", None),
        "GET person memberships": ("GET", f"{API}/people/{person}/memberships", None),
        "GET person identity": ("GET", f"{API}/people/{person}/identity", None),
        "GET membership": ("GET", f"{API}/memberships/{membership}", None),
        "PATCH membership": (
            "PATCH",
            f"{API}/memberships/{membership}",
            {"valid_until": "2031-12-31", "reason": "renewed"},
        ),
        "GET people": ("GET", f"{API}/people?limit=200", None),
        "GET orgs": ("GET", f"{API}/orgs?limit=200", None),
    }[route]


OBJECT_ROUTES = [
    "GET org",
    "PATCH org",
    "GET org memberships",
    "POST org memberships",
    "GET person",
    "PATCH person",
    "GET person history",
    "GET person memberships",
    "GET person identity",
    "GET membership",
    "PATCH membership",
]
LIST_ROUTES = ["GET people", "GET orgs"]
EVERYTHING = set(OBJECT_ROUTES + LIST_ROUTES)

# What each caller may do at all, and on which organisations' objects. Written out by hand
# from the role descriptions, not computed from the permission table under test.
ACCESS: dict[str, tuple[set[str], set[str]]] = {
    "platform_admin": (EVERYTHING, {"A", "B", "L"}),
    "admin_A": (EVERYTHING - {"PATCH org"}, {"A"}),
    "staff_A": (EVERYTHING - {"PATCH org", "GET person identity"}, {"A"}),
    # A provincial association sees the organisations below it.
    "admin_P": (EVERYTHING - {"PATCH org"}, {"L"}),
    # The award committee reads organisations and (masked) profiles of the whole federation.
    "committee_ROOT": (
        {"GET org", "GET orgs", "GET person", "GET person history", "GET people"},
        {"A", "B", "L"},
    ),
    # Members and reviewers use /me; the staff routes are closed to them.
    "member": (set(), set()),
    "reviewer": (set(), set()),
}


def expected_status(caller: str, route: str, target: str | None) -> int:
    allowed, scope = ACCESS[caller]
    if route not in allowed:
        return 403
    if target is not None and target not in scope:
        return 404
    return 201 if route.startswith("POST") else 200


CELLS = [
    pytest.param(caller, route, target, id=f"{caller}-{route.replace(' ', '_')}-{target}")
    for caller in ACCESS
    for route in OBJECT_ROUTES
    for target in ("A", "B", "L")
] + [
    pytest.param(caller, route, None, id=f"{caller}-{route.replace(' ', '_')}")
    for caller in ACCESS
    for route in LIST_ROUTES
]


@pytest.mark.parametrize(("caller", "route", "target"), CELLS)
def test_scope_matrix(client, world, caller, route, target) -> None:
    method, url, body = _request(world, route, target)
    response = client.request(method, url, json=body, headers=world.headers[caller])
    expected = expected_status(caller, route, target)
    assert response.status_code == expected, response.text
    if expected >= 400:
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == expected


# --- 404 reveals nothing ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/people/{person}",
        "/people/{person}/history",
        "/people/{person}/memberships",
        "/people/{person}/identity",
        "/memberships/{membership}",
    ],
)
def test_another_societys_object_looks_exactly_like_a_missing_one(client, world, path) -> None:
    headers = world.headers["admin_A"]

    def get(person: object, membership: object) -> dict[str, Any]:
        url = API + path.format(person=person, membership=membership)
        response = client.get(url, headers=headers)
        assert response.status_code == 404, response.text
        body = response.json()
        body.pop("instance", None)
        return body

    hidden = get(world.people["pb"].id, world.memberships["pb@B"].id)
    missing = get(uuid.uuid4(), uuid.uuid4())
    assert hidden == missing


def test_another_societys_organisation_looks_exactly_like_a_missing_one(client, world) -> None:
    headers = world.headers["admin_A"]
    hidden = client.get(f"{API}/orgs/{world.code('B')}", headers=headers)
    missing = client.get(f"{API}/orgs/NO-SUCH-ORG", headers=headers)
    assert hidden.status_code == missing.status_code == 404
    assert {**hidden.json(), "instance": None} == {**missing.json(), "instance": None}


@pytest.mark.parametrize(("caller", "org"), [("admin_A", "ROOT"), ("admin_P", "ROOT")])
def test_society_staff_do_not_see_the_organisations_above_them(client, world, caller, org) -> None:
    response = client.get(f"{API}/orgs/{world.code(org)}", headers=world.headers[caller])
    assert response.status_code == 404


def test_provincial_admin_reads_its_own_association_and_the_one_below(client, world) -> None:
    for org in ("P", "L"):
        response = client.get(f"{API}/orgs/{world.code(org)}", headers=world.headers["admin_P"])
        assert response.status_code == 200, response.text
    listed = client.get(
        f"{API}/orgs/{world.code('L')}/memberships", headers=world.headers["admin_P"]
    ).json()["items"]
    assert world.memberships["pl@L"].id in {uuid.UUID(m["id"]) for m in listed}


# --- lists contain only what is in scope ------------------------------------------------------


def _ids(response) -> set[uuid.UUID]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["next_cursor"] is None, "the test world should fit on one page"
    return {uuid.UUID(item["id"]) for item in body["items"]}


def _members_of(client, world: World, *orgs: str) -> set[uuid.UUID]:  # type: ignore[no-untyped-def]
    """Everyone holding a membership in `orgs`, as the platform administrator sees it."""
    found: set[uuid.UUID] = set()
    for org in orgs:
        response = client.get(
            f"{API}/orgs/{world.code(org)}/memberships?limit=200",
            headers=world.headers["platform_admin"],
        )
        found |= {uuid.UUID(m["person_id"]) for m in response.json()["items"]}
    return found


def test_society_admin_lists_only_its_own_members(client, world) -> None:
    people = world.people
    seen = _ids(client.get(f"{API}/people?limit=200", headers=world.headers["admin_A"]))
    assert {people["pa"].id, people["pab"].id} <= seen
    assert people["pb"].id not in seen
    assert people["pl"].id not in seen
    assert seen <= _members_of(client, world, "A")


def test_provincial_admin_lists_the_members_of_the_association_below(client, world) -> None:
    people = world.people
    seen = _ids(client.get(f"{API}/people?limit=200", headers=world.headers["admin_P"]))
    assert people["pl"].id in seen
    assert not {people["pa"].id, people["pb"].id, people["pab"].id} & seen
    assert seen <= _members_of(client, world, "P", "L")


def test_committee_of_the_federation_lists_members_of_every_society_below_it(client, world) -> None:
    seen = _ids(client.get(f"{API}/people?limit=200", headers=world.headers["committee_ROOT"]))
    assert {p.id for p in world.people.values()} <= seen
    assert seen <= _members_of(client, world, "ROOT", "A", "B", "P", "L")


@pytest.mark.parametrize(
    ("caller", "visible"),
    [
        ("admin_A", {"A"}),
        ("staff_A", {"A"}),
        ("admin_P", {"P", "L"}),
        ("committee_ROOT", {"ROOT", "A", "B", "P", "L"}),
    ],
)
def test_organisation_list_contains_exactly_the_callers_subtree(
    client, world, caller, visible
) -> None:
    response = client.get(f"{API}/orgs?limit=200", headers=world.headers[caller])
    assert response.status_code == 200, response.text
    codes = {org["code"] for org in response.json()["items"]}
    assert codes == {world.code(name) for name in visible}


def test_platform_admin_lists_every_organisation(client, world) -> None:
    codes: set[str] = set()
    url = f"{API}/orgs?limit=200"
    while url:  # other tests' organisations come first: read every page
        body = client.get(url, headers=world.headers["platform_admin"]).json()
        codes |= {org["code"] for org in body["items"]}
        url = body["next_cursor"] and f"{API}/orgs?limit=200&cursor={body['next_cursor']}"
    assert {world.code(name) for name in world.orgs} <= codes


def test_organisation_membership_list_holds_only_that_organisations_memberships(
    client, world
) -> None:
    response = client.get(
        f"{API}/orgs/{world.code('A')}/memberships?limit=200", headers=world.headers["staff_A"]
    )
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert {m["org_code"] for m in items} == {world.code("A")}
    assert {world.memberships["pa@A"].id, world.memberships["pab@A"].id} <= {
        uuid.UUID(m["id"]) for m in items
    }


def test_filtering_people_by_another_societys_code_reveals_nothing(client, world) -> None:
    """`pab` is visible to A's staff, but that they are also in B is B's business."""
    response = client.get(
        f"{API}/people?org_code={world.code('B')}", headers=world.headers["admin_A"]
    )
    assert response.status_code == 200, response.text
    assert response.json()["items"] == []
    own = client.get(f"{API}/people?org_code={world.code('A')}", headers=world.headers["admin_A"])
    assert world.people["pab"].id in {uuid.UUID(p["id"]) for p in own.json()["items"]}


# --- one person's memberships -----------------------------------------------------------------


def _membership_orgs(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.text
    return sorted(m["org_code"] for m in response.json())


def test_society_staff_see_only_their_own_societys_membership_of_a_shared_member(
    client, world
) -> None:
    url = f"{API}/people/{world.people['pab'].id}/memberships"
    for caller in ("staff_A", "admin_A"):
        assert _membership_orgs(client.get(url, headers=world.headers[caller])) == [world.code("A")]


def test_platform_admin_sees_every_membership_of_a_shared_member(client, world) -> None:
    url = f"{API}/people/{world.people['pab'].id}/memberships"
    assert _membership_orgs(client.get(url, headers=world.headers["platform_admin"])) == sorted(
        [world.code("A"), world.code("B")]
    )


def test_member_sees_all_of_their_own_memberships_and_nobody_elses(client, world) -> None:
    own = client.get(
        f"{API}/people/{world.people['pab'].id}/memberships", headers=world.headers["member"]
    )
    assert _membership_orgs(own) == sorted([world.code("A"), world.code("B")])
    other = client.get(
        f"{API}/people/{world.people['pa'].id}/memberships", headers=world.headers["member"]
    )
    assert other.status_code == 403
    me = client.get(f"{API}/me", headers=world.headers["member"])
    assert sorted(m["org_code"] for m in me.json()["memberships"]) == _membership_orgs(own)


# --- contact data and identity documents ------------------------------------------------------


def test_phone_and_email_are_masked_for_a_role_without_the_contact_permission(
    client, world
) -> None:
    headers = world.headers["committee_ROOT"]
    person = world.people["pa"]
    one = client.get(f"{API}/people/{person.id}", headers=headers)
    assert one.status_code == 200, one.text
    assert one.json()["phone"] == MASKED_PHONE
    assert one.json()["email"] != EMAIL
    assert EMAIL not in one.text
    listed = client.get(f"{API}/people?limit=200", headers=headers).json()["items"]
    row = next(p for p in listed if p["id"] == str(person.id))
    assert row["phone"] == MASKED_PHONE
    assert PHONE not in str(listed)


@pytest.mark.parametrize("caller", ["admin_A", "staff_A", "platform_admin"])
def test_phone_is_shown_to_roles_with_the_contact_permission(client, world, caller) -> None:
    response = client.get(f"{API}/people/{world.people['pa'].id}", headers=world.headers[caller])
    assert response.status_code == 200, response.text
    assert response.json()["phone"] == PHONE
    assert response.json()["email"] == EMAIL


@pytest.mark.parametrize("caller", ["admin_A", "staff_A", "committee_ROOT", "platform_admin"])
def test_person_reads_never_carry_the_document_number(client, world, caller) -> None:
    person = world.people["pa"]
    number = world.id_numbers["pa"]
    for url in (f"{API}/people/{person.id}", f"{API}/people?limit=200"):
        response = client.get(url, headers=world.headers[caller])
        assert response.status_code == 200, response.text
        assert number not in response.text
    masked = client.get(f"{API}/people/{person.id}", headers=world.headers[caller]).json()
    assert masked["id_number_masked"] == number[:3] + "*" * 11 + number[-4:]


def _identity_reads(db, person_id: uuid.UUID, actor: Account) -> int:  # type: ignore[no-untyped-def]
    return db.execute(
        text(
            "SELECT count(*) FROM audit_event WHERE action = 'person.identity.read'"
            " AND object_type = 'person' AND object_id = :person AND actor_id = :actor"
        ),
        {"person": str(person_id), "actor": actor.id},
    ).scalar_one()


@pytest.mark.parametrize(("caller", "target"), [("admin_A", "pa"), ("platform_admin", "pb")])
def test_identity_route_unmasks_the_document_and_audits_every_read(
    client, world, db, caller, target
) -> None:
    person = world.people[target]
    account = world.callers[caller]
    before = _identity_reads(db, person.id, account)
    for _ in range(2):
        response = client.get(f"{API}/people/{person.id}/identity", headers=world.headers[caller])
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["id_number"] == world.id_numbers[target]
        assert body["phone"] == PHONE
    assert _identity_reads(db, person.id, account) == before + 2
    actor = db.execute(
        text("SELECT actor FROM audit_event WHERE actor_id = :a ORDER BY id DESC LIMIT 1"),
        {"a": account.id},
    ).scalar_one()
    assert actor == account.username


@pytest.mark.parametrize(
    ("caller", "status"), [("staff_A", 403), ("committee_ROOT", 403), ("admin_P", 404)]
)
def test_refused_identity_reads_disclose_nothing(client, world, db, caller, status) -> None:
    person = world.people["pa"]
    response = client.get(f"{API}/people/{person.id}/identity", headers=world.headers[caller])
    assert response.status_code == status
    assert world.id_numbers["pa"] not in response.text
    assert _identity_reads(db, person.id, world.callers[caller]) == 0


@pytest.mark.parametrize("role", ["org_admin", "org_staff", "committee"])
def test_an_organisation_role_stored_without_its_organisation_confers_nothing(
    client, factory, world, role
) -> None:
    """Such a grant is refused when created; if one is in the database anyway, it must not act
    as a platform-wide grant."""
    headers = factory.caller(role)  # the factory writes the grant row directly, org_id NULL
    for url in (f"{API}/people", f"{API}/orgs", f"{API}/people/{world.people['pb'].id}"):
        response = client.get(url, headers=headers)
        assert response.status_code == 403, f"{url}: {response.text}"


def test_contact_data_is_shown_only_for_people_in_the_scope_that_may_see_it(
    client, factory
) -> None:
    """A committee member of one organisation (contact data masked) who is also staff of
    another (contact data shown) sees unmasked contacts of the other's people only."""
    committee_org, society = factory.org(), factory.org()
    theirs = factory.person(org=committee_org, phone="13812345678", email="wang@example.cn")
    ours = factory.person(org=society, phone="13987654321", email="li@example.cn")
    account = factory.account(Role.committee, committee_org)
    factory.grant(account, Role.org_staff, society)
    headers = factory.headers(account)
    api = "/api/v1/people"
    seen = client.get(f"{api}/{theirs.id}", headers=headers).json()
    assert (seen["phone"], seen["email"]) == ("138****5678", "w***@example.cn")
    seen = client.get(f"{api}/{ours.id}", headers=headers).json()
    assert (seen["phone"], seen["email"]) == ("13987654321", "li@example.cn")
    for person, phone in ((theirs, "138****5678"), (ours, "13987654321")):
        listed = client.get(api, params={"q": person.name}, headers=headers).json()["items"]
        assert [p["phone"] for p in listed if p["id"] == str(person.id)] == [phone]
    # A change answers with the profile as the caller may see it too.
    changed = client.patch(f"{api}/{ours.id}", json={"position": "主任"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "13987654321"
