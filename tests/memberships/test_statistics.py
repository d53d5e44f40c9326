"""Membership statistics against a hand-counted society, as JSON and as CSV, within scope."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date

import pytest

from services.registry.core.clock import get_today

from ..factories import unique_code

API = "/api/v1"
TODAY = date(2026, 6, 30)


@pytest.fixture(scope="module")
def counted(app, runtime):  # type: ignore[no-untyped-def]
    """A provincial association with a local one below it and four members (ages on TODAY):

    | who | gender | born       | age | origin    | works in | grade   | joined                |
    | p1  | male   | 1990-07-01 | 35  | mainland  | 110108   | member  | 2020-03-01            |
    | p2  | female | 1996-06-30 | 30  | hong_kong | 440305   | student | 2021-05-05            |
    | p3  | female | 1996-07-01 | 29  | foreign   | -        | senior  | 2021-01-01, ends 2026 |
    | p4  | -      | -          | -   | -         | -        | fellow  | - (the local one)     |
    """
    from fastapi.testclient import TestClient

    from ..factories import Factory

    make = Factory(runtime)
    province = make.org(kind="provincial_association", name="测试省科协" + uuid.uuid4().hex[:4])
    local = make.org(kind="local_association", parent=province.code)
    admin = make.caller("org_admin", province)
    app.dependency_overrides[get_today] = lambda: TODAY
    try:
        with TestClient(app) as client:
            people = [
                make.person(org=province, gender="male", birth_date="1990-07-01",
                            region_of_origin="mainland", region_code="110108"),
                make.person(org=province, gender="female", birth_date="1996-06-30",
                            region_of_origin="hong_kong", region_code="440305"),
                make.person(org=province, gender="female", birth_date="1996-07-01",
                            region_of_origin="foreign"),
                make.person(org=local),
            ]  # fmt: skip
            plan = [
                (province, people[0], {"grade": "member", "joined_on": "2020-03-01"}),
                (province, people[1], {"grade": "student", "joined_on": "2021-05-05"}),
                (province, people[2], {"grade": "senior", "joined_on": "2021-01-01"}),
                (local, people[3], {"grade": "fellow"}),
            ]
            ids = []
            for org, person, fields in plan:
                response = client.post(
                    f"{API}/orgs/{org.code}/memberships",
                    json={"person_id": str(person.id), **fields},
                    headers=admin,
                )
                assert response.status_code == 201, response.text
                ids.append(response.json()["id"])
            ended = client.post(
                f"{API}/memberships/{ids[2]}/terminate", json={"reason": "退会"}, headers=admin
            )
            assert ended.status_code == 200, ended.text
    finally:
        app.dependency_overrides.pop(get_today, None)
    return province, local, admin


@pytest.fixture
def frozen(app):  # type: ignore[no-untyped-def]
    app.dependency_overrides[get_today] = lambda: TODAY
    yield
    app.dependency_overrides.pop(get_today, None)


def growth_of(stats: dict) -> dict[int, tuple[int, int, int]]:
    """Each year's (joined, ended, members at the year's end) of a statistics answer."""
    return {
        g["year"]: (g["joined"], g["ended"], g["members_at_year_end"])
        for g in stats["growth_by_year"]
    }


def statistics_of(client, society, admin) -> dict:  # type: ignore[no-untyped-def]
    """The statistics answer of one society, as its admin asks for it."""
    response = client.get(
        f"{API}/statistics/memberships", params={"org_code": society.code}, headers=admin
    )
    assert response.status_code == 200, response.text
    return response.json()


def enrol(client, society, admin, person_id, **fields) -> dict:  # type: ignore[no-untyped-def]
    """The membership the society's admin adds for a person through the API."""
    response = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(person_id), "grade": "member", **fields},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _counts(rows: list[dict]) -> dict[str, int]:
    return {r["key"]: r["count"] for r in rows}


