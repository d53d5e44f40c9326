"""Governance rules: bodies per organisation and term, seats within the body's size and the
positions its kind has, and the composition report the plans ask for."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history, normalize
from ..core.clock import age_on
from ..core.errors import Conflict, InvalidField, NotFound, ProblemError, register_unique
from ..orgs import service as org_service
from ..orgs.models import Organisation
from ..people import service as people_service
from ..people.models import Person, PersonStatus
from .models import POSITIONS, SINGLE_HOLDER, BodyKind, BodySeat, GovernanceBody
from .schemas import (
    BodyCreate,
    BodyRead,
    BodyUpdate,
    CompositionRead,
    SeatCreate,
    SeatRead,
    SeatUpdate,
    Share,
)

register_unique(
    "uq_governance_body_org_id_kind_term_no",
    "term_no",
    "the organisation has this body for this term already",
)
register_unique("uq_body_seat_body_id_person_id", "person_id", "the person has a seat already")

# Talent tags (as typed on profiles, compared folded and in lower case) that place a person in
# each group of 「科技领军人才、青年科技骨干和基层一线科技工作者」.
TAGS = {
    "grassroots": ("grassroots", "基层一线", "基层一线科技工作者"),
    "leading_talent": ("leading_talent", "科技领军人才", "领军人才"),
    "young_backbone": ("young_backbone", "青年科技骨干"),
}
FOREIGN_OR_HMT = ("hong_kong", "macao", "taiwan", "foreign")
DEFAULT_TARGET = 2 / 3


def _taken(body_id: uuid.UUID, today: date) -> tuple[ColumnElement[bool], ...]:
    """The body's seats that take a place from `today` on, over BodySeat joined with Person."""
    return (BodySeat.body_id == body_id, *_taking(today))


def _taking(today: date) -> tuple[ColumnElement[bool], ...]:
    """Seats that take a place from `today` on: not ended before today (an end date is the last
    day held), and not of a person who has died (whose seat nobody may have ended yet). A seat
    that starts later takes its place already, so that the body never holds more people than
    its seats on any day."""
    return (
        or_(BodySeat.ended_on.is_(None), BodySeat.ended_on >= today),
        Person.status != PersonStatus.deceased,
    )


def _held(body_id: uuid.UUID, today: date) -> tuple[ColumnElement[bool], ...]:
    """The body's seats held on `today`."""
    return (BodySeat.body_id == body_id, *_holding(today))


def _holding(today: date) -> tuple[ColumnElement[bool], ...]:
    """Seats held on `today`: taken, and started (as the conflict rules read seats)."""
    return (
        *_taking(today),
        or_(BodySeat.started_on.is_(None), BodySeat.started_on <= today),
    )


def _count(session: Session, conditions: tuple[ColumnElement[bool], ...]) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(BodySeat)
            .join(Person, Person.id == BodySeat.person_id)
            .where(*conditions)
        )
        or 0
    )


def _filled(session: Session, body_id: uuid.UUID, today: date) -> int:
    return _count(session, _held(body_id, today))


def _filled_by_body(
    session: Session, body_ids: list[uuid.UUID], today: date
) -> dict[uuid.UUID, int]:
    """`_filled` of each body, in one statement."""
    if not body_ids:
        return {}
    rows = session.execute(
        select(BodySeat.body_id, func.count())
        .join(Person, Person.id == BodySeat.person_id)
        .where(BodySeat.body_id.in_(body_ids), *_holding(today))
        .group_by(BodySeat.body_id)
    ).all()
    return {body_id: int(count) for body_id, count in rows}


def _check_room(session: Session, body: GovernanceBody, today: date) -> None:
    """Room for one more seat (the caller holds the body's lock)."""
    if _count(session, _taken(body.id, today)) >= body.seats:
        raise ProblemError(f"all {body.seats} seats of this body are held", 409, "body-full")


def _check_position_free(
    session: Session,
    body: GovernanceBody,
    position: str,
    today: date,
    seat_id: uuid.UUID | None = None,
) -> None:
    """A position one person holds at a time must not be taken by another seat (the caller
    holds the body's lock, so two requests cannot both take it)."""
    if position not in SINGLE_HOLDER:
        return
    query = (
        select(BodySeat.id)
        .join(Person, Person.id == BodySeat.person_id)
        .where(*_taken(body.id, today), BodySeat.position == position)
    )
    if seat_id is not None:
        query = query.where(BodySeat.id != seat_id)
    if session.scalar(query.limit(1)):
        raise Conflict(f"the body's {position} seat is held; end that seat first", "position")


