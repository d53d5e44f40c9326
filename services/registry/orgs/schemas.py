"""What the organisation endpoints accept and return."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..core.types import OrgCode, RegionCode, ShortText, Text, Uscc
from .models import OrgKind, OrgStatus


class OrgCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: OrgCode = Field(description="stable code, e.g. CSTAM; letters, digits, - and _")
    name: ShortText
    name_en: ShortText | None = None
    kind: OrgKind
    parent_code: OrgCode | None = None
    uscc: Uscc | None = Field(None, description="GB 32100 unified social credit code")
    region_code: RegionCode | None = Field(None, description="GB/T 2260 code")


class OrgUpdate(BaseModel):
    """Fields to change; a status change needs a reason, which is kept in the history."""

    model_config = ConfigDict(extra="forbid")

    name: ShortText | None = None
    name_en: ShortText | None = None
    parent_code: OrgCode | None = None
    uscc: Uscc | None = None
    region_code: RegionCode | None = None
    status: OrgStatus | None = None
    reason: Text | None = Field(
        None, description="why; required when status changes", validate_default=True
    )

    @field_validator("reason")
    @classmethod
    def _reason_with_status(cls, reason: str | None, info: ValidationInfo) -> str | None:
        # Declared after `status`, so the status (when valid) is already in info.data.
        if info.data.get("status") is not None and not reason:
            raise ValueError("required when status changes")
        return reason


class OrgRead(BaseModel):
    code: str
    name: str
    name_en: str | None
    kind: OrgKind
    parent_code: str | None
    uscc: str | None
    region_code: str | None
    status: OrgStatus
    created_at: datetime
    updated_at: datetime


class ChangeRead(BaseModel):
    """One field's change."""

    field: str
    old_value: str | None
    new_value: str | None
    reason: str | None
    actor: str
    source: str
    changed_at: datetime
    change_id: str
