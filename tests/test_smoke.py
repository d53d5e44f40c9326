"""The service starts on a migrated database and answers its health checks."""

from __future__ import annotations


def test_health_and_readiness_answer(client) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ready"


def test_liveness_is_answered_on_the_event_loop_not_behind_busy_request_threads(app) -> None:
    # Under load every worker thread may be busy with requests; a liveness probe waiting for
    # one would time out and have a healthy process restarted.
    import asyncio

    from fastapi.routing import APIRoute

    (route,) = [r for r in app.routes if isinstance(r, APIRoute) and r.path == "/healthz"]
    assert asyncio.iscoroutinefunction(route.endpoint)
    for dependency in route.dependant.dependencies:
        assert asyncio.iscoroutinefunction(dependency.call)


def test_platform_admin_creates_an_organisation_and_reads_it_back(client, factory) -> None:
    headers = factory.caller("platform_admin")
    created = client.post(
        "/api/v1/orgs",
        json={"code": "smoke-1", "name": "烟雾测试学会", "kind": "national_society"},
        headers=headers,
    )
    assert created.status_code == 201, created.text
    assert created.json()["code"] == "SMOKE-1"
    assert client.get("/api/v1/orgs/SMOKE-1", headers=headers).json()["name"] == "烟雾测试学会"
