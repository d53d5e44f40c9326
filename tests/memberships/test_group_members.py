"""Group members (团体会员): the cap per society, activity, the ranking report with the bottom N
flagged for review, status changes with reasons, and their lapse by date."""

from __future__ import annotations

import random
import uuid
from datetime import date

import pytest
from stdnum.cn import uscc as stdnum_uscc

from services.registry.core.clock import get_today
from services.registry.core.db import transaction
from services.registry.memberships import lifecycle

from ..factories import plan, plan_nodes, statements

API = "/api/v1"
TODAY = date(2026, 6, 30)


def fresh_uscc() -> str:
    alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
    body = "91110000" + "".join(random.choice(alphabet) for _ in range(9))
    return body + stdnum_uscc.calc_check_digit(body + "0")


@pytest.fixture(autouse=True)
def frozen(app):  # type: ignore[no-untyped-def]
    app.dependency_overrides[get_today] = lambda: TODAY
    yield
    app.dependency_overrides.pop(get_today, None)


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国机械工程学会" + uuid.uuid4().hex[:4])


@pytest.fixture
def admin(factory, society):  # type: ignore[no-untyped-def]
    return factory.caller("org_admin", society)


def add(client, society, headers, **fields):  # type: ignore[no-untyped-def]
    body = {"uscc": fresh_uscc(), "name": "单位" + uuid.uuid4().hex[:6], **fields}
    return client.post(f"{API}/orgs/{society.code}/group-members", json=body, headers=headers)


def test_the_cap_stops_new_group_members(client, factory, society, admin) -> None:
    policy = f"{API}/orgs/{society.code}/membership-policy"
    staff = factory.caller("org_staff", society)
    assert client.put(policy, json={"group_member_cap": 2}, headers=staff).status_code == 403
    assert client.put(policy, json={"group_member_cap": 2}, headers=admin).json() == {
        "org_code": society.code,
        "group_member_cap": 2,
        "group_members": 0,
    }
    first = add(client, society, admin, grade="理事单位", seats=3)
    assert first.status_code == 201, first.text
    assert (first.json()["grade"], first.json()["seats"]) == ("council", 3)
    assert add(client, society, admin).status_code == 201
    refused = add(client, society, admin)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("group-member-cap")
    path = f"{API}/group-members/{first.json()['id']}"
    no_reason = client.patch(path, json={"status": "terminated"}, headers=admin)
    assert no_reason.status_code == 422
    ended = client.patch(path, json={"status": "terminated", "reason": "末位淘汰"}, headers=admin)
    assert ended.json()["status"] == "terminated"
    assert add(client, society, admin).status_code == 201
    back = client.patch(path, json={"status": "active", "reason": "复核"}, headers=admin)
    assert back.status_code == 409  # the cap is full again
    history = client.get(f"{path}/history", headers=admin).json()["items"]
    assert (history[-1]["field"], history[-1]["reason"]) == ("status", "末位淘汰")
    assert client.get(policy, headers=staff).json()["group_members"] == 2


def test_duplicate_and_bad_uscc(client, society, admin) -> None:
    number = fresh_uscc()
    assert add(client, society, admin, uscc=number).status_code == 201
    again = add(client, society, admin, uscc=number.lower())
    assert again.status_code == 409
    assert again.json()["errors"][0]["field"] == "uscc"
    bad = add(client, society, admin, uscc=number[:-1] + ("0" if number[-1] != "0" else "1"))
    assert bad.status_code == 422


def test_far_dates_are_refused_naming_the_field(client, society, admin) -> None:
    far = add(client, society, admin, valid_until="9999-12-31")
    assert far.status_code == 422, far.text
    assert [e["field"] for e in far.json()["errors"]] == ["valid_until"]
    group = add(client, society, admin).json()
    changed = client.patch(
        f"{API}/group-members/{group['id']}", json={"joined_on": "1850-01-01"}, headers=admin
    )
    assert changed.status_code == 422, changed.text
    assert [e["field"] for e in changed.json()["errors"]] == ["joined_on"]


