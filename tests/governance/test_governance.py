"""Councils (理事会, 常务理事会, 监事会): terms, seats and positions, and the composition report
against a hand-computed council."""

from __future__ import annotations

import uuid
from datetime import date

import pytest

from services.registry.core.db import transaction
from services.registry.people.models import Person

from ..factories import statements

API = "/api/v1"


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国力学学会" + uuid.uuid4().hex[:4])


@pytest.fixture
def staff(factory, society):  # type: ignore[no-untyped-def]
    return factory.caller("org_staff", society)


def make_body(client, society, headers, **fields) -> dict:  # type: ignore[no-untyped-def]
    body = {"kind": "council", "term_no": 11, "term_start": "2024-05-20", "seats": 11, **fields}
    response = client.post(
        f"{API}/orgs/{society.code}/governance-bodies", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def seat(client, body, person, position, headers):  # type: ignore[no-untyped-def]
    return client.post(
        f"{API}/governance-bodies/{body['id']}/seats",
        json={"person_id": str(person.id), "position": position},
        headers=headers,
    )


# The 11th council, term from 2024-05-20, nine seats held (a tenth ended):
#
# | who | position          | gender | born       | age at start | tags       | origin    |
# | p1  | president         | male   | 1960-01-01 | 64           | 科技领军人才 | mainland  |
# | p2  | vice_president    | female | 1979-05-20 | 45 (young)   |            | mainland  |
# | p3  | member            | female | 1978-05-20 | 46           | 基层一线    | hong_kong |
# | p4  | secretary_general | male   | 1970-03-03 | 54           |            | mainland  |
# | p5  | member            | female | 1985-01-01 | 39 (young)   | 基层一线    | mainland  |
# | p6  | member            | male   | -          | -            | 青年科技骨干 | mainland  |
# | p7  | member            | male   | 1965-06-06 | 58           |            | foreign   |
# | p8  | member            | female | 1990-09-09 | 33 (young)   |            | mainland  |
# | p9  | member            | male   | 1962-12-12 | 61           |            | mainland  |
# | p10 | member (ended)    | female | 1995-01-01 | 29           | 基层一线    | mainland  |
#
# women 4/9; young (<= 45) p2 p5 p8 = 3/9, one birth date unknown; grassroots p3 p5 = 2/9;
# leading talent p1 = 1/9; young backbone p2 p5 p8 + p6 by tag = 4/9; foreign/HMT p3 p7 = 2/9;
# target group p1 p2 p3 p5 p6 p8 = 6/9, which meets two thirds exactly.
COUNCIL = [
    ("president", "male", "1960-01-01", ["科技领军人才"], "mainland"),
    ("vice_president", "female", "1979-05-20", [], "mainland"),
    ("member", "female", "1978-05-20", ["基层一线"], "hong_kong"),
    ("secretary_general", "male", "1970-03-03", [], "mainland"),
    ("member", "female", "1985-01-01", ["基层一线"], "mainland"),
    ("member", "male", None, ["青年科技骨干"], "mainland"),
    ("member", "male", "1965-06-06", [], "foreign"),
    ("member", "female", "1990-09-09", [], "mainland"),
    ("member", "male", "1962-12-12", [], "mainland"),
    ("member", "female", "1995-01-01", ["基层一线"], "mainland"),
]


@pytest.fixture
def council(client, factory, society, staff):  # type: ignore[no-untyped-def]
    body = make_body(client, society, staff)
    seats = []
    for position, gender, born, tags, origin in COUNCIL:
        person = factory.person(
            org=society, gender=gender, birth_date=born, talent_tags=tags, region_of_origin=origin
        )
        response = seat(client, body, person, position, staff)
        assert response.status_code == 201, response.text
        seats.append(response.json())
    ended = client.patch(
        f"{API}/governance-seats/{seats[-1]['id']}",
        json={"ended_on": "2025-03-01", "reason": "辞职"},
        headers=staff,
    )
    assert ended.status_code == 200, ended.text
    return body


def test_the_composition_matches_the_hand_count(client, council, staff) -> None:
    report = client.get(f"{API}/governance-bodies/{council['id']}/composition", headers=staff)
    assert report.status_code == 200, report.text
    r = report.json()
    assert (r["seats"], r["held"], r["young_age"], r["target_share"]) == (11, 9, 45, 0.6667)
    assert r["by_position"] == {
        "member": 6,
        "president": 1,
        "secretary_general": 1,
        "vice_president": 1,
    }
    counts = {
        name: (r[name]["count"], r[name]["share"])
        for name in (
            "women",
            "young",
            "grassroots",
            "leading_talent",
            "young_backbone",
            "foreign_or_hk_macao_taiwan",
            "target_group",
        )
    }
    assert counts == {
        "women": (4, 0.4444),
        "young": (3, 0.3333),
        "grassroots": (2, 0.2222),
        "leading_talent": (1, 0.1111),
        "young_backbone": (4, 0.4444),
        "foreign_or_hk_macao_taiwan": (2, 0.2222),
        "target_group": (6, 0.6667),
    }
    assert r["birth_date_unknown"] == 1
    assert r["meets_target"] is True


def test_a_lower_young_age_changes_the_picture(client, council, staff) -> None:
    r = client.get(
        f"{API}/governance-bodies/{council['id']}/composition?young_age=40", headers=staff
    ).json()
    # p2 (45) is no longer young: young p5 p8; backbone p5 p8 p6; target p1 p3 p5 p6 p8.
    assert (r["young"]["count"], r["young_backbone"]["count"]) == (2, 3)
    assert (r["target_group"]["count"], r["meets_target"]) == (5, False)
    lower = client.get(
        f"{API}/governance-bodies/{council['id']}/composition?young_age=40&target=0.5",
        headers=staff,
    ).json()
    assert lower["meets_target"] is True


def test_seats_follow_the_body(client, factory, society, staff) -> None:
    body = make_body(client, society, staff, kind="supervisory_board", term_no=3, seats=2)
    people = [factory.person(org=society) for _ in range(3)]
    wrong = seat(client, body, people[0], "president", staff)
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "position"
    assert seat(client, body, people[0], "chief_supervisor", staff).status_code == 201
    assert seat(client, body, people[0], "supervisor", staff).status_code == 409
    assert seat(client, body, people[1], "supervisor", staff).status_code == 201
    full = seat(client, body, people[2], "supervisor", staff)
    assert full.status_code == 409
    assert full.json()["type"].endswith("body-full")
    elsewhere = factory.person(org=factory.org())
    outside = seat(client, body, elsewhere, "supervisor", staff)
    assert outside.status_code == 422
    assert outside.json()["errors"][0]["field"] == "person_id"
    again = client.post(
        f"{API}/orgs/{society.code}/governance-bodies",
        json={"kind": "supervisory_board", "term_no": 3, "term_start": "2024-01-01", "seats": 5},
        headers=staff,
    )
    assert again.status_code == 409
    shrink = client.patch(f"{API}/governance-bodies/{body['id']}", json={"seats": 1}, headers=staff)
    assert shrink.status_code == 422
    listed = client.get(f"{API}/orgs/{society.code}/governance-bodies", headers=staff).json()
    assert [(b["kind"], b["term_no"], b["filled"]) for b in listed] == [("supervisory_board", 3, 2)]
    seats = client.get(f"{API}/governance-bodies/{body['id']}/seats", headers=staff).json()
    assert sorted(s["position"] for s in seats) == ["chief_supervisor", "supervisor"]


def test_reopening_an_ended_seat_of_a_full_body_is_refused(client, factory, society, staff):  # type: ignore[no-untyped-def]
    body = make_body(client, society, staff, seats=1)
    first, second = factory.person(org=society), factory.person(org=society)
    held = seat(client, body, first, "member", staff).json()
    path = f"{API}/governance-seats/{held['id']}"
    ended = client.patch(path, json={"ended_on": "2025-01-01", "reason": "辞职"}, headers=staff)
    assert ended.status_code == 200, ended.text
    assert seat(client, body, second, "member", staff).status_code == 201
    reopened = client.patch(path, json={"ended_on": None, "reason": "撤回辞职"}, headers=staff)
    assert reopened.status_code == 409, reopened.text
    assert reopened.json()["type"].endswith("body-full")
    got = client.get(f"{API}/governance-bodies/{body['id']}", headers=staff).json()
    assert (got["seats"], got["filled"]) == (1, 1)
    # With a seat free again, the same change goes through.
    assert client.patch(f"{API}/governance-bodies/{body['id']}", json={"seats": 2},
                        headers=staff).status_code == 200  # fmt: skip
    assert client.patch(path, json={"ended_on": None}, headers=staff).status_code == 200


def test_governance_is_scoped(client, factory, society, staff) -> None:
    body = make_body(client, society, staff)
    other = factory.caller("org_admin", factory.org())
    for method, path in (
        ("GET", f"{API}/governance-bodies/{body['id']}"),
        ("GET", f"{API}/governance-bodies/{body['id']}/composition"),
        ("GET", f"{API}/governance-bodies/{body['id']}/seats"),
        ("PATCH", f"{API}/governance-bodies/{body['id']}"),
        ("GET", f"{API}/orgs/{society.code}/governance-bodies"),
    ):
        assert client.request(method, path, json={}, headers=other).status_code == 404, path
    member = factory.caller("member")
    assert client.get(f"{API}/governance-bodies/{body['id']}", headers=member).status_code == 403
    committee = factory.caller("committee", society)
    assert client.get(f"{API}/governance-bodies/{body['id']}", headers=committee).status_code == 200


# --- people who died -----------------------------------------------------------------------


def died(client, person, headers) -> None:  # type: ignore[no-untyped-def]
    response = client.patch(
        f"{API}/people/{person.id}", json={"status": "deceased", "reason": "去世"}, headers=headers
    )
    assert response.status_code == 200, response.text


def test_a_person_who_died_cannot_be_seated_or_get_an_ended_seat_back(
    client, factory, society, staff
) -> None:
    admin = factory.caller("org_admin", society)
    body = make_body(client, society, staff)
    person, former = factory.person(org=society), factory.person(org=society)
    held = seat(client, body, former, "member", staff).json()
    path = f"{API}/governance-seats/{held['id']}"
    assert client.patch(path, json={"ended_on": "2025-01-01", "reason": "病休"},
                        headers=staff).status_code == 200  # fmt: skip
    died(client, person, admin)
    died(client, former, admin)
    response = seat(client, body, person, "member", staff)
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "person_id"
    reopened = client.patch(path, json={"ended_on": None}, headers=staff)
    assert reopened.status_code == 422, reopened.text
    assert reopened.json()["errors"][0]["field"] == "ended_on"


def test_the_seat_of_a_member_who_died_is_no_longer_held(client, factory, society, staff):  # type: ignore[no-untyped-def]
    admin = factory.caller("org_admin", society)
    body = make_body(client, society, staff, seats=2)
    first = factory.person(org=society, gender="female", birth_date="1950-01-01")
    second = factory.person(org=society, gender="male", birth_date="1960-01-01")
    assert seat(client, body, first, "president", staff).status_code == 201
    assert seat(client, body, second, "member", staff).status_code == 201
    died(client, first, admin)

    report = client.get(f"{API}/governance-bodies/{body['id']}/composition", headers=staff).json()
    assert (report["held"], report["women"]["count"], report["by_position"]) == (
        1,
        0,
        {"member": 1},
    )
    got = client.get(f"{API}/governance-bodies/{body['id']}", headers=staff).json()
    assert got["filled"] == 1
    # The seat is free for a successor.
    successor = factory.person(org=society)
    assert seat(client, body, successor, "president", staff).status_code == 201


# --- one holder of each leading position ----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "position", "other"),
    [
        ("council", "president", "member"),
        ("council", "secretary_general", "vice_president"),
        ("standing_council", "president", "standing_member"),
        ("supervisory_board", "chief_supervisor", "supervisor"),
    ],
)
def test_a_body_has_one_holder_of_a_leading_position_at_a_time(
    client, factory, society, staff, kind, position, other
) -> None:
    body = make_body(client, society, staff, kind=kind, term_no=20)
    first, second = factory.person(org=society), factory.person(org=society)
    held = seat(client, body, first, position, staff)
    assert held.status_code == 201, held.text
    again = seat(client, body, second, position, staff)
    assert again.status_code == 409, again.text
    assert again.json()["errors"][0]["field"] == "position"
    # Nor by changing another seat's position.
    other_seat = seat(client, body, second, other, staff).json()
    path = f"{API}/governance-seats/{other_seat['id']}"
    changed = client.patch(path, json={"position": position}, headers=staff)
    assert changed.status_code == 409, changed.text
    assert changed.json()["errors"][0]["field"] == "position"
    # Once the holder's seat ends, the successor takes the position.
    ended = client.patch(
        f"{API}/governance-seats/{held.json()['id']}",
        json={"ended_on": "2025-01-01", "reason": "换届调整"},
        headers=staff,
    )
    assert ended.status_code == 200, ended.text
    assert client.patch(path, json={"position": position}, headers=staff).status_code == 200
    # And the former holder's seat cannot be reopened while the successor holds it.
    reopened = client.patch(
        f"{API}/governance-seats/{held.json()['id']}", json={"ended_on": None}, headers=staff
    )
    assert reopened.status_code == 409, reopened.text
    assert reopened.json()["errors"][0]["field"] == "position"


