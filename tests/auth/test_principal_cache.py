"""Verified callers are cached briefly per token; grant changes show within that window."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from services.registry.app import create_app
from services.registry.auth.models import Account, Role

from ..factories import Factory


def test_a_disabled_account_is_refused_once_the_short_cache_expires(settings, database_url) -> None:
    app = create_app(settings.model_copy(update={"principal_cache_seconds": 0.3}), database_url)
    with TestClient(app) as client:
        runtime = app.state.runtime
        factory = Factory(runtime)
        account = factory.account(Role.platform_admin)
        headers = factory.headers(account)
        assert client.get("/api/v1/orgs", headers=headers).status_code == 200
        with runtime.sessions.begin() as session:
            session.execute(update(Account).where(Account.id == account.id).values(is_active=False))
        # Within the window the verified caller is reused; after it, the account is re-read.
        time.sleep(0.4)
        assert client.get("/api/v1/orgs", headers=headers).status_code == 401


def test_an_invalid_token_is_never_cached(settings, database_url) -> None:
    app = create_app(settings.model_copy(update={"principal_cache_seconds": 60}), database_url)
    with TestClient(app) as client:
        bad = {"Authorization": "Bearer not.a.token"}
        assert client.get("/api/v1/orgs", headers=bad).status_code == 401
        assert client.get("/api/v1/orgs", headers=bad).status_code == 401
        assert app.state.runtime.principals.get("not.a.token") is None
