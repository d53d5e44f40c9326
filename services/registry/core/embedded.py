"""The embedded default: a private PostgreSQL started with pgserver in the data directory."""

from __future__ import annotations

import contextlib
import json
import re
import warnings
from pathlib import Path
from typing import Any


def start_embedded_postgres(data_dir: Path, database: str = "registry") -> tuple[str, Any]:
    """Start (or reuse) the private server; return a URL for `database` and the server handle.

    The server stops when the last process holding a handle exits.
    """
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", database):
        raise ValueError("database name must be a plain identifier")
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    try:
        import pgserver
    except ImportError:
        raise RuntimeError(
            "the embedded PostgreSQL needs the `embedded` extra"
            " (pip install 'cast-registry[embedded]'), or set DATABASE_URL"
        ) from None

    pgdata = (data_dir / "pg").resolve()
    _refuse_unusable(pgdata)
    pgdata.mkdir(parents=True, exist_ok=True)
    _forget_dead_holders(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")  # noqa: S608 - checked above
    if "1 row" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    return server.get_uri(database), server


def _refuse_unusable(pgdata: Path) -> None:
    """Refuse, naming the setting to change, a directory the server cannot run in: pgserver
    passes it unquoted in the server's start options, where a space splits it."""
    if any(ch.isspace() for ch in str(pgdata)):
        raise RuntimeError(
            f"the embedded PostgreSQL cannot run in a directory whose path has spaces ({pgdata});"
            " set REGISTRY_DATA_DIR to another directory, or DATABASE_URL to a server"
        )


def _forget_dead_holders(pgdata: Path) -> None:
    """Take processes that no longer run off pgserver's list of the server's holders.

    pgserver stops the server when the last process on that list exits; one that was killed
    (its exit handlers never ran) stayed listed, so after a crash no later run stopped the
    server again and it was left running for good.
    """
    import psutil
    from pgserver.postgres_server import PostgresServer

    path = pgdata / ".handle_pids.json"
    # The lock pgserver itself takes around the list (none in versions without it).
    with getattr(PostgresServer, "_lock", contextlib.nullcontext()):
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        if not isinstance(pids, list):
            return
        alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))
