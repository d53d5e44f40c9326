"""Roles and account kinds: plain enums, importable without the table definitions."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    platform_admin = "platform_admin"
    org_admin = "org_admin"
    org_staff = "org_staff"
    committee = "committee"
    reviewer = "reviewer"
    member = "member"


class AccountKind(StrEnum):
    user = "user"
    client = "client"
