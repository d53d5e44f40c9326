"""Writing audit events inside the caller's transaction, and reading them back."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.principals import Principal
from ..core.errors import InvalidField
from .models import AuditEvent


def record(
    session: Session,
    *,
    principal: Principal | None,
    action: str,
    object_type: str | None = None,
    object_id: object | None = None,
    detail: dict[str, Any] | None = None,
    actor: str | None = None,
) -> None:
    """Append one event; `actor` names a caller without a principal (the command line)."""
    session.add(
        AuditEvent(
            actor_id=principal.account_id if principal else None,
            actor=principal.username if principal else (actor or "anonymous"),
            action=action,
            object_type=object_type,
            object_id=str(object_id) if object_id is not None else None,
            detail=detail or {},
        )
    )


def _utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _object_key(value: str) -> str:
    """Object ids are stored as written by `record`: a UUID in its canonical form."""
    value = value.strip()
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def list_events(
    session: Session,
    *,
    before: int | None,
    limit: int,
    action: str | None = None,
    actor: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[AuditEvent]:
    """Events newest first, `limit` + 1 of them (the extra one says a next page exists).

    `action` is one action (`person.identity.read`) or, ending in a dot, a family of them
    (`account.`); `since` is inclusive and `until` exclusive.
    """
    if since is not None and until is not None and _utc(until) <= _utc(since):
        raise InvalidField("until", "must be later than since")
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit + 1)
    if before is not None:
        query = query.where(AuditEvent.id < before)
    if action:
        if action.endswith("."):
            query = query.where(AuditEvent.action.startswith(action, autoescape=True))
        else:
            query = query.where(AuditEvent.action == action)
    if actor:
        query = query.where(AuditEvent.actor == actor.strip().lower())
    if object_type:
        query = query.where(AuditEvent.object_type == object_type)
    if object_id:
        query = query.where(AuditEvent.object_id == _object_key(object_id))
    if since is not None:
        query = query.where(AuditEvent.at >= _utc(since))
    if until is not None:
        query = query.where(AuditEvent.at < _utc(until))
    return list(session.scalars(query))
