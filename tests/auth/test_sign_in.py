"""Signing in at the token endpoint, throttling failures, and rotating refresh tokens.

argon2 makes each sign-in take a noticeable fraction of a second, so tests sign in sparingly.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from urllib.parse import quote_plus

import pytest
from sqlalchemy import text, update
from sqlalchemy.orm import Session

from services.registry.auth import passwords
from services.registry.auth import service as auth_service
from services.registry.auth.models import Account, AccountKind, Role
from services.registry.core.db import transaction
from services.registry.core.errors import TooManyRequests, Unauthorized

from ..factories import PASSWORD, wait_for_lock_waiter

TOKEN = "/api/v1/auth/token"
REFRESH = "/api/v1/auth/refresh"
PROTECTED = "/api/v1/people"
CLIENT_SECRET = "client-secret-0f8e7d6c5b4a"


def sign_in(client, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
    return client.post(
        TOKEN, data={"grant_type": "password", "username": username, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(client_id: str, secret: str) -> dict[str, str]:
    raw = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {raw}"}


def assert_problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["status"] == status
    return body


@pytest.fixture
def org(factory):  # type: ignore[no-untyped-def]
    return factory.org()


@pytest.fixture
def client_account(factory, org) -> Account:  # type: ignore[no-untyped-def]
    """A society's system: an org_staff grant held by an account of kind client."""
    return factory.account("org_staff", org, kind=AccountKind.client, password=CLIENT_SECRET)


def test_password_grant_issues_a_bearer_access_token_and_a_refresh_token(
    client, factory, org
) -> None:
    account = factory.account("org_admin", org)
    response = sign_in(client, account.username)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert len(body["refresh_token"]) >= 32
    assert body["access_token"].count(".") == 2
    assert client.get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200


def test_login_name_is_matched_without_regard_to_case_or_surrounding_spaces(
    client, factory
) -> None:
    account = factory.account("member")
    response = sign_in(client, f"  {account.username.upper()} ")
    assert response.status_code == 200, response.text


def test_wrong_password_and_unknown_user_answer_the_same_401(client, factory) -> None:
    account = factory.account("org_admin", factory.org())
    wrong = sign_in(client, account.username, "not-the-password-1")
    unknown = sign_in(client, "nobody-by-this-name", "not-the-password-1")
    wrong_body = assert_problem(wrong, 401)
    unknown_body = assert_problem(unknown, 401)
    assert wrong_body == unknown_body
    assert "access_token" not in wrong_body


def test_disabled_account_cannot_sign_in(client, factory, runtime) -> None:
    account = factory.account("platform_admin")
    with transaction(runtime.sessions) as session:
        session.execute(update(Account).where(Account.id == account.id).values(is_active=False))
    assert_problem(sign_in(client, account.username), 401)


@pytest.mark.parametrize("missing", ["username", "password"])
def test_password_grant_without_credentials_names_the_missing_field(client, missing) -> None:
    data = {"grant_type": "password", "username": "someone", "password": "something-1"}
    del data[missing]
    body = assert_problem(client.post(TOKEN, data=data), 422)
    assert [e["field"] for e in body["errors"]] == [missing]


def test_client_credentials_in_form_fields_issue_an_access_token_without_refresh(
    client, client_account
) -> None:
    response = client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": client_account.username,
            "client_secret": CLIENT_SECRET,
        },
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body.get("refresh_token") is None
    assert client.get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200


def test_client_credentials_in_http_basic_issue_an_access_token_without_refresh(
    client, client_account
) -> None:
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(client_account.username, CLIENT_SECRET),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body.get("refresh_token") is None
    assert client.get(PROTECTED, headers=bearer(body["access_token"])).status_code == 200


def test_client_credentials_in_http_basic_are_form_encoded_as_rfc_6749_says(
    client, runtime, org
) -> None:
    """OAuth clients form-encode the id and secret before Basic (RFC 6749 2.3.1), so a client
    id with a colon or an at sign, and a secret with a plus or a percent, still sign in."""
    name = f"cstam:site@{org.code.lower()}"
    secret = "s3cret+with/100%&more"
    with transaction(runtime.sessions) as session:
        auth_service.create_account(
            session,
            username=name,
            secret=secret,
            role=Role.org_staff,
            org_code=org.code,
            kind=AccountKind.client,
        )
    raw = f"{quote_plus(name)}:{quote_plus(secret)}"
    encoded = {"Authorization": "Basic " + base64.b64encode(raw.encode()).decode()}
    response = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=encoded)
    assert response.status_code == 200, response.text
    not_utf8 = {"Authorization": "Basic " + base64.b64encode(b"site%ff:secret").decode()}
    refused = client.post(TOKEN, data={"grant_type": "client_credentials"}, headers=not_utf8)
    assert_problem(refused, 422)


