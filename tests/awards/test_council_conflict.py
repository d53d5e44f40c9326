"""Council seats held together are a conflict of interest; past seats are not."""

from __future__ import annotations

from datetime import date

from services.registry.awards import conflicts
from services.registry.governance.models import BodySeat, GovernanceBody


def _body(runtime, org, **fields):  # type: ignore[no-untyped-def]
    with runtime.sessions.begin() as session:
        body = GovernanceBody(org_id=org.id, kind="council", term_no=1, seats=30, **fields)
        session.add(body)
        session.flush()
        return body


def _seat(runtime, body, person, **fields) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions.begin() as session:
        session.add(BodySeat(body_id=body.id, person_id=person.id, position="member", **fields))


def test_current_seats_on_one_council_conflict_and_past_seats_do_not(runtime, factory) -> None:
    org = factory.org()
    nominee = factory.person(name="理事甲")
    fellow, former, outsider = (factory.person(name=n) for n in ("理事乙", "理事丙", "局外人"))
    council = _body(runtime, org, term_start=date(2024, 1, 1), term_end=date(2028, 12, 31))
    _seat(runtime, council, nominee)
    _seat(runtime, council, fellow)
    _seat(runtime, council, former, ended_on=date(2025, 6, 30))
    subject = conflicts.Subject(
        nomination_id=None, people=(nominee,), channel_org_id=None, today=date(2026, 11, 23)
    )
    with runtime.sessions() as session:
        found = conflicts.find(session, subject, [fellow, former, outsider])
    assert [code for code, _ in found[fellow.id]] == ["same_council"]
    assert "理事甲" in found[fellow.id][0][1]
    assert former.id not in found
    assert outsider.id not in found


def test_a_council_whose_term_has_ended_is_no_conflict(runtime, factory) -> None:
    org = factory.org()
    nominee, fellow = factory.person(name="旧届甲"), factory.person(name="旧届乙")
    council = _body(runtime, org, term_start=date(2018, 1, 1), term_end=date(2022, 12, 31))
    _seat(runtime, council, nominee)
    _seat(runtime, council, fellow)
    subject = conflicts.Subject(
        nomination_id=None, people=(nominee,), channel_org_id=None, today=date(2026, 11, 23)
    )
    with runtime.sessions() as session:
        assert conflicts.find(session, subject, [fellow]) == {}


def test_expert_search_leaves_out_those_seated_now_with_the_person(runtime, factory) -> None:
    from services.search import conflicts as search_conflicts

    org = factory.org()
    nominee = factory.person(name="理事丁")
    fellow, former = factory.person(name="理事戊"), factory.person(name="理事己")
    council = _body(runtime, org, term_start=date(2024, 1, 1), term_end=None)
    _seat(runtime, council, nominee)
    _seat(runtime, council, fellow)
    _seat(runtime, council, former, ended_on=date(2025, 6, 30))
    with runtime.sessions() as session:
        person = session.get(type(nominee), nominee.id)
        excluded = search_conflicts.exclusions_for(session, person).person_ids
    assert fellow.id in excluded
    assert former.id not in excluded
