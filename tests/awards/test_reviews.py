"""Reviews: isolation of reviewers, scores within the scale by the deadline, results, records."""

from __future__ import annotations

import csv
import io
import threading
import uuid
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select

from services.registry.auth.models import Role
from services.registry.auth.principals import Grant, Principal
from services.registry.awards import credibility, reviews
from services.registry.awards.models import Assignment, Nomination
from services.registry.awards.reviews import z_scores
from services.registry.awards.schemas import ReviewSubmit
from services.registry.core import clock

from ..factories import statements, wait_for_lock_waiter
from .conftest import API, problem, stop_clock_at

CRITERIA = [
    {"code": "innovation", "name": "创新性", "weight": 3},
    {"code": "impact", "name": "影响", "weight": 1},
]


def reviewed_cycle(aw, n_nominations=2, k=2, **cycle):  # type: ignore[no-untyped-def]
    """A cycle whose nominations are assigned to reviewers who hold accounts."""
    cycle.setdefault("criteria", CRITERIA)
    c = aw.cycle(aw.programme(), reviewers_per_nomination=k, max_load=n_nominations, **cycle)
    topic = [f"topic{aw.token}"]
    noms = [aw.eligible(c, aw.nominee(research_fields=topic)) for _ in range(n_nominations)]
    experts = [aw.expert() for _ in range(k)]
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/assignments",
        json={"pool_person_ids": [str(e.id) for e in experts]},
        headers=aw.committee,
    )
    assert r.status_code == 200, r.text
    assert r.json()["unmet"] == []
    headers = {e.id: aw.reviewer(e) for e in experts}
    return c, noms, experts, headers


def own(aw, headers):  # type: ignore[no-untyped-def]
    r = aw.client.get(f"{API}/my/assignments", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()


def score(aw, headers, assignment_id, **scores):  # type: ignore[no-untyped-def]
    return aw.client.post(
        f"{API}/assignments/{assignment_id}/review", json={"scores": scores}, headers=headers
    )


def test_a_reviewer_sees_only_their_own_assignments_and_never_the_other_reviewers(aw) -> None:
    c, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=2)
    mine = own(aw, headers[experts[0].id])
    assert len(mine) == 1
    detail = aw.client.get(f"{API}/assignments/{mine[0]['id']}", headers=headers[experts[0].id])
    assert detail.status_code == 200
    text = detail.text
    assert str(experts[1].id) not in text
    assert detail.json()["nominee"]["name"] == noms[0]["snapshot"]["name"]
    assert [c["code"] for c in detail.json()["criteria"]] == ["innovation", "impact"]
    theirs = own(aw, headers[experts[1].id])[0]["id"]
    problem(aw.client.get(f"{API}/assignments/{theirs}", headers=headers[experts[0].id]), 404)
    body = problem(score(aw, headers[experts[0].id], theirs, innovation=5, impact=5), 404)
    assert "your own" in body["detail"]
    # The panel list is the committee's, not a reviewer's.
    problem(
        aw.client.get(f"{API}/cycles/{c['id']}/assignments", headers=headers[experts[0].id]), 403
    )
    problem(
        aw.client.get(f"{API}/nominations/{noms[0]['id']}", headers=headers[experts[0].id]), 403
    )


def test_scores_must_cover_every_criterion_within_the_scale(aw) -> None:
    _, _, experts, headers = reviewed_cycle(aw, n_nominations=1, k=1)
    h = headers[experts[0].id]
    a = own(aw, h)[0]["id"]
    body = problem(score(aw, h, a, innovation=11, novelty=3), 422)
    fields = {e["field"]: e["reason"] for e in body["errors"]}
    assert "outside the scale 0 to 10" in fields["scores.innovation"]
    assert "missing" in fields["scores.impact"]
    assert "unknown criterion" in fields["scores.novelty"]
    ok = score(aw, h, a, innovation=8, impact=4)
    assert ok.status_code == 200, ok.text
    assert ok.json()["weighted_total"] == 7.0  # (3 x 8 + 1 x 4) / 4
    assert ok.json()["late"] is False
    revised = score(aw, h, a, innovation=4, impact=8)
    assert revised.json()["weighted_total"] == 5.0


