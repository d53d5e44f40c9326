"""RFC 9457 problem details: the domain's errors and the handlers that render every error."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://registry.cast.org.cn/problems/"
log = logging.getLogger("registry.errors")


@dataclass
class FieldError:
    """One field and why it was refused."""

    field: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"field": self.field, "reason": self.reason}


@dataclass
class ProblemError(Exception):
    """A domain failure that the API renders as problem+json."""

    detail: str
    status: int = 400
    type: str = "bad-request"
    errors: list[FieldError] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __str__(self) -> str:
        return self.detail


class NotFound(ProblemError):
    def __init__(self, what: str) -> None:
        super().__init__(f"{what} not found", 404, "not-found")


class Conflict(ProblemError):
    def __init__(self, detail: str, field_name: str | None = None) -> None:
        errors = [FieldError(field_name, detail)] if field_name else []
        super().__init__(detail, 409, "conflict", errors)


class InvalidField(ProblemError):
    """A value that parsed but breaks a rule; `field` uses the request's field name."""

    def __init__(self, field_name: str, reason: str) -> None:
        super().__init__(
            f"{field_name}: {reason}", 422, "validation-error", [FieldError(field_name, reason)]
        )


class Unauthorized(ProblemError):
    def __init__(self, detail: str = "missing or invalid credentials") -> None:
        super().__init__(detail, 401, "unauthorized", headers={"WWW-Authenticate": "Bearer"})


class Forbidden(ProblemError):
    def __init__(self, detail: str = "not permitted") -> None:
        super().__init__(detail, 403, "forbidden")


class TooManyRequests(ProblemError):
    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(
            detail, 429, "too-many-requests", headers={"Retry-After": str(max(1, retry_after))}
        )


def problem_response(
    status: int,
    type_: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, str]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_BASE + type_,
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    """('body', 'person', 'birth_date') -> 'person.birth_date'; the request part is dropped."""
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        parts = parts[1:]
    return ".".join(parts) or "body"


def _field(error: dict[str, Any]) -> str:
    if error.get("type") == "json_invalid":
        return "body"  # the location is a character offset, not a field
    return _loc_to_field(error["loc"])


def _json_content_type(request: Request) -> bool:
    """No content type (parsed as JSON) or application/json, application/*+json."""
    value = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return not value or value == "application/json" or value.endswith("+json")


def _takes_form(request: Request) -> bool:
    """The matched route reads form fields (the OAuth2 token endpoint), not a JSON body."""
    body = getattr(request.scope.get("route"), "body_field", None)
    return body is not None and isinstance(body.field_info, params.Form)


def _reason(error: dict[str, Any]) -> str:
    """Pydantic's message without the offending input, which may be personal data."""
    if error.get("type") == "json_invalid":
        return "malformed JSON"
    return validation_reason(error)


def validation_reason(error: Any) -> str:
    """Why pydantic refused a value, in words a person reads (no input quoted)."""
    kind, context = error.get("type"), error.get("ctx") or {}
    # A length checked after a normaliser is counted by pydantic as "items": text is characters.
    if kind in {"too_short", "too_long"} and isinstance(error.get("input"), str):
        bound = context.get("min_length" if kind == "too_short" else "max_length")
        if isinstance(bound, int):
            side = "least" if kind == "too_short" else "most"
            return f"String should have at {side} {bound} character{'' if bound == 1 else 's'}"
    return str(error.get("msg", "invalid value")).removeprefix("Value error, ")


# Unique constraints the API explains in its own words, keyed by constraint name.
UNIQUE_MESSAGES: dict[str, tuple[str, str]] = {}


def register_unique(constraint: str, field_name: str, message: str) -> None:
    UNIQUE_MESSAGES[constraint] = (field_name, message)


def _instance(request: Request) -> str:
    """Where the problem occurred: the route's template (`/api/v1/people/{person_id}`), not
    the path as sent, which may hold what a client put where an id goes (a document number);
    a path no route matches is the client's own and is given back as sent."""
    route = request.scope.get("route")
    template = getattr(route, "path", None)
    return template if isinstance(template, str) else request.url.path


def _try_again(request: Request, detail: str) -> JSONResponse:
    """503 with Retry-After: the database is away or busy, not the request at fault."""
    return problem_response(
        503,
        "service-unavailable",
        detail,
        instance=_instance(request),
        headers={"Retry-After": "5"},
    )


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.type,
            exc.detail,
            instance=_instance(request),
            errors=[e.as_dict() for e in exc.errors] or None,
            headers=exc.headers or None,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        raw = exc.errors()
        if (
            not _json_content_type(request)
            and not _takes_form(request)
            and any(e["loc"][:1] == ("body",) for e in raw)
        ):
            return problem_response(
                415,
                "unsupported-media-type",
                "send the request body as application/json",
                instance=_instance(request),
            )
        errors = [{"field": _field(e), "reason": _reason(e)} for e in raw]
        summary = "; ".join(f"{e['field']}: {e['reason']}" for e in errors[:5])
        return problem_response(
            422,
            "validation-error",
            summary or "invalid request",
            instance=_instance(request),
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        type_ = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        return problem_response(
            exc.status_code,
            type_,
            detail,
            instance=_instance(request),
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity(request: Request, exc: IntegrityError) -> JSONResponse:
        diag = getattr(exc.orig, "diag", None)
        constraint = getattr(diag, "constraint_name", None) or ""
        if constraint in UNIQUE_MESSAGES:
            field_name, message = UNIQUE_MESSAGES[constraint]
            return problem_response(
                409,
                "conflict",
                message,
                instance=_instance(request),
                errors=[{"field": field_name, "reason": message}],
            )
        log.warning("integrity error on %s: constraint %s", _instance(request), constraint)
        return problem_response(
            409, "conflict", "the change conflicts with existing data", instance=_instance(request)
        )

    @app.exception_handler(DataError)
    async def _data(request: Request, exc: DataError) -> JSONResponse:
        # A value the database refuses that validation let through (the message may quote
        # it, so only its SQLSTATE is logged and none of it is answered).
        code = getattr(exc.orig, "sqlstate", None)
        log.warning("value refused by the database on %s: SQLSTATE %s", _instance(request), code)
        return problem_response(
            422,
            "validation-error",
            "a value in the request cannot be stored or compared",
            instance=_instance(request),
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> JSONResponse:
        code = getattr(exc.orig, "sqlstate", None) or ""
        if code.startswith("54"):
            # A limit of PostgreSQL's (a word or a statement too large): the same statement
            # fails again, so it is not "try again shortly". Its message may quote values.
            log.error(
                "statement past a database limit on %s: SQLSTATE %s", _instance(request), code
            )
            return problem_response(
                500, "internal-error", "an unexpected error occurred", instance=_instance(request)
            )
        log.error("database unavailable: %s", type(exc.orig).__name__)
        return _try_again(request, "the database is unavailable, try again shortly")

    @app.exception_handler(PoolTimeout)
    async def _pool_busy(request: Request, exc: PoolTimeout) -> JSONResponse:
        # Every connection in use for the pool's whole timeout: busy now, free again soon.
        log.error("no database connection free on %s within the pool's timeout", _instance(request))
        return _try_again(request, "the database is busy, try again shortly")

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500, "internal-error", "an unexpected error occurred", instance=_instance(request)
        )
