"""The `registry` command: serve the API, migrate, manage accounts, export the OpenAPI document."""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from .auth.roles import AccountKind, Role
from .core.config import Settings, get_settings
from .memberships.cli import memberships_app

app = typer.Typer(
    help="CAST talent and member registry.", no_args_is_help=True, pretty_exceptions_enable=False
)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Sign-in accounts.", no_args_is_help=True)
clients_app = typer.Typer(help="Client credentials for society systems.", no_args_is_help=True)
openapi_app = typer.Typer(help="The OpenAPI document.", no_args_is_help=True)
search_app = typer.Typer(help="The expert search index.", no_args_is_help=True)
import_app = typer.Typer(help="Bulk imports from CSV and XLSX files.", no_args_is_help=True)
people_app = typer.Typer(
    help="Talent profiles: possible duplicates and merges.", no_args_is_help=True
)
audit_app = typer.Typer(help="The audit log of sensitive reads and actions.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(clients_app, name="clients")
app.add_typer(openapi_app, name="openapi")
app.add_typer(search_app, name="search")
app.add_typer(import_app, name="import")
app.add_typer(people_app, name="people")
app.add_typer(memberships_app, name="memberships")
app.add_typer(audit_app, name="audit")

out = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> typer.Exit:
    # Messages quote file names and cells, which may hold brackets that are not markup.
    err.print(f"[red]error:[/red] {escape(message)}")
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
    try:
        url, server = start_embedded_postgres(settings.data_dir)
    except RuntimeError as exc:  # what to set instead: no traceback
        raise _fail(str(exc)) from None
    globals()["_embedded_server"] = server  # keeps the server alive while this process runs
    migrate.upgrade(url)
    return url


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="worker processes")] = 1,
    demo: Annotated[bool, typer.Option(help="load demo data once (embedded default only)")] = False,
    access_log: Annotated[bool, typer.Option(help="log every request line")] = False,
) -> None:
    """Run the API; with no DATABASE_URL, start the embedded PostgreSQL and migrate it first."""
    import uvicorn

    # uvicorn stops on SIGTERM and then raises it again with the handler it found; Python's
    # default one ends the process at once, skipping the exit handlers that stop the embedded
    # PostgreSQL, which was left running. Exiting through SystemExit runs them, as Ctrl-C does.
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if hasattr(signal, "SIGHUP"):  # a closed terminal: stop as on SIGTERM, not killed outright
        signal.signal(signal.SIGHUP, _terminate_on_sighup)
    # Before anything starts: uvicorn finds out only after the database, the migrations and
    # the welcome with its sign-in instructions.
    _refuse_taken_port(host, port)
    settings = get_settings()
    url = database_url(settings)
    os.environ["REGISTRY_EMBEDDED_DATABASE_URL"] = url
    if demo and settings.is_production:
        raise _fail("--demo is for development only")
    if demo and settings.database_url:
        # `python3 dev.py serve` always asks for the demo; a database named by DATABASE_URL
        # is someone's own, and gets no demo accounts with a printed password.
        err.print("DATABASE_URL is set: demo data not loaded (it goes into the embedded database)")
    elif demo:
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
        access_log=access_log,
        log_level="info",
    )