def test_no_scores_after_the_deadline_and_late_ones_are_recorded(aw, monkeypatch) -> None:
    today = date.today()
    _, _, experts, headers = reviewed_cycle(
        aw, n_nominations=1, k=1, review_due=(today - timedelta(days=1)).isoformat(),
        review_deadline=(today + timedelta(days=1)).isoformat(),
    )  # fmt: skip
    h = headers[experts[0].id]
    r = score(aw, h, own(aw, h)[0]["id"], innovation=5, impact=5)
    assert r.json()["late"] is True
    record = aw.client.get(f"{API}/reviewers/{experts[0].id}/record", headers=h).json()
    assert record["counts"] == {"late": 1}
    assert record["score"] == 75

    deadline = clock.today()
    _, _, experts, headers = reviewed_cycle(
        aw, n_nominations=1, k=1, review_due=deadline.isoformat(),
        review_deadline=deadline.isoformat(), year=2024,
    )  # fmt: skip
    h = headers[experts[0].id]
    stop_clock_at(monkeypatch, after_beijing_day(deadline))
    body = problem(score(aw, h, own(aw, h)[0]["id"], innovation=5, impact=5), 409)
    assert body["type"].endswith("/review-deadline")


def after_beijing_day(day: date) -> datetime:
    """The first instant of the day after `day` in Beijing, in UTC."""
    return (datetime.combine(day, time.min, tzinfo=clock.ZONE) + timedelta(days=1)).astimezone(UTC)


def test_control_characters_in_a_review_comment_are_refused_naming_the_field(aw) -> None:
    _, _, experts, headers = reviewed_cycle(aw, n_nominations=1, k=1)
    h = headers[experts[0].id]
    a = own(aw, h)[0]["id"]
    r = aw.client.post(
        f"{API}/assignments/{a}/review",
        json={"scores": {"innovation": 5, "impact": 5}, "comment": "好\u0000"},
        headers=h,
    )
    assert problem(r, 422)["errors"] == [
        {"field": "comment", "reason": "contains control characters"}
    ]


def test_the_review_deadline_follows_the_calendar_in_beijing(aw, monkeypatch) -> None:
    deadline = clock.today() + timedelta(days=1)
    _, _, experts, headers = reviewed_cycle(
        aw, n_nominations=1, k=1, review_due=deadline.isoformat(),
        review_deadline=deadline.isoformat(),
    )  # fmt: skip
    h = headers[experts[0].id]
    a = own(aw, h)[0]["id"]
    # 23:59 on the deadline in Beijing: still on time.
    stop_clock_at(monkeypatch, datetime.combine(deadline, time(15, 59), tzinfo=UTC))
    r = score(aw, h, a, innovation=5, impact=5)
    assert r.status_code == 200, r.text
    assert r.json()["late"] is False
    # Midnight in Beijing is past the deadline, while UTC still says the deadline's date.
    stop_clock_at(monkeypatch, datetime.combine(deadline, time(16, 0), tzinfo=UTC))
    body = problem(score(aw, h, a, innovation=6, impact=6), 409)
    assert body["type"].endswith("/review-deadline")


def test_all_reviews_in_makes_the_nomination_scored(aw) -> None:
    _, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=2)
    for e in experts:
        assert (
            score(
                aw, headers[e.id], own(aw, headers[e.id])[0]["id"], innovation=6, impact=6
            ).status_code
            == 200
        )
    n = aw.client.get(f"{API}/nominations/{noms[0]['id']}", headers=aw.committee).json()
    assert n["status"] == "scored"
    r = aw.client.post(
        f"{API}/nominations/{n['id']}/decision",
        json={"status": "shortlisted"},
        headers=aw.committee,
    )
    assert r.json()["status"] == "shortlisted"
    r = aw.client.post(
        f"{API}/nominations/{n['id']}/decision", json={"status": "awarded"}, headers=aw.committee
    )
    assert r.json()["status"] == "awarded"
    assert r.json()["decided_at"] is not None


