"""HTTP: the audit log, for the platform operator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from ..auth.permissions import Permission
from ..core.deps import SessionDep, authorize
from ..core.pagination import Page, PageDep, page_of
from . import service
from .models import AuditEvent
from .schemas import AuditEventRead

router = APIRouter(prefix="/api/v1/audit-events", tags=["audit"])


@router.get("", response_model=Page[AuditEventRead])
def list_audit_events(
    session: SessionDep,
    principal: authorize(Permission.audit_read),
    page: PageDep,
    action: Annotated[
        str | None,
        Query(max_length=64, description="an action, or a family of them ending in a dot"),
    ] = None,
    actor: Annotated[str | None, Query(max_length=128, description="account name")] = None,
    object_type: Annotated[str | None, Query(max_length=32)] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    since: Annotated[
        datetime | None, Query(description="from this moment (UTC if no zone)")
    ] = None,
    until: Annotated[datetime | None, Query(description="before this moment")] = None,
) -> Page[AuditEventRead]:
    """Unmasked reads, account links and claims, accounts created, disabled and enabled,
    refresh-token reuse, lockouts: newest first."""
    rows = service.list_events(
        session,
        before=page.after_int(),
        limit=page.limit,
        action=action,
        actor=actor,
        object_type=object_type,
        object_id=object_id,
        since=since,
        until=until,
    )
    return page_of(rows, page.limit, key=lambda r: r.id, render=_read)


def _read(row: AuditEvent) -> AuditEventRead:
    return AuditEventRead.model_validate(row, from_attributes=True)