def test_client_credentials_with_a_wrong_secret_in_http_basic_are_refused(
    client, client_account
) -> None:
    response = client.post(
        TOKEN,
        data={"grant_type": "client_credentials"},
        headers=basic(client_account.username, "wrong-secret-123"),
    )
    assert_problem(response, 401)


def test_a_client_cannot_use_the_password_grant(client, client_account) -> None:
    assert_problem(sign_in(client, client_account.username, CLIENT_SECRET), 401)


def test_a_user_cannot_use_the_client_credentials_grant(client, factory) -> None:
    account = factory.account("org_admin", factory.org())
    response = client.post(
        TOKEN,
        data={
            "grant_type": "client_credentials",
            "client_id": account.username,
            "client_secret": PASSWORD,
        },
    )
    assert_problem(response, 401)


@pytest.mark.parametrize("grant_type", ["authorization_code", "refresh_token", "implicit", ""])
def test_unsupported_grant_type_answers_422_naming_grant_type(client, grant_type) -> None:
    response = client.post(TOKEN, data={"grant_type": grant_type, "username": "a", "password": "b"})
    body = assert_problem(response, 422)
    assert [e["field"] for e in body["errors"]] == ["grant_type"]


def test_repeated_failures_lock_the_login_even_for_the_right_password(
    client, factory, runtime
) -> None:
    account = factory.account("org_admin", factory.org())
    limit = runtime.settings.login_max_failures  # 5 unless REGISTRY_LOGIN_MAX_FAILURES says
    for _ in range(limit):
        assert_problem(sign_in(client, account.username, "guessed-password-1"), 401)
    locked = sign_in(client, account.username)
    assert_problem(locked, 429)
    assert int(locked.headers["Retry-After"]) > 0
    assert "access_token" not in locked.json()


def test_lockout_of_one_login_leaves_other_logins_alone(client, factory, runtime) -> None:
    victim = factory.account("member")
    other = factory.account("member")
    for _ in range(runtime.settings.login_max_failures):
        sign_in(client, victim.username, "guessed-password-1")
    assert_problem(sign_in(client, victim.username), 429)
    assert sign_in(client, other.username).status_code == 200


def _guess_wrong(runtime, username: str):  # type: ignore[no-untyped-def]
    """One failed sign-in; the lock it leaves on the name, if any."""
    with pytest.raises(Unauthorized):
        auth_service.sign_in(
            runtime, kind=AccountKind.user, name=username, secret="wrong-password-1"
        )
    with runtime.sessions() as session:
        return session.execute(
            text("SELECT locked_until FROM login_throttle WHERE key = :k"),
            {"k": f"user:{username}"},
        ).scalar()