def _refuse_taken_port(host: str, port: int) -> None:
    """Exit with a plain message when the address cannot be listened on (as uvicorn binds it)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise _fail(f"cannot listen on {host}: {exc}", 2) from None
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(address)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise _fail(
                    f"port {port} on {host} is in use (is the registry already running?);"
                    " choose another with --port"
                ) from None
            raise _fail(f"cannot listen on {host} port {port}: {exc.strerror}") from None


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def _terminate_on_sighup(signum: int, frame: Any) -> None:
    signal.raise_signal(signal.SIGTERM)  # uvicorn's handler while it runs, else the one above


def _print_welcome(host: str, port: int, credentials: dict[str, Any]) -> None:
    if host in {"127.0.0.1", "0.0.0.0", "::"}:  # noqa: S104
        host = "localhost"
    elif ":" in host:  # an IPv6 address goes in brackets in a URL
        host = f"[{host}]"
    base = f"http://{host}:{port}"
    out.print(f"\n[bold]Registry API[/bold]  {base}/api/v1    [bold]Docs[/bold]  {base}/docs")
    out.print(f"Demo accounts (password [bold]{credentials['password']}[/bold]):")
    for name, role in credentials["accounts"]:
        out.print(f"  {name:<14} {role}")
    # Not wrapped at the terminal's width: a command broken over lines fails when pasted.
    out.print(
        "Sign in:  curl -s -d grant_type=password -d username=admin "
        f"-d password={credentials['password']} {base}/api/v1/auth/token\n",
        soft_wrap=True,
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
    from .core.errors import ProblemError

    try:
        profile = uuid.UUID(person_id) if person_id else None
    except ValueError:
        raise _fail("--person-id must be a profile's id (a UUID)", 2) from None
    password = _read_secret(password_stdin, "password")
    try:
        with _runtime_session() as session:
            account = service.create_account(
                session,
                username=username,
                secret=password,
                role=role,
                org_code=org.upper() if org else None,
                person_id=profile,
            )
    except ProblemError as exc:
        raise _fail(exc.detail, 2 if exc.status == 422 else 1) from None
    out.print(f"created {account.username} ({role.value}{' in ' + org.upper() if org else ''})")


def _set_active(name: str, *, active: bool, kind: AccountKind | None = None) -> None:
    from .auth import service
    from .core.errors import ProblemError

    try:
        with _runtime_session() as session:
            account = service.set_active(session, username=name, active=active, kind=kind)
    except ProblemError as exc:
        what = "client" if kind is AccountKind.client else "account"
        missing = f"no {what} named {service.username_key(name)}"
        raise _fail(missing if exc.status == 404 else exc.detail) from None
    out.print(f"{'enabled' if active else 'disabled'} {account.username}")


@users_app.command("list")
def users_list(
    org: Annotated[str | None, typer.Option(help="only accounts holding a role there")] = None,
    role: Annotated[Role | None, typer.Option(help="only accounts holding this role")] = None,
    clients: Annotated[bool, typer.Option(help="society systems instead of users")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 200,
    json_: JsonOpt = False,
) -> None:
    """Accounts by name: their roles and organisations, active or not, last sign-in."""
    from .auth import service

    with _runtime_session() as session:
        accounts = service.list_accounts(
            session,
            org_code=org,
            role=role,
            kind=AccountKind.client if clients else AccountKind.user,
            limit=limit,
        )
    for a in accounts:
        if json_:
            typer.echo(json.dumps(a, ensure_ascii=False))
            continue
        state = "active" if a["active"] else "disabled"
        last = str(a["last_login_at"] or "never")[:19]
        typer.echo(
            f"{a['username']:<24} {state:<8} last sign-in {last:<19}  {', '.join(a['grants'])}"
        )  # type: ignore[arg-type]
    if not accounts and not json_:
        err.print("no accounts")


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable an account (a user or a client): its sign-ins end and it cannot sign in."""
    _set_active(username, active=False)


@users_app.command("enable")
def users_enable(username: str) -> None:
    """Enable a disabled account again (earlier sign-ins stay ended)."""
    _set_active(username, active=True)


@clients_app.command("create")
def clients_create(
    client_id: str,
    role: Annotated[Role, typer.Option(help="role granted")] = Role.org_staff,
    org: Annotated[str | None, typer.Option(help="organisation code")] = None,
) -> None:
    """Create client credentials for a society system; the secret is printed once."""
    import secrets

    from .auth import service
    from .core.errors import ProblemError

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


@clients_app.command("disable")
def clients_disable(client_id: str) -> None:
    """Disable a society system's credentials (a leaked secret): it cannot sign in any more."""
    _set_active(client_id, active=False, kind=AccountKind.client)


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


# --- imports ----------------------------------------------------------------------------------

FileArg = Annotated[
    Path, typer.Argument(help="CSV (UTF-8, UTF-8 with BOM, GB18030/GBK) or XLSX file")
]
DryRun = Annotated[bool, typer.Option("--dry-run", help="validate and match, write nothing")]
ErrorsOpt = Annotated[
    Path | None, typer.Option("--errors", help="write rejected rows here (CSV)", dir_okay=False)
]
JsonOpt = Annotated[bool, typer.Option("--json", help="print the summary as JSON, last line")]
EncodingOpt = Annotated[
    str | None, typer.Option(help="CSV encoding (default: detected), e.g. gb18030, utf-8")
]
SheetOpt = Annotated[str | None, typer.Option(help="XLSX sheet name (default: the first)")]
ActorOpt = Annotated[
    str | None, typer.Option(help="who runs the import, for the batch record and history")
]


