"""create_app(): the registry's HTTP application, its routers, error handlers and health checks."""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import parse_qsl

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.search.router import router as search_router

from .audit.router import router as audit_router
from .auth.router import jwks_router
from .auth.router import router as auth_router
from .awards.router import router as awards_router
from .core import problem_docs
from .core.config import Settings
from .core.deps import PUBLIC, RuntimeDep
from .core.errors import install_error_handlers, problem_response
from .core.runtime import Runtime
from .core.types import printable
from .governance.router import router as governance_router
from .memberships.applications_router import accounts_router
from .memberships.applications_router import router as applications_router
from .memberships.certificates_router import router as certificates_router
from .memberships.groups_router import router as group_members_router
from .memberships.lifecycle_router import router as membership_lifecycle_router
from .memberships.router import me_router
from .memberships.router import router as memberships_router
from .memberships.statistics_router import router as statistics_router
from .orgs.router import router as orgs_router
from .people.router import router as people_router

log = logging.getLogger("registry")


class SecurityHeaders:
    """Plain ASGI middleware (cheaper than @app.middleware): no sniffing, no caching of answers."""

    _HEADERS = ((b"x-content-type-options", b"nosniff"), (b"cache-control", b"no-store"))

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(k, v) for k, v in self._HEADERS if k not in present]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)


class ControlCharacters:
    """Plain ASGI middleware: a query parameter holding a control character (a NUL, which the
    database refuses) is a 422 naming it, and a path holding one names nothing (404), before
    any route reads them."""

    _SUSPECT = re.compile(rb"%[01][0-9a-fA-F]|[\x00-\x1f]")

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            problem = self._problem(scope)
            if problem is not None:
                await problem(scope, receive, send)
                return
        await self.app(scope, receive, send)

    def _problem(self, scope: Scope) -> JSONResponse | None:
        # Neither is quoted back: a path or query may hold what a client put where an id goes.
        if any(ord(c) < 32 for c in scope["path"]):
            return problem_response(404, "not-found", "Not Found")
        query: bytes = scope.get("query_string", b"")
        if not self._SUSPECT.search(query):
            return None
        errors = []
        for name, value in parse_qsl(query.decode("latin-1"), keep_blank_values=True):
            try:
                printable(name)
                printable(value)
            except ValueError as exc:
                errors.append({"field": printable_or_blank(name), "reason": str(exc)})
        if not errors:
            return None
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(422, "validation-error", summary, errors=errors)


def printable_or_blank(name: str) -> str:
    """A parameter's name fit to be quoted back: its control characters dropped."""
    return "".join(c for c in name if ord(c) >= 32) or "(query)"


# /readyz answers a plain dict (or a 503 problem), so its schema is written out here.
READY_SCHEMA = {
    "schema": {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ready"]},
            "schema": {
                "type": ["string", "null"],
                "description": "the migration the database is at",
            },
        },
        "required": ["status", "schema"],
    }
}


def operation_id(route: APIRoute) -> str:
    """Stable operation ids: `{tag}-{function name}`."""
    tag = route.tags[0] if route.tags else "default"
    return f"{tag}-{route.name}".replace("_", "-")


def create_app(settings: Settings, database_url: str) -> FastAPI:
    runtime = Runtime.build(settings, database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.search_inline_drain:
            runtime.start_inline_drain()
        yield
        await runtime.reads.close()
        runtime.close()

    app = FastAPI(
        title="CAST talent and member registry",
        version="1.0.0",
        summary="Organisations, talent profiles and memberships of the CAST federation",
        generate_unique_id_function=operation_id,
        lifespan=lifespan,
        docs_url="/docs",
        redoc_url=None,
    )
    app.state.runtime = runtime
    install_error_handlers(app)

    app.add_middleware(ControlCharacters)
    app.add_middleware(SecurityHeaders)

    # FastAPI tries included routes one by one, at a cost per route: the busiest come first.
    for router in (
        people_router,
        auth_router,
        jwks_router,
        orgs_router,
        memberships_router,
        membership_lifecycle_router,
        certificates_router,
        applications_router,
        accounts_router,
        statistics_router,
        group_members_router,
        governance_router,
        me_router,
        search_router,
        awards_router,
        audit_router,
    ):
        app.include_router(router)

    @app.get("/healthz", tags=["health"], dependencies=[PUBLIC])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        dependencies=[PUBLIC],
        response_model=None,
        responses={200: {"description": "Ready", "content": {"application/json": READY_SCHEMA}}},
    )
    async def readyz(runtime: RuntimeDep) -> dict[str, str] | JSONResponse:
        """Readiness: the database answers and its schema is at the latest migration."""
        try:
            current = await run_in_threadpool(_schema_revision, runtime)
        except Exception:  # any failure to reach the database means not ready
            log.warning("readiness check: database unreachable")
            return problem_response(
                503, "not-ready", "database unreachable", headers={"Retry-After": "5"}
            )
        from .migrate import is_behind

        if is_behind(current):
            # Not ready until the migration job has run: a retry later, like an outage.
            return problem_response(
                503,
                "not-ready",
                "database schema is not at the latest migration",
                headers={"Retry-After": "10"},
            )
        return {"status": "ready", "schema": current}

    problem_docs.install(app)
    return app


def _schema_revision(runtime: Runtime) -> str | None:
    with runtime.engine.connect() as conn:
        return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
