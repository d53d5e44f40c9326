"""Organisations over HTTP: registration, validation, status history, the tree, lists."""

from __future__ import annotations

import random
import threading
import uuid
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from stdnum.cn import uscc as stdnum_uscc

from ..factories import unique_code, wait_for_lock_waiter

PROBLEM = "application/problem+json"
VALID_USCC = "91350100M000100Y43"
ORGS = "/api/v1/orgs"


def fresh_uscc() -> str:
    """A USCC with a correct check digit that no other test used."""
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "51110000" + "".join(random.choice(alphabet) for _ in range(9))
    return body + stdnum_uscc.calc_check_digit(body + "0")


def fields_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    body = response.json()
    assert body["status"] == response.status_code
    return {e["field"] for e in body.get("errors", [])}


@pytest.fixture
def admin(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factory.caller("platform_admin")


def create(client, admin, **fields):  # type: ignore[no-untyped-def]
    body = {
        "code": unique_code("O"),
        "name": f"学会{uuid.uuid4().hex[:6]}",
        "kind": "national_society",
    }
    body.update(fields)
    return client.post(ORGS, json=body, headers=admin)


# --- creating -------------------------------------------------------------------------------


def test_create_normalises_code_and_verifies_uscc_and_region(client, admin) -> None:
    parent = create(client, admin, kind="federation").json()
    code = "cstam-" + uuid.uuid4().hex[:6]
    response = client.post(
        ORGS,
        json={
            "code": f"  {code} ",
            "name": "中国力学学会",
            "name_en": "Chinese Society of Theoretical and Applied Mechanics",
            "kind": "national_society",
            "parent_code": parent["code"].lower(),
            "uscc": VALID_USCC.lower(),
            "region_code": "11",
        },
        headers=admin,
    )
    assert response.status_code == 201, response.text
    org = response.json()
    assert org["code"] == code.upper()
    assert org["name"] == "中国力学学会"
    assert org["name_en"].startswith("Chinese Society")
    assert org["kind"] == "national_society"
    assert org["parent_code"] == parent["code"]
    assert org["uscc"] == VALID_USCC
    assert org["region_code"] == "110000"
    assert org["status"] == "active"
    again = client.get(f"{ORGS}/{code}", headers=admin)
    assert again.status_code == 200
    assert again.json() == org


def test_full_width_code_and_uscc_are_folded(client, admin) -> None:
    uscc = fresh_uscc()
    full = "".join(chr(ord(c) + 0xFEE0) for c in uscc)
    response = create(client, admin, code="ＦＷ" + uuid.uuid4().hex[:6], uscc=full)
    assert response.status_code == 201, response.text
    assert response.json()["uscc"] == uscc
    assert response.json()["code"].startswith("FW")


def test_an_organisation_is_found_by_its_code_typed_full_width(client, factory, admin) -> None:
    """Codes are folded when registered (ＦＷ is FW), and when looked up too."""
    province = factory.org(kind="provincial_association")
    local = factory.org(kind="local_association", parent=province.code)
    wide = "".join(chr(ord(c) + 0xFEE0) for c in province.code.lower())
    got = client.get(f"{ORGS}/{wide}", headers=admin)
    assert got.status_code == 200, got.text
    assert got.json()["code"] == province.code
    listed = client.get(ORGS, params={"parent_code": wide}, headers=admin).json()
    assert [o["code"] for o in listed["items"]] == [local.code]


def test_uscc_with_wrong_check_digit_is_refused_naming_uscc(client, admin) -> None:
    bad = VALID_USCC[:-1] + ("4" if VALID_USCC[-1] != "4" else "5")
    response = create(client, admin, uscc=bad)
    assert response.status_code == 422
    assert fields_of(response) == {"uscc"}
    assert "check digit" in response.json()["errors"][0]["reason"]


def test_uscc_of_wrong_length_is_refused(client, admin) -> None:
    response = create(client, admin, uscc="91350100M000100Y4")
    assert response.status_code == 422
    assert fields_of(response) == {"uscc"}


@pytest.mark.parametrize("region", ["999999", "1", "11000A", "1100000"])
def test_unknown_or_malformed_region_code_is_refused(client, admin, region) -> None:
    response = create(client, admin, region_code=region)
    assert response.status_code == 422
    assert fields_of(response) == {"region_code"}


def test_unknown_kind_is_refused_naming_kind(client, admin) -> None:
    response = create(client, admin, kind="sports_club")
    assert response.status_code == 422
    assert fields_of(response) == {"kind"}


def test_unknown_parent_is_refused_naming_parent_code(client, admin) -> None:
    response = create(client, admin, parent_code="NO-SUCH-ORG")
    assert response.status_code == 422
    assert fields_of(response) == {"parent_code"}


def test_duplicate_code_is_a_409_naming_code(client, admin) -> None:
    code = unique_code("DUP")
    assert create(client, admin, code=code).status_code == 201
    response = create(client, admin, code=code.lower())
    assert response.status_code == 409
    assert fields_of(response) == {"code"}


def test_duplicate_uscc_is_a_409_naming_uscc(client, admin) -> None:
    uscc = fresh_uscc()
    assert create(client, admin, uscc=uscc).status_code == 201
    response = create(client, admin, uscc=uscc)
    assert response.status_code == 409
    assert fields_of(response) == {"uscc"}


def test_unknown_fields_are_refused_naming_them(client, admin) -> None:
    response = create(client, admin, president="张三")
    assert response.status_code == 422
    assert fields_of(response) == {"president"}


def test_status_cannot_be_set_on_create(client, admin) -> None:
    response = create(client, admin, status="suspended")
    assert response.status_code == 422
    assert fields_of(response) == {"status"}


def test_society_staff_cannot_register_organisations(client, factory) -> None:
    own = factory.org()
    response = client.post(
        ORGS,
        json={"code": unique_code(), "name": "越权学会", "kind": "national_society"},
        headers=factory.caller("org_admin", own),
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM)


# --- status and history ---------------------------------------------------------------------


def test_status_change_without_reason_is_refused_naming_reason(client, admin) -> None:
    org = create(client, admin).json()
    response = client.patch(f"{ORGS}/{org['code']}", json={"status": "probation"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"reason"}
    assert client.get(f"{ORGS}/{org['code']}", headers=admin).json()["status"] == "active"


def test_status_change_is_recorded_in_history_with_its_reason(client, admin) -> None:
    org = create(client, admin).json()
    url = f"{ORGS}/{org['code']}"
    first = client.patch(
        url, json={"status": "probation", "reason": "年检不合格，整改期一年"}, headers=admin
    )
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "probation"
    second = client.patch(url, json={"status": "exited", "reason": "整改未通过"}, headers=admin)
    assert second.json()["status"] == "exited"

    history = client.get(f"{url}/history", headers=admin).json()
    statuses = [h for h in history["items"] if h["field"] == "status"]
    assert [(h["old_value"], h["new_value"], h["reason"]) for h in statuses] == [
        ("active", "probation", "年检不合格，整改期一年"),
        ("probation", "exited", "整改未通过"),
    ]
    assert all(h["actor"] and h["source"] == "api" and h["changed_at"] for h in statuses)
    assert history["items"][0]["field"] == "created"
    assert history["next_cursor"] is None


def test_a_status_change_made_meanwhile_is_seen_by_the_next_one(
    client, factory, admin, runtime, db
) -> None:
    """A change committed while a request waits for the organisation's lock is the value the
    request changes from: it is neither lost nor recorded with a stale old value."""
    org = factory.org()
    url = f"{ORGS}/{org.code}"
    results: dict[str, Any] = {}
    with runtime.engine.connect() as holder:
        holder.execute(
            text("UPDATE organisation SET status = 'suspended' WHERE id = :id"), {"id": org.id}
        )
        thread = threading.Thread(
            target=lambda: results.setdefault(
                "response",
                client.patch(url, json={"status": "active", "reason": "复核通过"}, headers=admin),
            )
        )
        thread.start()
        assert wait_for_lock_waiter(db), "the request never waited for the organisation"
        holder.commit()
    thread.join(10)
    assert results["response"].status_code == 200, results["response"].text
    assert client.get(url, headers=admin).json()["status"] == "active"
    history = client.get(f"{url}/history", headers=admin).json()["items"]
    assert [(h["old_value"], h["new_value"]) for h in history if h["field"] == "status"] == [
        ("suspended", "active")
    ]


@pytest.mark.parametrize("field", ["status", "name"])
def test_required_fields_cannot_be_cleared(client, admin, field) -> None:
    org = create(client, admin).json()
    response = client.patch(
        f"{ORGS}/{org['code']}", json={field: None, "reason": "x"}, headers=admin
    )
    assert response.status_code == 422
    assert fields_of(response) == {field}


def test_optional_fields_can_be_cleared(client, admin) -> None:
    org = create(client, admin, name_en="X", uscc=fresh_uscc(), region_code="110000").json()
    response = client.patch(
        f"{ORGS}/{org['code']}",
        json={"name_en": None, "uscc": None, "region_code": None},
        headers=admin,
    )
    assert response.status_code == 200
    assert (response.json()["name_en"], response.json()["uscc"]) == (None, None)


def test_patch_changes_only_given_fields_and_records_them(client, admin) -> None:
    org = create(client, admin, name_en="Old Name", region_code="110000").json()
    url = f"{ORGS}/{org['code']}"
    response = client.patch(url, json={"name_en": "New Name"}, headers=admin)
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["name_en"] == "New Name"
    assert changed["region_code"] == "110000"
    assert changed["name"] == org["name"]
    assert changed["updated_at"] > org["updated_at"]
    fields = [h["field"] for h in client.get(f"{url}/history", headers=admin).json()["items"]]
    assert fields == ["created", "name_en"]


def test_patch_with_bad_uscc_is_refused(client, admin) -> None:
    org = create(client, admin).json()
    response = client.patch(f"{ORGS}/{org['code']}", json={"uscc": "123"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"uscc"}


def test_patch_to_a_uscc_another_organisation_holds_is_a_409(client, admin) -> None:
    uscc = fresh_uscc()
    create(client, admin, uscc=uscc)
    other = create(client, admin).json()
    response = client.patch(f"{ORGS}/{other['code']}", json={"uscc": uscc}, headers=admin)
    assert response.status_code == 409
    assert fields_of(response) == {"uscc"}


def test_patching_an_unknown_organisation_is_a_404(client, admin) -> None:
    response = client.patch(f"{ORGS}/NO-SUCH-ORG", json={"name_en": "x"}, headers=admin)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith(PROBLEM)


# --- the tree -------------------------------------------------------------------------------


def test_reparenting_moves_the_whole_subtree_into_the_new_scope(client, factory, admin) -> None:
    old_province = factory.org(kind="provincial_association")
    new_province = factory.org(kind="provincial_association")
    city = factory.org(kind="local_association", parent=old_province.code)
    county = factory.org(kind="local_association", parent=city.code)
    old_admin = factory.caller("org_admin", old_province)
    new_admin = factory.caller("org_admin", new_province)

    assert client.get(f"{ORGS}/{county.code}", headers=old_admin).status_code == 200
    assert client.get(f"{ORGS}/{county.code}", headers=new_admin).status_code == 404

    moved = client.patch(
        f"{ORGS}/{city.code}",
        json={"parent_code": new_province.code, "reason": "行政区划调整"},
        headers=admin,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["parent_code"] == new_province.code

    for code in (city.code, county.code):
        assert client.get(f"{ORGS}/{code}", headers=new_admin).status_code == 200
        assert client.get(f"{ORGS}/{code}", headers=old_admin).status_code == 404
    listed = client.get(ORGS, params={"parent_code": city.code}, headers=new_admin).json()
    assert [o["code"] for o in listed["items"]] == [county.code]

    history = client.get(f"{ORGS}/{city.code}/history", headers=admin).json()["items"]
    move = [h for h in history if h["field"] == "parent_code"]
    assert [(h["old_value"], h["new_value"], h["reason"]) for h in move] == [
        (old_province.code, new_province.code, "行政区划调整")
    ]


def test_an_organisation_cannot_be_moved_below_itself(client, factory, admin) -> None:
    top = factory.org(kind="provincial_association")
    middle = factory.org(kind="local_association", parent=top.code)
    bottom = factory.org(kind="local_association", parent=middle.code)
    for target in (bottom.code, middle.code, top.code):
        response = client.patch(f"{ORGS}/{top.code}", json={"parent_code": target}, headers=admin)
        assert response.status_code == 422, target
        assert fields_of(response) == {"parent_code"}
    assert client.get(f"{ORGS}/{top.code}", headers=admin).json()["parent_code"] is None


def test_moving_to_an_unknown_parent_is_refused(client, factory, admin) -> None:
    org = factory.org()
    response = client.patch(f"{ORGS}/{org.code}", json={"parent_code": "NOPE-NOPE"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"parent_code"}


def test_nothing_is_placed_below_an_organisation_that_exited(client, factory, admin) -> None:
    province = factory.org(kind="provincial_association")
    exited = client.patch(
        f"{ORGS}/{province.code}", json={"status": "exited", "reason": "撤销"}, headers=admin
    )
    assert exited.status_code == 200, exited.text
    new = {"code": unique_code(), "name": "某市科协", "kind": "local_association",
           "parent_code": province.code}  # fmt: skip
    response = client.post(ORGS, json=new, headers=admin)
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"parent_code"}
    city = factory.org(kind="local_association")
    response = client.patch(
        f"{ORGS}/{city.code}", json={"parent_code": province.code}, headers=admin
    )
    assert response.status_code == 422, response.text
    assert fields_of(response) == {"parent_code"}


def test_moving_to_the_root_clears_the_parent(client, factory, admin) -> None:
    province = factory.org(kind="provincial_association")
    local = factory.org(kind="local_association", parent=province.code)
    response = client.patch(f"{ORGS}/{local.code}", json={"parent_code": None}, headers=admin)
    assert response.status_code == 200
    assert response.json()["parent_code"] is None
    province_admin = factory.caller("org_admin", province)
    assert client.get(f"{ORGS}/{local.code}", headers=province_admin).status_code == 404


def assert_paths_follow_parents(db, orgs) -> None:  # type: ignore[no-untyped-def]
    """Each organisation's path is its parent's path and its own id: the tree has no cycle."""
    rows = db.execute(text("SELECT id, parent_id, path FROM organisation")).all()
    db.rollback()
    by_id = {row.id: row for row in rows}
    for org in orgs:
        row = by_id[org.id]
        parent_path = by_id[row.parent_id].path if row.parent_id else ""
        assert row.path == parent_path + row.id.hex + "/", org.code


def test_two_moves_at_once_cannot_close_a_cycle(client, factory, admin, runtime, db) -> None:
    """A below a child of B and B below a child of A, asked at once: each request alone is
    fine, together they would close a loop; one of them must be refused."""
    province = factory.org(kind="provincial_association")
    a = factory.org(kind="local_association", parent=province.code)
    b = factory.org(kind="local_association", parent=province.code)
    below_a = factory.org(kind="local_association", parent=a.code)
    below_b = factory.org(kind="local_association", parent=b.code)
    results: dict[str, object] = {}

    def move(org, parent):  # type: ignore[no-untyped-def]
        results[org.code] = client.patch(
            f"{ORGS}/{org.code}", json={"parent_code": parent.code}, headers=admin
        )

    with runtime.engine.connect() as holder:
        # Both requests wait behind this lock, then run together.
        holder.execute(
            text("SELECT 1 FROM organisation WHERE id IN (:a, :b) FOR UPDATE"),
            {"a": a.id, "b": b.id},
        )
        threads = [
            threading.Thread(target=move, args=(a, below_b)),
            threading.Thread(target=move, args=(b, below_a)),
        ]
        for thread in threads:
            thread.start()
        wait_for_lock_waiter(db, at_least=2)
        holder.commit()
    for thread in threads:
        thread.join(10)
    statuses = sorted(r.status_code for r in results.values())  # type: ignore[attr-defined]
    assert statuses == [200, 422], {k: r.text for k, r in results.items()}  # type: ignore[attr-defined]
    refused = next(r for r in results.values() if r.status_code == 422)  # type: ignore[attr-defined]
    assert fields_of(refused) == {"parent_code"}
    assert_paths_follow_parents(db, [province, a, b, below_a, below_b])


def test_an_organisation_added_while_its_parent_moves_follows_it(
    client, factory, admin, runtime, db
) -> None:
    """A county association registered below a city while the city moves to another
    province ends up below the city's new place, in the new province's scope."""
    old_province = factory.org(kind="provincial_association")
    new_province = factory.org(kind="provincial_association")
    city = factory.org(kind="local_association", parent=old_province.code)
    code = unique_code("O")
    results: dict[str, object] = {}

    def register() -> None:
        body = {"code": code, "name": "县科协", "kind": "local_association"}
        body["parent_code"] = city.code
        results["added"] = client.post(ORGS, json=body, headers=admin)

    def move() -> None:
        body = {"parent_code": new_province.code}
        results["moved"] = client.patch(f"{ORGS}/{city.code}", json=body, headers=admin)

    with runtime.engine.connect() as holder:
        # An uncommitted row with the same code holds the registration at its insert, after
        # it has read the city's path.
        holder.execute(
            text(
                "INSERT INTO organisation (id, code, name, kind, path, status, version)"
                " VALUES (:id, :code, 'x', 'local_association', :path, 'active', 1)"
            ),
            {"id": uuid.uuid4(), "code": code, "path": uuid.uuid4().hex + "/"},
        )
        added = threading.Thread(target=register)
        added.start()
        wait_for_lock_waiter(db)
        moved = threading.Thread(target=move)
        moved.start()
        wait_for_lock_waiter(db, at_least=2, unless=lambda: "moved" in results)
        holder.rollback()
    added.join(10)
    moved.join(10)
    assert results["added"].status_code == 201, results["added"].text  # type: ignore[attr-defined]
    assert results["moved"].status_code == 200, results["moved"].text  # type: ignore[attr-defined]
    county = SimpleNamespace(id=_id_of(db, code), code=code)
    assert_paths_follow_parents(db, [old_province, new_province, city, county])
    new_admin = factory.caller("org_admin", new_province)
    assert client.get(f"{ORGS}/{code}", headers=new_admin).status_code == 200


def _id_of(db, code: str) -> uuid.UUID:  # type: ignore[no-untyped-def]
    org_id = db.execute(text("SELECT id FROM organisation WHERE code = :c"), {"c": code}).scalar()
    db.rollback()
    return org_id


# --- scoped reads -----------------------------------------------------------------------------


def test_society_admin_sees_only_its_own_organisation(client, factory) -> None:
    mine, theirs = factory.org(), factory.org()
    headers = factory.caller("org_admin", mine)
    assert client.get(f"{ORGS}/{mine.code}", headers=headers).status_code == 200
    assert client.get(f"{ORGS}/{theirs.code}", headers=headers).status_code == 404
    assert client.get(f"{ORGS}/{theirs.code}/history", headers=headers).status_code == 404
    codes = [o["code"] for o in client.get(ORGS, headers=headers).json()["items"]]
    assert codes == [mine.code]


# --- lists ------------------------------------------------------------------------------------


def test_list_filters_by_kind_status_parent_and_text(client, factory, admin) -> None:
    tag = uuid.uuid4().hex[:8]
    province = factory.org(kind="provincial_association", name=f"省科协{tag}")
    a = factory.org(kind="local_association", parent=province.code, name=f"市科协{tag}甲")
    b = factory.org(kind="university_association", parent=province.code, name=f"高校科协{tag}")
    client.patch(f"{ORGS}/{b.code}", json={"status": "probation", "reason": "整改"}, headers=admin)

    def codes(**params):  # type: ignore[no-untyped-def]
        response = client.get(ORGS, params=params, headers=admin)
        assert response.status_code == 200, response.text
        return [o["code"] for o in response.json()["items"]]

    assert codes(parent_code=province.code.lower()) == [a.code, b.code]
    assert codes(parent_code=province.code, kind="local_association") == [a.code]
    assert codes(parent_code=province.code, status="probation") == [b.code]
    assert codes(q=tag) == [province.code, a.code, b.code]
    assert codes(q=f"{tag}甲") == [a.code]
    assert codes(q=a.code.lower()) == [a.code]
    assert codes(q=tag, kind="federation") == []


def test_list_text_filter_treats_wildcards_literally(client, factory, admin) -> None:
    tag = uuid.uuid4().hex[:8]
    literal = factory.org(name=f"百分之百{tag}100%学会")
    factory.org(name=f"百分之百{tag}1000学会")
    response = client.get(ORGS, params={"q": f"{tag}100%"}, headers=admin)
    assert [o["code"] for o in response.json()["items"]] == [literal.code]
    response = client.get(ORGS, params={"q": f"{tag}1_0"}, headers=admin)
    assert response.json()["items"] == []


def test_list_refuses_unknown_kind_and_status(client, admin) -> None:
    response = client.get(ORGS, params={"kind": "club"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"kind"}
    response = client.get(ORGS, params={"status": "dormant"}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"status"}


def test_cursor_pages_do_not_overlap_and_end_with_a_null_cursor(client, factory, admin) -> None:
    parent = factory.org(kind="provincial_association")
    children = [factory.org(kind="local_association", parent=parent.code).code for _ in range(5)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"parent_code": parent.code, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get(ORGS, params=params, headers=admin).json()
        pages += 1
        assert len(page["items"]) <= 2
        seen.extend(o["code"] for o in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert seen == children


def test_exact_last_page_has_a_null_cursor(client, factory, admin) -> None:
    parent = factory.org(kind="provincial_association")
    for _ in range(2):
        factory.org(kind="local_association", parent=parent.code)
    page = client.get(ORGS, params={"parent_code": parent.code, "limit": 2}, headers=admin).json()
    assert len(page["items"]) == 2
    assert page["next_cursor"] is None


@pytest.mark.parametrize("cursor", ["not-a-cursor!", "aQ", "x" * 65, "AAAA"])
def test_malformed_cursor_is_a_422_naming_cursor(client, admin, cursor) -> None:
    response = client.get(ORGS, params={"cursor": cursor}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"cursor"}


@pytest.mark.parametrize("limit", [0, 201, -1, "many"])
def test_limit_outside_one_to_two_hundred_is_a_422_naming_limit(client, admin, limit) -> None:
    response = client.get(ORGS, params={"limit": limit}, headers=admin)
    assert response.status_code == 422
    assert fields_of(response) == {"limit"}


def test_limit_of_two_hundred_is_accepted(client, admin) -> None:
    assert client.get(ORGS, params={"limit": 200}, headers=admin).status_code == 200
