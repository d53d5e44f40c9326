"""The `registry` command: serve the API, migrate, manage accounts, export the OpenAPI document."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from .auth.models import AccountKind, Role
from .core.config import Settings, get_settings
from .core.errors import ProblemError

app = typer.Typer(
    help="CAST talent and member registry.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Sign-in accounts.", no_args_is_help=True)
clients_app = typer.Typer(help="Client credentials for society systems.", no_args_is_help=True)
openapi_app = typer.Typer(help="The OpenAPI document.", no_args_is_help=True)
search_app = typer.Typer(help="The expert search index.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(openapi_app, name="openapi")
app.add_typer(search_app, name="search")

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def database_url(settings: Settings) -> str:
    """DATABASE_URL, or the embedded server's URL after starting it and applying migrations."""
    if settings.database_url:
        return settings.database_url
    if settings.is_production:
        raise _fail("DATABASE_URL is required in production")
    from . import migrate
    from .core.embedded import start_embedded_postgres

    err.print(f"starting embedded PostgreSQL in {settings.data_dir / 'pg'}")
    url, server = start_embedded_postgres(settings.data_dir)
    globals()["_embedded_server"] = server  # keeps the server alive while this process runs
    migrate.upgrade(url)
    return url


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    demo: Annotated[bool, typer.Option(help="load demo data once (embedded default only)")] = False,
) -> None:
    """Run the API; with no DATABASE_URL, start the embedded PostgreSQL and migrate it first."""
    import uvicorn

    settings = get_settings()
    url = database_url(settings)
    os.environ["REGISTRY_EMBEDDED_DATABASE_URL"] = url
    if demo:
        if settings.is_production:
            raise _fail("--demo is for development only")
        from .demo import load_demo

        credentials = load_demo(settings, url)
        _print_welcome(host, port, credentials)
    uvicorn.run(
        "services.registry.main:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        proxy_headers=True,
        log_level="info",
    )