def _check_in_term(started_on: date, term_start: date, term_end: date | None) -> None:
    if started_on < term_start:
        raise InvalidField("started_on", "must not be before the term's start")
    if term_end is not None and started_on > term_end:
        raise InvalidField("started_on", "must not be after the term's end")


def to_read(
    session: Session,
    body: GovernanceBody,
    org_code: str,
    today: date,
    filled: int | None = None,
) -> BodyRead:
    """`filled` when already counted (a list counts its bodies' seats at once)."""
    return BodyRead(
        id=body.id,
        org_code=org_code,
        kind=body.kind,
        term_no=body.term_no,
        name=body.name,
        term_start=body.term_start,
        term_end=body.term_end,
        seats=body.seats,
        filled=_filled(session, body.id, today) if filled is None else filled,
        created_at=body.created_at,
        updated_at=body.updated_at,
    )


def _check_not_exited(org: Organisation, what: str = "no new body or seat") -> None:
    """A society that has left the federation elects no one; its seats may still be ended."""
    org_service.refuse_closed(org, f"{org.code} has exited: {what}", org_service.EXITED)


def create(
    session: Session, *, principal: Principal, org_code: str, data: BodyCreate, today: date
) -> BodyRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.governance_write
    )
    _check_not_exited(org)
    if data.term_end and data.term_end < data.term_start:
        raise InvalidField("term_end", "must not be before term_start")
    if session.scalar(
        select(GovernanceBody.id).where(
            GovernanceBody.org_id == org.id,
            GovernanceBody.kind == data.kind,
            GovernanceBody.term_no == data.term_no,
        )
    ):
        raise Conflict("the organisation has this body for this term already", "term_no")
    body = GovernanceBody(org_id=org.id, **data.model_dump())
    session.add(body)
    session.flush()
    history.record(
        session,
        entity="governance_body",
        entity_id=body.id,
        changes=[("created", None, f"{body.kind} {body.term_no}")],
        actor=history.actor_of(principal),
        source="api",
    )
    return to_read(session, body, org.code, today)


def get_scoped(
    session: Session, *, principal: Principal, body_id: uuid.UUID, permission: Permission
) -> tuple[GovernanceBody, Organisation]:
    row = session.execute(
        select(GovernanceBody, Organisation)
        .join(Organisation, Organisation.id == GovernanceBody.org_id)
        .where(GovernanceBody.id == body_id, principal.path_filter(permission, Organisation.path))
    ).first()
    if row is None:
        raise NotFound("governance body")
    return row[0], row[1]


def list_for_org(
    session: Session, *, principal: Principal, org_code: str, today: date
) -> list[BodyRead]:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.governance_read
    )
    bodies = list(
        session.scalars(
            select(GovernanceBody)
            .where(GovernanceBody.org_id == org.id)
            .order_by(GovernanceBody.kind, GovernanceBody.term_no.desc())
        )
    )
    filled = _filled_by_body(session, [b.id for b in bodies], today)
    return [to_read(session, b, org.code, today, filled.get(b.id, 0)) for b in bodies]


def update(
    session: Session, *, principal: Principal, body_id: uuid.UUID, data: BodyUpdate, today: date
) -> BodyRead:
    body, org = get_scoped(
        session, principal=principal, body_id=body_id, permission=Permission.governance_write
    )
    session.refresh(body, with_for_update=True)
    values: dict[str, Any] = data.model_dump(exclude_unset=True)
    for name in ("term_start", "seats"):
        if name in values and values[name] is None:
            raise InvalidField(name, "cannot be cleared")
    start = values.get("term_start", body.term_start)
    end = values.get("term_end", body.term_end)
    if end and end < start:
        raise InvalidField("term_end", "must not be before term_start")
    if "seats" in values and values["seats"] < _count(session, _taken(body.id, today)):
        raise InvalidField("seats", "fewer than the seats held now; end some seats first")
    # Seats that start with the term (the default) move with its start; any other seat must
    # still start within the term.
    following = [] if start == body.term_start else _seats_starting(session, body)
    first, last = session.execute(
        select(func.min(BodySeat.started_on), func.max(BodySeat.started_on)).where(
            BodySeat.body_id == body.id, BodySeat.id.not_in([s.id for s in following])
        )
    ).one()
    starts = [d for d in (first, last) if d is not None] + ([start] if following else [])
    if starts and start > min(starts):
        raise InvalidField("term_start", "a seat starts before it")
    if any(seat.ended_on is not None and seat.ended_on < start for seat in following):
        raise InvalidField("term_start", "a seat that starts with the term ends before it")
    if starts and end is not None and end < max(starts):
        raise InvalidField("term_end", "a seat starts after it")
    actor = history.actor_of(principal)
    for seat in following:
        changes = history.assign(seat, {"started_on": start})
        history.save_changes(
            session, seat, entity="body_seat", changes=changes, actor=actor, source="api"
        )
    history.save_changes(
        session,
        body,
        entity="governance_body",
        changes=history.assign(body, values),
        actor=actor,
        source="api",
    )
    return to_read(session, body, org.code, today)


