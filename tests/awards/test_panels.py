"""Conflicts of interest with reasons, reviewer suggestions, and cycle assignment over HTTP."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import text

from services.registry.awards import conflicts

from .conftest import API, problem, stop_clock_at


def suggestions(aw, nomination, **params):  # type: ignore[no-untyped-def]
    r = aw.client.get(
        f"{API}/nominations/{nomination['id']}/reviewer-suggestions",
        params=params,
        headers=aw.committee,
    )
    assert r.status_code == 200, r.text
    return r.json()


def excluded_rules(body) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    return {e["person_id"]: {r["rule"] for r in e["reasons"]} for e in body["excluded"] or []}


# --- suggestions and conflicts -------------------------------------------------------------


def test_suggestions_rank_by_affinity_and_leave_out_every_conflict_with_its_reason(aw) -> None:
    topic = f"topic{aw.token}"
    c = aw.cycle(aw.programme())
    nominee = aw.nominee(
        institution="清华大学" + aw.token,
        institution_uscc=None,
        research_fields=[topic],
        discipline_codes=["520"],
        expert_opt_in=True,
    )
    n = aw.eligible(c, nominee)
    good = aw.expert(fields=[topic], discipline_codes=["520"])
    weaker = aw.expert(fields=[topic], discipline_codes=["130"])  # text fits, discipline does not
    colleague = aw.expert(fields=[topic], institution=" 清华大学" + aw.token.upper() + " ")
    staff = aw.expert(fields=[topic])
    aw.factory.account("org_staff", aw.a, person=staff)
    declared = aw.expert(fields=[topic])
    r = aw.client.post(
        f"{API}/nominations/{n['id']}/conflicts",
        json={"reviewer_person_id": str(declared.id), "reason": "合作者"},
        headers=aw.staff_a,
    )
    assert r.status_code == 201, r.text
    assert r.json()["side"] == "nominee"
    former = aw.expert(fields=[topic], institution="清华大学" + aw.token)
    aw.client.patch(
        f"/api/v1/people/{former.id}", json={"institution": "北京大学" + aw.token}, headers=aw.admin
    )
    aw.drain()

    body = suggestions(aw, n, explain="true")
    ranked = [s["person_id"] for s in body["suggestions"]]
    assert ranked[:2] == [str(good.id), str(weaker.id)]
    assert body["suggestions"][0]["affinity"] > body["suggestions"][1]["affinity"]
    assert body["suggestions"][0]["credibility"] == 80
    why = excluded_rules(body)
    assert why[str(nominee.id)] == {"self"}
    assert "same_institution" in why[str(colleague.id)]
    assert why[str(staff.id)] == {"channel_staff"}
    assert why[str(declared.id)] == {"declared"}
    assert why[str(former.id)] == {"shared_institution"}
    for person in (nominee, colleague, staff, declared, former):
        assert str(person.id) not in ranked
    assert suggestions(aw, n)["excluded"] is None


def test_rival_nominees_and_their_teams_never_review_each_other_in_the_cycle(aw) -> None:
    topic = [f"topic{aw.token}"]
    c = aw.cycle(aw.programme({"teams_allowed": True}), reviewers_per_nomination=1, max_load=1)

    def rival(place: str):  # type: ignore[no-untyped-def]
        return aw.nominee(
            research_fields=topic, discipline_codes=["520"], expert_opt_in=True,
            institution=place + aw.token,
        )  # fmt: skip

    x, y, teammate, gone = rival("甲大学"), rival("乙大学"), rival("丙大学"), rival("丁大学")
    nx = aw.eligible(c, x)
    r = aw.nominate(c, y, team_person_ids=[str(teammate.id)])
    assert r.status_code == 201, r.text
    ny = aw.submit(r.json()).json()
    withdrawn = aw.nominate(c, gone).json()
    aw.client.post(
        f"{API}/nominations/{withdrawn['id']}/withdraw", json={"reason": "撤回"}, headers=aw.staff_a
    )
    aw.drain()

    body = suggestions(aw, nx, explain="true")
    why = excluded_rules(body)
    assert why[str(y.id)] == {"competing_nominee"}
    assert why[str(teammate.id)] == {"competing_nominee"}
    reasons = {e["person_id"]: e["reasons"][0]["reason"] for e in body["excluded"]}
    assert ny["nomination_no"] in reasons[str(teammate.id)]
    assert str(gone.id) in {s["person_id"] for s in body["suggestions"]}  # withdrawn: free

    everyone = [str(p.id) for p in (x, y, teammate, gone)]
    panels = panels_of(assign(aw, c, pool_person_ids=everyone))
    assert panels[nx["id"]] <= {str(gone.id)}
    assert panels[ny["id"]] <= {str(gone.id)}


def test_same_institution_by_uscc_and_low_credibility_are_reasons_too(aw) -> None:
    topic = f"topic{aw.token}"
    c = aw.cycle(aw.programme())
    nominee = aw.nominee(
        institution="某研究院" + aw.token,
        institution_uscc="12100000400000624D",
        research_fields=[topic],
    )
    n = aw.eligible(c, nominee)
    same = aw.expert(
        fields=[topic], institution="另一个名字", institution_uscc="12100000400000624D"
    )
    shady = aw.expert(fields=[topic])
    r = aw.client.post(
        f"{API}/reviewers/{shady.id}/events",
        json={"kind": "misconduct", "note": "泄露评审信息"},
        headers=aw.committee,
    )
    assert r.status_code == 201, r.text
    assert r.json()["delta"] == -50
    aw.drain()
    body = suggestions(aw, n, explain="true")
    why = {e["person_id"]: e["reasons"] for e in body["excluded"]}
    assert "by USCC" in why[str(same.id)][0]["reason"]
    assert why[str(shady.id)][0]["rule"] == "low_credibility"


def test_credibility_and_open_load_lower_the_rank(aw) -> None:
    topic = f"topic{aw.token}"
    c = aw.cycle(aw.programme())
    n = aw.eligible(c, aw.nominee(research_fields=[topic], discipline_codes=["520"]))
    late, clean = aw.expert(fields=[topic]), aw.expert(fields=[topic])
    aw.client.post(f"{API}/reviewers/{late.id}/events", json={"kind": "late"}, headers=aw.committee)
    aw.drain()
    body = suggestions(aw, n)
    order = [s["person_id"] for s in body["suggestions"]]
    assert order.index(str(clean.id)) < order.index(str(late.id))
    scores = {s["person_id"]: s for s in body["suggestions"]}
    assert scores[str(late.id)]["credibility"] == 75


def test_a_registered_rule_takes_part_with_its_own_name(aw) -> None:
    """The hook the council rule (membership platform) uses."""
    topic = f"topic{aw.token}"
    c = aw.cycle(aw.programme())
    n = aw.eligible(c, aw.nominee(research_fields=[topic]))
    peer = aw.expert(fields=[topic])
    aw.drain()

    @conflicts.register("same_council")
    def same_council(session, subject, candidates):  # type: ignore[no-untyped-def]
        return {p.id: "both sit on the same council" for p in candidates if p.id == peer.id}

    try:
        body = suggestions(aw, n, explain="true")
    finally:
        conflicts.RULES.remove(("same_council", same_council))
    assert excluded_rules(body)[str(peer.id)] == {"same_council"}


def test_declared_conflicts_also_reach_expert_search(aw) -> None:
    topic = f"topic{aw.token}"
    c = aw.cycle(aw.programme())
    nominee = aw.nominee(research_fields=[topic])
    n = aw.eligible(c, nominee)
    declared = aw.expert(fields=[topic])
    aw.client.post(
        f"{API}/nominations/{n['id']}/conflicts",
        json={"reviewer_person_id": str(declared.id), "reason": "师生关系"},
        headers=aw.committee,
    )
    aw.drain()
    r = aw.client.post(
        "/api/v1/search/experts",
        json={"q": topic, "conflicts_with": str(nominee.id)},
        headers=aw.committee,
    )
    assert str(declared.id) not in [h["person_id"] for h in r.json()["hits"]]


def test_suggestions_are_for_committees_in_scope(aw) -> None:
    c = aw.cycle(aw.programme())
    n = aw.eligible(c, aw.nominee())
    url = f"{API}/nominations/{n['id']}/reviewer-suggestions"
    problem(aw.client.get(url, headers=aw.staff_a), 403)
    elsewhere = aw.factory.caller("committee", aw.factory.org(kind="federation"))
    problem(aw.client.get(url, headers=elsewhere), 404)


# --- assignment ----------------------------------------------------------------------------


def assign(aw, cycle, status: int = 200, **body):  # type: ignore[no-untyped-def]
    r = aw.client.post(f"{API}/cycles/{cycle['id']}/assignments", json=body, headers=aw.committee)
    assert r.status_code == status, r.text
    return r.json()


def panels_of(result) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    return {a["nomination_id"]: set(a["reviewer_person_ids"]) for a in result["assignments"]}


def test_assignment_fills_every_panel_without_conflicts_and_is_deterministic(aw) -> None:
    c = aw.cycle(aw.programme(), reviewers_per_nomination=2, max_load=2)
    shared = "共同大学" + aw.token
    noms = [aw.eligible(c, aw.nominee(institution=shared if i == 0 else None)) for i in range(3)]
    pool = [aw.expert() for _ in range(4)]
    colleague = aw.expert(institution=shared)
    ids = [str(p.id) for p in [*pool, colleague]]
    first = assign(aw, c, pool_person_ids=ids)
    assert first["unmet"] == []
    panels = panels_of(first)
    assert all(len(panels[n["id"]]) == 2 for n in noms)
    assert str(colleague.id) not in panels[noms[0]["id"]]
    assert first["objective"] >= first["greedy_objective"] - 1e-9
    assert first["optimal"] is True
    again = assign(aw, c, pool_person_ids=list(reversed(ids)))
    assert panels_of(again) == panels
    listed = aw.client.get(f"{API}/cycles/{c['id']}/nominations", headers=aw.committee).json()
    assert {n["status"] for n in listed["items"]} == {"in_review"}
    seats = aw.client.get(f"{API}/cycles/{c['id']}/assignments", headers=aw.committee).json()
    assert len(seats) == 6


def test_forced_and_forbidden_pairs_are_honoured(aw) -> None:
    c = aw.cycle(aw.programme(), reviewers_per_nomination=1, max_load=1)
    n = aw.eligible(c, aw.nominee())
    x, y = aw.expert(), aw.expert()
    pool = [str(x.id), str(y.id)]
    pair = {"nomination_id": n["id"], "reviewer_person_id": str(y.id)}
    assert panels_of(assign(aw, c, pool_person_ids=pool, forced=[pair]))[n["id"]] == {str(y.id)}
    assert panels_of(assign(aw, c, pool_person_ids=pool, forbidden=[pair]))[n["id"]] == {str(x.id)}


def test_institution_cap_and_a_woman_per_panel(aw) -> None:
    c = aw.cycle(aw.programme(), reviewers_per_nomination=2, max_load=5)
    n = aw.eligible(c, aw.nominee())
    same = "同一大学" + aw.token
    men = [aw.expert(institution=same) for _ in range(2)]
    woman = aw.expert(gender="female")
    pool = [str(p.id) for p in [*men, woman]]
    result = assign(aw, c, pool_person_ids=pool, max_per_institution=1, min_per_panel={"female": 1})
    panel = panels_of(result)[n["id"]]
    assert str(woman.id) in panel
    assert len(panel & {str(m.id) for m in men}) == 1


def test_only_active_people_of_the_committees_pool_are_seated(aw, db) -> None:
    topic = [f"topic{aw.token}"]
    c = aw.cycle(aw.programme(), reviewers_per_nomination=1, max_load=1)
    n = aw.eligible(c, aw.nominee(research_fields=topic))
    dead = aw.expert(fields=topic)
    db.execute(text("UPDATE person SET status = 'deceased' WHERE id = :id"), {"id": dead.id})
    db.commit()
    result = assign(aw, c, pool_person_ids=[str(dead.id)])
    assert panels_of(result) == {n["id"]: set()}
    assert "1 conflicted left out" in result["unmet"][0]["reason"]
    forced = [{"nomination_id": n["id"], "reviewer_person_id": str(dead.id)}]
    result = assign(aw, c, pool_person_ids=[str(dead.id)], forced=forced)
    assert panels_of(result) == {n["id"]: set()}
    assert [p["reviewer_id"] for p in result["rejected_forced"]] == [str(dead.id)]


def test_unmet_seats_are_reported_and_strict_mode_saves_nothing(aw) -> None:
    c = aw.cycle(aw.programme(), reviewers_per_nomination=3)
    n = aw.eligible(c, aw.nominee())
    only = aw.expert()
    strict = assign(aw, c, 422, pool_person_ids=[str(only.id)], strict=True)
    assert strict["type"].endswith("/assignment-unsatisfiable")
    assert "too_few_candidates" in strict["errors"][0]["reason"]
    assert aw.client.get(f"{API}/cycles/{c['id']}/assignments", headers=aw.committee).json() == []
    result = assign(aw, c, pool_person_ids=[str(only.id)])
    assert result["unmet"][0]["nomination_id"] == n["id"]
    assert result["unmet"][0]["missing"] == 2
    assert result["unmet"][0]["code"] == "too_few_candidates"


def test_a_negative_panel_minimum_is_refused_naming_the_trait(aw) -> None:
    c = aw.cycle(aw.programme())
    aw.eligible(c, aw.nominee())
    body = assign(aw, c, 422, min_per_panel={"female": -1})
    assert [e["field"] for e in body["errors"]] == ["min_per_panel.female"]


def test_assigning_a_cycle_with_nothing_eligible_names_the_reason(aw) -> None:
    c = aw.cycle(aw.programme())
    aw.nominate(c, aw.nominee())  # a draft only
    assert assign(aw, c, 409)["type"].endswith("/nothing-to-assign")


def test_forced_pair_on_a_nomination_outside_the_cycle_is_refused(aw) -> None:
    c = aw.cycle(aw.programme())
    aw.eligible(c, aw.nominee())
    pair = {"nomination_id": str(uuid.uuid4()), "reviewer_person_id": str(aw.expert().id)}
    body = assign(aw, c, 422, forced=[pair])
    assert body["errors"][0]["field"] == "forced.0.nomination_id"


def test_only_committees_assign(aw) -> None:
    c = aw.cycle(aw.programme())
    r = aw.client.post(f"{API}/cycles/{c['id']}/assignments", json={}, headers=aw.staff_a)
    problem(r, 403)


def test_free_reviewers_are_suggested_behind_hundreds_of_the_nominees_colleagues(aw) -> None:
    topic = f"topic{aw.token}"
    cycle = aw.cycle(aw.programme())
    institution = "大研究院" + aw.token
    nominee = aw.nominee(institution=institution, research_fields=[topic], discipline_codes=["520"])
    nomination = aw.eligible(cycle, nominee)
    for _ in range(230):  # stronger profiles than the free expert, all in conflict
        aw.expert(fields=[topic], institution=institution, title_level="senior",
                  discipline_codes=["520"])  # fmt: skip
    free = aw.expert(fields=[topic], title_level="junior", discipline_codes=["520"])
    aw.drain()
    response = aw.client.get(
        f"{API}/nominations/{nomination['id']}/reviewer-suggestions", headers=aw.committee
    )
    assert response.status_code == 200, response.text
    assert str(free.id) in [s["person_id"] for s in response.json()["suggestions"]]


def test_a_shared_institution_counts_from_the_start_of_the_day_in_beijing(
    aw, db, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    topic = f"topic{aw.token}"
    c = aw.cycle(aw.programme(), conflict_years=3)
    place = "复旦大学" + aw.token
    nominee = aw.nominee(institution=place, research_fields=[topic], discipline_codes=["520"])
    n = aw.eligible(c, nominee)
    former = aw.expert(fields=[topic], institution=place)
    r = aw.client.patch(
        f"/api/v1/people/{former.id}", json={"institution": "同济大学" + aw.token}, headers=aw.admin
    )
    assert r.status_code == 200, r.text
    # They left at 01:30 on 1 May 2022 in Beijing (still 30 April in UTC) ...
    db.execute(
        text(
            "UPDATE change_history SET changed_at = '2022-04-30 17:30+00'"
            " WHERE entity = 'person' AND entity_id = :id AND field = 'institution'"
        ),
        {"id": former.id},
    )
    db.commit()
    aw.drain()
    # ... and on 1 May 2025 in Beijing that is within the last three years.
    stop_clock_at(monkeypatch, datetime(2025, 4, 30, 19, 0, tzinfo=UTC))
    body = suggestions(aw, n, explain="true")
    assert excluded_rules(body)[str(former.id)] == {"shared_institution"}
    assert str(former.id) not in {s["person_id"] for s in body["suggestions"]}