def test_the_last_two_reviews_sent_together_make_the_nomination_scored(aw, runtime, db) -> None:
    _, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=2)
    (a1, a2) = (own(aw, headers[e.id])[0]["id"] for e in experts)
    reviewer = Principal(
        account_id=uuid.uuid4(), username="r", kind="user", person_id=experts[0].id,
        grants=(Grant(Role.reviewer, None, None),),
    )  # fmt: skip
    answers: list = []
    with runtime.sessions() as first:
        # The first review is in, its transaction not yet committed, when the second arrives.
        reviews.submit_review(
            first,
            principal=reviewer,
            assignment_id=uuid.UUID(a1),
            data=ReviewSubmit(scores={"innovation": 7, "impact": 7}),
            today=clock.today(),
        )
        second = threading.Thread(
            target=lambda: answers.append(
                score(aw, headers[experts[1].id], a2, innovation=8, impact=8)
            )
        )
        second.start()
        wait_for_lock_waiter(db, unless=lambda: not second.is_alive())
        first.commit()
    second.join(10)
    assert answers[0].status_code == 200, answers[0].text
    with runtime.sessions() as session:
        nomination = session.get(Nomination, uuid.UUID(noms[0]["id"]))
        assert nomination is not None
        assert nomination.status == "scored"


def test_declaring_a_conflict_hands_the_seat_to_someone_else(aw, runtime) -> None:
    c, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=1)
    spare = aw.expert()  # opted in, same field: search finds them
    aw.drain()
    h = headers[experts[0].id]
    a = own(aw, h)[0]["id"]
    r = aw.client.post(f"{API}/assignments/{a}/conflict", json={"reason": "曾是同事"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "assignment_id": a,
        "status": "conflict_declared",
        "replacement": "assigned",
    }
    with runtime.sessions() as session:
        seated = session.scalars(
            select(Assignment.reviewer_person_id).where(
                Assignment.nomination_id == noms[0]["id"], Assignment.status == "assigned"
            )
        ).all()
    assert len(seated) == 1
    assert seated[0] != experts[0].id
    record = aw.client.get(f"{API}/reviewers/{experts[0].id}/record", headers=aw.committee).json()
    assert record["counts"] == {"declared_conflict": 1}
    problem(score(aw, h, a, innovation=5, impact=5), 409)
    # The declared pair is never matched again.
    again = aw.client.post(f"{API}/assignments/{a}/conflict", json={"reason": "again"}, headers=h)
    problem(again, 409)
    del spare, c


def test_results_rank_by_reviewer_normalised_scores_with_ties_and_export_csv(aw) -> None:
    c, noms, experts, headers = reviewed_cycle(aw, n_nominations=3, k=2)
    harsh, lenient = experts
    plan = {harsh.id: [2, 3, 3], lenient.id: [8, 9, 9]}  # same order, different severity
    index = {n["nomination_no"]: i for i, n in enumerate(noms)}
    for e in experts:
        for a in own(aw, headers[e.id]):
            value = plan[e.id][index[a["nomination_no"]]]
            r = score(aw, headers[e.id], a["id"], innovation=value, impact=value)
            assert r.status_code == 200, r.text
    r = aw.client.get(f"{API}/cycles/{c['id']}/results", headers=aw.committee)
    assert r.status_code == 200, r.text
    rows = r.json()["rows"]
    assert [row["rank"] for row in rows] == [1, 1, 3]
    assert [row["tied"] for row in rows] == [True, True, False]
    assert rows[2]["nomination_id"] == noms[0]["id"]
    assert rows[0]["reviews"] == 2
    csv_response = aw.client.get(f"{API}/cycles/{c['id']}/results.csv", headers=aw.committee)
    assert csv_response.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(csv_response.text.lstrip("\ufeff"))))
    assert table[0][:3] == ["rank", "tied", "nomination_no"]
    assert table[0][-2:] == ["innovation", "impact"]
    assert [row[0] for row in table[1:]] == ["1", "1", "3"]
    problem(aw.client.get(f"{API}/cycles/{c['id']}/results", headers=headers[harsh.id]), 403)


def test_z_scores_neutralise_harsh_and_lenient_reviewers() -> None:
    h, lenient, a, b = "h", "l", "a", "b"
    z = z_scores([(h, a, 2.0), (h, b, 4.0), (lenient, a, 7.0), (lenient, b, 9.0)])  # type: ignore[list-item]
    assert z[(h, a)] == z[(lenient, a)] == -1.0
    assert z[(h, b)] == z[(lenient, b)] == 1.0


