"""Merging people never moves award records silently: it refuses and says why."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select

from services.registry.awards.models import DeclaredConflict
from services.registry.core.errors import Conflict
from services.registry.people.merge import merge_people
from services.registry.people.models import Person


def test_merging_away_a_person_with_award_records_is_refused_and_changes_nothing(
    runtime, factory
) -> None:
    keep, other, nominee = (factory.person(name=n) for n in ("合并甲", "合并乙", "被提名人"))
    with runtime.sessions.begin() as session:
        session.add(
            DeclaredConflict(
                reviewer_person_id=other.id,
                nominee_person_id=nominee.id,
                side="reviewer",
                reason="合作者",
                declared_on=date(2026, 11, 1),
                declared_by="test",
            )
        )
    with runtime.sessions() as session, pytest.raises(Conflict, match="award"):
        merge_people(session, pii=runtime.pii, keep_id=keep.id, other_id=other.id, actor="test")
    with runtime.sessions() as session:
        assert session.scalar(select(Person.id).where(Person.id == other.id)) == other.id


def test_merging_away_a_team_member_of_a_nomination_is_refused_and_changes_nothing(
    aw, runtime
) -> None:
    cycle = aw.cycle(aw.programme({"teams_allowed": True, "max_team_size": 3}))
    keep, member = aw.nominee(), aw.nominee()
    r = aw.nominate(cycle, aw.nominee(), team_person_ids=[str(member.id)])
    assert r.status_code == 201, r.text
    with runtime.sessions() as session, pytest.raises(Conflict, match="award"):
        merge_people(session, pii=runtime.pii, keep_id=keep.id, other_id=member.id, actor="test")
    with runtime.sessions() as session:
        assert session.scalar(select(Person.id).where(Person.id == member.id)) == member.id
