"""HTTP: group members (团体会员), their activity, the society's cap and the ranking report."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from ..auth.permissions import Permission
from ..core import history
from ..core.clock import TodayDep
from ..core.deps import SessionDep, authorize
from ..core.pagination import Page, PageDep, page_of
from ..orgs.router import render_change
from ..orgs.schemas import ChangeRead
from . import groups
from .models import MembershipStatus
from .schemas import (
    GroupActivityCreate,
    GroupActivityRead,
    GroupMemberCreate,
    GroupMemberRead,
    GroupMemberUpdate,
    GroupReport,
    MembershipPolicyRead,
    MembershipPolicyUpdate,
)

router = APIRouter(prefix="/api/v1", tags=["group-members"])


@router.post(
    "/orgs/{code}/group-members",
    response_model=GroupMemberRead,
    status_code=status.HTTP_201_CREATED,
)
def create_group_member(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    code: str,
    body: GroupMemberCreate,
    today: TodayDep,
) -> GroupMemberRead:
    """Admit an institution (keyed by USCC); 409 when the society's cap is reached."""
    return groups.create(session, principal=principal, org_code=code, data=body, today=today)


@router.get("/orgs/{code}/group-members", response_model=Page[GroupMemberRead])
def list_group_members(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    code: str,
    page: PageDep,
    status: MembershipStatus | None = None,
) -> Page[GroupMemberRead]:
    """The society's group members, oldest first."""
    rows, org_code = groups.list_for_org(
        session,
        principal=principal,
        org_code=code,
        status=status,
        after=page.after_uuid(),
        limit=page.limit,
    )
    return page_of(
        rows, page.limit, key=lambda g: g.id, render=lambda g: groups.to_read(g, org_code)
    )


@router.get("/orgs/{code}/group-members/report", response_model=GroupReport)
def group_member_report(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    code: str,
    today: TodayDep,
    bottom: Annotated[int, Query(ge=0, le=1000, description="how many to flag")] = 10,
    months: Annotated[int, Query(ge=1, le=120, description="activity window")] = 24,
) -> GroupReport:
    """Group members in good standing ranked by activity (末位淘汰): the bottom N flagged."""
    return groups.report(
        session, principal=principal, org_code=code, today=today, months=months, bottom=bottom
    )


@router.get("/orgs/{code}/membership-policy", response_model=MembershipPolicyRead)
def get_membership_policy(
    session: SessionDep, principal: authorize(Permission.memberships_read), code: str
) -> MembershipPolicyRead:
    """The society's cap on group members and how many count against it now."""
    return groups.get_policy(session, principal=principal, org_code=code)


@router.put("/orgs/{code}/membership-policy", response_model=MembershipPolicyRead)
def set_membership_policy(
    session: SessionDep,
    principal: authorize(Permission.memberships_configure),
    code: str,
    body: MembershipPolicyUpdate,
) -> MembershipPolicyRead:
    """Set (or with null lift) the cap on group members (总量控制)."""
    return groups.set_policy(session, principal=principal, org_code=code, data=body)


@router.get("/group-members/{group_id}", response_model=GroupMemberRead)
def get_group_member(
    session: SessionDep, principal: authorize(Permission.memberships_read), group_id: uuid.UUID
) -> GroupMemberRead:
    group, org = groups.get_scoped(
        session, principal=principal, group_id=group_id, permission=Permission.memberships_read
    )
    return groups.to_read(group, org.code)


@router.patch("/group-members/{group_id}", response_model=GroupMemberRead)
def update_group_member(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    group_id: uuid.UUID,
    body: GroupMemberUpdate,
    today: TodayDep,
) -> GroupMemberRead:
    """Change grade, seats, contacts or dates; a status change (e.g. ending a group member
    flagged by the report) needs a reason. The status follows the dates unless held by hand
    (pending, suspended, terminated); reactivating one beyond the society's cap is a 409.
    Kept in the history."""
    return groups.update(session, principal=principal, group_id=group_id, data=body, today=today)


@router.get("/group-members/{group_id}/history", response_model=Page[ChangeRead])
def group_member_history(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    group_id: uuid.UUID,
    page: PageDep,
) -> Page[ChangeRead]:
    groups.get_scoped(
        session, principal=principal, group_id=group_id, permission=Permission.memberships_read
    )
    rows = history.list_for(
        session,
        entity="group_membership",
        entity_id=group_id,
        after=page.after_int(),
        limit=page.limit,
    )
    return page_of(rows, page.limit, key=lambda r: r.id, render=render_change)


@router.post(
    "/group-members/{group_id}/activities",
    response_model=GroupActivityRead,
    status_code=status.HTTP_201_CREATED,
)
def record_group_activity(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    group_id: uuid.UUID,
    body: GroupActivityCreate,
) -> GroupActivityRead:
    """Record what the group member did: meeting, event, dues, award, report, other."""
    return groups.record_activity(session, principal=principal, group_id=group_id, data=body)


@router.get("/group-members/{group_id}/activities", response_model=list[GroupActivityRead])
def list_group_activities(
    session: SessionDep, principal: authorize(Permission.memberships_read), group_id: uuid.UUID
) -> list[GroupActivityRead]:
    return groups.list_activities(session, principal=principal, group_id=group_id)
