"""Programmes, cycles and nominations: eligibility rules, quotas, window, duplicates, states."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from ..factories import statements
from .conftest import API, CUTOFF, problem, stop_clock_at

# --- programmes and cycles ----------------------------------------------------------------


def test_programme_is_created_and_read_back_with_its_rules(aw) -> None:
    rules = {"max_age": 40, "gender": "女", "region_of_origin": ["mainland", "hong_kong"]}
    p = aw.programme(rules, name="中国青年女科学家奖")
    assert p["rules"]["max_age"] == 40
    assert p["rules"]["gender"] == "female"  # Chinese labels normalised
    assert p["rules"]["exclude_past_winners"] is True
    r = aw.client.get(f"{API}/programmes/{p['code'].lower()}", headers=aw.committee)
    assert r.status_code == 200, r.text
    assert r.json()["owner_org_code"] == aw.root.code
    assert r.json()["rules"] == p["rules"]


def test_programme_code_is_unique(aw) -> None:
    p = aw.programme()
    r = aw.client.post(
        f"{API}/programmes",
        json={"code": p["code"], "name": "又一个", "owner_org_code": aw.root.code},
        headers=aw.admin,
    )
    assert problem(r, 409)["errors"][0]["field"] == "code"


def test_unknown_rule_and_bad_rule_values_are_refused(aw) -> None:
    body = {"code": "BADRULE1", "name": "x", "owner_org_code": aw.root.code}
    r = aw.client.post(
        f"{API}/programmes", json={**body, "rules": {"max_agee": 40}}, headers=aw.admin
    )
    assert "rules.max_agee" in {e["field"] for e in problem(r, 422)["errors"]}
    r = aw.client.post(
        f"{API}/programmes", json={**body, "rules": {"gender": "robot"}}, headers=aw.admin
    )
    assert "rules.gender" in {e["field"] for e in problem(r, 422)["errors"]}


def test_society_admin_creates_programmes_only_for_its_own_organisation(aw) -> None:
    admin_a = aw.factory.caller("org_admin", aw.a)
    ok = aw.client.post(
        f"{API}/programmes",
        json={"code": "A" + aw.token.upper(), "name": "学会奖", "owner_org_code": aw.a.code},
        headers=admin_a,
    )
    assert ok.status_code == 201, ok.text
    other = aw.client.post(
        f"{API}/programmes",
        json={"code": "B" + aw.token.upper(), "name": "别人的奖", "owner_org_code": aw.b.code},
        headers=admin_a,
    )
    assert problem(other, 422)["errors"][0]["field"] == "owner_org_code"
    staff = aw.client.post(
        f"{API}/programmes",
        json={"code": "C" + aw.token.upper(), "name": "x", "owner_org_code": aw.a.code},
        headers=aw.staff_a,
    )
    problem(staff, 403)
    # Nor may A's admin open cycles of a programme ROOT owns: it does not manage it.
    p = aw.programme()
    r = aw.client.post(
        f"{API}/programmes/{p['code']}/cycles",
        json={
            "year": 2025,
            "nominations_open": "2025-01-01",
            "nominations_close": "2025-02-01",
            "age_cutoff_date": "2025-06-30",
            "channels": [{"org_code": aw.a.code, "quota": 1}],
        },
        headers=admin_a,
    )
    problem(r, 404)


def test_cycle_lists_channels_with_quota_and_use(aw) -> None:
    p = aw.programme()
    c = aw.cycle(p, quota_a=2, quota_b=1)
    assert {(ch["org_code"], ch["quota"], ch["used"]) for ch in c["channels"]} == {
        (aw.a.code, 2, 0),
        (aw.b.code, 1, 0),
    }
    assert c["criteria"] == [{"code": "overall", "name": "综合评价", "weight": 1.0}]
    aw.nominate(c, aw.nominee())
    again = aw.client.get(f"{API}/cycles/{c['id']}", headers=aw.staff_b).json()
    assert {ch["org_code"]: ch["used"] for ch in again["channels"]}[aw.a.code] == 1


def test_cycle_input_errors_name_the_field(aw) -> None:
    p = aw.programme()
    base = {
        "year": 2025,
        "nominations_open": "2025-03-01",
        "nominations_close": "2025-02-01",
        "age_cutoff_date": "2025-06-30",
        "channels": [{"org_code": aw.a.code, "quota": 1}],
    }
    url = f"{API}/programmes/{p['code']}/cycles"
    r = aw.client.post(url, json=base, headers=aw.admin)
    assert "nominations_close" in problem(r, 422)["detail"]
    r = aw.client.post(
        url,
        json={
            **base,
            "nominations_close": "2025-04-01",
            "channels": [{"org_code": "NOPE1", "quota": 1}],
        },
        headers=aw.admin,
    )
    assert problem(r, 422)["errors"][0]["field"] == "channels.0.org_code"
    r = aw.client.post(
        url,
        json={
            **base,
            "nominations_close": "2025-04-01",
            "channels": [{"org_code": aw.a.code, "quota": 0}],
        },
        headers=aw.admin,
    )
    assert problem(r, 422)["errors"][0]["field"] == "channels.0.quota"
    ok = aw.client.post(url, json={**base, "nominations_close": "2025-04-01"}, headers=aw.admin)
    assert ok.status_code == 201
    dup = aw.client.post(url, json={**base, "nominations_close": "2025-04-01"}, headers=aw.admin)
    assert problem(dup, 409)["errors"][0]["field"] == "year"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"nominations_close": "2025-02-01"}, "nominations_close"),
        ({"score_min": 5, "score_max": 5}, "score_max"),
        ({"review_due": "2025-09-30", "review_deadline": "2025-09-01"}, "review_deadline"),
        ({"min_per_panel": {"female": -1}}, "min_per_panel.female"),
        ({"min_per_panel": {"female": 3}, "reviewers_per_nomination": 2}, "min_per_panel"),
        ({"criteria": [{"code": "a", "name": "甲"}, {"code": "a", "name": "乙"}]}, "criteria"),
    ],
)
def test_cycle_rules_between_fields_name_the_field_that_breaks_them(aw, change, field) -> None:
    p = aw.programme()
    body = {
        "year": 2025, "nominations_open": "2025-03-01", "nominations_close": "2025-04-01",
        "age_cutoff_date": "2025-06-30", "channels": [{"org_code": aw.a.code, "quota": 1}],
        **change,
    }  # fmt: skip
    r = aw.client.post(f"{API}/programmes/{p['code']}/cycles", json=body, headers=aw.admin)
    assert [e["field"] for e in problem(r, 422)["errors"]] == [field]


def test_a_society_that_exited_is_no_channel_of_a_new_cycle(aw) -> None:
    gone = aw.factory.org(parent=aw.root.code)
    r = aw.client.patch(
        f"/api/v1/orgs/{gone.code}", json={"status": "exited", "reason": "退出"}, headers=aw.admin
    )
    assert r.status_code == 200, r.text
    p = aw.programme()
    body = {
        "year": 2025, "nominations_open": "2025-03-01", "nominations_close": "2025-04-01",
        "age_cutoff_date": "2025-06-30",
        "channels": [{"org_code": aw.a.code, "quota": 1}, {"org_code": gone.code, "quota": 1}],
    }  # fmt: skip
    r = aw.client.post(f"{API}/programmes/{p['code']}/cycles", json=body, headers=aw.admin)
    assert [e["field"] for e in problem(r, 422)["errors"]] == ["channels.1.org_code"]


def test_control_characters_in_a_panel_minimum_trait_are_refused(aw) -> None:
    p = aw.programme()
    r = aw.client.post(
        f"{API}/programmes/{p['code']}/cycles",
        json={
            "year": 2044, "nominations_open": "2025-03-01", "nominations_close": "2025-03-31",
            "age_cutoff_date": "2025-06-30", "channels": [{"org_code": aw.a.code, "quota": 1}],
            "reviewers_per_nomination": 2, "min_per_panel": {"fe\u0000male": 1},
        },
        headers=aw.admin,
    )  # fmt: skip
    (error,) = problem(r, 422)["errors"]
    assert error["field"].startswith("min_per_panel.")
    assert error["reason"] == "contains control characters"


# --- eligibility, with the cutoff date frozen ----------------------------------------------


@pytest.mark.parametrize(
    ("birth", "eligible"),
    [
        (date(1985, 7, 1), True),  # 39 on the cutoff day: under 40
        (date(1985, 6, 30), False),  # 40th birthday on the cutoff day: not under 40
        (date(1985, 6, 29), False),
        (date(2000, 2, 29), True),
    ],
)
def test_max_age_is_measured_on_the_cutoff_date(aw, birth, eligible) -> None:
    c = aw.cycle(aw.programme({"max_age": 40}))
    n = aw.nominate(c, aw.nominee(birth_date=birth)).json()
    r = aw.submit(n)
    if eligible:
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "eligible"
        assert r.json()["snapshot"]["age_at_cutoff"] < 40
    else:
        body = problem(r, 422)
        assert body["type"].endswith("/ineligible")
        assert body["failed_rules"][0]["rule"] == "max_age"
        assert CUTOFF.isoformat() in body["failed_rules"][0]["reason"]
        assert body["nomination"]["status"] == "ineligible"


def test_every_failed_rule_is_listed_at_once(aw) -> None:
    other = aw.factory.org(parent=aw.root.code)
    rules = {
        "max_age": 45,
        "gender": "female",
        "region_of_origin": ["mainland"],
        "requires_membership": {"org_code": other.code, "grades": ["fellow"]},
        "discipline_codes": ["130"],
    }
    c = aw.cycle(aw.programme(rules))
    person = aw.nominee(
        gender="male",
        birth_date=date(1970, 1, 1),
        region_of_origin="taiwan",
        discipline_codes=["520"],
    )
    body = problem(aw.submit(aw.nominate(c, person).json()), 422)
    assert [f["rule"] for f in body["failed_rules"]] == [
        "max_age",
        "gender",
        "region_of_origin",
        "requires_membership",
        "discipline_scope",
    ]
    assert {e["field"] for e in body["errors"]} == {
        "rules.max_age",
        "rules.gender",
        "rules.region_of_origin",
        "rules.requires_membership",
        "rules.discipline_scope",
    }
    # The outcome is kept: the committee sees it, the channel can fix and submit again.
    n = aw.client.get(f"{API}/nominations/{body['nomination']['id']}", headers=aw.committee)
    assert n.json()["status"] == "ineligible"
    assert len(n.json()["failed_rules"]) == 5


def test_missing_profile_data_fails_the_rule_that_needs_it(aw) -> None:
    c = aw.cycle(aw.programme({"max_age": 40, "gender": "female"}))
    person = aw.nominee(birth_date=None, gender=None)
    body = problem(aw.submit(aw.nominate(c, person).json()), 422)
    reasons = {f["rule"]: f["reason"] for f in body["failed_rules"]}
    assert "not recorded" in reasons["max_age"]
    assert "not recorded" in reasons["gender"]


def test_membership_rule_any_society_or_a_grade_in_one(aw) -> None:
    c_any = aw.cycle(aw.programme({"requires_membership": {}}))
    outsider = aw.factory.person(org=aw.a, name="非会员")
    assert (
        problem(aw.submit(aw.nominate(c_any, outsider).json()), 422)["failed_rules"][0]["rule"]
        == "requires_membership"
    )
    assert aw.submit(aw.nominate(c_any, aw.nominee()).json()).status_code == 200

    c_grade = aw.cycle(
        aw.programme({"requires_membership": {"org_code": aw.a.code, "grades": ["会士"]}})
    )
    member = aw.nominee()  # grade member in A
    r = problem(aw.submit(aw.nominate(c_grade, member).json()), 422)
    assert "fellow" in r["failed_rules"][0]["reason"]
    fellow = aw.factory.person(org=aw.a, name="会士")
    aw.factory.membership(aw.a, fellow, member_no="F" + aw.token, grade="fellow")
    assert aw.submit(aw.nominate(c_grade, fellow).json()).status_code == 200
    lapsed = aw.factory.person(org=aw.a, name="过期会员")
    aw.factory.membership(aw.a, lapsed, member_no="L" + aw.token, grade="fellow", status="lapsed")
    assert problem(aw.submit(aw.nominate(c_grade, lapsed).json()), 422)


def test_a_member_in_the_grace_period_is_in_good_standing_for_the_membership_rule(aw) -> None:
    c = aw.cycle(aw.programme({"requires_membership": {}}))
    person = aw.factory.person(org=aw.a, name="宽限期会员", birth_date=date(1990, 1, 1))
    aw.factory.membership(
        aw.a, person, member_no="G" + aw.token, grade="member", status="grace",
        valid_until=date.today() - timedelta(days=5),
    )  # fmt: skip
    r = aw.submit(aw.nominate(c, person).json())
    assert r.status_code == 200, r.text
    assert r.json()["snapshot"]["memberships"] == [{"org_code": aw.a.code, "grade": "member"}]


def test_a_membership_of_a_society_that_exited_does_not_meet_the_membership_rule(aw) -> None:
    exited = aw.factory.org(parent=aw.root.code)
    c = aw.cycle(aw.programme({"requires_membership": {}}))
    c_there = aw.cycle(aw.programme({"requires_membership": {"org_code": exited.code}}))
    person = aw.factory.person(org=aw.a, name="退出学会会员", birth_date=date(1990, 1, 1))
    aw.factory.membership(exited, person, member_no="X" + aw.token, grade="member")
    r = aw.client.patch(
        f"/api/v1/orgs/{exited.code}",
        json={"status": "exited", "reason": "动态调整"},
        headers=aw.admin,
    )
    assert r.status_code == 200, r.text
    # As its certificates no longer verify, the society's memberships no longer count.
    body = problem(aw.submit(aw.nominate(c, person).json()), 422)
    assert [f["rule"] for f in body["failed_rules"]] == ["requires_membership"]
    assert body["nomination"]["snapshot"]["memberships"] == []
    body = problem(aw.submit(aw.nominate(c_there, person).json()), 422)
    assert [f["rule"] for f in body["failed_rules"]] == ["requires_membership"]


def test_discipline_scope_matches_by_prefix(aw) -> None:
    c = aw.cycle(aw.programme({"discipline_codes": ["130"]}))
    assert (
        aw.submit(aw.nominate(c, aw.nominee(discipline_codes=["13015"])).json()).status_code == 200
    )
    r = problem(aw.submit(aw.nominate(c, aw.nominee(discipline_codes=["520"])).json()), 422)
    assert r["failed_rules"][0]["rule"] == "discipline_scope"


def test_teams_only_where_the_programme_allows_them(aw) -> None:
    solo = aw.cycle(aw.programme())
    members = [aw.nominee(), aw.nominee()]
    n = aw.nominate(solo, aw.nominee(), team_person_ids=[str(m.id) for m in members]).json()
    assert problem(aw.submit(n), 422)["failed_rules"][0]["rule"] == "teams_allowed"

    teams = aw.cycle(aw.programme({"teams_allowed": True, "max_team_size": 3}))
    ok = aw.nominate(teams, aw.nominee(), team_person_ids=[str(m.id) for m in members]).json()
    r = aw.submit(ok)
    assert r.status_code == 200, r.text
    assert [m["name"] for m in r.json()["snapshot"]["team"]] == [m.name for m in members]
    big = [aw.nominee() for _ in range(3)]
    n = aw.nominate(teams, aw.nominee(), team_person_ids=[str(m.id) for m in big]).json()
    assert problem(aw.submit(n), 422)["failed_rules"][0]["rule"] == "max_team_size"


def test_team_member_twice_or_the_nominee_in_the_team_is_refused(aw) -> None:
    c = aw.cycle(aw.programme({"teams_allowed": True}))
    lead, member = aw.nominee(), aw.nominee()
    r = aw.nominate(c, lead, team_person_ids=[str(member.id), str(member.id)])
    assert problem(r, 422)["errors"][0]["field"] == "team_person_ids.1"
    r = aw.nominate(c, lead, team_person_ids=[str(lead.id)])
    assert problem(r, 422)["errors"][0]["field"] == "team_person_ids.0"


def test_one_person_is_in_one_nomination_of_a_cycle_as_nominee_or_in_a_team(aw) -> None:
    c = aw.cycle(aw.programme({"teams_allowed": True}))
    nominee, member = aw.nominee(), aw.nominee()
    first = aw.nominate(c, nominee, team_person_ids=[str(member.id)])
    assert first.status_code == 201, first.text
    number = first.json()["nomination_no"]
    # The first nomination's nominee in another team, and its team member as a nominee.
    body = problem(aw.nominate(c, aw.nominee(), team_person_ids=[str(nominee.id)]), 409)
    assert body["errors"] == [
        {
            "field": "team_person_ids.0",
            "reason": f"already the nominee of {number} in this cycle (one nomination per person)",
        }
    ]
    body = problem(aw.nominate(c, member), 409)
    assert body["errors"][0]["field"] == "nominee_person_id"
    assert f"in the team of {number}" in body["errors"][0]["reason"]
    # Or in a second team.
    other = aw.nominee()
    body = problem(
        aw.nominate(c, aw.nominee(), team_person_ids=[str(other.id), str(member.id)]), 409
    )
    assert [e["field"] for e in body["errors"]] == ["team_person_ids.1"]
    # A withdrawn nomination frees its people.
    aw.client.post(
        f"{API}/nominations/{first.json()['id']}/withdraw",
        json={"reason": "撤回"},
        headers=aw.staff_a,
    )
    assert aw.nominate(c, member, team_person_ids=[str(nominee.id)]).status_code == 201


def test_past_winners_of_the_same_programme_are_excluded(aw, runtime) -> None:
    p = aw.programme()
    person = aw.nominee()
    earlier = aw.cycle(p, year=2023)
    n = aw.eligible(earlier, person)
    with runtime.engine.begin() as conn:
        conn.execute(
            text("UPDATE nomination SET status = 'awarded' WHERE id = :id"), {"id": n["id"]}
        )
    later = aw.cycle(p, year=2025)
    body = problem(aw.submit(aw.nominate(later, person).json()), 422)
    assert body["failed_rules"][0]["rule"] == "exclude_past_winners"
    assert "2023" in body["failed_rules"][0]["reason"]
    open_p = aw.programme({"exclude_past_winners": False})
    aw.cycle(open_p, year=2023)
    # Another programme's award does not count.
    assert (
        aw.submit(aw.nominate(aw.cycle(aw.programme(), year=2025), person).json()).status_code
        == 200
    )


def test_a_fixed_profile_can_be_submitted_again(aw) -> None:
    c = aw.cycle(aw.programme({"gender": "female"}))
    person = aw.nominee(gender="male")
    n = aw.nominate(c, person).json()
    problem(aw.submit(n), 422)
    r = aw.client.patch(
        f"/api/v1/people/{person.id}",
        json={"gender": "female", "reason": "录入错误"},
        headers=aw.staff_a,
    )
    assert r.status_code == 200, r.text
    again = aw.submit(n)
    assert again.status_code == 200, again.text
    assert again.json()["failed_rules"] == []


def test_the_snapshot_does_not_follow_later_edits(aw) -> None:
    c = aw.cycle(aw.programme())
    person = aw.nominee(institution="清华大学", research_fields=["湍流"])
    n = aw.eligible(c, person)
    assert n["snapshot"]["institution"] == "清华大学"
    assert "phone" not in n["snapshot"]
    assert "id_number_masked" not in n["snapshot"]
    aw.client.patch(
        f"/api/v1/people/{person.id}", json={"institution": "北京大学"}, headers=aw.staff_a
    )
    read = aw.client.get(f"{API}/nominations/{n['id']}", headers=aw.committee).json()
    assert read["snapshot"]["institution"] == "清华大学"


# --- channels: window, quota, duplicates, scope --------------------------------------------


def test_control_characters_in_a_summary_are_refused_naming_the_field(aw) -> None:
    c = aw.cycle(aw.programme())
    r = aw.nominate(c, aw.nominee(), summary="成果\u0000摘要")
    assert problem(r, 422)["errors"] == [
        {"field": "summary", "reason": "contains control characters"}
    ]
    kept = aw.nominate(c, aw.nominee(), summary="第一段\n\n第二段\t完")
    assert kept.json()["summary"] == "第一段\n\n第二段\t完"


def test_nominations_outside_the_window_are_refused(aw) -> None:
    today = date.today()
    p = aw.programme()
    early = aw.cycle(
        p,
        year=2030,
        nominations_open=(today + timedelta(days=1)).isoformat(),
        nominations_close=(today + timedelta(days=30)).isoformat(),
    )
    body = problem(aw.nominate(early, aw.nominee()), 409)
    assert body["type"].endswith("/nomination-window")
    assert "not open yet" in body["detail"]
    late = aw.cycle(
        p,
        year=2020,
        nominations_open=(today - timedelta(days=30)).isoformat(),
        nominations_close=(today - timedelta(days=1)).isoformat(),
    )
    assert "closed" in problem(aw.nominate(late, aw.nominee()), 409)["detail"]


def test_the_nomination_window_follows_the_calendar_in_beijing(aw, monkeypatch) -> None:
    c = aw.cycle(
        aw.programme(), year=2031, nominations_open="2025-03-02", nominations_close="2025-03-31"
    )
    # 23:59 on 1 March in Beijing: not open yet.
    stop_clock_at(monkeypatch, datetime(2025, 3, 1, 15, 59, tzinfo=UTC))
    assert "not open yet" in problem(aw.nominate(c, aw.nominee()), 409)["detail"]
    # Midnight in Beijing opens it, while UTC still says 1 March.
    stop_clock_at(monkeypatch, datetime(2025, 3, 1, 16, 0, tzinfo=UTC))
    assert aw.nominate(c, aw.nominee()).status_code == 201
    # Open through the last minute of 31 March in Beijing...
    stop_clock_at(monkeypatch, datetime(2025, 3, 31, 15, 59, tzinfo=UTC))
    assert aw.nominate(c, aw.nominee()).status_code == 201
    # ...and closed at midnight there, while UTC still says 31 March.
    stop_clock_at(monkeypatch, datetime(2025, 3, 31, 16, 0, tzinfo=UTC))
    body = problem(aw.nominate(c, aw.nominee()), 409)
    assert body["type"].endswith("/nomination-window")
    assert "closed" in body["detail"]


def test_a_channel_cannot_exceed_its_quota_and_withdrawing_frees_a_place(aw) -> None:
    c = aw.cycle(aw.programme(), quota_a=2)
    first = aw.nominate(c, aw.nominee()).json()
    assert aw.nominate(c, aw.nominee()).status_code == 201
    body = problem(aw.nominate(c, aw.nominee()), 409)
    assert body["type"].endswith("/quota-exhausted")
    assert "quota of 2" in body["detail"]
    # The other channel's quota is its own.
    assert aw.nominate(c, aw.nominee(aw.b), aw.b).status_code == 201
    w = aw.client.post(
        f"{API}/nominations/{first['id']}/withdraw", json={"reason": "撤回"}, headers=aw.staff_a
    )
    assert w.status_code == 200
    assert w.json()["status"] == "withdrawn"
    assert aw.nominate(c, aw.nominee()).status_code == 201


def test_one_nomination_per_nominee_per_cycle_even_through_another_channel(aw) -> None:
    c = aw.cycle(aw.programme())
    person = aw.nominee()
    aw.factory.membership(aw.b, person, member_no="X" + aw.token)
    assert aw.nominate(c, person).status_code == 201
    body = problem(aw.nominate(c, person, aw.b), 409)
    assert body["errors"][0]["field"] == "nominee_person_id"
    assert "one nomination per nominee per cycle" in body["detail"]


def test_staff_nominate_only_through_their_own_channel_and_their_own_people(aw) -> None:
    c = aw.cycle(aw.programme())
    person = aw.nominee()
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/nominations",
        json={"nominee_person_id": str(person.id), "channel_org_code": aw.b.code},
        headers=aw.staff_a,
    )
    problem(r, 403)
    stranger = aw.nominee(aw.b)
    r = aw.nominate(c, stranger)  # A's staff cannot see B's member
    assert problem(r, 422)["errors"][0]["field"] == "nominee_person_id"
    outside = aw.factory.org(parent=aw.root.code)
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/nominations",
        json={"nominee_person_id": str(person.id), "channel_org_code": outside.code},
        headers=aw.admin,
    )
    assert problem(r, 422)["errors"][0]["field"] == "channel_org_code"
    problem(
        aw.client.post(f"{API}/cycles/{c['id']}/nominations", json={}, headers=aw.committee), 403
    )


def test_channel_staff_see_only_their_channels_nominations(aw) -> None:
    c = aw.cycle(aw.programme())
    na = aw.nominate(c, aw.nominee()).json()
    nb = aw.nominate(c, aw.nominee(aw.b), aw.b).json()
    mine = aw.client.get(f"{API}/cycles/{c['id']}/nominations", headers=aw.staff_a).json()
    assert [n["id"] for n in mine["items"]] == [na["id"]]
    everyone = aw.client.get(f"{API}/cycles/{c['id']}/nominations", headers=aw.committee).json()
    assert {n["id"] for n in everyone["items"]} == {na["id"], nb["id"]}
    problem(aw.client.get(f"{API}/nominations/{nb['id']}", headers=aw.staff_a), 404)
    problem(aw.client.post(f"{API}/nominations/{nb['id']}/submit", headers=aw.staff_a), 404)


# --- the status machine --------------------------------------------------------------------


def test_submitting_twice_or_out_of_order_names_the_transition(aw) -> None:
    c = aw.cycle(aw.programme())
    n = aw.eligible(c, aw.nominee())
    body = problem(aw.submit(n), 409)
    assert "eligible" in body["detail"]
    r = aw.client.post(
        f"{API}/nominations/{n['id']}/decision", json={"status": "awarded"}, headers=aw.committee
    )
    body = problem(r, 409)
    assert body["type"].endswith("/invalid-transition")
    assert "eligible cannot become awarded" in body["detail"]
    r = aw.client.post(
        f"{API}/nominations/{n['id']}/decision", json={"status": "draft"}, headers=aw.committee
    )
    assert problem(r, 422)["errors"][0]["field"] == "status"


def test_withdrawn_is_final(aw) -> None:
    c = aw.cycle(aw.programme())
    n = aw.nominate(c, aw.nominee()).json()
    url = f"{API}/nominations/{n['id']}/withdraw"
    assert aw.client.post(url, json={"reason": "x"}, headers=aw.staff_a).status_code == 200
    problem(aw.client.post(url, json={"reason": "x"}, headers=aw.staff_a), 409)
    problem(aw.submit(n), 409)


def test_transitions_are_kept_in_the_history(aw, db) -> None:
    c = aw.cycle(aw.programme({"gender": "female"}))
    person = aw.nominee(gender="male")
    n = aw.nominate(c, person).json()
    aw.submit(n)
    db.rollback()
    rows = db.execute(
        text(
            "SELECT field, old_value, new_value, source FROM change_history"
            " WHERE entity = 'nomination' AND entity_id = :id ORDER BY id"
        ),
        {"id": n["id"]},
    ).all()
    assert [tuple(r) for r in rows] == [
        ("created", None, "draft", "api"),
        ("status", "draft", "submitted", "api"),
        ("status", "submitted", "ineligible", "eligibility"),
    ]


def test_nomination_numbers_count_up_per_cycle(aw) -> None:
    p = aw.programme()
    c = aw.cycle(p)
    first = aw.nominate(c, aw.nominee()).json()
    second = aw.nominate(c, aw.nominee(aw.b), aw.b).json()
    assert first["nomination_no"] == f"{p['code']}-2025-0001"
    assert second["nomination_no"] == f"{p['code']}-2025-0002"


@pytest.mark.parametrize("status", ["suspended", "exited"])
def test_a_suspended_or_exited_society_nominates_no_one(aw, status) -> None:  # type: ignore[no-untyped-def]
    society = aw.factory.org(parent=aw.root.code)
    staff = aw.factory.caller("org_staff", society)
    channels = [{"org_code": society.code, "quota": 3}, {"org_code": aw.a.code, "quota": 3}]
    c = aw.cycle(aw.programme(), channels=channels)

    def nominate():  # type: ignore[no-untyped-def]
        return aw.client.post(
            f"{API}/cycles/{c['id']}/nominations",
            json={
                "nominee_person_id": str(aw.nominee(society).id),
                "channel_org_code": society.code,
            },
            headers=staff,
        )

    draft = nominate()
    assert draft.status_code == 201, draft.text
    r = aw.client.patch(
        f"/api/v1/orgs/{society.code}",
        json={"status": status, "reason": "动态调整"},
        headers=aw.admin,
    )
    assert r.status_code == 200, r.text
    assert problem(nominate(), 409)["type"].endswith("/society-closed")
    assert problem(aw.submit(draft.json(), staff), 409)["type"].endswith("/society-closed")
    # Its draft can still be withdrawn, and the other channels go on.
    w = aw.client.post(
        f"{API}/nominations/{draft.json()['id']}/withdraw", json={"reason": "撤回"}, headers=staff
    )
    assert w.status_code == 200, w.text
    assert aw.nominate(c, aw.nominee()).status_code == 201


def test_a_page_of_nominations_costs_the_statements_of_one(aw) -> None:
    programme = aw.programme()
    c = aw.cycle(programme)
    made = [aw.eligible(c, aw.nominee()) for _ in range(3)]
    made += [aw.eligible(c, aw.nominee(aw.b), aw.b) for _ in range(2)]
    path = f"{API}/cycles/{c['id']}/nominations"

    def listed(limit: int) -> tuple[int, list[dict]]:
        with statements(aw.runtime) as seen:
            r = aw.client.get(path, params={"limit": limit}, headers=aw.committee)
        assert r.status_code == 200, r.text
        return len(seen), r.json()["items"]

    one, first = listed(1)
    five, page = listed(5)
    assert one == five
    assert (len(first), len(page)) == (1, 5)
    by_id = {n["id"]: n for n in made}
    for item in page:
        assert item == by_id[item["id"]]
        assert item["programme_code"] == programme["code"]
        assert item["channel_org_code"] in (aw.a.code, aw.b.code)


def test_lists_of_programmes_and_of_cycles_cost_the_statements_of_one(aw) -> None:
    def count(path: str) -> tuple[int, list[dict]]:
        with statements(aw.runtime) as seen:
            r = aw.client.get(f"{API}{path}", headers=aw.committee)
        assert r.status_code == 200, r.text
        return len(seen), r.json()

    few = aw.programme()
    many = aw.programme()
    aw.cycle(few)
    cycles = [aw.cycle(many, year=year, quota_a=year - 2020) for year in (2021, 2022, 2023)]
    aw.nominate(cycles[1], aw.nominee())
    one, _ = count(f"/programmes/{few['code']}/cycles")
    three, listed = count(f"/programmes/{many['code']}/cycles")
    assert one == three
    assert [c["year"] for c in listed] == [2023, 2022, 2021]
    used = {c["year"]: {ch["org_code"]: (ch["quota"], ch["used"]) for ch in c["channels"]}
            for c in listed}  # fmt: skip
    assert used[2022] == {aw.a.code: (2, 1), aw.b.code: (5, 0)}
    assert used[2021][aw.a.code] == (1, 0)
    assert all(c["programme_code"] == many["code"] for c in listed)

    before, programmes = count("/programmes")
    aw.programme()
    after, more = count("/programmes")
    assert before == after
    assert len(more) == len(programmes) + 1
    assert {p["owner_org_code"] for p in more if p["code"] == many["code"]} == {aw.root.code}
