"""HTTP: the OAuth2 token endpoint, refresh-token rotation and the public key set."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated
from urllib.parse import unquote_plus

from fastapi import APIRouter, Form, Header, Request
from fastapi.concurrency import run_in_threadpool

from ..core import ratelimit
from ..core.deps import PUBLIC, RuntimeDep
from ..core.errors import InvalidField
from ..core.problem_docs import problems
from ..core.types import printable
from . import passwords, service
from .models import AccountKind
from .schemas import JsonWebKeySet, RefreshRequest, TokenResponse

router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
jwks_router = APIRouter(tags=["auth"])


def _basic(authorization: str | None) -> tuple[str, str] | None:
    """client_id and client_secret from an HTTP Basic header (RFC 6749 2.3.1: each is
    form-encoded before they are joined with a colon, so either may hold one)."""
    if not authorization or not authorization.lower().startswith("basic "):
        return None
    try:
        client_id, sep, secret = (
            base64.b64decode(authorization[6:], validate=True).decode().partition(":")
        )
        if not sep:
            return None
        return unquote_plus(client_id, errors="strict"), unquote_plus(secret, errors="strict")
    except (binascii.Error, UnicodeDecodeError):
        return None


def _required(value: str | None, field_name: str) -> str:
    if not value:
        raise InvalidField(field_name, "required for this grant_type")
    try:
        return printable(value)
    except ValueError as exc:
        raise InvalidField(field_name, str(exc)) from None


@router.post(
    "/token", response_model=TokenResponse, dependencies=[PUBLIC], responses=problems(401, 429)
)
async def token(
    request: Request,
    runtime: RuntimeDep,
    grant_type: Annotated[str, Form(description="password or client_credentials")],
    username: Annotated[str | None, Form(max_length=128)] = None,
    password: Annotated[str | None, Form(max_length=passwords.MAX_LENGTH)] = None,
    client_id: Annotated[str | None, Form(max_length=128)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    scope: Annotated[str | None, Form(max_length=512)] = None,
    authorization: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> TokenResponse:
    """Sign in: a user with a password, or a society system with client credentials."""
    if grant_type == "password":
        kind, name, secret = (
            AccountKind.user,
            _required(username, "username"),
            _required(password, "password"),
        )
    elif grant_type == "client_credentials":
        basic = _basic(authorization)
        name = client_id or (basic[0] if basic else None)
        secret = client_secret or (basic[1] if basic else None)
        kind = AccountKind.client
        name, secret = _required(name, "client_id"), _required(secret, "client_secret")
    else:
        raise InvalidField("grant_type", "must be password or client_credentials")
    await run_in_threadpool(
        ratelimit.limit_address,
        runtime,
        request,
        name="auth-token",
        limit=runtime.settings.signin_rate_limit,
        window=60.0,
        detail="too many sign-in attempts from this address; try later",
    )
    # argon2 is deliberately slow: keep it off the event loop.
    issued = await run_in_threadpool(service.sign_in, runtime, kind=kind, name=name, secret=secret)
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )


@router.post(
    "/refresh", response_model=TokenResponse, dependencies=[PUBLIC], responses=problems(401)
)
def refresh(runtime: RuntimeDep, body: RefreshRequest) -> TokenResponse:
    """Rotate a refresh token: the old one stops working; reusing it revokes the sign-in."""
    issued = service.rotate_refresh(runtime, body.refresh_token)
    return TokenResponse(
        access_token=issued.access_token,
        expires_in=issued.expires_in,
        refresh_token=issued.refresh_token,
    )


@jwks_router.get("/.well-known/jwks.json", response_model=JsonWebKeySet, dependencies=[PUBLIC])
def jwks(runtime: RuntimeDep) -> dict[str, list[dict[str, str]]]:
    """Public keys that verify access tokens and membership certificates."""
    return runtime.keys.jwks()