def test_closing_the_review_records_missed_and_outlying_reviews(aw) -> None:
    c, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=4)
    values = [9, 9, 9, 1]  # the last is far from the panel's median
    for e, v in zip(experts[:4], values, strict=True):
        a = own(aw, headers[e.id])[0]["id"]
        assert score(aw, headers[e.id], a, innovation=v, impact=v).status_code == 200
    c2, _, experts2, headers2 = reviewed_cycle(aw, n_nominations=1, k=1, year=2024)
    closed = aw.client.post(f"{API}/cycles/{c['id']}/close-review", headers=aw.committee)
    assert closed.json() == {"missed": 0, "scored": 0, "outliers": 1}
    record = aw.client.get(f"{API}/reviewers/{experts[3].id}/record", headers=aw.committee).json()
    assert record["counts"] == {"on_time": 1, "outlier_scores": 1}
    problem(aw.client.post(f"{API}/cycles/{c['id']}/close-review", headers=aw.committee), 409)
    closed2 = aw.client.post(f"{API}/cycles/{c2['id']}/close-review", headers=aw.committee).json()
    assert closed2["missed"] == 1
    record2 = aw.client.get(f"{API}/reviewers/{experts2[0].id}/record", headers=aw.committee).json()
    assert record2["counts"] == {"missed": 1}
    assert record2["score"] == 65
    a2 = own(aw, headers2[experts2[0].id])[0]["id"]
    assert problem(score(aw, headers2[experts2[0].id], a2, innovation=5, impact=5), 409)
    del noms


def test_assignment_is_refused_once_the_review_is_closed(aw) -> None:
    c, noms, experts, _ = reviewed_cycle(aw, n_nominations=1, k=1)
    closed = aw.client.post(f"{API}/cycles/{c['id']}/close-review", headers=aw.committee)
    assert closed.json()["missed"] == 1
    spare = aw.expert()
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/assignments",
        json={"pool_person_ids": [str(spare.id)]},
        headers=aw.committee,
    )
    assert problem(r, 409)["type"].endswith("/review-closed")
    seats = aw.client.get(f"{API}/cycles/{c['id']}/assignments", headers=aw.committee).json()
    assert [(s["reviewer_person_id"], s["status"]) for s in seats] == [
        (str(experts[0].id), "missed")
    ]
    del noms


def test_reviews_are_final_once_the_nomination_is_decided(aw) -> None:
    _, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=1)
    h = headers[experts[0].id]
    a = own(aw, h)[0]["id"]
    assert score(aw, h, a, innovation=6, impact=6).status_code == 200
    r = aw.client.post(
        f"{API}/nominations/{noms[0]['id']}/decision",
        json={"status": "shortlisted"},
        headers=aw.committee,
    )
    assert r.status_code == 200, r.text
    body = problem(score(aw, h, a, innovation=10, impact=10), 409)
    assert "shortlisted" in body["detail"]
    assert aw.client.get(f"{API}/assignments/{a}", headers=h).json()["my_scores"] == {
        "innovation": 6,
        "impact": 6,
    }


def test_credibility_records_committees_see_all_reviewers_their_own(aw) -> None:
    x, y = aw.expert(), aw.expert()
    hx = aw.reviewer(x)
    assert aw.client.get(f"{API}/reviewers/{x.id}/record", headers=hx).status_code == 200
    problem(aw.client.get(f"{API}/reviewers/{y.id}/record", headers=hx), 404)
    assert (
        aw.client.get(f"{API}/reviewers/{y.id}/record", headers=aw.committee).json()["score"] == 80
    )
    problem(
        aw.client.post(f"{API}/reviewers/{y.id}/events", json={"kind": "misconduct"}, headers=hx),
        403,
    )
    problem(aw.client.get(f"{API}/reviewers/{y.id}/record", headers=aw.staff_a), 403)