def test_statistics_match_the_hand_count(client, counted, frozen) -> None:
    province, local, admin = counted
    response = client.get(f"{API}/statistics/memberships?org_code={province.code}", headers=admin)
    assert response.status_code == 200, response.text
    stats = response.json()
    assert (stats["as_of"], stats["total"]) == ("2026-06-30", 4)
    assert [(o["org_code"], o["count"]) for o in stats["by_org"]] == [
        (province.code, 3),
        (local.code, 1),
    ]
    assert _counts(stats["by_grade"]) == {"student": 1, "member": 1, "senior": 1, "fellow": 1}
    assert _counts(stats["by_status"]) == {"active": 3, "terminated": 1}
    assert _counts(stats["by_gender"]) == {"male": 1, "female": 2, "unknown": 1}
    assert _counts(stats["by_age_band"]) == {"under_30": 1, "30_39": 2, "unknown": 1}
    assert _counts(stats["by_region_of_origin"]) == {
        "mainland": 1,
        "hong_kong": 1,
        "foreign": 1,
        "unknown": 1,
    }
    assert {(r["region_code"], r["region_name"], r["count"]) for r in stats["by_region"]} == {
        ("110000", "北京市", 1),
        ("440000", "广东省", 1),
        (None, None, 2),
    }
    assert stats["joined_without_date"] == 1
    growth = growth_of(stats)
    assert growth == {
        2020: (1, 0, 1),
        2021: (2, 0, 3),
        2022: (0, 0, 3),
        2023: (0, 0, 3),
        2024: (0, 0, 3),
        2025: (0, 0, 3),
        2026: (0, 1, 2),
    }


def test_filters_narrow_the_count(client, counted, frozen) -> None:
    province, local, admin = counted
    only_local = client.get(f"{API}/statistics/memberships?org_code={local.code}", headers=admin)
    assert only_local.json()["total"] == 1
    good = client.get(
        f"{API}/statistics/memberships?org_code={province.code}&status=active&grade=member&grade=student",
        headers=admin,
    ).json()
    assert (good["total"], _counts(good["by_grade"])) == (2, {"member": 1, "student": 1})


