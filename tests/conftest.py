"""Test harness: a fresh database per run, built by the migrations, and the app over it."""

from __future__ import annotations

import os
import tempfile
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from services.registry import migrate
from services.registry.app import create_app
from services.registry.core.config import Settings
from services.registry.core.runtime import Runtime

from .factories import Factory

warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _with_database(url: str, name: str) -> str:
    """The same server URL pointing at another database (query parameters such as host kept)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(database=name).render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """TEST_DATABASE_URL when set, otherwise a throwaway pgserver instance."""
    url = os.environ.get("TEST_DATABASE_URL")
    if url:
        yield url
        return
    import pgserver

    # Not below pytest's base temp: each pytest run resets /tmp/pytest-of-<user> to mode 0700,
    # which would lock the server's own user out of its data while another run starts.
    data = Path(tempfile.mkdtemp(prefix="registry-test-pg-"))
    server = pgserver.get_server(data, cleanup_mode="delete")
    try:
        yield server.get_uri("postgres")
    finally:
        server.cleanup()


def create_database(server_url: str, prefix: str = "registry_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    return _with_database(server_url, name)


def drop_database(server_url: str, url: str) -> None:
    from sqlalchemy.engine import make_url

    name = make_url(url).database
    with psycopg.connect(_libpq(server_url), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def database_url(server_url: str) -> Iterator[str]:
    """A database of this run's own, migrated to head, dropped at the end."""
    url = create_database(server_url)
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_database(server_url, url)


@pytest.fixture(scope="session")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        env="test",
        data_dir=tmp_path_factory.mktemp("data"),
        search_inline_drain=False,
        principal_cache_seconds=0,
        # Tests sign in from one address far more often than people do; the limit has its
        # own test.
        signin_rate_limit=100_000,
    )


@pytest.fixture(scope="session")
def app(settings: Settings, database_url: str):  # type: ignore[no-untyped-def]
    application = create_app(settings, database_url)
    yield application
    application.state.runtime.engine.dispose()


@pytest.fixture(scope="session")
def runtime(app) -> Runtime:  # type: ignore[no-untyped-def]
    return app.state.runtime


@pytest.fixture
def client(app) -> Iterator[TestClient]:  # type: ignore[no-untyped-def]
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def factory(runtime: Runtime) -> Factory:
    return Factory(runtime)


@pytest.fixture
def db(runtime: Runtime):  # type: ignore[no-untyped-def]
    """A plain SQL connection for checking what was stored."""
    with runtime.engine.connect() as conn:
        yield conn


ROOT = Path(__file__).resolve().parents[1]
