"""A PostgreSQL server configured as deploy/compose.yaml runs it, for the benchmarks.

    python benchmarks/deploy_server.py start DIR   # prints the URL to pass as --server-url
    python benchmarks/deploy_server.py stop DIR

The server is a pgserver instance with its data in DIR, listening on a socket in DIR only,
with the `-c NAME=VALUE` settings of the `postgres` service in deploy/compose.yaml (a
`${VARIABLE:-default}` takes the variable from the environment, else the default). The
machine's own server keeps its settings; this one is sized as production would be, so a
benchmark can report both.
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import sys
import warnings
from pathlib import Path

import psycopg
from psycopg import sql

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose.yaml"
_SETTING = re.compile(r"^\s*-\s*([a-z_]+)=(.+?)\s*$")
_VARIABLE = re.compile(r"\$\{([A-Z0-9_]+):-([^}]*)\}")
# What to use where this PostgreSQL build lacks a value compose asks for (pgserver's has no lz4).
_FALLBACK = {"wal_compression": "on"}


def compose_settings(path: Path = COMPOSE) -> dict[str, str]:
    """The `-c NAME=VALUE` arguments of the postgres service's command."""
    settings: dict[str, str] = {}
    lines = path.read_text().splitlines()
    for before, line in itertools.pairwise(lines):
        if before.strip() == "- -c" and (found := _SETTING.match(line)):
            value = _VARIABLE.sub(lambda m: os.environ.get(m[1], m[2]), found[2])
            settings[found[1]] = value
    if not settings:
        raise SystemExit(f"no '-c NAME=VALUE' settings found in {path}")
    return settings


def start(directory: Path) -> str:
    """Start (initialising on first use) the server in `directory` with the compose settings."""
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    directory.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(directory, cleanup_mode=None)
    url = server.get_uri("postgres")
    with psycopg.connect(url, autocommit=True) as conn:
        for name, value in compose_settings().items():
            try:
                conn.execute(
                    sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), value)
                )
            except psycopg.Error as exc:  # e.g. wal_compression=lz4 on a build without lz4
                fallback = _FALLBACK.get(name)
                print(
                    f"not applied: {name}={value} ({exc.diag.message_primary})"
                    + (f"; {name}={fallback} instead" if fallback else ""),
                    file=sys.stderr,
                )
                if fallback:
                    conn.execute(
                        sql.SQL("ALTER SYSTEM SET {} = {}").format(sql.Identifier(name), fallback)
                    )
    # Shared buffers and the like take effect at a start; pg_ctl restart keeps the options
    # the server was started with (its socket directory).
    pgserver.pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user)
    return url


def stop(directory: Path) -> None:
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
    import pgserver

    server = pgserver.get_server(directory, cleanup_mode=None)
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("directory", type=Path)
    args = parser.parse_args()
    if args.action == "start":
        print(start(args.directory.resolve()))
    else:
        stop(args.directory.resolve())


if __name__ == "__main__":
    main()