def test_a_lockout_keeps_doubling_for_a_guesser_who_waits_each_lock_out(
    runtime, factory, monkeypatch
) -> None:
    """A lock of 16 minutes or more outlasts the quiet window that restarts the count: the
    count must go on, or waiting each lock out buys five free guesses every half hour."""
    account = factory.account(Role.member)
    clock = [datetime(2030, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(auth_service, "_now", lambda: clock[0])
    locks: list[float] = []
    for _ in range(16):
        locked_until = _guess_wrong(runtime, account.username)
        if locked_until and locked_until > clock[0]:
            locks.append((locked_until - clock[0]).total_seconds())
            clock[0] = locked_until + timedelta(seconds=1)
        else:
            clock[0] += timedelta(seconds=1)
    assert locks == [min(30 * 2**i, 3600) for i in range(12)]
    # A quiet window after the last lock ends starts the count afresh.
    clock[0] += timedelta(minutes=16)
    with pytest.raises(Unauthorized):
        auth_service.sign_in(
            runtime, kind=AccountKind.user, name=account.username, secret="wrong-password-1"
        )
    with runtime.sessions() as session:
        assert (
            session.execute(
                text("SELECT failures FROM login_throttle WHERE key = :k"),
                {"k": f"user:{account.username}"},
            ).scalar()
            == 1
        )


def test_guesses_made_at_once_are_not_all_checked_before_the_lock(runtime, factory) -> None:
    account = factory.account(Role.member)
    outcomes: list[str] = []
    start = threading.Barrier(12)

    def guess(i: int) -> None:
        start.wait()
        try:
            auth_service.sign_in(
                runtime, kind=AccountKind.user, name=account.username, secret=f"guess-{i}-xyz1"
            )
        except Unauthorized:
            outcomes.append("checked")
        except TooManyRequests:
            outcomes.append("refused")

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("checked") == runtime.settings.login_max_failures
    assert outcomes.count("refused") == 12 - runtime.settings.login_max_failures


def test_a_guessing_campaign_of_days_keeps_the_lock_at_an_hour(runtime, factory, monkeypatch):  # type: ignore[no-untyped-def]
    """The count goes on while locks are recent: the doubling must stop at the cap long
    before its arithmetic overflows (it was a 500 for the name after some 40 hours)."""
    account = factory.account(Role.member)
    clock = [datetime(2031, 1, 1, tzinfo=UTC)]
    monkeypatch.setattr(auth_service, "_now", lambda: clock[0])
    for _ in range(runtime.settings.login_max_failures + 45):
        locked_until = _guess_wrong(runtime, account.username)
        clock[0] = max(clock[0], locked_until or clock[0]) + timedelta(seconds=1)
    assert (locked_until - (clock[0] - timedelta(seconds=1))) <= timedelta(hours=1)
    issued = auth_service.sign_in(
        runtime, kind=AccountKind.user, name=account.username, secret=PASSWORD
    )
    assert issued.access_token


def test_sign_ins_at_once_with_the_right_secret_all_succeed(runtime, factory, monkeypatch):  # type: ignore[no-untyped-def]
    """A society system's workers starting together: attempts on one name take turns, and
    none is refused for the others."""
    account = factory.account(Role.org_staff, factory.org(), kind=AccountKind.client)
    check = passwords.verify_secret

    def slow(secret, hashed):  # type: ignore[no-untyped-def]
        time.sleep(0.2)  # the deliberate slowness of argon2, made certain
        return check(secret, hashed)

    monkeypatch.setattr(passwords, "verify_secret", slow)
    n = runtime.settings.login_max_failures + 3
    start = threading.Barrier(n)
    outcomes: list[str] = []

    def sign_in_now() -> None:
        start.wait()
        try:
            auth_service.sign_in(
                runtime, kind=AccountKind.client, name=account.username, secret=PASSWORD
            )
            outcomes.append("ok")
        except (TooManyRequests, Unauthorized) as exc:
            outcomes.append(type(exc).__name__)

    threads = [threading.Thread(target=sign_in_now) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes == ["ok"] * n


def test_sign_ins_from_one_address_are_limited_whatever_the_names(
    client, factory, runtime, monkeypatch
) -> None:
    """One password tried on many login names meets no per-name lock: the address is counted."""
    monkeypatch.setattr(runtime.settings, "signin_rate_limit", 3)
    with transaction(runtime.sessions) as session:
        session.execute(text("DELETE FROM rate_limit_counter WHERE name = 'auth-token'"))
    try:
        names = [factory.account(Role.member).username for _ in range(4)]
        statuses = [sign_in(client, name, "Summer2026!").status_code for name in names]
        assert statuses == [401, 401, 401, 429]
        refused = sign_in(client, names[0])
        assert_problem(refused, 429)
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
    finally:
        with transaction(runtime.sessions) as session:
            session.execute(text("DELETE FROM rate_limit_counter WHERE name = 'auth-token'"))


def test_refresh_token_rotates_and_reuse_revokes_the_whole_family(client, factory, db) -> None:
    account = factory.account("org_admin", factory.org())
    first = sign_in(client, account.username).json()["refresh_token"]

    rotated = client.post(REFRESH, json={"refresh_token": first})
    assert rotated.status_code == 200, rotated.text
    second = rotated.json()
    assert second["token_type"] == "bearer"
    assert second["expires_in"] == 900
    assert second["refresh_token"] not in (None, first)
    assert client.get(PROTECTED, headers=bearer(second["access_token"])).status_code == 200

    third = client.post(REFRESH, json={"refresh_token": second["refresh_token"]})
    assert third.status_code == 200, third.text
    newest = third.json()["refresh_token"]

    assert_problem(client.post(REFRESH, json={"refresh_token": first}), 401)
    # The thief may hold the newest token as well as the old one: the whole sign-in ends.
    assert_problem(client.post(REFRESH, json={"refresh_token": newest}), 401)

    events = db.execute(
        text(
            "SELECT action, object_type, object_id FROM audit_event"
            " WHERE action = 'refresh_token.reused' AND object_id = :account"
        ),
        {"account": str(account.id)},
    ).all()
    assert len(events) >= 1
    assert events[0].object_type == "account"


def test_a_sign_in_ends_at_its_maximum_age_however_often_it_is_refreshed(
    runtime, factory, monkeypatch
) -> None:
    account = factory.account(Role.member)
    start = datetime(2030, 1, 1, tzinfo=UTC)
    clock = [start]
    monkeypatch.setattr(auth_service, "_now", lambda: clock[0])
    issued = auth_service.sign_in(
        runtime, kind=AccountKind.user, name=account.username, secret=PASSWORD
    )
    token = issued.refresh_token
    assert token is not None
    for days in (29, 58, 87):
        clock[0] = start + timedelta(days=days)
        token = auth_service.rotate_refresh(runtime, token).refresh_token
        assert token is not None
    clock[0] = start + timedelta(days=90, seconds=1)
    with pytest.raises(Unauthorized, match="expired"):
        auth_service.rotate_refresh(runtime, token)


def test_no_access_token_outlives_the_sign_in(client, factory, runtime, monkeypatch) -> None:
    """The sign-in's end bounds the access tokens it gives too, not only its refresh tokens."""
    monkeypatch.setattr(runtime.settings, "session_max_age_seconds", 120)
    account = factory.account("member")
    started = time.time()
    signed_in = sign_in(client, account.username).json()
    rotated = client.post(REFRESH, json={"refresh_token": signed_in["refresh_token"]}).json()
    for issued in (signed_in, rotated):
        payload = issued["access_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        assert claims["exp"] <= started + 121
        assert issued["expires_in"] <= 121


def test_reuse_revokes_only_the_family_of_that_sign_in(client, factory) -> None:
    account = factory.account("member")
    stolen = sign_in(client, account.username).json()["refresh_token"]
    other_device = sign_in(client, account.username).json()["refresh_token"]
    assert client.post(REFRESH, json={"refresh_token": stolen}).status_code == 200
    assert_problem(client.post(REFRESH, json={"refresh_token": stolen}), 401)
    assert client.post(REFRESH, json={"refresh_token": other_device}).status_code == 200


def test_unknown_refresh_token_is_refused(client) -> None:
    assert_problem(client.post(REFRESH, json={"refresh_token": "x" * 43}), 401)


def test_refresh_token_of_a_disabled_account_is_refused(client, factory, runtime) -> None:
    account = factory.account("member")
    refresh = sign_in(client, account.username).json()["refresh_token"]
    with transaction(runtime.sessions) as session:
        session.execute(update(Account).where(Account.id == account.id).values(is_active=False))
    assert_problem(client.post(REFRESH, json={"refresh_token": refresh}), 401)


def test_a_sign_in_that_ends_after_its_account_was_disabled_is_refused(
    client, factory, runtime, db
) -> None:
    """Disabling an account while one of its sign-ins checks the password (argon2 takes a
    noticeable time): the sign-in finishes after the disabling and gives no tokens, so no
    refresh token escapes the revocation and comes back to life when the account is enabled
    again."""
    account = factory.account("member")
    result: dict[str, object] = {}

    def sign_in_now() -> None:
        result["response"] = sign_in(client, account.username)

    with runtime.engine.connect() as holder:
        # The disabling's own lock on the account, taken while the password was being checked.
        holder.execute(text("SELECT 1 FROM account WHERE id = :a FOR UPDATE"), {"a": account.id})
        thread = threading.Thread(target=sign_in_now)
        thread.start()
        wait_for_lock_waiter(db, unless=lambda: "response" in result)
        with Session(bind=holder) as session:
            auth_service.set_active(session, username=account.username, active=False)
        holder.commit()
    thread.join(30)
    with transaction(runtime.sessions) as session:
        auth_service.set_active(session, username=account.username, active=True)
    response = result["response"]
    if response.status_code == 200:  # type: ignore[attr-defined]
        refresh = response.json()["refresh_token"]  # type: ignore[attr-defined]
        assert_problem(client.post(REFRESH, json={"refresh_token": refresh}), 401)
    assert_problem(response, 401)  # type: ignore[arg-type]


def test_refresh_token_is_not_an_access_token(client, factory) -> None:
    account = factory.account("platform_admin")
    refresh = sign_in(client, account.username).json()["refresh_token"]
    assert_problem(client.get(PROTECTED, headers=bearer(refresh)), 401)


def test_refresh_tokens_are_stored_hashed(client, factory, db) -> None:
    account = factory.account("member")
    refresh = sign_in(client, account.username).json()["refresh_token"]
    stored = (
        db.execute(
            text("SELECT token_hash FROM refresh_token WHERE account_id = :a"),
            {"a": account.id},
        )
        .scalars()
        .all()
    )
    assert len(stored) == 1
    assert refresh.encode() not in bytes(stored[0])
    assert len(bytes(stored[0])) == 32
