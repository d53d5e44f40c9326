"""HTTP: membership types per society, lifecycle actions on a membership, and its history."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from ..auth.permissions import Permission
from ..core import history
from ..core.clock import TodayDep
from ..core.deps import SessionDep, authorize
from ..core.pagination import Page, PageDep, page_of
from ..orgs.router import render_change
from ..orgs.schemas import ChangeRead
from . import service, types
from .schemas import (
    ActionBody,
    MembershipRead,
    MembershipTypeCreate,
    MembershipTypeRead,
    MembershipTypeUpdate,
    RenewBody,
    TerminateBody,
)

router = APIRouter(prefix="/api/v1", tags=["memberships"])


@router.post(
    "/orgs/{code}/membership-types",
    response_model=MembershipTypeRead,
    status_code=status.HTTP_201_CREATED,
)
def create_membership_type(
    session: SessionDep,
    principal: authorize(Permission.memberships_configure),
    code: str,
    body: MembershipTypeCreate,
) -> MembershipTypeRead:
    """Offer a kind of membership: grade, period, grace, renewal window, approval, number format."""
    return types.create(session, principal=principal, org_code=code, data=body)


@router.get("/orgs/{code}/membership-types", response_model=list[MembershipTypeRead])
def list_membership_types(
    session: SessionDep, principal: authorize(Permission.memberships_read), code: str
) -> list[MembershipTypeRead]:
    """The society's membership types, by code."""
    return types.list_for_org(session, principal=principal, org_code=code)


@router.patch("/orgs/{code}/membership-types/{type_code}", response_model=MembershipTypeRead)
def update_membership_type(
    session: SessionDep,
    principal: authorize(Permission.memberships_configure),
    code: str,
    type_code: str,
    body: MembershipTypeUpdate,
) -> MembershipTypeRead:
    """Change a type's rules; memberships follow them from the next refresh or action."""
    return types.update(session, principal=principal, org_code=code, code=type_code, data=body)


@router.post("/memberships/{membership_id}/renew", response_model=MembershipRead)
def renew_membership(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    membership_id: uuid.UUID,
    body: RenewBody,
    today: TodayDep,
) -> MembershipRead:
    """Extend by one period of the membership's type (or to `until`); 409 when terminated,
    suspended, pending, a life membership or before the renewal window opens."""
    return service.act(
        session,
        principal=principal,
        membership_id=membership_id,
        action="renew",
        body=body,
        today=today,
    )


@router.post("/memberships/{membership_id}/suspend", response_model=MembershipRead)
def suspend_membership(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    membership_id: uuid.UUID,
    body: ActionBody,
    today: TodayDep,
) -> MembershipRead:
    """Suspend (停权) until reinstated; the reason is kept in the history."""
    return service.act(
        session,
        principal=principal,
        membership_id=membership_id,
        action="suspend",
        body=body,
        today=today,
    )


@router.post("/memberships/{membership_id}/terminate", response_model=MembershipRead)
def terminate_membership(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    membership_id: uuid.UUID,
    body: TerminateBody,
    today: TodayDep,
) -> MembershipRead:
    """End the membership: withdrawal (退会), expulsion (除名) or death (去世). Its history,
    number and dates stay; certificates of it verify as revoked."""
    return service.act(
        session,
        principal=principal,
        membership_id=membership_id,
        action="terminate",
        body=body,
        today=today,
    )


@router.post("/memberships/{membership_id}/reinstate", response_model=MembershipRead)
def reinstate_membership(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    membership_id: uuid.UUID,
    body: ActionBody,
    today: TodayDep,
) -> MembershipRead:
    """Lift a suspension, a termination (not by death) or a manual status: the dates decide."""
    return service.act(
        session,
        principal=principal,
        membership_id=membership_id,
        action="reinstate",
        body=body,
        today=today,
    )


@router.get("/memberships/{membership_id}/history", response_model=Page[ChangeRead])
def membership_history(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    membership_id: uuid.UUID,
    page: PageDep,
) -> Page[ChangeRead]:
    """Every change to the membership: field, old and new value, who, why, from where."""
    service.get_scoped(
        session,
        principal=principal,
        membership_id=membership_id,
        permission=Permission.memberships_read,
    )
    rows = history.list_for(
        session,
        entity="membership",
        entity_id=membership_id,
        after=page.after_int(),
        limit=page.limit,
    )
    return page_of(rows, page.limit, key=lambda r: r.id, render=render_change)
