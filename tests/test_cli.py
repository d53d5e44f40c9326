"""The `registry` command: accounts, OpenAPI export, exit codes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from services.registry.cli import app

from .conftest import ROOT
from .factories import PASSWORD


@pytest.fixture
def cli_env(database_url: str, settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REGISTRY_ENV", "test")


def test_users_create_reads_the_password_from_stdin_and_can_sign_in(
    cli_env: None, factory, client, db
) -> None:
    org = factory.org()
    result = CliRunner().invoke(
        app,
        ["users", "create", "Secretary-Li", "--role", "org_admin", "--org", org.code.lower(),
         "--password-stdin"],
        input="a-long-Passw0rd\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "secretary-li" in result.output
    role = db.execute(
        text(
            "SELECT g.role, o.code FROM account a JOIN role_grant g ON g.account_id = a.id "
            "JOIN organisation o ON o.id = g.org_id WHERE a.username = 'secretary-li'"
        )
    ).one()
    assert tuple(role) == ("org_admin", org.code)
    token = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": "secretary-li", "password": "a-long-Passw0rd"},
    )
    assert token.status_code == 200


@pytest.mark.parametrize(
    ("args", "stdin", "reason"),
    [
        (["--role", "org_admin"], "a-long-Passw0rd\n", "needs an organisation"),
        (["--role", "org_admin", "--org", "NO-SUCH-ORG"], "a-long-Passw0rd\n", "no organisation"),
        (["--role", "platform_admin"], "short\n", "at least"),
        # The token endpoint takes passwords of up to 256 characters: a longer one never signs in.
        (["--role", "platform_admin"], "Passw0rd-" * 29 + "\n", "at most 256"),
    ],
)
def test_users_create_refuses_bad_input_with_usage_exit_code(
    cli_env: None, args: list[str], stdin: str, reason: str
) -> None:
    result = CliRunner().invoke(
        app, ["users", "create", "someone", *args, "--password-stdin"], input=stdin
    )
    assert result.exit_code == 2
    assert reason in result.output


def test_users_create_links_a_profile_only_when_it_exists_and_has_no_account(
    cli_env: None, factory, db
) -> None:
    """One profile, one account: the command refuses a profile linked already (as linking by
    the API does), an unknown one and a malformed id, and creates nothing then."""
    person = factory.person()
    factory.account("member", person=person)
    cases = [
        (str(person.id), 1, "linked to an account already"),
        (str(uuid.uuid4()), 2, "no profile"),
        ("not-a-uuid", 2, "person-id"),
    ]
    for person_id, exit_code, reason in cases:
        name = f"someone-{uuid.uuid4().hex[:8]}"
        result = CliRunner().invoke(
            app,
            ["users", "create", name, "--role", "member", "--person-id", person_id,
             "--password-stdin"],
            input="a-long-Passw0rd\n",
        )  # fmt: skip
        assert result.exit_code == exit_code, result.output
        assert reason in " ".join(result.output.split()), result.output
        assert (
            db.execute(
                text("SELECT count(*) FROM account WHERE username = :n"), {"n": name}
            ).scalar_one()
            == 0
        )
    linked = db.execute(
        text("SELECT count(*) FROM account WHERE person_id = :p"), {"p": person.id}
    ).scalar_one()
    assert linked == 1


def test_users_create_with_a_profile_records_the_link_in_its_history(
    cli_env: None, factory, db
) -> None:
    person = factory.person()
    name = f"member-{uuid.uuid4().hex[:8]}"
    result = CliRunner().invoke(
        app,
        ["users", "create", name, "--role", "member", "--person-id", str(person.id),
         "--password-stdin"],
        input="a-long-Passw0rd\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    entry = db.execute(
        text(
            "SELECT field, old_value, new_value, actor FROM change_history"
            " WHERE entity = 'person' AND entity_id = :p AND field = 'account'"
        ),
        {"p": person.id},
    ).one()
    assert tuple(entry) == ("account", None, name, "cli")


def test_unknown_role_is_a_usage_error(cli_env: None) -> None:
    result = CliRunner().invoke(
        app, ["users", "create", "x", "--role", "wizard", "--password-stdin"]
    )
    assert result.exit_code == 2


def test_clients_create_prints_a_secret_that_signs_in(cli_env: None, factory, client) -> None:
    import json

    org = factory.org()
    result = CliRunner().invoke(app, ["clients", "create", "society-site", "--org", org.code])
    assert result.exit_code == 0, result.output
    creds = json.loads(result.output.strip().splitlines()[-1])
    token = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "client_credentials", **creds},
    )
    assert token.status_code == 200, token.text
    assert "refresh_token" not in token.json() or token.json()["refresh_token"] is None


def test_openapi_export_writes_the_committed_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = CliRunner().invoke(app, ["openapi", "export", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text() == (ROOT / "openapi" / "openapi.json").read_text()


def test_disabling_an_account_ends_its_sign_ins_and_enabling_needs_a_new_one(
    cli_env: None, factory, client, db
) -> None:
    """A departed secretary's login or a leaked client secret is stopped from the command line:
    no sign-in, its access tokens refused, its refresh tokens revoked for good."""
    account = factory.account("org_admin", factory.org())
    signed_in = client.post(
        "/api/v1/auth/token",
        data={"grant_type": "password", "username": account.username, "password": PASSWORD},
    ).json()
    bearer = {"Authorization": f"Bearer {signed_in['access_token']}"}
    assert client.get("/api/v1/me", headers=bearer).status_code == 200

    result = CliRunner().invoke(app, ["users", "disable", account.username.upper()])
    assert result.exit_code == 0, result.output
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
    refreshed = client.post(
        "/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]}
    )
    assert refreshed.status_code == 401
    live = db.execute(
        text("SELECT count(*) FROM refresh_token WHERE account_id = :a AND revoked_at IS NULL"),
        {"a": account.id},
    ).scalar_one()
    assert live == 0

    result = CliRunner().invoke(app, ["users", "enable", account.username])
    assert result.exit_code == 0, result.output
    again = client.post("/api/v1/auth/refresh", json={"refresh_token": signed_in["refresh_token"]})
    assert again.status_code == 401
    assert (
        client.post(
            "/api/v1/auth/token",
            data={"grant_type": "password", "username": account.username, "password": PASSWORD},
        ).status_code
        == 200
    )


def test_a_client_is_disabled_by_its_client_id(cli_env: None, factory, client) -> None:
    org = factory.org()
    created = CliRunner().invoke(app, ["clients", "create", f"site-{org.code}", "--org", org.code])
    creds = json.loads(created.output.strip().splitlines()[-1])
    result = CliRunner().invoke(app, ["clients", "disable", creds["client_id"]])
    assert result.exit_code == 0, result.output
    token = client.post("/api/v1/auth/token", data={"grant_type": "client_credentials", **creds})
    assert token.status_code == 401


def test_disabling_an_unknown_account_fails(cli_env: None) -> None:
    result = CliRunner().invoke(app, ["users", "disable", "nobody-" + uuid.uuid4().hex])
    assert result.exit_code == 1
    assert "no account" in result.output


@pytest.mark.parametrize(
    ("host", "base"),
    [("0.0.0.0", "http://localhost:8000"), ("::", "http://localhost:8000"),  # noqa: S104
     ("::1", "http://[::1]:8000"), ("registry.example.cn", "http://registry.example.cn:8000")],
)  # fmt: skip
def test_the_welcome_gives_addresses_that_work_in_a_browser(host, base, capsys) -> None:  # type: ignore[no-untyped-def]
    from services.registry.cli import _print_welcome

    _print_welcome(host, 8000, {"password": "pw", "accounts": [("admin", "platform_admin")]})
    printed = capsys.readouterr().out
    assert f"{base}/api/v1" in printed
    assert f"{base}/api/v1/auth/token" in printed


def test_users_list_shows_roles_organisations_and_state(cli_env: None, factory) -> None:
    org = factory.org()
    admin = factory.account("org_admin", org)
    staff = factory.account("org_staff", org)
    factory.grant(staff, "committee", org)
    factory.account("org_admin", factory.org())  # elsewhere: not listed
    disabled = CliRunner().invoke(app, ["users", "disable", staff.username])
    assert disabled.exit_code == 0, disabled.output
    result = CliRunner().invoke(app, ["users", "list", "--org", org.code.lower(), "--json"])
    assert result.exit_code == 0, result.output
    listed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(a["username"], a["active"], a["grants"]) for a in listed] == sorted(
        [
            (admin.username, True, [f"org_admin in {org.code}"]),
            (staff.username, False, [f"committee in {org.code}", f"org_staff in {org.code}"]),
        ]
    )
    by_role = CliRunner().invoke(app, ["users", "list", "--org", org.code, "--role", "org_admin"])
    assert by_role.exit_code == 0, by_role.output
    assert admin.username in by_role.stdout
    assert staff.username not in by_role.stdout
