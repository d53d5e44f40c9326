"""FastAPI dependencies: the request's unit of work, the caller, and what a route requires."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from ..auth import service as auth_service
from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..auth.tokens import InvalidToken
from .errors import Forbidden, Unauthorized
from .runtime import Runtime

# Dependencies that do no I/O are `async def`: they run on the event loop instead of taking a
# trip through the thread pool, which costs more than the work itself.


async def get_runtime(request: Request) -> Runtime:
    return request.app.state.runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def get_session(request: Request, runtime: RuntimeDep) -> AsyncIterator[Session]:
    """The request's unit of work: committed when the route returns, rolled back on error.

    Reads run on autocommit connections: no BEGIN and COMMIT round trips, and closing the
    session needs no network I/O, so it happens here on the event loop.
    """
    if request.method in _SAFE_METHODS:
        session = runtime.read_sessions()
        try:
            yield session
            if session.new or session.dirty or session.deleted:  # e.g. an audit event
                await run_in_threadpool(session.flush)
        finally:
            session.close()
        return
    session = runtime.sessions()
    try:
        yield session
        await run_in_threadpool(session.commit)
    except BaseException:
        await run_in_threadpool(session.rollback)
        raise
    finally:
        await run_in_threadpool(session.close)


# scope="function": the commit runs before the response is sent, so its failure is reported.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False)


BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
_PRINCIPAL_KEY = "registry.principal"  # the request's caller, once found


async def get_principal(request: Request, credentials: BearerDep) -> Principal:
    """The verified caller. Each dependency level costs FastAPI tens of microseconds per
    request, so this takes the runtime from the app itself rather than from a dependency."""
    found: Principal | None = request.scope.get(_PRINCIPAL_KEY)
    if found is None:
        found = await _authenticate(request.app.state.runtime, credentials)
        request.scope[_PRINCIPAL_KEY] = found
    return found


async def _authenticate(
    runtime: Runtime, credentials: HTTPAuthorizationCredentials | None
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
    principal = await run_in_threadpool(_load_principal, runtime, account_id)
    if principal is None:
        raise Unauthorized("the account is disabled or no longer exists")
    # Grants and account state are re-read at most every few seconds per token.
    ttl = min(runtime.settings.principal_cache_seconds, expires - time.time())
    runtime.principals.put(token, principal, ttl)
    return principal


def _load_principal(runtime: Runtime, account_id: uuid.UUID) -> Principal | None:
    with runtime.read_sessions() as session:
        return auth_service.load_principal(session, account_id)


def require(permission: Permission) -> Callable[..., Awaitable[Principal]]:
    """A dependency that admits principals holding `permission` somewhere; routes narrow scope."""
    return require_any(permission)


def require_any(*permissions: Permission) -> Callable[..., Awaitable[Principal]]:
    """Admits principals holding at least one of `permissions`; the route decides which applies."""
    needed = " or ".join(p.value for p in permissions)

    # Resolves the caller itself (no get_principal level below it): a dependency level less.
    async def dependency(request: Request, credentials: BearerDep) -> Principal:
        principal = await get_principal(request, credentials)
        if not any(principal.can(p) for p in permissions):
            raise Forbidden(f"this needs the {needed} permission")
        return principal

    dependency.__permission__ = permissions  # type: ignore[attr-defined]
    dependency.__name__ = "require_" + "_or_".join(p.name for p in permissions)
    return dependency


def authorize(permission: Permission) -> Any:
    """`Annotated` alias for a route parameter: the caller, checked for `permission`."""
    return Annotated[Principal, Depends(require(permission))]


async def public() -> None:
    """Marks a route that anyone may call, on purpose."""


public.__public__ = True  # type: ignore[attr-defined]
PUBLIC = Depends(public)
