"""Governance rules: bodies per organisation and term, seats within the body's size and the
positions its kind has, and the composition report the plans ask for."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import ColumnElement, func, select
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


def _held(body_id: uuid.UUID) -> tuple[ColumnElement[bool], ...]:
    """The body's seats held now, over BodySeat joined with Person: not ended, and not of a
    person who has died (whose seat nobody may have ended yet)."""
    return (
        BodySeat.body_id == body_id,
        BodySeat.ended_on.is_(None),
        Person.status != PersonStatus.deceased,
    )


def _filled(session: Session, body_id: uuid.UUID) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(BodySeat)
            .join(Person, Person.id == BodySeat.person_id)
            .where(*_held(body_id))
        )
        or 0
    )


def _check_position_free(
    session: Session, body: GovernanceBody, position: str, seat_id: uuid.UUID | None = None
) -> None:
    """A position one person holds at a time must not be held by another seat now (the
    caller holds the body's lock, so two requests cannot both take it)."""
    if position not in SINGLE_HOLDER:
        return
    query = (
        select(BodySeat.id)
        .join(Person, Person.id == BodySeat.person_id)
        .where(*_held(body.id), BodySeat.position == position)
    )
    if seat_id is not None:
        query = query.where(BodySeat.id != seat_id)
    if session.scalar(query.limit(1)):
        raise Conflict(f"the body's {position} seat is held; end that seat first", "position")


def to_read(session: Session, body: GovernanceBody, org_code: str) -> BodyRead:
    return BodyRead(
        id=body.id,
        org_code=org_code,
        kind=body.kind,
        term_no=body.term_no,
        name=body.name,
        term_start=body.term_start,
        term_end=body.term_end,
        seats=body.seats,
        filled=_filled(session, body.id),
        created_at=body.created_at,
        updated_at=body.updated_at,
    )


def create(session: Session, *, principal: Principal, org_code: str, data: BodyCreate) -> BodyRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.governance_write
    )
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
    return to_read(session, body, org.code)


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


def list_for_org(session: Session, *, principal: Principal, org_code: str) -> list[BodyRead]:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.governance_read
    )
    bodies = session.scalars(
        select(GovernanceBody)
        .where(GovernanceBody.org_id == org.id)
        .order_by(GovernanceBody.kind, GovernanceBody.term_no.desc())
    )
    return [to_read(session, b, org.code) for b in bodies]


def update(
    session: Session, *, principal: Principal, body_id: uuid.UUID, data: BodyUpdate
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
    if "seats" in values and values["seats"] < _filled(session, body.id):
        raise InvalidField("seats", "fewer than the seats held now; end some seats first")
    history.save_changes(
        session,
        body,
        entity="governance_body",
        changes=history.assign(body, values),
        actor=history.actor_of(principal),
        source="api",
    )
    return to_read(session, body, org.code)


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
    session: Session, *, principal: Principal, body_id: uuid.UUID, data: SeatCreate
) -> SeatRead:
    body, _org = get_scoped(
        session, principal=principal, body_id=body_id, permission=Permission.governance_write
    )
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
    _check_position_free(session, body, data.position)
    held = _filled(session, body.id)
    if held >= body.seats:
        raise ProblemError(f"all {body.seats} seats of this body are held", 409, "body-full")
    seat = BodySeat(
        body_id=body.id,
        person_id=person.id,
        position=data.position,
        started_on=data.started_on or body.term_start,
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
    session: Session, *, principal: Principal, seat_id: uuid.UUID, data: SeatUpdate
) -> SeatRead:
    row = session.execute(
        select(BodySeat, GovernanceBody, Person.name, Person.status)
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
    seat, body, name, person_status = row
    values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"reason"})
    reopening = "ended_on" in values and values["ended_on"] is None
    if reopening and person_status == PersonStatus.deceased:
        raise InvalidField("ended_on", "the person has died")
    if reopening or "position" in values:
        # Counted under the body's lock, as added.
        session.refresh(body, with_for_update=True)
    session.refresh(seat, with_for_update=True)
    if reopening and seat.ended_on is not None and _filled(session, body.id) >= body.seats:
        raise ProblemError(f"all {body.seats} seats of this body are held", 409, "body-full")
    if "position" in values:
        if values["position"] is None:
            raise InvalidField("position", "cannot be cleared")
        if values["position"] not in POSITIONS[BodyKind(body.kind)]:
            raise InvalidField("position", f"a {body.kind} has no {values['position']}")
    position = values.get("position", seat.position)
    taking = position != seat.position or (reopening and seat.ended_on is not None)
    if taking and values.get("ended_on", seat.ended_on) is None:
        _check_position_free(session, body, position, seat.id)
    if values.get("ended_on") and seat.started_on and values["ended_on"] < seat.started_on:
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
        .where(*_held(body.id))
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
