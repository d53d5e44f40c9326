"""The audit log: what the platform operator reads, and that nothing can rewrite it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from typer.testing import CliRunner

from services.registry.cli import app as cli_app
from services.registry.core.db import transaction

from ..factories import PASSWORD, resident_id

API = "/api/v1"
EVENTS = f"{API}/audit-events"


@pytest.fixture
def platform(factory) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factory.caller("platform_admin")


@pytest.fixture
def cli_env(database_url: str, settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """The `registry` command run in-process against the test database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REGISTRY_ENV", "test")


@pytest.fixture
def read_twice(client, factory):  # type: ignore[no-untyped-def]
    """A society's admin reads one member's identity twice: (admin account, person, number)."""
    org = factory.org()
    number = resident_id()
    person = factory.person(org=org, id_type="resident_id", id_number=number)
    factory.membership(org, person, member_no="A-1")
    admin = factory.account("org_admin", org)
    for _ in range(2):
        response = client.get(f"{API}/people/{person.id}/identity", headers=factory.headers(admin))
        assert response.status_code == 200, response.text
    return admin, person, number


def test_platform_admin_reads_identity_reads_newest_first_without_the_number(
    client, platform, read_twice
) -> None:
    admin, person, number = read_twice
    response = client.get(EVENTS, params={"object_id": str(person.id)}, headers=platform)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert [e["action"] for e in items] == ["person.identity.read"] * 2
    assert items[0]["id"] > items[1]["id"]
    assert {e["actor"] for e in items} == {admin.username}
    assert {e["actor_id"] for e in items} == {str(admin.id)}
    assert {(e["object_type"], e["object_id"]) for e in items} == {("person", str(person.id))}
    assert number not in response.text
    assert number[-6:] not in response.text


def test_audit_log_pages_with_the_cursor_and_filters_by_actor_and_action_family(
    client, platform, read_twice
) -> None:
    admin, person, _ = read_twice
    first = client.get(
        EVENTS, params={"actor": admin.username.upper(), "limit": 1}, headers=platform
    )
    assert first.status_code == 200, first.text
    assert len(first.json()["items"]) == 1
    cursor = first.json()["next_cursor"]
    assert cursor
    second = client.get(
        EVENTS, params={"actor": admin.username, "limit": 1, "cursor": cursor}, headers=platform
    ).json()
    assert second["items"][0]["id"] < first.json()["items"][0]["id"]
    assert second["next_cursor"] is None
    family = client.get(
        EVENTS, params={"action": "person.", "object_id": str(person.id).upper()}, headers=platform
    ).json()["items"]
    assert len(family) == 2
    other_family = client.get(
        EVENTS, params={"action": "account.", "object_id": str(person.id)}, headers=platform
    ).json()["items"]
    assert other_family == []


def test_audit_log_filters_by_time(client, platform, read_twice) -> None:
    _, person, _ = read_twice
    now = datetime.now(UTC)
    params = {"object_id": str(person.id)}
    before = {**params, "until": (now - timedelta(hours=1)).isoformat()}
    assert client.get(EVENTS, params=before, headers=platform).json()["items"] == []
    recent = {**params, "since": (now - timedelta(hours=1)).isoformat()}
    assert len(client.get(EVENTS, params=recent, headers=platform).json()["items"]) == 2


def test_an_upside_down_time_range_is_refused_naming_until(client, platform) -> None:
    now = datetime.now(UTC)
    response = client.get(
        EVENTS,
        params={"since": now.isoformat(), "until": (now - timedelta(days=1)).isoformat()},
        headers=platform,
    )
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["until"]


def test_a_malformed_cursor_is_refused_naming_cursor(client, platform) -> None:
    response = client.get(EVENTS, params={"cursor": "not-a-cursor"}, headers=platform)
    assert response.status_code == 422, response.text
    assert [e["field"] for e in response.json()["errors"]] == ["cursor"]


@pytest.mark.parametrize("role", ["org_admin", "org_staff", "committee", "reviewer", "member"])
def test_only_the_platform_operator_reads_the_audit_log(client, factory, role) -> None:
    org = factory.org()
    response = client.get(
        EVENTS, headers=factory.caller(role, org if role.startswith("org") else None)
    )
    assert response.status_code == 403, response.text