def _progress(json_mode: bool):  # type: ignore[no-untyped-def]
    """A Rich progress bar on a terminal, plain lines otherwise (both on standard error)."""
    import time

    started = time.perf_counter()
    if err.is_terminal:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        bar = Progress(
            TextColumn("[bold]importing[/bold]"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rows]:,} rows  {task.fields[rate]:,.0f} rows/s"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=err,
            transient=False,
        )
        task = bar.add_task("import", total=1.0, rows=0, rate=0.0)
        bar.start()

        def report(rows: int, fraction: float | None) -> None:
            rate = rows / max(time.perf_counter() - started, 1e-6)
            bar.update(task, completed=fraction or 0.0, rows=rows, rate=rate)

        return report, bar.stop

    def plain(rows: int, fraction: float | None) -> None:
        rate = rows / max(time.perf_counter() - started, 1e-6)
        done = f" ({fraction:.0%})" if fraction is not None else ""
        err.out(f"imported {rows:,} rows{done}, {rate:,.0f} rows/s", highlight=False)

    return plain, lambda: None


def _refused_every_time(exc: BaseException) -> bool:
    """A database error the driver counts as operational that is no outage: one of
    PostgreSQL's limits (SQLSTATE class 54) or a statement timeout (57014)."""
    code = getattr(getattr(exc, "orig", exc), "sqlstate", None) or ""
    return code.startswith("54") or code == "57014"


_PEOPLE_COUNTS = {"created_people", "matched_people", "updated_people"}
_MEMBERSHIP_COUNTS = {"created_memberships", "updated_memberships"}
# Counts of the summary (all of them in `--json`, as CONTRACT.md lists them) that an import
# of this kind never changes, left out of its report on the terminal.
_NOT_COUNTED_BY = {
    "members": {"rows", "created_orgs", "updated_orgs"},
    "group-members": {"rows", "created_orgs", "updated_orgs", *_PEOPLE_COUNTS},
    "orgs": {"rows", *_PEOPLE_COUNTS, *_MEMBERSHIP_COUNTS},
}


def _show_rejected(summary: dict[str, Any], errors_path: Path | None) -> None:
    """Where the rejected rows are; without `--errors`, the first of them and their reasons."""
    shown: list[tuple[int, str]] = summary.pop("rejected_shown", [])
    rejected = summary.get("rejected") or 0
    if not rejected:
        return
    if errors_path is not None:
        err.print(
            f"rejected rows, with their numbers and reasons: {escape(str(errors_path))}",
            soft_wrap=True,
        )
        return
    rows = "1 row" if rejected == 1 else f"{rejected:,} rows"
    first = "" if rejected <= len(shown) else f", the first {len(shown)} here"
    err.print(
        f"{rows} rejected{first} (--errors FILE writes each with its cells, to correct and"
        " import again):",
        soft_wrap=True,
    )
    for number, reason in shown:
        err.print(f"  row {number}: {escape(reason)}", highlight=False, soft_wrap=True)