def _seats_starting(session: Session, body: GovernanceBody) -> list[BodySeat]:
    """The body's seats that start on its term's start, locked."""
    return list(
        session.scalars(
            select(BodySeat)
            .where(BodySeat.body_id == body.id, BodySeat.started_on == body.term_start)
            .with_for_update()
        )
    )


def _seat_read(seat: BodySeat, person_name: str) -> SeatRead:
    return SeatRead(
        id=seat.id,
        body_id=seat.body_id,
        person_id=seat.person_id,
        person_name=person_name,
        position=seat.position,
        started_on=seat.started_on,
        ended_on=seat.ended_on,
    )


def add_seat(
    session: Session, *, principal: Principal, body_id: uuid.UUID, data: SeatCreate, today: date
) -> SeatRead:
    body, org = get_scoped(
        session, principal=principal, body_id=body_id, permission=Permission.governance_write
    )
    _check_not_exited(org)
    session.refresh(body, with_for_update=True)  # seats are counted under the body's lock
    if data.position not in POSITIONS[BodyKind(body.kind)]:
        raise InvalidField("position", f"a {body.kind} has no {data.position}")
    try:
        person = people_service.get_visible(
            session,
            principal=principal,
            person_id=data.person_id,
            permission=Permission.governance_write,
        )
    except NotFound:
        raise InvalidField("person_id", "no person with this id in your scope") from None
    if person.status == PersonStatus.deceased:
        raise InvalidField("person_id", "the person has died")
    if session.scalar(
        select(BodySeat.id).where(BodySeat.body_id == body.id, BodySeat.person_id == person.id)
    ):
        raise Conflict("the person has a seat in this body already", "person_id")
    started_on = data.started_on or body.term_start
    _check_in_term(started_on, body.term_start, body.term_end)
    _check_position_free(session, body, data.position, today)
    _check_room(session, body, today)
    seat = BodySeat(
        body_id=body.id, person_id=person.id, position=data.position, started_on=started_on
    )
    session.add(seat)
    session.flush()
    history.record(
        session,
        entity="body_seat",
        entity_id=seat.id,
        changes=[("created", None, f"{person.name} {seat.position}")],
        actor=history.actor_of(principal),
        source="api",
    )
    return _seat_read(seat, person.name)


def list_seats(session: Session, *, principal: Principal, body_id: uuid.UUID) -> list[SeatRead]:
    body, _org = get_scoped(
        session, principal=principal, body_id=body_id, permission=Permission.governance_read
    )
    rows = session.execute(
        select(BodySeat, Person.name)
        .join(Person, Person.id == BodySeat.person_id)
        .where(BodySeat.body_id == body.id)
        .order_by(BodySeat.position, Person.name)
    ).all()
    return [_seat_read(seat, name) for seat, name in rows]