def test_a_body_has_several_vice_presidents_and_members(client, factory, society, staff) -> None:
    body = make_body(client, society, staff, term_no=21)
    for position in ("vice_president", "vice_president", "member", "member"):
        response = seat(client, body, factory.person(org=society), position, staff)
        assert response.status_code == 201, response.text


# --- dates of seats ----------------------------------------------------------------------------


@pytest.fixture
def on_day(app):  # type: ignore[no-untyped-def]
    """Sets the registry's today for the requests that follow."""
    from services.registry.core.clock import get_today

    def freeze(day: str) -> None:
        app.dependency_overrides[get_today] = lambda: date.fromisoformat(day)

    yield freeze
    app.dependency_overrides.pop(get_today, None)


def test_a_seat_is_held_from_its_start_to_its_end_date(
    client, factory, society, staff, on_day
) -> None:
    """A resignation recorded ahead takes effect on its date, and a seat recorded to start
    later (a by-election, 增补) counts from its start: as the conflict rules read seats."""
    body = make_body(client, society, staff, seats=3, term_start="2024-01-01")
    leaving = factory.person(org=society, gender="female", birth_date="1970-01-01")
    staying = factory.person(org=society, gender="male", birth_date="1970-01-01")
    joining = factory.person(org=society, gender="male", birth_date="1970-01-01")
    on_day("2025-06-01")
    leaving_seat = seat(client, body, leaving, "member", staff).json()
    assert seat(client, body, staying, "member", staff).status_code == 201
    later = client.post(
        f"{API}/governance-bodies/{body['id']}/seats",
        json={"person_id": str(joining.id), "position": "member", "started_on": "2025-09-01"},
        headers=staff,
    )
    assert later.status_code == 201, later.text
    ended = client.patch(
        f"{API}/governance-seats/{leaving_seat['id']}",
        json={"ended_on": "2025-08-31", "reason": "工作调动"},
        headers=staff,
    )
    assert ended.status_code == 200, ended.text

    def held(day: str) -> tuple[int, int, int]:
        on_day(day)
        path = f"{API}/governance-bodies/{body['id']}"
        report = client.get(f"{path}/composition", headers=staff).json()
        filled = client.get(path, headers=staff).json()["filled"]
        return report["held"], report["women"]["count"], filled

    assert held("2025-06-01") == (2, 1, 2)
    assert held("2025-08-31") == (2, 1, 2)
    assert held("2025-09-01") == (2, 0, 2)


