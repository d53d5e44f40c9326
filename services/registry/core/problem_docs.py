"""The problems each route answers, written into the OpenAPI document as problem+json."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI

from .errors import PROBLEM_JSON, TYPE_BASE

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Problem": {
        "title": "Problem",
        "description": "RFC 9457 problem details; `type` is stable, `detail` is for people.",
        "type": "object",
        "properties": {
            "type": {"type": "string", "format": "uri", "examples": [TYPE_BASE + "not-found"]},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string", "description": "the route's path template"},
            "errors": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/FieldProblem"},
                "description": "each refused field (validation and conflicts naming a field)",
            },
        },
        "required": ["type", "title", "status", "detail"],
    },
    "FieldProblem": {
        "title": "FieldProblem",
        "type": "object",
        "properties": {
            "field": {"type": "string", "examples": ["person.birth_date"]},
            "reason": {"type": "string"},
        },
        "required": ["field", "reason"],
    },
}

DESCRIPTIONS = {
    401: "No valid credentials (a bearer token, or for sign-in the name and secret)",
    403: "The caller lacks the permission this needs",
    404: "Nothing with this id or code in the caller's scope",
    409: "The change conflicts with the current state or with existing data",
    415: "The body is not application/json",
    422: "A value is refused; `errors` names each field",
    429: "Too many attempts; `Retry-After` says when to try again",
    503: "The database (or the search engine) is unavailable; `Retry-After` says when to retry",
}

# Routes that touch no database (everything else answers 503 when it cannot reach it).
NO_DATABASE = frozenset({"health-healthz", "auth-jwks"})
# POST routes that read and write nothing a conflict could arise on.
READS_BY_POST = frozenset(
    {"auth-token", "auth-refresh", "certificates-verify-certificate", "search-search-experts"}
)
_WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for problems a route answers that cannot be told from its signature."""
    return {status: {"description": DESCRIPTIONS[status]} for status in statuses}


def _statuses(method: str, operation: dict[str, Any]) -> set[int]:
    """What the route's signature makes possible: a bearer token can be missing or lack the
    permission, an id in the path can name nothing in scope, a JSON body can be sent as
    something else, and the database can be out of reach."""
    found: set[int] = set()
    if operation.get("security"):
        found |= {401, 403}
    if any(p.get("in") == "path" for p in operation.get("parameters", [])):
        found |= {404, 422}
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        found.add(415)
    if operation["operationId"] not in NO_DATABASE:
        found.add(503)
    if method.upper() in _WRITES and operation["operationId"] not in READS_BY_POST:
        found.add(409)
    return found


def describe_problems(spec: dict[str, Any]) -> dict[str, Any]:
    """Every error response of every operation as application/problem+json `Problem`: those
    the route declares, and those its signature makes possible."""
    for operations in spec.get("paths", {}).values():
        for method, operation in operations.items():
            responses = operation["responses"]
            for status in _statuses(method, operation):
                responses.setdefault(str(status), {"description": DESCRIPTIONS[status]})
            for key, response in responses.items():
                if key.isdigit() and int(key) >= 400:
                    if int(key) in DESCRIPTIONS and response.get("description") in (
                        None,
                        "Validation Error",
                        HTTPStatus(int(key)).phrase,
                    ):
                        response["description"] = DESCRIPTIONS[int(key)]
                    response["content"] = {PROBLEM_JSON: {"schema": PROBLEM_REF}}
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(SCHEMAS)
    return spec


def install(app: FastAPI) -> None:
    """Serve (and export) the document with its problems described."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            describe_problems(build())
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
