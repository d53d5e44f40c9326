"""FastAPI dependencies: the request's unit of work, the caller, and what a route requires."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from ..auth import service as auth_service
from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..auth.tokens import InvalidToken
from .db import transaction
from .errors import Forbidden, Unauthorized
from .runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, rolled back on error."""
    with transaction(runtime.sessions) as session:
        yield session


# scope="function": the commit runs before the response is sent, so its failure is reported.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False)


def get_principal(
    runtime: RuntimeDep,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("a bearer token is required")
    token = credentials.credentials
    cached = runtime.principals.get(token)
    if cached is not None:
        return cached
    try:
        account_id, expires = runtime.access_tokens.authenticate(token)
    except InvalidToken:
        raise Unauthorized("the access token is invalid or expired") from None
    principal = auth_service.load_principal(session, account_id)
    if principal is None:
        raise Unauthorized("the account is disabled or no longer exists")
    # Grants and account state are re-read at most every few seconds per token.
    ttl = min(runtime.settings.principal_cache_seconds, expires - time.time())
    runtime.principals.put(token, principal, ttl)
    return principal


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency that admits principals holding `permission` somewhere; routes narrow scope."""

    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not principal.can(permission):
            raise Forbidden(f"this needs the {permission.value} permission")
        return principal

    dependency.__permission__ = permission  # type: ignore[attr-defined]
    dependency.__name__ = f"require_{permission.name}"
    return dependency


def require_any(*permissions: Permission) -> Callable[..., Principal]:
    """Admits principals holding at least one of `permissions`; the route decides which applies."""

    def dependency(principal: Annotated[Principal, Depends(get_principal)]) -> Principal:
        if not any(principal.can(p) for p in permissions):
            needed = " or ".join(p.value for p in permissions)
            raise Forbidden(f"this needs the {needed} permission")
        return principal

    dependency.__permission__ = permissions  # type: ignore[attr-defined]
    dependency.__name__ = "require_" + "_or_".join(p.name for p in permissions)
    return dependency


def authorize(permission: Permission) -> Any:
    """`Annotated` alias for a route parameter: the caller, checked for `permission`."""
    return Annotated[Principal, Depends(require(permission))]


def public() -> None:
    """Marks a route that anyone may call, on purpose."""


public.__public__ = True  # type: ignore[attr-defined]
PUBLIC = Depends(public)
