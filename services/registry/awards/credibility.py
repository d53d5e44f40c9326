"""Reviewer credibility records (评审专家信誉记录): events and the score derived from them."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Collection, Iterable
from datetime import date
from itertools import groupby
from operator import itemgetter

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.principals import Principal
from ..core import history
from ..core.errors import InvalidField, NotFound
from ..people.models import Person
from . import service
from .models import ConflictSide, DeclaredConflict, EventKind, ReviewerEvent
from .schemas import CredibilityRecord, EventCreate, EventRead

# Everyone starts at BASE; each event in turn moves the score by its delta, within 0..100.
BASE = 80
DELTAS: dict[EventKind, int] = {
    EventKind.on_time: 2,
    EventKind.late: -5,
    EventKind.missed: -15,
    EventKind.declared_conflict: 1,  # declaring is what we want reviewers to do
    EventKind.undeclared_conflict: -20,
    EventKind.outlier_scores: -5,
    EventKind.misconduct: -50,
}
# Below this a reviewer is neither suggested nor assigned (the reason says so).
THRESHOLD = 40


def score_after(deltas: Iterable[int]) -> int:
    """The score after each event in turn, kept within 0..100 at every step: credit above 100
    is not banked against later penalties, nor is a debt below 0 carried."""
    score = BASE
    for delta in deltas:
        score = max(0, min(100, score + delta))
    return score


def record(
    session: Session,
    *,
    reviewer_person_id: uuid.UUID,
    kind: EventKind,
    recorded_by: str,
    cycle_id: uuid.UUID | None = None,
    nomination_id: uuid.UUID | None = None,
    assignment_id: uuid.UUID | None = None,
    note: str | None = None,
) -> ReviewerEvent:
    event = ReviewerEvent(
        reviewer_person_id=reviewer_person_id,
        kind=kind,
        delta=DELTAS[kind],
        cycle_id=cycle_id,
        nomination_id=nomination_id,
        assignment_id=assignment_id,
        note=note,
        recorded_by=recorded_by,
    )
    session.add(event)
    session.flush()
    return event


def scores(session: Session, person_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Credibility of each person (BASE for those without events)."""
    ids = list(set(person_ids))
    out = dict.fromkeys(ids, BASE)
    for start in range(0, len(ids), 10_000):
        chunk = ids[start : start + 10_000]
        rows = session.execute(
            select(ReviewerEvent.reviewer_person_id, ReviewerEvent.delta)
            .where(ReviewerEvent.reviewer_person_id.in_(chunk))
            .order_by(ReviewerEvent.reviewer_person_id, ReviewerEvent.created_at, ReviewerEvent.id)
        ).all()
        for person_id, events in groupby(rows, key=itemgetter(0)):
            out[person_id] = score_after(delta for _, delta in events)
    return out


def factor(score: int) -> float:
    """What affinity is multiplied by in suggestions and assignment."""
    return score / 100


def read(session: Session, person_id: uuid.UUID) -> CredibilityRecord:
    person = session.get(Person, person_id)
    if person is None:
        raise NotFound("reviewer")
    events = list(
        session.scalars(
            select(ReviewerEvent)
            .where(ReviewerEvent.reviewer_person_id == person_id)
            .order_by(ReviewerEvent.created_at, ReviewerEvent.id)
        )
    )
    return CredibilityRecord(
        person_id=person.id,
        name=person.name,
        score=score_after(e.delta for e in events),
        counts=dict(Counter(e.kind for e in events)),
        events=[
            EventRead(
                kind=e.kind,
                delta=e.delta,
                cycle_id=e.cycle_id,
                nomination_id=e.nomination_id,
                note=e.note,
                recorded_by=e.recorded_by,
                created_at=e.created_at,
            )
            for e in events
        ],
    )


def add_event(
    session: Session,
    *,
    principal: Principal,
    person_id: uuid.UUID,
    data: EventCreate,
    today: date,
) -> EventRead:
    """A committee's entry; an undeclared conflict on a nomination also becomes a declared one,
    so the pair is never matched again. The nomination is one of the committee's own."""
    if session.get(Person, person_id) is None:
        raise NotFound("reviewer")
    actor = history.actor_of(principal)
    nomination = None
    if data.nomination_id is not None:
        try:
            nomination, _ = service.committee_nomination(session, principal, data.nomination_id)
        except NotFound:
            raise InvalidField(
                "nomination_id", "no nomination with this id in your scope"
            ) from None
    if (
        data.kind == EventKind.undeclared_conflict
        and nomination is not None
        and nomination.nominee_person_id != person_id
    ):
        session.add(
            DeclaredConflict(
                reviewer_person_id=person_id,
                nominee_person_id=nomination.nominee_person_id,
                nomination_id=nomination.id,
                side=ConflictSide.committee,
                reason=data.note or "undeclared conflict found by the committee",
                declared_on=today,
                declared_by=actor,
            )
        )
    event = record(
        session,
        reviewer_person_id=person_id,
        kind=data.kind,
        recorded_by=actor,
        cycle_id=nomination.cycle_id if nomination else None,
        nomination_id=nomination.id if nomination else None,
        note=data.note,
    )
    return EventRead(
        kind=event.kind,
        delta=event.delta,
        cycle_id=event.cycle_id,
        nomination_id=event.nomination_id,
        note=event.note,
        recorded_by=event.recorded_by,
        created_at=event.created_at,
    )
