"""HTTP: organisations, addressed by their stable code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from ..auth.permissions import Permission
from ..core import history
from ..core.deps import SessionDep, authorize
from ..core.pagination import Page, PageDep, page_of
from . import service
from .models import OrgKind, OrgStatus
from .schemas import ChangeRead, OrgCreate, OrgRead, OrgUpdate

router = APIRouter(prefix="/api/v1/orgs", tags=["orgs"])


@router.post("", response_model=OrgRead, status_code=status.HTTP_201_CREATED)
def create_org(
    session: SessionDep, principal: authorize(Permission.orgs_write), body: OrgCreate
) -> OrgRead:
    """Register an organisation (platform administrators)."""
    return service.create(session, principal=principal, data=body)


@router.get("", response_model=Page[OrgRead])
def list_orgs(
    session: SessionDep,
    principal: authorize(Permission.orgs_read),
    page: PageDep,
    kind: OrgKind | None = None,
    status: OrgStatus | None = None,
    parent_code: Annotated[str | None, Query(max_length=32)] = None,
    q: Annotated[str | None, Query(max_length=100, description="part of the name or code")] = None,
) -> Page[OrgRead]:
    """Organisations in the caller's scope, oldest first."""
    rows = service.list_orgs(
        session,
        principal=principal,
        after=page.after_uuid(),
        limit=page.limit,
        kind=kind,
        status=status,
        parent_code=parent_code,
        q=q,
    )
    return page_of(rows, page.limit, key=lambda r: r[0].id, render=lambda r: service.to_read(*r))


@router.get("/{code}", response_model=OrgRead)
def get_org(session: SessionDep, principal: authorize(Permission.orgs_read), code: str) -> OrgRead:
    """One organisation in the caller's scope."""
    return service.read(session, principal=principal, code=code)


@router.patch("/{code}", response_model=OrgRead)
def update_org(
    session: SessionDep, principal: authorize(Permission.orgs_write), code: str, body: OrgUpdate
) -> OrgRead:
    """Change an organisation; a status change (probation, suspended, exited) needs a reason."""
    return service.update_org(session, principal=principal, code=code, data=body)


@router.get("/{code}/history", response_model=Page[ChangeRead])
def org_history(
    session: SessionDep, principal: authorize(Permission.orgs_read), code: str, page: PageDep
) -> Page[ChangeRead]:
    """Every change to the organisation, with status reasons."""
    org = service.get_scoped(
        session, principal=principal, code=code, permission=Permission.orgs_read
    )
    rows = history.list_for(
        session, entity="organisation", entity_id=org.id, after=page.after_int(), limit=page.limit
    )
    return page_of(rows, page.limit, key=lambda r: r.id, render=render_change)


def render_change(row: history.ChangeRecord) -> ChangeRead:
    return ChangeRead(
        field=row.field,
        old_value=row.old_value,
        new_value=row.new_value,
        reason=row.reason,
        actor=row.actor,
        source=row.source,
        changed_at=row.changed_at,
        change_id=str(row.change_id),
    )