def test_credibility_stays_within_0_and_100_after_every_event(aw, runtime) -> None:
    high, low = aw.expert(), aw.expert()

    def add(person, kind: str, times: int = 1) -> None:  # type: ignore[no-untyped-def]
        for _ in range(times):
            r = aw.client.post(
                f"{API}/reviewers/{person.id}/events",
                json={"kind": kind, "note": "记录"},
                headers=aw.committee,
            )
            assert r.status_code == 201, r.text

    def shown(person) -> int:  # type: ignore[no-untyped-def]
        url = f"{API}/reviewers/{person.id}/record"
        return aw.client.get(url, headers=aw.committee).json()["score"]

    add(high, "on_time", 25)  # 80 + 50: 100 from the 10th on, nothing banked above it
    assert shown(high) == 100
    add(high, "misconduct")
    assert shown(high) == 50
    add(low, "misconduct", 3)  # 80 - 150: 0 from the 2nd on, no debt below it
    add(low, "on_time")
    assert shown(low) == 2
    with runtime.sessions() as session:  # what suggestions and assignment go by
        assert credibility.scores(session, [high.id, low.id]) == {high.id: 50, low.id: 2}


def test_an_undeclared_conflict_found_later_blocks_the_pair_from_now_on(aw) -> None:
    c = aw.cycle(aw.programme())
    n = aw.eligible(c, aw.nominee())
    x = aw.expert()
    r = aw.client.post(
        f"{API}/reviewers/{x.id}/events",
        json={"kind": "undeclared_conflict", "nomination_id": n["id"], "note": "未申报的合作关系"},
        headers=aw.committee,
    )
    assert r.status_code == 201, r.text
    assert r.json()["cycle_id"] == c["id"]
    conflicts = aw.client.get(f"{API}/nominations/{n['id']}/conflicts", headers=aw.committee).json()
    assert [(d["reviewer_person_id"], d["side"]) for d in conflicts] == [(str(x.id), "committee")]
    result = aw.client.post(
        f"{API}/cycles/{c['id']}/assignments",
        json={"pool_person_ids": [str(x.id)]},
        headers=aw.committee,
    ).json()
    assert result["assignments"][0]["reviewer_person_ids"] == []
    assert "1 conflicted" in result["unmet"][0]["reason"]


def test_an_undeclared_conflict_found_on_a_seated_reviewer_hands_the_seat_on(aw, runtime) -> None:
    _, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=1)
    seated = experts[0]
    spare = aw.expert()  # opted in, same field: search finds them
    aw.drain()
    r = aw.client.post(
        f"{API}/reviewers/{seated.id}/events",
        json={"kind": "undeclared_conflict", "nomination_id": noms[0]["id"], "note": "合作者"},
        headers=aw.committee,
    )
    assert r.status_code == 201, r.text
    h = headers[seated.id]
    mine = own(aw, h)[0]
    assert mine["status"] == "conflict_declared"
    problem(score(aw, h, mine["id"], innovation=9, impact=9), 409)
    with runtime.sessions() as session:
        panel = session.scalars(
            select(Assignment.reviewer_person_id).where(
                Assignment.nomination_id == noms[0]["id"], Assignment.status == "assigned"
            )
        ).all()
    assert panel == [spare.id]


def test_a_committee_records_findings_only_on_its_own_programmes_nominations(aw) -> None:
    n = aw.eligible(aw.cycle(aw.programme()), aw.nominee())  # ROOT's programme
    x = aw.expert()
    other_committee = aw.factory.caller("committee", aw.b)
    problem(aw.client.get(f"{API}/nominations/{n['id']}", headers=other_committee), 404)
    url = f"{API}/reviewers/{x.id}/events"
    finding = {"kind": "undeclared_conflict", "nomination_id": n["id"], "note": "合作者"}
    body = problem(aw.client.post(url, json=finding, headers=other_committee), 422)
    assert body["errors"] == [
        {"field": "nomination_id", "reason": "no nomination with this id in your scope"}
    ]
    # The same answer as for a nomination that does not exist.
    unknown = {**finding, "nomination_id": "00000000-0000-7000-8000-000000000000"}
    assert problem(aw.client.post(url, json=unknown, headers=aw.committee), 422) == body
    record = aw.client.get(f"{API}/reviewers/{x.id}/record", headers=aw.committee).json()
    assert record["events"] == []
    conflicts = aw.client.get(f"{API}/nominations/{n['id']}/conflicts", headers=aw.committee)
    assert conflicts.json() == []