def _run_import(kind: str, json_mode: bool, **options: Any) -> None:
    import psycopg
    from sqlalchemy.exc import DBAPIError, OperationalError

    from .core.db import refusal_text
    from .onboarding import service as onboarding
    from .onboarding.readers import FileProblem, OptionProblem

    actor = options.pop("actor", None)
    report, stop = _progress(json_mode)
    request = onboarding.ImportRequest(progress=report, **options)
    if actor:
        request.actor = actor
    runtime = _search_runtime()
    try:
        runner = getattr(onboarding, f"import_{kind.replace('-', '_')}")
        summary = runner(runtime.engine, runtime.pii, request)
    except OptionProblem as exc:
        stop()
        raise _fail(str(exc), 2) from None
    except FileProblem as exc:
        stop()
        raise _fail(str(exc), 1) from None
    except KeyboardInterrupt:
        stop()
        raise _fail("interrupted: nothing was imported (the batch is rolled back)", 130) from None
    except (OperationalError, psycopg.OperationalError) as exc:
        stop()
        if _refused_every_time(exc):  # a limit or a timeout: trying later changes nothing
            reason = refusal_text(exc) or type(exc).__name__
            raise _fail(f"{reason}; nothing was imported (the batch is rolled back)", 1) from None
        reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
        raise _fail(f"database unavailable: {reason}; nothing was imported", 1) from None
    except (DBAPIError, psycopg.Error) as exc:  # its message may quote a row's values
        stop()
        reason = refusal_text(exc) or type(exc).__name__
        raise _fail(f"{reason}; nothing was imported (the batch is rolled back)", 1) from None
    finally:
        stop()
        runtime.close()
    unknown = summary.get("unknown_columns") or []
    if unknown:
        err.print(f"ignored unknown column(s): {escape(', '.join(unknown))}")
    _show_rejected(summary, options.get("errors_path"))
    if json_mode:
        typer.echo(json.dumps(summary, ensure_ascii=False))
        return
    verb = "checked (dry run, nothing written)" if summary.get("dry_run") else "imported"
    out.print(f"{verb} {escape(summary['file'])}: {summary['rows']:,} rows")
    hidden = _NOT_COUNTED_BY[kind]
    for key, value in summary.items():
        if isinstance(value, int) and not isinstance(value, bool) and key not in hidden:
            out.print(f"  {key:<22} {value:,}")
    if summary.get("batch_id"):
        out.print(f"  batch {summary['batch_id']}")


@import_app.command("members")
def import_members(
    file: FileArg,
    org: Annotated[str, typer.Option(help="code of the organisation the members belong to")],
    dry_run: DryRun = False,
    errors: ErrorsOpt = None,
    json_: JsonOpt = False,
    encoding: EncodingOpt = None,
    sheet: SheetOpt = None,
    actor: ActorOpt = None,
    chunk_rows: Annotated[int, typer.Option(min=100, help="rows per chunk")] = 25_000,
) -> None:
    """Import a society's member list: people matched or created, memberships upserted."""
    _run_import(
        "members", json_, path=file, org_code=org, dry_run=dry_run, errors_path=errors,
        encoding=encoding, sheet=sheet, actor=actor, chunk_rows=chunk_rows,
    )  # fmt: skip


