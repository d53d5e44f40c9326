"""The OpenAPI document lists the problems each route answers, as application/problem+json."""

from __future__ import annotations

import json
import uuid

import psycopg
import pytest
from fastapi.testclient import TestClient

from services.registry.app import create_app
from services.registry.openapi import document

from .conftest import _libpq, create_database, drop_database
from .factories import unique_code

PROBLEM = "application/problem+json"
API = "/api/v1"


@pytest.fixture(scope="module")
def spec() -> dict:
    return json.loads(document())


def documented(spec: dict, method: str, path: str, response) -> None:  # type: ignore[no-untyped-def]
    """`response` is problem+json and the document lists its status for the route, as such."""
    status = response.status_code
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    responses = spec["paths"][path][method.lower()]["responses"]
    assert str(status) in responses, f"{method} {path} answers {status}, not documented"
    content = responses[str(status)].get("content", {})
    assert list(content) == [PROBLEM], f"{method} {path} {status} documented as {list(content)}"
    assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}


def test_the_problem_schema_has_type_title_status_detail_and_field_errors(spec) -> None:
    problem = spec["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail", "instance", "errors"} <= set(problem["properties"])
    assert set(problem["required"]) == {"type", "title", "status", "detail"}
    error = spec["components"]["schemas"]["FieldProblem"]
    assert set(error["properties"]) == {"field", "reason"}
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_no_route_documents_an_error_as_plain_json(spec) -> None:
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) >= 400:
                    assert list(response.get("content", {})) == [PROBLEM], (method, path, status)


def test_a_refused_body_is_a_documented_422_problem(client, factory, spec) -> None:
    response = client.post(
        f"{API}/people",
        json={"name": "张伟", "gender": "x"},
        headers=factory.caller("platform_admin"),
    )
    assert response.status_code == 422
    documented(spec, "POST", "/api/v1/people", response)


def test_a_caller_without_a_token_gets_a_documented_401(client, spec) -> None:
    response = client.get(f"{API}/people")
    assert response.status_code == 401
    documented(spec, "GET", "/api/v1/people", response)
    response = client.get(f"{API}/me")
    assert response.status_code == 401
    documented(spec, "GET", "/api/v1/me", response)


def test_a_caller_without_the_permission_gets_a_documented_403(client, factory, spec) -> None:
    response = client.post(
        f"{API}/orgs",
        json={"code": unique_code(), "name": "某学会", "kind": "national_society"},
        headers=factory.caller("member"),
    )
    assert response.status_code == 403
    documented(spec, "POST", "/api/v1/orgs", response)