def test_a_reviewer_who_scores_all_their_nominations_alike_does_not_move_them(aw) -> None:
    c = aw.cycle(aw.programme(), reviewers_per_nomination=1, max_load=3, criteria=CRITERIA)
    topic = [f"topic{aw.token}"]
    a, b, top, low1, low2 = (aw.eligible(c, aw.nominee(research_fields=topic)) for _ in range(5))
    flat, spread = aw.expert(), aw.expert()
    panels = {flat.id: [a, b], spread.id: [top, low1, low2]}
    forced = [
        {"nomination_id": n["id"], "reviewer_person_id": str(e)}
        for e, noms in panels.items()
        for n in noms
    ]
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/assignments",
        json={"pool_person_ids": [str(flat.id), str(spread.id)], "forced": forced},
        headers=aw.committee,
    )
    assert r.status_code == 200, r.text
    plan = {a["nomination_no"]: 1, b["nomination_no"]: 1, top["nomination_no"]: 9}
    plan |= {low1["nomination_no"]: 5, low2["nomination_no"]: 5}
    for e in (flat, spread):
        headers = aw.reviewer(e)
        for seat in own(aw, headers):
            value = plan[seat["nomination_no"]]
            assert score(aw, headers, seat["id"], innovation=value, impact=value).status_code == 200
    rows = aw.client.get(f"{API}/cycles/{c['id']}/results", headers=aw.committee).json()["rows"]
    # The flat reviewer says a and b are alike, nothing about how they compare with the
    # others: their standing is the reviewer's mean, between the other reviewer's best and
    # worst, as for any reviewer whatever their severity.
    by_id = {row["nomination_id"]: row for row in rows}
    assert by_id[a["id"]]["normalised"] == by_id[b["id"]]["normalised"] == 0
    assert rows[0]["nomination_id"] == top["id"]
    assert {row["nomination_id"] for row in rows[1:3]} == {a["id"], b["id"]}
    assert [row["rank"] for row in rows] == [1, 2, 2, 4, 4]


def test_a_replacement_keeps_the_panel_minimum_the_leaving_reviewer_met(aw, runtime) -> None:
    c = aw.cycle(
        aw.programme(), reviewers_per_nomination=2, max_load=1, min_per_panel={"female": 1}
    )
    topic = [f"topic{aw.token}"]
    n = aw.eligible(c, aw.nominee(research_fields=topic, discipline_codes=["520"]))
    woman, man = aw.expert(gender="female"), aw.expert(gender="male")
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/assignments",
        json={"pool_person_ids": [str(woman.id), str(man.id)]},
        headers=aw.committee,
    )
    assert r.status_code == 200, r.text
    # Free experts: a man of the nominee's discipline fits better than a woman of another.
    aw.expert(gender="male", discipline_codes=["520"])
    spare_woman = aw.expert(gender="female", discipline_codes=["130"])
    aw.drain()
    h = aw.reviewer(woman)
    seat = own(aw, h)[0]["id"]
    r = aw.client.post(f"{API}/assignments/{seat}/conflict", json={"reason": "亲属"}, headers=h)
    assert r.status_code == 200, r.text
    assert r.json()["replacement"] == "assigned"
    with runtime.sessions() as session:
        seated = set(
            session.scalars(
                select(Assignment.reviewer_person_id).where(
                    Assignment.nomination_id == n["id"], Assignment.status == "assigned"
                )
            )
        )
    assert seated == {man.id, spare_woman.id}


def test_no_one_is_seated_in_a_vacated_seat_after_the_review_deadline(aw, monkeypatch) -> None:
    deadline = clock.today()
    c, noms, experts, headers = reviewed_cycle(
        aw, n_nominations=1, k=1, review_due=deadline.isoformat(),
        review_deadline=deadline.isoformat(),
    )  # fmt: skip
    spare = aw.expert()  # free, same field: would be seated before the deadline
    aw.drain()
    h = headers[experts[0].id]
    a = own(aw, h)[0]["id"]
    stop_clock_at(monkeypatch, after_beijing_day(deadline))
    r = aw.client.post(f"{API}/assignments/{a}/conflict", json={"reason": "同事"}, headers=h)
    assert r.status_code == 200, r.text
    # They could never score: seating them would only record a missed review against them.
    assert r.json()["replacement"] == "none_available"
    assert own(aw, aw.reviewer(spare)) == []
    closed = aw.client.post(f"{API}/cycles/{c['id']}/close-review", headers=aw.committee)
    assert closed.json()["missed"] == 0
    record = aw.client.get(f"{API}/reviewers/{spare.id}/record", headers=aw.committee).json()
    assert record["counts"] == {}
    del noms


