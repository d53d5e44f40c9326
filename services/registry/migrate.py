"""Applying Alembic migrations from code: the CLI, the embedded server and the tests use this."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

ROOT = Path(__file__).resolve().parents[2]


def alembic_config(database_url: str | None = None) -> Config:
    config = Config(str(ROOT / "alembic.ini"))
    config.set_main_option("script_location", str(ROOT / "migrations"))
    if database_url:
        config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str | None:
    return _scripts().get_current_head()


def is_behind(revision: str | None) -> bool:
    """True when the database lacks migrations this code needs.

    A revision this code does not know is newer (a rollout has migrated ahead): not behind.
    """
    if revision == head_revision():
        return False
    if revision is None:
        return True
    try:
        _scripts().get_revision(revision)
    except Exception:  # unknown to this code: applied by a newer release
        return False
    return True