def test_a_seat_ending_later_still_takes_its_place(client, factory, society, staff, on_day) -> None:
    body = make_body(client, society, staff, seats=1, term_start="2024-01-01")
    president, successor = factory.person(org=society), factory.person(org=society)
    on_day("2025-06-01")
    held = seat(client, body, president, "president", staff).json()
    client.patch(
        f"{API}/governance-seats/{held['id']}",
        json={"ended_on": "2025-12-31", "reason": "任期届满前辞职"},
        headers=staff,
    )
    full = seat(client, body, successor, "president", staff)
    assert full.status_code == 409, full.text
    on_day("2026-01-01")
    assert seat(client, body, successor, "president", staff).status_code == 201


def test_an_ended_seat_given_a_later_end_counts_as_reopened(
    client, factory, society, staff, on_day
) -> None:
    body = make_body(client, society, staff, seats=1, term_start="2024-01-01")
    first, second = factory.person(org=society), factory.person(org=society)
    on_day("2025-06-01")
    held = seat(client, body, first, "president", staff).json()
    path = f"{API}/governance-seats/{held['id']}"
    assert client.patch(path, json={"ended_on": "2025-01-01"}, headers=staff).status_code == 200
    assert seat(client, body, second, "president", staff).status_code == 201
    later = client.patch(path, json={"ended_on": "2026-01-01"}, headers=staff)
    assert later.status_code == 409, later.text