def test_reviews_of_a_withdrawn_nomination_are_not_judged_outliers(aw) -> None:
    c, noms, experts, headers = reviewed_cycle(aw, n_nominations=1, k=4)
    for e, v in zip(experts, [9, 9, 9, 1], strict=True):
        a = own(aw, headers[e.id])[0]["id"]
        assert score(aw, headers[e.id], a, innovation=v, impact=v).status_code == 200
    w = aw.client.post(
        f"{API}/nominations/{noms[0]['id']}/withdraw", json={"reason": "撤回"}, headers=aw.staff_a
    )
    assert w.status_code == 200, w.text
    closed = aw.client.post(f"{API}/cycles/{c['id']}/close-review", headers=aw.committee)
    assert closed.json() == {"missed": 0, "scored": 0, "outliers": 0}
    record = aw.client.get(f"{API}/reviewers/{experts[3].id}/record", headers=aw.committee).json()
    assert record["counts"] == {"on_time": 1}


def test_of_three_reviewers_only_the_one_apart_is_an_outlier(aw) -> None:
    c, _, experts, headers = reviewed_cycle(aw, n_nominations=1, k=3)
    for e, v in zip(experts, [9, 9, 1], strict=True):
        a = own(aw, headers[e.id])[0]["id"]
        assert score(aw, headers[e.id], a, innovation=v, impact=v).status_code == 200
    closed = aw.client.post(f"{API}/cycles/{c['id']}/close-review", headers=aw.committee)
    assert closed.json()["outliers"] == 1
    counts = [
        aw.client.get(f"{API}/reviewers/{e.id}/record", headers=aw.committee).json()["counts"]
        for e in experts
    ]
    assert counts == [{"on_time": 1}, {"on_time": 1}, {"on_time": 1, "outlier_scores": 1}]


def test_panels_are_not_assigned_after_the_review_deadline(aw, monkeypatch) -> None:
    deadline = clock.today() + timedelta(days=1)
    c = aw.cycle(
        aw.programme(), reviewers_per_nomination=1, max_load=1,
        review_due=deadline.isoformat(), review_deadline=deadline.isoformat(),
    )  # fmt: skip
    aw.eligible(c, aw.nominee(research_fields=[f"topic{aw.token}"]))
    expert = aw.expert()
    stop_clock_at(monkeypatch, after_beijing_day(deadline))  # midnight in Beijing
    r = aw.client.post(
        f"{API}/cycles/{c['id']}/assignments",
        json={"pool_person_ids": [str(expert.id)]},
        headers=aw.committee,
    )
    # Whoever was seated could never score, and closing would record it as missed.
    assert problem(r, 409)["type"].endswith("/review-deadline")
    assert own(aw, aw.reviewer(expert)) == []


def test_a_reviewers_own_list_costs_the_same_statements_for_one_assignment_or_many(aw) -> None:
    _, _, few_experts, few_headers = reviewed_cycle(aw, n_nominations=1, k=1)
    _, _, many_experts, many_headers = reviewed_cycle(aw, n_nominations=4, k=1)

    def mine(headers: dict[str, str]) -> tuple[int, list[dict]]:
        with statements(aw.runtime) as seen:
            listed = own(aw, headers)
        return len(seen), listed

    one, few = mine(few_headers[few_experts[0].id])
    four, many = mine(many_headers[many_experts[0].id])
    assert (len(few), len(many)) == (1, 4)
    assert one == four
    assert {a["nomination_no"] for a in many} == {
        a["nomination_no"] for a in own(aw, many_headers[many_experts[0].id])
    }
    assert all(a["programme_name"] == "测试奖" and a["year"] == 2025 for a in many)
