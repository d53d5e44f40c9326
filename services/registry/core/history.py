"""Recording and reading field-level change history, with sensitive values masked."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from ..auth.principals import Principal
from .ids import uuid7
from .models import ChangeRecord

__all__ = ["ChangeRecord", "actor_of", "list_for", "record"]


def actor_of(principal: Principal | None) -> str:
    if principal is None:
        return "system"
    return principal.username if principal.kind == "user" else f"client:{principal.username}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def record(
    session: Session,
    *,
    entity: str,
    entity_id: uuid.UUID,
    changes: Iterable[tuple[str, Any, Any]],
    actor: str,
    source: str,
    reason: str | None = None,
) -> int:
    """One row per changed field, sharing a change id; returns how many were written."""
    change_id = uuid7()
    rows = [
        {
            "entity": entity,
            "entity_id": entity_id,
            "change_id": change_id,
            "field": name,
            "old_value": _text(old),
            "new_value": _text(new),
            "reason": reason,
            "actor": actor,
            "source": source,
        }
        for name, old, new in changes
    ]
    if rows:
        session.execute(insert(ChangeRecord), rows)
    return len(rows)


Change = tuple[str, Any, Any]


def assign(obj: Any, values: dict[str, Any]) -> list[Change]:
    """Set the values that differ from what `obj` holds; return (field, old, new) for each."""
    changes: list[Change] = []
    for name, value in values.items():
        old = getattr(obj, name)
        if old != value:
            changes.append((name, old, value))
            setattr(obj, name, value)
    return changes


def save_changes(
    session: Session,
    obj: Any,
    *,
    entity: str,
    changes: list[Change],
    actor: str,
    source: str,
    reason: str | None = None,
) -> bool:
    """Bump `updated_at` and `version`, flush, and keep the history; False when nothing changed."""
    if not changes:
        return False
    obj.updated_at = datetime.now(UTC)
    obj.version += 1
    session.flush()
    record(
        session,
        entity=entity,
        entity_id=obj.id,
        changes=changes,
        actor=actor,
        source=source,
        reason=reason,
    )
    return True


def list_for(
    session: Session, *, entity: str, entity_id: uuid.UUID, after: int | None, limit: int
) -> list[ChangeRecord]:
    query = (
        select(ChangeRecord)
        .where(ChangeRecord.entity == entity, ChangeRecord.entity_id == entity_id)
        .order_by(ChangeRecord.id)
        .limit(limit + 1)
    )
    if after is not None:
        query = query.where(ChangeRecord.id > after)
    rows = list(session.scalars(query))
    if after is None and (created := created_by_import(session, entity, entity_id)):
        rows.insert(0, created)
    return rows


# Rows an import creates carry their batch (`import_batch_id`) instead of a `created` history
# row each; the entry is shown from it: entity -> (table, the value a `created` entry holds).
_IMPORTED = {"person": ("person", "name"), "membership": ("membership", "status")}


def created_by_import(session: Session, entity: str, entity_id: uuid.UUID) -> ChangeRecord | None:
    """The `created` entry of an object an import created (id 0, before every stored entry),
    with the value it was created with: the oldest recorded change's old value, or the current
    one. None for anything else."""
    if entity not in _IMPORTED:
        return None
    table, column = _IMPORTED[entity]
    row = session.execute(
        text(
            f"SELECT t.import_batch_id, t.created_at, t.{column} AS value, b.actor "  # noqa: S608
            f"FROM {table} t LEFT JOIN import_batch b ON b.id = t.import_batch_id "
            "WHERE t.id = :id AND t.import_batch_id IS NOT NULL"
        ),
        {"id": entity_id},
    ).first()
    if row is None:
        return None
    first = session.execute(
        select(ChangeRecord.old_value)
        .where(
            ChangeRecord.entity == entity,
            ChangeRecord.entity_id == entity_id,
            ChangeRecord.field == column,
        )
        .order_by(ChangeRecord.id)
        .limit(1)
    ).first()
    return ChangeRecord(
        id=0,
        entity=entity,
        entity_id=entity_id,
        change_id=row.import_batch_id,
        field="created",
        old_value=None,
        new_value=first[0] if first else row.value,
        actor=row.actor or "import",
        source=f"import:{row.import_batch_id}",
        changed_at=row.created_at,
    )


def keep_created_by_import(session: Session, entity: str, entity_id: uuid.UUID) -> None:
    """Store the shown `created` entry as a row, before the object's history moves to another
    object (a merge) and the object itself goes."""
    created = created_by_import(session, entity, entity_id)
    if created is not None:
        values = created.model_dump(exclude={"id"})
        session.execute(insert(ChangeRecord), [values])