def test_the_report_ranks_by_activity_and_flags_the_bottom(client, factory, society, admin) -> None:
    """Hand-counted over the 24 months to 2026-06-30:

    | member | activities in the window                  | individual members | score |
    | A      | event 5 + meeting 3 (+ award 8 in 2023: out) | 0                | 8     |
    | C      | -                                         | 2                  | 4     |
    | B      | dues 2                                    | 0                  | 2     |
    | D      | -                                         | 0                  | 0     |
    | E      | lapsed: not ranked                        |                    |       |
    """
    made = {}
    for name, joined in (("A", "2015-01-01"), ("B", "2016-01-01"), ("C", "2017-01-01"),
                         ("D", "2018-01-01")):  # fmt: skip
        made[name] = add(client, society, admin, name=f"单位{name}", joined_on=joined).json()
    made["E"] = add(client, society, admin, name="单位E", valid_until="2025-12-31").json()
    assert made["E"]["status"] == "lapsed"

    def record(who: str, kind: str, day: str) -> None:
        response = client.post(
            f"{API}/group-members/{made[who]['id']}/activities",
            json={"kind": kind, "occurred_on": day},
            headers=admin,
        )
        assert response.status_code == 201, response.text

    record("A", "event", "2026-03-01")
    record("A", "meeting", "2025-11-11")
    record("A", "award", "2023-05-05")
    record("B", "dues", "2026-01-15")
    for _ in range(2):
        person = factory.person(org=society, institution_uscc=made["C"]["uscc"])
        created = client.post(
            f"{API}/orgs/{society.code}/memberships",
            json={"person_id": str(person.id), "valid_until": "2030-12-31"},
            headers=admin,
        )
        assert created.status_code == 201, created.text

    report = client.get(
        f"{API}/orgs/{society.code}/group-members/report?bottom=2", headers=admin
    ).json()
    assert report["window_start"] == "2024-07-01"
    ranking = [(r["name"], r["score"], r["rank"], r["flagged"]) for r in report["ranking"]]
    assert ranking == [
        ("单位A", 8, 1, False),
        ("单位C", 4, 2, False),
        ("单位B", 2, 3, True),
        ("单位D", 0, 4, True),
    ]
    a = report["ranking"][0]
    assert (a["activity_points"], a["activities"], a["individual_members"]) == (8, 2, 0)
    assert report["ranking"][1]["individual_members"] == 2
    assert (report["group_members"], report["cap"], report["over_cap"]) == (4, None, 0)
    activities = client.get(f"{API}/group-members/{made['A']['id']}/activities", headers=admin)
    assert [x["kind"] for x in activities.json()] == ["event", "meeting", "award"]


def test_group_members_lapse_by_date_in_the_refresh(client, runtime, society, admin) -> None:
    group = add(client, society, admin, valid_until="2026-12-31").json()
    with transaction(runtime.sessions) as session:
        result = lifecycle.refresh(session, today=date(2027, 1, 1), org_ids=[society.id])
    assert result.groups_changed == {"lapsed": 1}
    fetched = client.get(f"{API}/group-members/{group['id']}", headers=admin).json()
    assert fetched["status"] == "lapsed"


def test_a_group_members_status_follows_its_changed_dates(client, society, admin) -> None:
    group = add(client, society, admin, joined_on="2020-01-01").json()
    path = f"{API}/group-members/{group['id']}"
    assert group["status"] == "active"
    ended = client.patch(path, json={"valid_until": "2025-12-31"}, headers=admin)
    assert ended.status_code == 200, ended.text
    assert ended.json()["status"] == "lapsed"  # at once, not at the next refresh
    back = client.patch(path, json={"valid_until": "2026-12-31"}, headers=admin).json()
    assert back["status"] == "active"
    history = client.get(f"{path}/history", headers=admin).json()["items"]
    assert [(h["old_value"], h["new_value"]) for h in history if h["field"] == "status"] == [
        ("active", "lapsed"),
        ("lapsed", "active"),
    ]
    # Active by hand against the dates would not last past the refresh: say so instead.
    client.patch(path, json={"valid_until": "2025-12-31"}, headers=admin)
    refused = client.patch(path, json={"status": "active", "reason": "复核"}, headers=admin)
    assert refused.status_code == 422, refused.text
    assert [e["field"] for e in refused.json()["errors"]] == ["status"]
    held = client.patch(path, json={"status": "suspended", "reason": "整改"}, headers=admin)
    assert held.json()["status"] == "suspended"
    kept = client.patch(path, json={"valid_until": "2027-12-31"}, headers=admin).json()
    assert kept["status"] == "suspended"  # a hold is not lifted by new dates


def test_new_dates_that_reactivate_a_group_member_respect_the_cap(
    client, runtime, society, admin
) -> None:  # type: ignore[no-untyped-def]
    old = add(client, society, admin, joined_on="2020-01-01", valid_until="2025-12-31")
    assert old.status_code == 201, old.text
    assert old.json()["status"] == "lapsed"
    policy = f"{API}/orgs/{society.code}/membership-policy"
    assert client.put(policy, json={"group_member_cap": 1}, headers=admin).status_code == 200
    assert add(client, society, admin).status_code == 201  # the one place under the cap
    renewed = client.patch(
        f"{API}/group-members/{old.json()['id']}", json={"valid_until": "2026-12-31"}, headers=admin
    )
    assert renewed.status_code == 409, renewed.text
    assert renewed.json()["type"].endswith("group-member-cap")
    with transaction(runtime.sessions) as session:
        lifecycle.refresh(session, today=TODAY, org_ids=[society.id])
    assert client.get(policy, headers=admin).json()["group_members"] == 1


