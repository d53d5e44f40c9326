"""What the audit log endpoint returns."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field


class AuditEventRead(BaseModel):
    """One sensitive action: who, when, what, on which object; never the data it revealed."""

    id: int
    at: datetime
    actor: str = Field(
        description="account name; `cli` for the command line, `demo` for the demo data,"
        " `anonymous` when no one signed in (a lockout, a refresh token used twice)"
    )
    actor_id: uuid.UUID | None = None
    action: str = Field(
        description="e.g. person.identity.read, account.link, account.created, lockout"
    )
    object_type: str | None = None
    object_id: str | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
