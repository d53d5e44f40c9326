"""HTTP: an organisation's memberships, one person's memberships, and the member's own view."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core.clock import TodayDep
from ..core.deps import RuntimeDep, SessionDep, authorize, require_any
from ..core.errors import NotFound
from ..core.pagination import Page, PageDep, page_of
from ..orgs.models import Organisation
from ..people import service as people_service
from ..people.models import Person
from . import service
from .models import Grade, MembershipStatus
from .schemas import (
    AccountRead,
    GrantRead,
    MemberNo,
    MembershipCreate,
    MembershipCreated,
    MembershipRead,
    MembershipUpdate,
    MeRead,
    MeUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["memberships"])
me_router = APIRouter(prefix="/api/v1", tags=["me"])


@router.post(
    "/orgs/{code}/memberships",
    response_model=MembershipCreated,
    status_code=status.HTTP_201_CREATED,
)
def create_membership(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.memberships_write),
    code: str,
    body: MembershipCreate,
    today: TodayDep,
) -> MembershipCreated:
    """Add a member: an existing `person_id`, or an inline `person` matched by document number."""
    return service.create(
        session, principal=principal, pii=runtime.pii, org_code=code, data=body, today=today
    )


@router.get("/orgs/{code}/memberships", response_model=Page[MembershipRead])
def list_memberships(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    code: str,
    page: PageDep,
    status: MembershipStatus | None = None,
    grade: Grade | None = None,
    member_no: Annotated[
        MemberNo | None, Query(description="as typed: read as a stored number is")
    ] = None,
    q: Annotated[str | None, Query(max_length=100, description="start of the name")] = None,
) -> Page[MembershipRead]:
    """The organisation's memberships, oldest first."""
    rows = service.list_for_org(
        session,
        principal=principal,
        org_code=code,
        after=page.after_uuid(),
        limit=page.limit,
        status=status,
        grade=grade,
        member_no=member_no,
        q=q,
    )
    return page_of(rows, page.limit, key=lambda r: r[0].id, render=service.to_read)


@router.get("/people/{person_id}/memberships", response_model=list[MembershipRead])
def person_memberships(
    session: SessionDep,
    principal: Annotated[
        Principal, Depends(require_any(Permission.memberships_read, Permission.self_read))
    ],
    person_id: uuid.UUID,
) -> list[MembershipRead]:
    """One person's memberships: all for platform administrators, the caller's scope for staff."""
    rows = service.list_for_person(session, principal=principal, person_id=person_id)
    return [service.to_read(r) for r in rows]


@router.get("/memberships/{membership_id}", response_model=MembershipRead)
def get_membership(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    membership_id: uuid.UUID,
) -> MembershipRead:
    """One membership of an organisation in the caller's scope."""
    return service.to_read(
        service.get_scoped(
            session,
            principal=principal,
            membership_id=membership_id,
            permission=Permission.memberships_read,
        )
    )


@router.patch("/memberships/{membership_id}", response_model=MembershipRead)
def update_membership(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    membership_id: uuid.UUID,
    body: MembershipUpdate,
    today: TodayDep,
) -> MembershipRead:
    """Change type, grade, number or dates, set a status by hand or clear it; every change is
    kept in the history."""
    return service.update(
        session, principal=principal, membership_id=membership_id, data=body, today=today
    )


def _me(session: Session, principal: Principal) -> MeRead:
    grants = [
        GrantRead(
            role=g.role,
            org_code=session.scalar(select(Organisation.code).where(Organisation.id == g.org_id))
            if g.org_id
            else None,
        )
        for g in principal.grants
    ]
    person = session.get(Person, principal.person_id) if principal.person_id else None
    memberships = (
        service.list_for_person(session, principal=principal, person_id=person.id) if person else []
    )
    return MeRead(
        account=AccountRead(username=principal.username, kind=principal.kind, grants=grants),
        person=people_service.to_read(person, contact_visible=True) if person else None,
        memberships=[service.to_read(r) for r in memberships],
    )


@me_router.get("/me", response_model=MeRead)
def get_me(session: SessionDep, principal: authorize(Permission.self_read)) -> MeRead:
    """The caller's own profile and every membership in every society."""
    return _me(session, principal)


@me_router.patch("/me", response_model=MeRead)
def update_me(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.self_write),
    body: MeUpdate,
) -> MeRead:
    """Correct one's own contact data, or opt in or out of the expert pool."""
    if principal.person_id is None:
        raise NotFound("profile linked to this account")
    person = session.get(Person, principal.person_id, with_for_update=True)
    if person is None:
        raise NotFound("profile linked to this account")
    people_service.apply_changes(
        session,
        person=person,
        pii=runtime.pii,
        values=body.model_dump(exclude_unset=True),
        actor=principal.username,
        source="self-service",
    )
    return _me(session, principal)