def test_a_lockout_is_recorded_against_the_account(client, factory, runtime, platform) -> None:
    account = factory.account("member")
    for _ in range(runtime.settings.login_max_failures):
        client.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": account.username, "password": "wrong-1"},
        )
    items = client.get(
        EVENTS, params={"action": "lockout", "object_id": str(account.id)}, headers=platform
    ).json()["items"]
    assert len(items) == 1
    assert (items[0]["object_type"], items[0]["actor"]) == ("account", "anonymous")
    assert items[0]["detail"] == {
        "attempt": "user",
        "failures": runtime.settings.login_max_failures,
        "seconds": 30,
    }
    assert PASSWORD not in str(items)
    assert "wrong-1" not in str(items)


def test_a_lockout_of_a_name_no_account_has_keeps_no_name(client, runtime, platform) -> None:
    """People type passwords and phone numbers into the name field: a name that signs no one
    in is not written to the log."""
    typed = "13800138000-" + uuid.uuid4().hex[:6]
    since = (datetime.now(UTC) - timedelta(seconds=1)).isoformat()
    for _ in range(runtime.settings.login_max_failures):
        client.post(
            f"{API}/auth/token",
            data={"grant_type": "password", "username": typed, "password": "wrong-1"},
        )
    # Only this test's lockouts: one an earlier test recorded would answer for a missing one.
    params = {"action": "lockout", "since": since, "limit": 200}
    items = client.get(EVENTS, params=params, headers=platform)
    assert items.status_code == 200, items.text
    assert typed not in items.text
    assert any(
        e["object_id"] is None and e["detail"]["attempt"] == "user" for e in items.json()["items"]
    )


def test_accounts_created_on_the_command_line_are_recorded_and_listed(cli_env, factory) -> None:
    org = factory.org()
    runner = CliRunner()
    created = runner.invoke(
        cli_app,
        ["users", "create", f"sec-{org.code.lower()}", "--role", "org_admin", "--org", org.code,
         "--password-stdin"],
        input="a-long-Passw0rd\n",
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    listed = runner.invoke(cli_app, ["audit", "list", "--action", "account.", "--json"])
    assert listed.exit_code == 0, listed.output
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = [e for e in events if e["detail"].get("username") == f"sec-{org.code.lower()}"]
    assert len(mine) == 1
    assert mine[0]["actor"] == "cli"
    assert mine[0]["action"] == "account.created"
    assert mine[0]["detail"] == {
        "username": f"sec-{org.code.lower()}",
        "kind": "user",
        "role": "org_admin",
        "org": org.code,
    }
    assert "a-long-Passw0rd" not in listed.stdout
    upside_down = runner.invoke(
        cli_app, ["audit", "list", "--since", "2026-01-02", "--until", "2026-01-01"]
    )
    assert upside_down.exit_code == 2
    assert "until" in upside_down.output


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET actor = 'someone-else'",
        "DELETE FROM audit_event",
        "TRUNCATE audit_event",
    ],
)
def test_audit_events_cannot_be_changed_or_deleted(runtime, read_twice, statement) -> None:
    with (
        pytest.raises(DBAPIError, match="never changed or deleted"),
        transaction(runtime.sessions) as session,
    ):
        session.execute(text(statement))


def test_accounts_disabled_and_enabled_on_the_command_line_are_recorded_as_by_cli(
    cli_env, factory
) -> None:
    account = factory.account("member")
    runner = CliRunner()
    for command in ("disable", "enable"):
        done = runner.invoke(cli_app, ["users", command, account.username])
        assert done.exit_code == 0, done.output
    listed = runner.invoke(
        cli_app, ["audit", "list", "--object-id", str(account.id), "--actor", "cli", "--json"]
    )
    assert listed.exit_code == 0, listed.output
    events = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(e["actor"], e["action"]) for e in events] == [
        ("cli", "account.enable"),
        ("cli", "account.disable"),
    ]