def test_a_former_group_member_entered_at_the_cap_is_recorded_as_lapsed(
    client, society, admin
) -> None:  # type: ignore[no-untyped-def]
    policy = f"{API}/orgs/{society.code}/membership-policy"
    assert client.put(policy, json={"group_member_cap": 1}, headers=admin).status_code == 200
    assert add(client, society, admin).status_code == 201
    # Ended before today: it takes no place under the cap, so the cap does not refuse it.
    old = add(client, society, admin, joined_on="2018-01-01", valid_until="2022-12-31")
    assert old.status_code == 201, old.text
    assert old.json()["status"] == "lapsed"
    assert client.get(policy, headers=admin).json()["group_members"] == 1
    assert add(client, society, admin).status_code == 409


def test_group_members_are_scoped(client, factory, society, admin) -> None:
    group = add(client, society, admin).json()
    other = factory.caller("org_admin", factory.org())
    for method, path in (
        ("GET", f"{API}/group-members/{group['id']}"),
        ("PATCH", f"{API}/group-members/{group['id']}"),
        ("GET", f"{API}/group-members/{group['id']}/activities"),
        ("GET", f"{API}/orgs/{society.code}/group-members"),
        ("GET", f"{API}/orgs/{society.code}/group-members/report"),
    ):
        assert client.request(method, path, json={}, headers=other).status_code == 404, path
    listed = client.get(f"{API}/orgs/{society.code}/group-members", headers=admin).json()
    assert [g["id"] for g in listed["items"]] == [group["id"]]


def test_contact_phone_and_email_are_masked_in_a_group_members_history(
    client, society, admin
) -> None:  # type: ignore[no-untyped-def]
    created = add(
        client, society, admin, contact_name="钱某", contact_phone="13733334444",
        contact_email="qian@example.cn",
    )  # fmt: skip
    assert created.status_code == 201, created.text
    group = created.json()["id"]
    changed = client.patch(
        f"/api/v1/group-members/{group}",
        json={"contact_phone": "13755556666", "contact_email": "qian.new@example.cn"},
        headers=admin,
    )
    assert changed.status_code == 200, changed.text
    items = client.get(f"/api/v1/group-members/{group}/history", headers=admin).json()["items"]
    entries = {(h["field"], h["old_value"], h["new_value"]) for h in items}
    assert ("contact_phone", "137****4444", "137****6666") in entries
    assert ("contact_email", "q***@example.cn", "q***@example.cn") in entries
    for raw in ("13733334444", "13755556666", "qian@example.cn", "qian.new@example.cn"):
        assert raw not in str(items)


def test_the_report_reads_the_activity_of_its_own_society_only(
    client, factory, society, admin, runtime, db
) -> None:
    """Activities are summed for the society's group members through the index by group
    member, not over every society's activities in the window."""
    other = factory.org()
    other_admin = factory.caller("org_admin", other)
    for org, headers in ((society, admin), (other, other_admin)):
        group = add(client, org, headers).json()
        response = client.post(
            f"{API}/group-members/{group['id']}/activities",
            json={"kind": "meeting", "occurred_on": "2026-03-01"},
            headers=headers,
        )
        assert response.status_code == 201, response.text
    with statements(runtime) as seen:
        report = client.get(f"{API}/orgs/{society.code}/group-members/report", headers=admin)
    assert report.status_code == 200, report.text
    assert [r["activity_points"] for r in report.json()["ranking"]] == [3]
    (statement, parameters) = next((s, p) for s, p in seen if "group_activity" in s)
    # The plan is asked for with the other society's activity grown to 20,000 entries in the
    # window (rolled back with it), as a national registry holds far more than this one's.
    db.exec_driver_sql(
        "INSERT INTO group_activity"
        " (id, group_membership_id, kind, points, occurred_on, recorded_by)"
        " SELECT gen_random_uuid(), a.group_membership_id, a.kind, a.points, a.occurred_on,"
        " a.recorded_by"
        " FROM group_activity a JOIN group_membership g ON g.id = a.group_membership_id,"
        " generate_series(1, 20000) WHERE g.org_id = %(org)s",
        {"org": other.id},
    )
    db.exec_driver_sql("ANALYZE group_activity")
    nodes = list(plan_nodes(plan(db, statement, parameters, enable_seqscan="off")))
    assert not [n for n in nodes if n["Node Type"] == "Seq Scan"], nodes
    conditions = [
        n.get("Index Cond", "")
        for n in nodes
        if n.get("Index Name") == "ix_group_activity_group_membership_id_occurred_on"
    ]
    assert conditions, nodes
    assert all("group_membership_id" in c for c in conditions), conditions
