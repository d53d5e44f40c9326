"""Writing audit events, inside the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ..auth.principals import Principal
from .models import AuditEvent


def record(
    session: Session,
    *,
    principal: Principal | None,
    action: str,
    object_type: str | None = None,
    object_id: object | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEvent(
            actor_id=principal.account_id if principal else None,
            actor=principal.username if principal else "anonymous",
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            detail=detail or {},
        )
    )
