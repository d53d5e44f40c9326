"""HTTP: applications to join a society, and linking member accounts to profiles."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Response, status

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core.clock import TodayDep
from ..core.deps import RuntimeDep, SessionDep, authorize, require_any
from ..core.pagination import Page, PageDep, page_of
from ..core.problem_docs import problems
from . import applications, identity
from .models import ApplicationStatus
from .schemas import (
    AccountLink,
    AccountLinkRead,
    ApplicationApproval,
    ApplicationCreate,
    ApplicationDecision,
    ApplicationRead,
    ClaimCodeRead,
    ClaimRequest,
)

router = APIRouter(prefix="/api/v1", tags=["applications"])
accounts_router = APIRouter(prefix="/api/v1", tags=["accounts"])


@router.post(
    "/orgs/{code}/applications", response_model=ApplicationRead, status_code=status.HTTP_201_CREATED
)
def apply_to_society(
    session: SessionDep,
    principal: authorize(Permission.self_write),
    code: str,
    body: ApplicationCreate,
    today: TodayDep,
) -> ApplicationRead:
    """A signed-in member whose account is linked to a profile applies to join; approved at
    once when the membership type needs no approval. 409 when already a member, when an
    application waits, or when the society is suspended or exited."""
    return applications.submit(session, principal=principal, org_code=code, data=body, today=today)


@router.get("/orgs/{code}/applications", response_model=Page[ApplicationRead])
def list_applications(
    session: SessionDep,
    principal: authorize(Permission.memberships_read),
    code: str,
    page: PageDep,
    status: ApplicationStatus | None = None,
) -> Page[ApplicationRead]:
    """The society's applications, oldest first; `status=submitted` for those waiting."""
    rows = applications.list_for_org(
        session,
        principal=principal,
        org_code=code,
        status=status,
        after=page.after_uuid(),
        limit=page.limit,
    )
    return page_of(rows, page.limit, key=lambda r: r[0].id, render=applications.to_read)


@router.get("/applications/{application_id}", response_model=ApplicationRead)
def get_application(
    session: SessionDep,
    principal: Annotated[
        Principal, Depends(require_any(Permission.memberships_read, Permission.self_read))
    ],
    application_id: uuid.UUID,
) -> ApplicationRead:
    """One application: for the applicant, or for the society's staff."""
    return applications.get(session, principal=principal, application_id=application_id)


@router.post("/applications/{application_id}/approve", response_model=ApplicationRead)
def approve_application(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    application_id: uuid.UUID,
    body: ApplicationApproval,
    today: TodayDep,
) -> ApplicationRead:
    """Admit the applicant from today: the membership is created (or a terminated one
    re-opened) with the next member number; 409 when already decided."""
    return applications.approve(
        session, principal=principal, application_id=application_id, data=body, today=today
    )


@router.post("/applications/{application_id}/reject", response_model=ApplicationRead)
def reject_application(
    session: SessionDep,
    principal: authorize(Permission.memberships_write),
    application_id: uuid.UUID,
    body: ApplicationDecision,
) -> ApplicationRead:
    """Refuse with a reason the applicant sees; 409 when already decided."""
    return applications.reject(
        session, principal=principal, application_id=application_id, data=body
    )


@router.post("/applications/{application_id}/withdraw", response_model=ApplicationRead)
def withdraw_application(
    session: SessionDep, principal: authorize(Permission.self_write), application_id: uuid.UUID
) -> ApplicationRead:
    """The applicant takes a waiting application back."""
    return applications.withdraw(session, principal=principal, application_id=application_id)


@router.get("/me/applications", response_model=list[ApplicationRead])
def my_applications(
    session: SessionDep, principal: authorize(Permission.self_read)
) -> list[ApplicationRead]:
    """The caller's applications to any society and their outcome, newest first."""
    return applications.list_mine(session, principal=principal)


@accounts_router.put("/people/{person_id}/account", response_model=AccountLinkRead)
def link_account(
    session: SessionDep,
    principal: authorize(Permission.accounts_link),
    person_id: uuid.UUID,
    body: AccountLink,
) -> AccountLinkRead:
    """Link a member's sign-in account to this profile (society administrators: member
    accounts only; the platform administrator: any). Audited."""
    return identity.link(session, principal=principal, person_id=person_id, username=body.username)


@accounts_router.delete("/people/{person_id}/account", response_model=AccountLinkRead)
def unlink_account(
    session: SessionDep, principal: authorize(Permission.accounts_link), person_id: uuid.UUID
) -> AccountLinkRead:
    """Detach whatever account is linked to this profile. Audited."""
    return identity.unlink(session, principal=principal, person_id=person_id)


@accounts_router.post(
    "/people/{person_id}/claim-codes",
    response_model=ClaimCodeRead,
    status_code=status.HTTP_201_CREATED,
)
def issue_claim_code(
    session: SessionDep, principal: authorize(Permission.accounts_link), person_id: uuid.UUID
) -> ClaimCodeRead:
    """A one-time code (shown once, valid 14 days) for the member to claim this profile with
    their document number; older codes stop working."""
    return identity.issue_claim_code(
        session, principal=principal, person_id=person_id, now=datetime.now(UTC)
    )


@accounts_router.post("/me/claim", status_code=status.HTTP_204_NO_CONTENT, responses=problems(429))
def claim_profile(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.self_write),
    body: ClaimRequest,
) -> Response:
    """Link the caller's account to their profile with the society's claim code and their
    document number; 422 when they do not match, 429 after repeated failures."""
    identity.claim(
        session,
        principal=principal,
        sessions=runtime.sessions,
        pii=runtime.pii,
        data=body,
        now=datetime.now(UTC),
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