def test_a_seat_starts_within_its_term(client, factory, society, staff) -> None:
    body = make_body(client, society, staff, term_start="2024-01-01", term_end="2028-12-31")
    person = factory.person(org=society)
    for started_on in ("2023-12-31", "2029-01-01"):
        response = client.post(
            f"{API}/governance-bodies/{body['id']}/seats",
            json={"person_id": str(person.id), "position": "member", "started_on": started_on},
            headers=staff,
        )
        assert response.status_code == 422, started_on
        assert response.json()["errors"][0]["field"] == "started_on"
    by_election = client.post(
        f"{API}/governance-bodies/{body['id']}/seats",
        json={"person_id": str(person.id), "position": "member", "started_on": "2026-03-01"},
        headers=staff,
    )
    assert by_election.status_code == 201, by_election.text
    path = f"{API}/governance-bodies/{body['id']}"
    for change, field in (({"term_start": "2026-03-02"}, "term_start"),
                          ({"term_end": "2026-02-28"}, "term_end")):  # fmt: skip
        response = client.patch(path, json=change, headers=staff)
        assert response.status_code == 422, change
        assert response.json()["errors"][0]["field"] == field
    # A seat that starts with the term (the default) moves with its start.
    with_term = seat(client, body, factory.person(org=society), "member", staff).json()
    assert with_term["started_on"] == "2024-01-01"
    assert client.patch(path, json={"term_start": "2024-02-01"}, headers=staff).status_code == 200
    seats = client.get(f"{path}/seats", headers=staff).json()
    assert sorted(s["started_on"] for s in seats) == ["2024-02-01", "2026-03-01"]
    assert client.patch(path, json={"term_start": "2026-03-01"}, headers=staff).status_code == 200


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2200-01-01", "9999-12-31"])
def test_dates_outside_the_registers_range_are_refused(
    client, factory, society, staff, day
) -> None:
    create = client.post(
        f"{API}/orgs/{society.code}/governance-bodies",
        json={"kind": "council", "term_no": 30, "term_start": day, "seats": 3},
        headers=staff,
    )
    assert create.status_code == 422, create.text
    assert create.json()["errors"][0]["field"] == "term_start"
    body = make_body(client, society, staff, term_no=31, term_start="2024-01-01")
    path = f"{API}/governance-bodies/{body['id']}"
    for field in ("term_start", "term_end"):
        response = client.patch(path, json={field: day}, headers=staff)
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["field"] == field
    held = seat(client, body, factory.person(org=society), "member", staff).json()
    ended = client.patch(f"{API}/governance-seats/{held['id']}", json={"ended_on": day},
                         headers=staff)  # fmt: skip
    assert ended.status_code == 422, ended.text
    assert ended.json()["errors"][0]["field"] == "ended_on"


