"""Accounts (people and client systems), their grants, refresh tokens and login throttling."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Index, LargeBinary, text
from sqlmodel import Field, SQLModel

from ..core.models import created_field, id_field, timestamp_field
from ..orgs.models import _in
from .roles import AccountKind, Role

__all__ = ["Account", "AccountKind", "LoginThrottle", "RefreshToken", "Role", "RoleGrant"]


class Account(SQLModel, table=True):
    """Who signs in: a user with a password, or a society system with client credentials."""

    __tablename__ = "account"
    __table_args__ = (CheckConstraint(_in("kind", AccountKind), name="kind"),)

    id: uuid.UUID = id_field()
    username: str = Field(max_length=128, unique=True)
    kind: str = Field(default=AccountKind.user, max_length=8)
    secret_hash: str
    display_name: str | None = None
    person_id: uuid.UUID | None = Field(default=None, foreign_key="person.id", index=True)
    is_active: bool = Field(default=True)
    created_at: datetime = created_field()
    last_login_at: datetime | None = timestamp_field()


class RoleGrant(SQLModel, table=True):
    """A role held by an account in one organisation (and the ones below it), or platform-wide."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint(_in("role", Role), name="role"),
        Index(
            "uq_role_grant_account_id_role_org_id",
            "account_id",
            "role",
            "org_id",
            unique=True,
            postgresql_where=text("org_id IS NOT NULL"),
        ),
        Index(
            "uq_role_grant_account_id_role",
            "account_id",
            "role",
            unique=True,
            postgresql_where=text("org_id IS NULL"),
        ),
    )

    id: uuid.UUID = id_field()
    account_id: uuid.UUID = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    role: str = Field(max_length=32)
    org_id: uuid.UUID | None = Field(default=None, foreign_key="organisation.id")
    created_at: datetime = created_field()


class RefreshToken(SQLModel, table=True):
    """An opaque refresh token stored as its SHA-256; a family is one sign-in's rotations."""

    __tablename__ = "refresh_token"

    id: uuid.UUID = id_field()
    account_id: uuid.UUID = Field(foreign_key="account.id", ondelete="CASCADE", index=True)
    family_id: uuid.UUID = Field(index=True)
    token_hash: bytes = Field(sa_type=LargeBinary, unique=True)
    issued_at: datetime = created_field()
    expires_at: datetime = timestamp_field(nullable=False)
    used_at: datetime | None = timestamp_field()
    revoked_at: datetime | None = timestamp_field()


class LoginThrottle(SQLModel, table=True):
    """Failed sign-ins per login name, so guessing passwords gets slower and then locked out."""

    __tablename__ = "login_throttle"

    key: str = Field(max_length=160, primary_key=True)
    failures: int = Field(default=0)
    last_failure_at: datetime | None = timestamp_field()
    locked_until: datetime | None = timestamp_field()