def update_seat(
    session: Session, *, principal: Principal, seat_id: uuid.UUID, data: SeatUpdate, today: date
) -> SeatRead:
    row = session.execute(
        select(BodySeat, GovernanceBody, Person.name, Person.status, Organisation)
        .join(GovernanceBody, GovernanceBody.id == BodySeat.body_id)
        .join(Organisation, Organisation.id == GovernanceBody.org_id)
        .join(Person, Person.id == BodySeat.person_id)
        .where(
            BodySeat.id == seat_id,
            principal.path_filter(Permission.governance_write, Organisation.path),
        )
    ).first()
    if row is None:
        raise NotFound("seat")
    seat, body, name, person_status, org = row
    values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"reason"})
    if "position" in values and values["position"] is None:
        raise InvalidField("position", "cannot be cleared")
    # Counted under the body's lock, as added.
    session.refresh(body, with_for_update=True)
    session.refresh(seat, with_for_update=True)

    def taken(ended_on: date | None) -> bool:
        return ended_on is None or ended_on >= today

    ended_on = values.get("ended_on", seat.ended_on)
    position = values.get("position", seat.position)
    # Ending a seat later than before (or not at all) may give it its place back.
    retaken = taken(ended_on) and not taken(seat.ended_on)
    # A seat given back or a position filled anew is an election.
    elected = retaken or (taken(ended_on) and position != seat.position)
    if elected:
        # An exited society holds none (ending its seats stays possible).
        _check_not_exited(org, "no seat is reopened or given another position")
    if retaken and person_status == PersonStatus.deceased:
        raise InvalidField("ended_on", "the person has died")
    if retaken:
        _check_room(session, body, today)
    if position not in POSITIONS[BodyKind(body.kind)]:
        raise InvalidField("position", f"a {body.kind} has no {position}")
    if elected:
        _check_position_free(session, body, position, today, seat.id)
    if ended_on and seat.started_on and ended_on < seat.started_on:
        raise InvalidField("ended_on", "must not be before started_on")
    history.save_changes(
        session,
        seat,
        entity="body_seat",
        changes=history.assign(seat, values),
        actor=history.actor_of(principal),
        source="api",
        reason=data.reason,
    )
    return _seat_read(seat, name)


def _tagged(tags: list[str], group: str) -> bool:
    wanted = {normalize.label_key(t) for t in TAGS[group]}
    return any(normalize.label_key(t) in wanted for t in tags)


def composition(
    session: Session,
    *,
    principal: Principal,
    body_id: uuid.UUID,
    today: date,
    young_age: int = 45,
    target: float = DEFAULT_TARGET,
) -> CompositionRead:
    """Shares among the seats held now (not ended): women, young (age on the term's start at
    most `young_age`), grassroots, leading talent, young backbone (young by age, or tagged),
    foreign and HK/Macao/Taiwan, and the target group (any of the three) against `target`."""
    body, org = get_scoped(
        session, principal=principal, body_id=body_id, permission=Permission.governance_read
    )
    rows = session.execute(
        select(BodySeat.position, Person.gender, Person.birth_date, Person.talent_tags,
               Person.region_of_origin)
        .join(Person, Person.id == BodySeat.person_id)
        .where(*_held(body.id, today))
    ).all()  # fmt: skip
    held = len(rows)
    counts = dict.fromkeys(
        ("women", "young", "grassroots", "leading_talent", "young_backbone", "foreign", "target"),
        0,
    )
    unknown_birth = 0
    by_position: dict[str, int] = {}
    for position, gender, birth, tags, origin in rows:
        by_position[position] = by_position.get(position, 0) + 1
        young = birth is not None and age_on(birth, body.term_start) <= young_age
        unknown_birth += birth is None
        grassroots = _tagged(tags, "grassroots")
        leading = _tagged(tags, "leading_talent")
        backbone = young or _tagged(tags, "young_backbone")
        counts["women"] += gender == "female"
        counts["young"] += young
        counts["grassroots"] += grassroots
        counts["leading_talent"] += leading
        counts["young_backbone"] += backbone
        counts["foreign"] += origin in FOREIGN_OR_HMT
        counts["target"] += leading or backbone or grassroots

    def share(n: int) -> Share:
        return Share(count=n, share=round(n / held, 4) if held else 0.0)

    return CompositionRead(
        body_id=body.id,
        org_code=org.code,
        kind=body.kind,
        term_no=body.term_no,
        term_start=body.term_start,
        seats=body.seats,
        held=held,
        by_position=dict(sorted(by_position.items())),
        women=share(counts["women"]),
        young=share(counts["young"]),
        birth_date_unknown=unknown_birth,
        grassroots=share(counts["grassroots"]),
        leading_talent=share(counts["leading_talent"]),
        young_backbone=share(counts["young_backbone"]),
        foreign_or_hk_macao_taiwan=share(counts["foreign"]),
        target_group=share(counts["target"]),
        target_share=round(target, 4),
        # Compared exactly, not by the rounded share: 6 of 9 meets two thirds.
        meets_target=held > 0 and counts["target"] >= target * held - 1e-9,
        young_age=young_age,
        rules={group: list(tags) for group, tags in TAGS.items()},
    )