def test_a_society_that_exited_gets_no_new_body_or_seat_but_its_seats_can_end(
    client, factory, society, staff
) -> None:
    body = make_body(client, society, staff)
    person = factory.person(org=society)
    held = seat(client, body, person, "member", staff)
    assert held.status_code == 201, held.text
    exited = client.patch(
        f"{API}/orgs/{society.code}",
        json={"status": "exited", "reason": "注销"},
        headers=factory.caller("platform_admin"),
    )
    assert exited.status_code == 200, exited.text
    refused = client.post(
        f"{API}/orgs/{society.code}/governance-bodies",
        json={"kind": "council", "term_no": 12, "term_start": "2028-05-20", "seats": 11},
        headers=staff,
    )
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("society-closed")
    other = seat(client, body, factory.person(org=society), "member", staff)
    assert other.status_code == 409, other.text
    ended = client.patch(
        f"{API}/governance-seats/{held.json()['id']}",
        json={"ended_on": "2026-01-31"},
        headers=staff,
    )
    assert ended.status_code == 200, ended.text


@pytest.mark.parametrize(
    "change", [{"ended_on": None}, {"ended_on": "2199-12-31"}, {"position": "president"}]
)
def test_a_society_that_exited_gives_no_seat_back_and_fills_no_position(
    client, factory, society, staff, change
) -> None:
    """Reopening an ended seat, or moving a seat to another position, fills a seat anew: an
    exited society does neither, as it adds no seat."""
    body = make_body(client, society, staff)
    ended = seat(client, body, factory.person(org=society), "member", staff).json()
    closed = client.patch(
        f"{API}/governance-seats/{ended['id']}", json={"ended_on": "2025-01-31"}, headers=staff
    )
    assert closed.status_code == 200, closed.text
    held = seat(client, body, factory.person(org=society), "member", staff).json()
    exited = client.patch(
        f"{API}/orgs/{society.code}",
        json={"status": "exited", "reason": "注销"},
        headers=factory.caller("platform_admin"),
    )
    assert exited.status_code == 200, exited.text
    target = held if "position" in change else ended
    response = client.patch(f"{API}/governance-seats/{target['id']}", json=change, headers=staff)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("society-closed")
    seats = client.get(f"{API}/governance-bodies/{body['id']}/seats", headers=staff).json()
    assert {(s["id"], s["position"], s["ended_on"]) for s in seats} == {
        (ended["id"], "member", "2025-01-31"),
        (held["id"], "member", None),
    }