def test_statistics_as_csv(client, counted, frozen) -> None:
    province, _, admin = counted
    response = client.get(
        f"{API}/statistics/memberships?org_code={province.code}&format=csv", headers=admin
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert "attachment" in response.headers["content-disposition"]
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["dimension", "key", "label", "count"]
    assert ["total", "", "", "4"] in rows
    assert ["region", "110000", "北京市", "1"] in rows
    assert ["members_at_year_end", "2026", "", "2"] in rows
    assert ["gender", "female", "", "2"] in rows


def test_statistics_stay_in_scope(client, factory, counted, frozen) -> None:
    province, _, _ = counted
    other = factory.caller("org_admin", factory.org())
    assert (
        client.get(
            f"{API}/statistics/memberships?org_code={province.code}", headers=other
        ).status_code
        == 404
    )
    mine = client.get(f"{API}/statistics/memberships", headers=other).json()
    assert province.code not in {o["org_code"] for o in mine["by_org"]}
    platform = client.get(
        f"{API}/statistics/memberships?org_code={province.code}",
        headers=factory.caller("platform_admin"),
    )
    assert platform.json()["total"] == 4
    assert (
        client.get(f"{API}/statistics/memberships", headers=factory.caller("member")).status_code
        == 403
    )


def test_an_ended_membership_without_a_joining_date_leaves_the_yearly_count_alone(
    client, factory, frozen
) -> None:
    """Members at a year's end are those whose joining is dated: one without a date, which
    was never added to the count, is not taken from it when it ends (it still counts as
    ended that year)."""
    society = factory.org()
    admin = factory.caller("org_admin", society)
    dated, undated = factory.person(org=society), factory.person(org=society)
    enrol(client, society, admin, dated.id, joined_on="2024-03-01")
    ended = client.post(
        f"{API}/memberships/{enrol(client, society, admin, undated.id)['id']}/terminate",
        json={"reason": "退会"},
        headers=admin,
    )
    assert ended.status_code == 200, ended.text
    stats = statistics_of(client, society, admin)
    growth = growth_of(stats)
    assert growth == {2024: (1, 0, 1), 2025: (0, 0, 1), 2026: (0, 1, 1)}
    assert stats["joined_without_date"] == 1


def test_the_csv_download_is_named_by_the_organisations_own_code(client, factory) -> None:
    """The code as typed may differ from the stored one (`ı` upper-cases to `I`): the file
    is named after the stored code, and a name that HTTP headers cannot carry is no 500."""
    society = factory.org(code=unique_code("BI"))
    admin = factory.caller("org_admin", society)
    typed = society.code.lower().replace("i", "\u0131")
    response = client.get(
        f"{API}/statistics/memberships", params={"org_code": typed, "format": "csv"}, headers=admin
    )
    assert response.status_code == 200, response.text
    assert society.code in response.headers["content-disposition"]
    as_json = client.get(
        f"{API}/statistics/memberships", params={"org_code": typed}, headers=admin
    ).json()
    assert as_json["org_code"] == society.code


def test_a_name_that_would_start_a_formula_is_text_in_the_csv(client, factory) -> None:
    """Spreadsheets run a cell starting with =, +, - or @ as a formula (CSV injection)."""
    name = '=HYPERLINK("http://example.invalid","学会")'
    society = factory.org(name=name)
    person = factory.person(org=society)
    factory.membership(society, person, status="active", member_no="F-1")
    admin = factory.caller("org_admin", society)
    response = client.get(
        f"{API}/statistics/memberships",
        params={"org_code": society.code, "format": "csv"},
        headers=admin,
    )
    assert response.status_code == 200, response.text
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    org_rows = [r for r in rows if r[0] == "org"]
    assert org_rows == [["org", society.code, "'" + name, "1"]]


def test_a_lapsed_membership_ends_the_day_after_its_grace(client, factory, frozen) -> None:
    """A member who did not renew stops counting once the grace has run out: one whose year
    ended on 2023-12-31 was a member at that year's end and ended in 2024."""
    society = factory.org()
    admin = factory.caller("org_admin", society)
    person = factory.person(org=society)
    created = enrol(
        client, society, admin, person.id, joined_on="2022-01-01", valid_until="2023-12-31"
    )
    assert created["status"] == "lapsed"
    stats = statistics_of(client, society, admin)
    growth = growth_of(stats)
    assert growth == {
        2022: (1, 0, 1),
        2023: (0, 0, 1),
        2024: (0, 1, 0),
        2025: (0, 0, 0),
        2026: (0, 0, 0),
    }


@pytest.mark.parametrize("valid_until", [None, "2027-12-31"])
def test_a_membership_lapsed_by_hand_ends_on_that_day(client, factory, frozen, valid_until) -> None:
    """A membership set to lapsed by hand is no longer counted from then: a life membership's
    dates never say when it ended, and another's say it runs on; the change says when."""
    society = factory.org()
    admin = factory.caller("org_admin", society)
    created = enrol(
        client, society, admin, factory.person(org=society).id,
        grade="honorary", joined_on="2022-01-01", valid_until=valid_until,
    )  # fmt: skip
    assert created["valid_until"] == valid_until
    lapsed = client.patch(
        f"{API}/memberships/{created['id']}",
        json={"status": "lapsed", "reason": "长期失联"},
        headers=admin,
    )
    assert lapsed.status_code == 200, lapsed.text
    assert lapsed.json()["status"] == "lapsed"
    stats = statistics_of(client, society, admin)
    growth = growth_of(stats)
    assert growth == {
        2022: (1, 0, 1),
        2023: (0, 0, 1),
        2024: (0, 0, 1),
        2025: (0, 0, 1),
        2026: (0, 1, 0),
    }
