"""Every route declares what it needs: a permission, or being public on purpose.

The walk starts at `app.routes` and follows included routers, then looks through each
route's whole dependency tree for a `require(...)` dependency (it carries `__permission__`)
or the `public` marker (it carries `__public__`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import routing
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

# Callable by anyone, deliberately. Adding a route here is a security decision.
PUBLIC_ROUTES = {
    ("POST", "/api/v1/auth/token"),
    ("POST", "/api/v1/auth/refresh"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    # Anyone may check a membership certificate; rate-limited per client address.
    ("POST", "/api/v1/certificates/verify"),
    ("GET", "/api/v1/certificates/verify"),
}
# FastAPI's own pages: plain Starlette routes, outside the dependency system.
DOCS_ROUTES = {"/openapi.json", "/docs", "/docs/oauth2-redirect"}


def all_routes(app: Any) -> Iterator[Any]:
    """Every route the application serves, with routers included by prefix expanded."""
    iter_contexts = getattr(routing, "iter_route_contexts", None)
    if iter_contexts is None:  # FastAPI versions that copy included routes into app.routes
        yield from app.routes
        return
    yield from iter_contexts(app.routes)


def is_api_route(route: Any) -> bool:
    return isinstance(getattr(route, "original_route", route), APIRoute)


def dependency_calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from dependency_calls(sub)


def endpoints(app: Any) -> list[tuple[str, str, list[Any]]]:
    found = []
    for route in all_routes(app):
        if not is_api_route(route):
            continue
        calls = list(dependency_calls(route.dependant))
        for method in sorted(route.methods or ()):
            found.append((method, route.path, calls))
    return found


def permissions_of(calls: list[Any]) -> list[Any]:
    return [c.__permission__ for c in calls if getattr(c, "__permission__", None)]


def is_public(calls: list[Any]) -> bool:
    return any(getattr(c, "__public__", False) for c in calls)


def test_the_walk_finds_the_routers_included_with_a_prefix(app) -> None:
    """Guards the test itself: an empty or partial walk would let everything pass."""
    found = {(method, path) for method, path, _ in endpoints(app)}
    assert {
        ("GET", "/api/v1/people"),
        ("GET", "/api/v1/people/{person_id}/identity"),
        ("PATCH", "/api/v1/memberships/{membership_id}"),
        ("POST", "/api/v1/auth/token"),
        ("GET", "/healthz"),
    } <= found


def test_every_route_requires_a_permission_or_is_listed_as_public(app) -> None:
    offending = unprotected_routes(app)
    assert not offending, f"routes without a declared permission: {offending}"


def test_public_routes_are_exactly_the_listed_ones(app) -> None:
    public = {(method, path) for method, path, calls in endpoints(app) if is_public(calls)}
    assert public == PUBLIC_ROUTES, (
        f"unexpectedly public: {sorted(public - PUBLIC_ROUTES)}; "
        f"listed but not public: {sorted(PUBLIC_ROUTES - public)}"
    )


def test_no_route_is_both_public_and_permission_checked(app) -> None:
    confused = [
        f"{method} {path}"
        for method, path, calls in endpoints(app)
        if is_public(calls) and permissions_of(calls)
    ]
    assert not confused, f"routes marked public that also check a permission: {confused}"


def test_the_only_routes_outside_the_dependency_system_are_the_docs(app) -> None:
    plain = {route.path for route in all_routes(app) if not is_api_route(route)}
    assert plain == DOCS_ROUTES, f"routes that bypass the permission check: {plain - DOCS_ROUTES}"


def _concrete(path: str) -> str:
    """A path with plausible values for its parameters, so only authentication can refuse."""
    parts = []
    for part in path.split("/"):
        if part.startswith("{") and part.endswith("}"):
            name = part[1:-1].split(":")[0]
            part = str(uuid.uuid4()) if name.endswith("id") else "CODE1"
        parts.append(part)
    return "/".join(parts)


def unprotected_routes(app: Any) -> list[str]:
    return [
        f"{method} {path}"
        for method, path, calls in endpoints(app)
        if not permissions_of(calls) and not is_public(calls)
    ]


def test_the_check_flags_a_route_without_a_permission_in_an_included_router() -> None:
    """Guards the test itself: a forgotten `authorize(...)` behind a prefix is caught."""
    from fastapi import APIRouter, Depends, FastAPI

    from services.registry.auth.permissions import Permission
    from services.registry.core.deps import PUBLIC, require

    router = APIRouter(prefix="/api/v1/things")

    @router.get("")
    def forgotten() -> None: ...

    @router.get("/checked", dependencies=[Depends(require(Permission.orgs_read))])
    def checked() -> None: ...

    def indirect(principal: Any = Depends(require(Permission.orgs_read))) -> Any:
        return principal

    @router.get("/nested", dependencies=[Depends(indirect)])
    def nested() -> None: ...

    @router.get("/open", dependencies=[PUBLIC])
    def open_() -> None: ...

    guarded = APIRouter(prefix="/guarded", dependencies=[Depends(require(Permission.orgs_read))])

    @guarded.get("/by-router")
    def by_router() -> None: ...

    router.include_router(guarded)
    probe = FastAPI()
    probe.include_router(router)
    assert unprotected_routes(probe) == ["GET /api/v1/things"]


def test_every_protected_route_answers_401_without_a_token(app, client) -> None:
    """Not only declared: without a bearer token, every non-public route refuses with 401."""
    wrong = []
    for method, path, _ in endpoints(app):
        if (method, path) in PUBLIC_ROUTES or method == "HEAD":
            continue
        response = client.request(method, _concrete(path), json={})
        if response.status_code != 401 or not response.headers["content-type"].startswith(
            "application/problem+json"
        ):
            wrong.append(f"{method} {path}: {response.status_code}")
    assert not wrong, f"routes that do not answer 401 without a token: {wrong}"