def test_an_unknown_id_is_a_documented_404(client, factory, spec) -> None:
    headers = factory.caller("platform_admin")
    response = client.get(f"{API}/people/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404
    documented(spec, "GET", "/api/v1/people/{person_id}", response)
    response = client.get(f"{API}/memberships/{uuid.uuid4()}/certificate", headers=headers)
    assert response.status_code == 404
    documented(spec, "GET", "/api/v1/memberships/{membership_id}/certificate", response)


def test_a_taken_code_is_a_documented_409(client, factory, spec) -> None:
    org = factory.org()
    response = client.post(
        f"{API}/orgs",
        json={"code": org.code, "name": "另一学会", "kind": "national_society"},
        headers=factory.caller("platform_admin"),
    )
    assert response.status_code == 409
    documented(spec, "POST", "/api/v1/orgs", response)


def test_a_second_membership_is_a_documented_409(client, factory, spec) -> None:
    org = factory.org()
    person = factory.person()
    factory.membership(org, person, grade="member", status="active")
    response = client.post(
        f"{API}/orgs/{org.code}/memberships",
        json={"person_id": str(person.id), "grade": "member"},
        headers=factory.caller("org_admin", org),
    )
    assert response.status_code == 409
    documented(spec, "POST", "/api/v1/orgs/{code}/memberships", response)


def test_too_many_verifications_are_a_documented_429(client, runtime, spec, monkeypatch) -> None:
    monkeypatch.setattr(runtime.settings, "verify_rate_limit", 1)
    client.post(f"{API}/certificates/verify", json={"token": "x.y.z"})
    response = client.post(f"{API}/certificates/verify", json={"token": "x.y.z"})
    assert response.status_code == 429
    documented(spec, "POST", "/api/v1/certificates/verify", response)
    response = client.get(f"{API}/certificates/verify", params={"token": "x.y.z"})
    assert response.status_code == 429
    documented(spec, "GET", "/api/v1/certificates/verify", response)


def test_a_sign_in_to_a_locked_name_is_a_documented_429(client, factory, spec) -> None:
    account = factory.account("member")
    form = {"grant_type": "password", "username": account.username, "password": "wrong"}
    statuses = [client.post(f"{API}/auth/token", data=form).status_code for _ in range(6)]
    assert statuses[-1] == 429, statuses
    documented(spec, "POST", "/api/v1/auth/token", client.post(f"{API}/auth/token", data=form))


def test_an_unreachable_database_is_a_documented_503(settings, spec) -> None:
    app = create_app(settings, "postgresql://postgres@127.0.0.1:1/none")
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            documented(spec, "GET", "/readyz", response)
            response = client.post(
                f"{API}/auth/token",
                data={"grant_type": "password", "username": "nobody", "password": "x"},
            )
            assert response.status_code == 503
            documented(spec, "POST", "/api/v1/auth/token", response)
    finally:
        app.state.runtime.close()


def test_a_database_behind_the_code_is_a_documented_503_saying_when_to_retry(
    settings, server_url, spec
) -> None:
    """A rollout that has not migrated yet is not ready; probes and clients retry after the
    migration job, as for an unreachable database."""
    url = create_database(server_url, "registry_behind")
    try:
        with psycopg.connect(_libpq(url), autocommit=True) as conn:
            conn.execute("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)")
            conn.execute("INSERT INTO alembic_version VALUES ('0027_person_name_prefixes')")
        app = create_app(settings, url)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                response = client.get("/readyz")
        finally:
            app.state.runtime.close()
    finally:
        drop_database(server_url, url)
    assert response.status_code == 503
    assert "migration" in response.json()["detail"]
    assert int(response.headers["Retry-After"]) > 0
    documented(spec, "GET", "/readyz", response)


def test_statistics_of_an_unknown_organisation_are_a_documented_404(client, factory, spec) -> None:
    response = client.get(
        f"{API}/statistics/memberships",
        params={"org_code": "NO-SUCH-ORG"},
        headers=factory.caller("platform_admin"),
    )
    assert response.status_code == 404
    documented(spec, "GET", "/api/v1/statistics/memberships", response)


def test_readiness_answers_what_the_document_describes(client, spec) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    documented_200 = spec["paths"]["/readyz"]["get"]["responses"]["200"]
    schema = documented_200["content"]["application/json"]["schema"]
    assert set(response.json()) == set(schema["properties"]) == set(schema["required"])
    assert response.json()["status"] in schema["properties"]["status"]["enum"]


def test_a_certificate_of_a_suspended_membership_is_a_documented_409(client, factory, spec) -> None:
    org = factory.org()
    membership = factory.membership(org, factory.person(org=org), grade="member", status="active")
    headers = factory.caller("org_admin", org)
    suspended = client.post(
        f"{API}/memberships/{membership.id}/suspend", json={"reason": "违反章程"}, headers=headers
    )
    assert suspended.status_code == 200, suspended.text
    response = client.get(f"{API}/memberships/{membership.id}/certificate", headers=headers)
    assert response.status_code == 409
    documented(spec, "GET", "/api/v1/memberships/{membership_id}/certificate", response)


def test_a_body_sent_as_a_form_is_a_documented_415(client, factory, spec) -> None:
    response = client.post(
        f"{API}/people", data={"name": "张伟"}, headers=factory.caller("platform_admin")
    )
    assert response.status_code == 415
    documented(spec, "POST", "/api/v1/people", response)


def test_a_refresh_token_that_is_not_one_is_a_documented_401(client, spec) -> None:
    response = client.post(
        f"{API}/auth/refresh", json={"refresh_token": "not-a-refresh-token-anyone-was-given"}
    )
    assert response.status_code == 401
    documented(spec, "POST", "/api/v1/auth/refresh", response)