def test_listing_many_bodies_costs_the_statements_of_one(client, factory, runtime) -> None:
    """Each body's held seats are counted for the whole list at once: the count shows held
    seats only (an ended one and a deceased holder's are not), body by body."""

    def listed(org) -> tuple[int, list]:  # type: ignore[no-untyped-def]
        headers = factory.caller("org_staff", org)
        with statements(runtime) as seen:
            response = client.get(f"{API}/orgs/{org.code}/governance-bodies", headers=headers)
        assert response.status_code == 200, response.text
        return len(seen), [(b["term_no"], b["filled"]) for b in response.json()]

    small, large = factory.org(), factory.org()
    headers = factory.caller("org_staff", large)
    make_body(client, small, factory.caller("org_staff", small), term_no=1)
    for term_no in (1, 2, 3, 4):
        body = make_body(client, large, headers, term_no=term_no)
        for _ in range(term_no - 1):
            assert (
                seat(client, body, factory.person(org=large), "member", headers).status_code == 201
            )
    ended = seat(client, body, factory.person(org=large), "member", headers).json()
    assert (
        client.patch(
            f"{API}/governance-seats/{ended['id']}",
            json={"ended_on": "2024-06-01", "reason": "辞职"},
            headers=headers,
        ).status_code
        == 200
    )
    deceased = factory.person(org=large)
    assert seat(client, body, deceased, "member", headers).status_code == 201
    with transaction(runtime.sessions) as session:
        session.get(Person, deceased.id).status = "deceased"

    one, _ = listed(small)
    four, bodies = listed(large)
    assert one == four
    assert bodies == [(4, 3), (3, 2), (2, 1), (1, 0)]