@import_app.command("group-members")
def import_group_members(
    file: FileArg,
    org: Annotated[str, typer.Option(help="code of the organisation")],
    dry_run: DryRun = False,
    errors: ErrorsOpt = None,
    json_: JsonOpt = False,
    encoding: EncodingOpt = None,
    sheet: SheetOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Import group members (团体会员: institutions, keyed by their USCC)."""
    _run_import(
        "group-members", json_, path=file, org_code=org, dry_run=dry_run, errors_path=errors,
        encoding=encoding, sheet=sheet, actor=actor,
    )  # fmt: skip


@import_app.command("orgs")
def import_orgs(
    file: FileArg,
    dry_run: DryRun = False,
    errors: ErrorsOpt = None,
    json_: JsonOpt = False,
    encoding: EncodingOpt = None,
    sheet: SheetOpt = None,
    actor: ActorOpt = None,
) -> None:
    """Import organisations (codes, names, kinds, parents, USCC, region codes)."""
    _run_import(
        "orgs", json_, path=file, dry_run=dry_run, errors_path=errors, encoding=encoding,
        sheet=sheet, actor=actor,
    )  # fmt: skip


@import_app.command("batches")
def import_batches(
    org: Annotated[str | None, typer.Option(help="only this organisation's batches")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 50,
    json_: JsonOpt = False,
) -> None:
    """Recent import batches: who, when, which file (name, SHA-256), status and counts."""
    from .onboarding import service as onboarding

    runtime = _search_runtime()
    try:
        batches = onboarding.list_batches(runtime.engine, org_code=org, limit=limit)
    finally:
        runtime.close()
    if json_:
        for batch in batches:
            typer.echo(json.dumps(batch, ensure_ascii=False))
        return
    for b in batches:
        counts = b["summary"]
        figures = f"rows {counts['rows']}, rejected {counts['rejected']}" if counts else ""
        typer.echo(
            f"{b['batch_id']}  {b['started_at'][:19]}  {b['kind']:<13} {b['org_code'] or '-':<10} "
            f"{b['status']:<11} {b['actor']}  {b['file_name']}  {figures}"
        )
    if not batches:
        err.print("no import batches")


@people_app.command("duplicates")
def people_duplicates(
    status: Annotated[str, typer.Option(help="open, merged or dismissed")] = "open",
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    json_: JsonOpt = False,
) -> None:
    """Possible duplicate profiles recorded by imports (never merged without being asked)."""
    from .people import merge
    from .people.models import DuplicateStatus

    choices = [s.value for s in DuplicateStatus]
    if status not in choices:
        raise _fail(f"--status must be one of {', '.join(choices)}, not {status!r}", 2)
    with _runtime_session() as session:
        pairs = merge.list_duplicates(session, status=status, limit=limit)
    if json_:
        for pair in pairs:
            typer.echo(json.dumps(pair, ensure_ascii=False, default=str))
        return
    for p in pairs:
        typer.echo(
            f"{p['person_id']} {p['person_name'] or '(gone)'}\t{p['other_id']} "
            f"{p['other_name'] or '(gone)'}\t{p['birth_date'] or ''}\t{p['reason']}"
        )
    if not pairs:
        err.print(f"no {status} possible duplicates")


@people_app.command("merge")
def people_merge(
    keep: Annotated[str, typer.Argument(help="id of the profile that stays")],
    other: Annotated[str, typer.Argument(help="id of the profile merged into it")],
    reason: Annotated[str | None, typer.Option(help="kept in the history")] = None,
    actor: ActorOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Merge OTHER into KEEP: memberships, history and accounts move; gaps are filled."""
    import uuid

    from .core.errors import ProblemError
    from .onboarding.service import _user
    from .people import merge

    try:
        keep_id, other_id = uuid.UUID(keep), uuid.UUID(other)
    except ValueError:
        raise _fail("KEEP and OTHER must be person ids (UUIDs)", 2) from None
    runtime = _search_runtime()
    try:
        with transaction_of(runtime) as session:
            result = merge.merge_people(
                session,
                pii=runtime.pii,
                keep_id=keep_id,
                other_id=other_id,
                actor=actor or f"cli:{_user()}",
                reason=reason,
            )
    except ProblemError as exc:
        raise _fail(exc.detail, 1) from None
    finally:
        runtime.close()
    if json_:
        typer.echo(json.dumps(result, ensure_ascii=False, default=str))
    else:
        out.print(
            f"merged {other_id} into {keep_id}: {result['moved_memberships']} membership(s) "
            f"moved, {result['merged_memberships']} combined, "
            f"{result['moved_history']} history entries moved"
        )


@audit_app.command("list")
def audit_list(
    action: Annotated[
        str | None, typer.Option(help="an action, or a family of them ending in a dot")
    ] = None,
    actor: Annotated[str | None, typer.Option(help="account name")] = None,
    object_id: Annotated[str | None, typer.Option(help="the object's id")] = None,
    since: Annotated[datetime | None, typer.Option(help="from this moment (UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="before this moment (UTC)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 50,
    json_: JsonOpt = False,
) -> None:
    """Audit events, newest first: unmasked reads, account links and claims, accounts
    created, refresh-token reuse, lockouts."""
    from .audit import service as audit
    from .audit.schemas import AuditEventRead
    from .core.errors import ProblemError

    try:
        with _runtime_session() as session:
            rows = audit.list_events(
                session,
                before=None,
                limit=limit,
                action=action,
                actor=actor,
                object_id=object_id,
                since=since,
                until=until,
            )[:limit]
            events = [AuditEventRead.model_validate(r, from_attributes=True) for r in rows]
    except ProblemError as exc:
        raise _fail(exc.detail, 2) from None
    for event in events:
        if json_:
            typer.echo(event.model_dump_json())
            continue
        target = f"{event.object_type}:{event.object_id}" if event.object_id else "-"
        detail = json.dumps(event.detail, ensure_ascii=False) if event.detail else ""
        typer.echo(
            f"{event.at:%Y-%m-%d %H:%M:%S}  {event.actor}  {event.action}  {target}  {detail}"
        )
    if not events and not json_:
        err.print("no audit events")


def transaction_of(runtime):  # type: ignore[no-untyped-def]
    from .core.db import transaction

    return transaction(runtime.sessions)


def main() -> None:
    app()
