"""Every error is RFC 9457 problem+json, names the field, and never echoes personal data."""

from __future__ import annotations

from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from services.registry.app import create_app
from services.registry.core.deps import SessionDep

from .factories import resident_id, with_wrong_check_digit

PROBLEM = "application/problem+json"


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["status"] == status
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    return body


def test_malformed_json_body_is_a_422_problem_saying_malformed_json(client, factory) -> None:
    response = client.post(
        "/api/v1/orgs",
        content=b'{"code": "X1", "name": ',
        headers={**factory.caller("platform_admin"), "Content-Type": "application/json"},
    )
    body = assert_problem(response, 422)
    assert "malformed JSON" in body["detail"]
    assert [e["reason"] for e in body["errors"]] == ["malformed JSON"]
    assert body["errors"][0]["field"] == "body"


def test_non_json_content_type_is_refused_with_415(client, factory) -> None:
    response = client.post(
        "/api/v1/orgs",
        content=b"code=X1&name=a&kind=national_society",
        headers={
            **factory.caller("platform_admin"),
            "Content-Type": "application/x-www-form-urlencoded",
        },
    )
    body = assert_problem(response, 415)
    assert "application/json" in body["detail"]


def test_json_body_without_content_type_is_refused(client, factory) -> None:
    response = client.post(
        "/api/v1/orgs",
        content=b'{"code": "X2", "name": "a", "kind": "national_society"}',
        headers={**factory.caller("platform_admin"), "Content-Type": "text/plain"},
    )
    assert_problem(response, 415)


def test_json_with_charset_parameter_is_accepted(client, factory) -> None:
    response = client.post(
        "/api/v1/orgs",
        content='{"code": "CHARSET-1", "name": "字符集学会", "kind": "national_society"}'.encode(),
        headers={
            **factory.caller("platform_admin"),
            "Content-Type": "application/json; charset=utf-8",
        },
    )
    assert response.status_code == 201, response.text


def test_body_that_is_not_an_object_is_a_422_naming_the_body(client, factory) -> None:
    response = client.post("/api/v1/orgs", json=[1, 2], headers=factory.caller("platform_admin"))
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "body"


def test_unknown_route_is_a_404_problem(client) -> None:
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404)
    assert body["type"].endswith("/not-found")
    assert body["instance"] == "/api/v1/no-such-thing"


def test_wrong_method_is_a_405_problem_with_allow_header(client) -> None:
    response = client.put("/api/v1/orgs")
    body = assert_problem(response, 405)
    assert body["type"].endswith("/method-not-allowed")
    assert response.headers["allow"]


def test_missing_token_is_a_401_problem(client) -> None:
    response = client.get("/api/v1/orgs")
    assert_problem(response, 401)
    assert response.headers["www-authenticate"] == "Bearer"


def test_validation_error_never_echoes_the_submitted_id_number(client, factory) -> None:
    bad = with_wrong_check_digit(resident_id(date(1980, 5, 17), "female"))
    response = client.post(
        "/api/v1/people",
        json={"name": "回显测试", "id_type": "resident_id", "id_number": bad},
        headers=factory.caller("platform_admin"),
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "id_number"
    assert bad not in response.text
    assert bad[:17] not in response.text
    assert "19800517" not in response.text


def test_schema_level_errors_do_not_echo_the_input_either(client, factory) -> None:
    secret = "13912345678-not-an-email"
    response = client.post(
        "/api/v1/people",
        json={"name": "回显测试", "email": secret, "phone": secret, "gender": secret},
        headers=factory.caller("platform_admin"),
    )
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} == {"email", "phone", "gender"}
    assert secret not in response.text


def test_a_too_short_id_number_is_refused_without_echo(client, factory) -> None:
    response = client.post(
        "/api/v1/people",
        json={"name": "回显测试", "id_number": "1X"},
        headers=factory.caller("platform_admin"),
    )
    body = assert_problem(response, 422)
    assert body["errors"][0]["field"] == "id_number"
    assert '"1X"' not in response.text


