"""HTTP: governance bodies and their terms, seats, and the composition report."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from ..auth.permissions import Permission
from ..core.clock import TodayDep
from ..core.deps import SessionDep, authorize
from . import service
from .schemas import (
    BodyCreate,
    BodyRead,
    BodyUpdate,
    CompositionRead,
    SeatCreate,
    SeatRead,
    SeatUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["governance"])


@router.post(
    "/orgs/{code}/governance-bodies", response_model=BodyRead, status_code=status.HTTP_201_CREATED
)
def create_body(
    session: SessionDep,
    principal: authorize(Permission.governance_write),
    code: str,
    body: BodyCreate,
    today: TodayDep,
) -> BodyRead:
    """A term of a body: council (理事会), standing council (常务理事会) or supervisory board
    (监事会), with its number (届), dates and seats."""
    return service.create(session, principal=principal, org_code=code, data=body, today=today)


@router.get("/orgs/{code}/governance-bodies", response_model=list[BodyRead])
def list_bodies(
    session: SessionDep,
    principal: authorize(Permission.governance_read),
    code: str,
    today: TodayDep,
) -> list[BodyRead]:
    """The organisation's bodies, latest term first."""
    return service.list_for_org(session, principal=principal, org_code=code, today=today)


@router.get("/governance-bodies/{body_id}", response_model=BodyRead)
def get_body(
    session: SessionDep,
    principal: authorize(Permission.governance_read),
    body_id: uuid.UUID,
    today: TodayDep,
) -> BodyRead:
    body, org = service.get_scoped(
        session, principal=principal, body_id=body_id, permission=Permission.governance_read
    )
    return service.to_read(session, body, org.code, today)


@router.patch("/governance-bodies/{body_id}", response_model=BodyRead)
def update_body(
    session: SessionDep,
    principal: authorize(Permission.governance_write),
    body_id: uuid.UUID,
    body: BodyUpdate,
    today: TodayDep,
) -> BodyRead:
    return service.update(session, principal=principal, body_id=body_id, data=body, today=today)


@router.post(
    "/governance-bodies/{body_id}/seats",
    response_model=SeatRead,
    status_code=status.HTTP_201_CREATED,
)
def add_seat(
    session: SessionDep,
    principal: authorize(Permission.governance_write),
    body_id: uuid.UUID,
    body: SeatCreate,
    today: TodayDep,
) -> SeatRead:
    """Seat a person with a position the body has, from a day within the term; 409 when every
    seat is held, or the position is one person's (president, secretary-general, chief
    supervisor) and held."""
    return service.add_seat(session, principal=principal, body_id=body_id, data=body, today=today)


@router.get("/governance-bodies/{body_id}/seats", response_model=list[SeatRead])
def list_seats(
    session: SessionDep, principal: authorize(Permission.governance_read), body_id: uuid.UUID
) -> list[SeatRead]:
    return service.list_seats(session, principal=principal, body_id=body_id)


@router.patch("/governance-seats/{seat_id}", response_model=SeatRead)
def update_seat(
    session: SessionDep,
    principal: authorize(Permission.governance_write),
    seat_id: uuid.UUID,
    body: SeatUpdate,
    today: TodayDep,
) -> SeatRead:
    """Change a position, or end the seat (`ended_on`, the last day held); kept in the
    history."""
    return service.update_seat(
        session, principal=principal, seat_id=seat_id, data=body, today=today
    )


@router.get("/governance-bodies/{body_id}/composition", response_model=CompositionRead)
def body_composition(
    session: SessionDep,
    principal: authorize(Permission.governance_read),
    body_id: uuid.UUID,
    today: TodayDep,
    young_age: Annotated[int, Query(ge=18, le=100, description="young: at most this age")] = 45,
    target: Annotated[
        float, Query(gt=0, le=1, description="target share of the target group")
    ] = service.DEFAULT_TARGET,
) -> CompositionRead:
    """Shares of women, young (age on the term's start), grassroots, leading talent, young
    backbone, foreign/HK/Macao/Taiwan members, and of 「科技领军人才、青年科技骨干和基层一线科技
    工作者」 against the target (default two thirds)."""
    return service.composition(
        session,
        principal=principal,
        body_id=body_id,
        today=today,
        young_age=young_age,
        target=target,
    )
