"""The migrations build the schema from nothing, tear it down again, and match the models."""

from __future__ import annotations

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.registry import migrate
from services.registry.core.db import make_engine
from services.registry.models import metadata

from .conftest import create_database, drop_database


def _tables(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_to_head_then_downgrade_to_base_and_up_again(server_url: str) -> None:
    url = create_database(server_url, "registry_migrations")
    try:
        migrate.upgrade(url)
        assert _tables(url) == set(metadata.tables)
        migrate.downgrade(url, "base")
        assert _tables(url) == set()
        migrate.upgrade(url)
        assert _tables(url) == set(metadata.tables)
    finally:
        drop_database(server_url, url)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models differ from the migrations: {diff}"