def test_errors_list_every_failing_field_at_once(client, factory) -> None:
    response = client.post(
        "/api/v1/orgs",
        json={"code": "!", "kind": "club", "uscc": "123", "region_code": "99"},
        headers=factory.caller("platform_admin"),
    )
    body = assert_problem(response, 422)
    assert {e["field"] for e in body["errors"]} >= {"code", "name", "kind", "uscc", "region_code"}
    assert all(e["reason"] for e in body["errors"])


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"grant_type": "password", "username": "admin\x00", "password": "whatever-1"}, "username"),
        (
            {"grant_type": "client_credentials", "client_id": "site\x00", "client_secret": "s3x"},
            "client_id",
        ),
    ],
    ids=["password", "client_credentials"],
)
def test_a_control_character_in_a_sign_in_name_is_a_422_naming_it(client, form, field) -> None:
    body = assert_problem(client.post("/api/v1/auth/token", data=form), 422)
    assert body["errors"][0]["field"] == field


@pytest.mark.parametrize(
    ("path", "params"),
    [
        ("/people", {"q": "张\x00"}),
        ("/people", {"institution": "大学\x00"}),
        ("/people", {"org_code": "A\x00"}),
        ("/orgs", {"q": "学会\x00"}),
        ("/orgs", {"parent_code": "\x01"}),
    ],
)
def test_a_control_character_in_a_query_parameter_is_a_422_naming_it(
    client, factory, path, params
) -> None:
    response = client.get("/api/v1" + path, params=params, headers=factory.caller("platform_admin"))
    body = assert_problem(response, 422)
    assert body["errors"] == [
        {"field": next(iter(params)), "reason": "contains control characters"}
    ]


def test_a_control_character_in_a_path_names_nothing(client, factory) -> None:
    response = client.get("/api/v1/orgs/A%00", headers=factory.caller("platform_admin"))
    assert_problem(response, 404)


def test_a_statement_past_a_database_limit_is_a_500_not_a_retry_later(settings, database_url):  # type: ignore[no-untyped-def]
    """A limit of PostgreSQL's (SQLSTATE class 54) refuses the same statement every time:
    answering 503 with Retry-After would have clients retry it for ever."""
    app = create_app(settings, database_url)

    @app.get("/too-long-a-word")
    def _too_long(session: SessionDep) -> None:
        session.execute(text("SELECT CAST(repeat('x', 3000) AS tsquery)"))

    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            body = assert_problem(client.get("/too-long-a-word"), 500)
            assert "Retry-After" not in client.get("/too-long-a-word").headers
            assert "xxxx" not in body["detail"]
    finally:
        app.state.runtime.engine.dispose()


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"name": ""}, "name", "String should have at least 1 character"),
        (
            {"name": "张三", "institution": ""},
            "institution",
            "String should have at least 1 character",
        ),
        (
            {"name": "张三", "institution": "大" * 201},
            "institution",
            "String should have at most 200 characters",
        ),
        (
            {"name": "张三", "research_fields": [""]},
            "research_fields.0",
            "String should have at least 1 character",
        ),
    ],
)
def test_text_of_the_wrong_length_is_refused_in_characters_not_items(
    client, factory, body, field, reason
) -> None:
    response = client.post("/api/v1/people", json=body, headers=factory.caller("platform_admin"))
    assert assert_problem(response, 422)["errors"] == [{"field": field, "reason": reason}]


def test_every_database_connection_busy_is_a_503_with_retry_after(settings, database_url):  # type: ignore[no-untyped-def]
    """A pool with no connection free within its timeout is the database being unavailable
    for now: try again shortly, not an unexpected error."""
    app = create_app(settings.model_copy(update={"db_pool_size": 1}), database_url)
    engine = app.state.runtime.engine
    engine.pool._timeout = 0.2  # seconds the pool waits for a connection (default 30)
    held = [engine.connect() for _ in range(2)]  # the pool and its overflow, both taken
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            response = client.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": "nobody", "password": "x"},
            )
        body = assert_problem(response, 503)
        assert int(response.headers["Retry-After"]) > 0
        assert "QueuePool" not in body["detail"]
    finally:
        for connection in held:
            connection.close()
        app.state.runtime.close()