def _print_welcome(host: str, port: int, credentials: dict[str, Any]) -> None:
    base = f"http://{'localhost' if host in {'127.0.0.1', '0.0.0.0'} else host}:{port}"  # noqa: S104
    out.print(f"\n[bold]Registry API[/bold]  {base}/api/v1    [bold]Docs[/bold]  {base}/docs")
    out.print(f"Demo accounts (password [bold]{credentials['password']}[/bold]):")
    for name, role in credentials["accounts"]:
        out.print(f"  {name:<14} {role}")
    out.print(
        "Sign in:  curl -s -d grant_type=password -d username=admin "
        f"-d password={credentials['password']} {base}/api/v1/auth/token\n"
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: the latest)."""
    from . import migrate

    settings = get_settings()
    url = database_url(settings)
    if settings.database_url:
        migrate.upgrade(url, revision)
    out.print(f"database at revision {migrate.head_revision() if revision == 'head' else revision}")


def _runtime_session():  # type: ignore[no-untyped-def]
    from .core.db import make_engine, make_sessionmaker, transaction

    settings = get_settings()
    engine = make_engine(database_url(settings), pool_size=1)
    return transaction(make_sessionmaker(engine))


def _read_secret(stdin: bool, prompt: str) -> str:
    if stdin:
        secret = sys.stdin.readline().rstrip("\n")
    elif sys.stdin.isatty():
        secret = typer.prompt(prompt, hide_input=True, confirmation_prompt=True)
    else:
        raise _fail("no terminal to ask for the password; use --password-stdin", 2)
    if not secret:
        raise _fail("empty password", 2)
    return secret


@users_app.command("create")
def users_create(
    username: str,
    role: Annotated[Role, typer.Option(help="role granted")],
    org: Annotated[str | None, typer.Option(help="organisation code the role holds in")] = None,
    password_stdin: Annotated[bool, typer.Option(help="read the password from stdin")] = False,
    person_id: Annotated[str | None, typer.Option(help="link to this person's profile")] = None,
) -> None:
    """Create a sign-in account holding ROLE (in --org for organisation roles)."""
    import uuid

    from .auth import service

    password = _read_secret(password_stdin, "password")
    try:
        with _runtime_session() as session:
            account = service.create_account(
                session,
                username=username,
                secret=password,
                role=role,
                org_code=org.upper() if org else None,
                person_id=uuid.UUID(person_id) if person_id else None,
            )
    except ProblemError as exc:
        raise _fail(exc.detail, 2 if exc.status == 422 else 1) from None
    out.print(f"created {account.username} ({role.value}{' in ' + org.upper() if org else ''})")


@clients_app.command("create")
def clients_create(
    client_id: str,
    role: Annotated[Role, typer.Option(help="role granted")] = Role.org_staff,
    org: Annotated[str | None, typer.Option(help="organisation code")] = None,
) -> None:
    """Create client credentials for a society system; the secret is printed once."""
    import secrets

    from .auth import service

    secret = secrets.token_urlsafe(32)
    try:
        with _runtime_session() as session:
            service.create_account(
                session,
                username=client_id,
                secret=secret,
                role=role,
                org_code=org.upper() if org else None,
                kind=AccountKind.client,
            )
    except ProblemError as exc:
        raise _fail(exc.detail, 2 if exc.status == 422 else 1) from None
    typer.echo(json.dumps({"client_id": client_id.lower(), "client_secret": secret}))


@openapi_app.command("export")
def openapi_export(
    path: Annotated[Path, typer.Argument(help="where to write")] = Path("openapi/openapi.json"),
) -> None:
    """Write the OpenAPI document (no database needed)."""
    from .openapi import document

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(document())
    out.print(f"wrote {path}")


def _search_runtime():  # type: ignore[no-untyped-def]
    from .core.runtime import Runtime

    settings = get_settings()
    return Runtime.build(settings, database_url(settings))


@search_app.command("worker")
def search_worker(
    once: Annotated[bool, typer.Option(help="drain what is due, then exit")] = False,
) -> None:
    """Drain the search outbox continuously (stops cleanly on SIGTERM or Ctrl-C)."""
    import signal
    import threading

    from services.search import worker

    runtime = _search_runtime()
    try:
        if once:
            out.print(f"settled {worker.drain(runtime.sessions, runtime.search)} outbox rows")
            return
        stop = threading.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: stop.set())
        err.print(f"search worker draining into {runtime.search.name}")
        worker.run(runtime.sessions, runtime.search, stop)
    finally:
        runtime.close()


@search_app.command("reindex")
def search_reindex() -> None:
    """Rebuild the index from PostgreSQL without downtime and swap it in atomically."""
    runtime = _search_runtime()
    try:
        stats = runtime.search.rebuild(runtime.sessions)
    finally:
        runtime.close()
    typer.echo(json.dumps(stats))


@search_app.command("status")
def search_status() -> None:
    """Outbox backlog and failures, indexed documents against searchable people."""
    from sqlalchemy import func, select

    from services.search.outbox import SearchOutbox

    from .people.models import Person

    runtime = _search_runtime()
    try:
        with runtime.sessions() as session:
            pending = session.scalar(select(func.count()).where(SearchOutbox.failed_at.is_(None)))
            failed = session.scalar(select(func.count()).where(SearchOutbox.failed_at.is_not(None)))
            searchable = session.scalar(
                select(func.count()).where(
                    Person.expert_opt_in.is_(True), Person.status == "active"
                )
            )
            indexed = runtime.search.count(session)
    finally:
        runtime.close()
    typer.echo(
        json.dumps(
            {
                "backend": runtime.search.name,
                "outbox_pending": pending,
                "outbox_failed": failed,
                "searchable_people": searchable,
                "indexed": indexed,
            }
        )
    )


@search_app.command("retry-failed")
def search_retry_failed() -> None:
    """Give outbox rows that exhausted their retries another round."""
    from services.search import worker

    runtime = _search_runtime()
    try:
        out.print(f"requeued {worker.retry_failed(runtime.sessions)} outbox rows")
    finally:
        runtime.close()


def main() -> None:
    app()
