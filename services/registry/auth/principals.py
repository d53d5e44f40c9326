"""The principal: who is calling, and in which organisations each permission holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.orm import InstrumentedAttribute

from .models import Role
from .permissions import ROLE_PERMISSIONS, Permission


@dataclass(frozen=True)
class Grant:
    role: Role
    org_id: uuid.UUID | None
    org_path: str | None  # the organisation's materialized path; its subtree shares the prefix


@dataclass(frozen=True)
class Principal:
    """An authenticated account and its grants."""

    account_id: uuid.UUID
    username: str
    kind: str
    person_id: uuid.UUID | None
    grants: tuple[Grant, ...] = field(default_factory=tuple)

    @property
    def roles(self) -> set[Role]:
        return {g.role for g in self.grants}

    def can(self, permission: Permission) -> bool:
        return any(permission in ROLE_PERMISSIONS[g.role] for g in self.grants)

    def is_global(self, permission: Permission) -> bool:
        """Holds the permission everywhere (a platform-wide grant)."""
        return any(g.org_id is None and permission in ROLE_PERMISSIONS[g.role] for g in self.grants)

    def scope_paths(self, permission: Permission) -> list[str]:
        """Path prefixes of the organisations where the permission holds."""
        return sorted(
            {
                g.org_path
                for g in self.grants
                if g.org_path and permission in ROLE_PERMISSIONS[g.role]
            }
        )

    def org_ids(self, permission: Permission) -> list[uuid.UUID]:
        """The organisations granted directly (not their subtrees)."""
        return [
            g.org_id for g in self.grants if g.org_id and permission in ROLE_PERMISSIONS[g.role]
        ]

    def covers_path(self, permission: Permission, path: str) -> bool:
        if self.is_global(permission):
            return True
        return any(path.startswith(prefix) for prefix in self.scope_paths(permission))

    def path_filter(
        self, permission: Permission, column: InstrumentedAttribute[str]
    ) -> ColumnElement[bool]:
        """SQL condition on an organisation path column: inside this principal's scope."""
        if self.is_global(permission):
            return true()
        prefixes = self.scope_paths(permission)
        if not prefixes:
            return false()
        return or_(*(column.startswith(prefix, autoescape=True) for prefix in prefixes))
