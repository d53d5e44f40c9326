"""`registry memberships …`: the lifecycle refresh (for cron) and membership reports."""

from __future__ import annotations

import json
import time
from datetime import date
from typing import Annotated

import typer

from ..core import normalize

memberships_app = typer.Typer(help="Membership lifecycle and reports.", no_args_is_help=True)


def _parse_day(value: str | None) -> date:
    if value is None:
        from ..core import civil_date

        return civil_date.today()
    try:
        return normalize.parse_date(value)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None


@memberships_app.command("refresh")
def refresh(
    today: Annotated[
        str | None, typer.Option(help="apply the rules as of this date (default: today, Beijing)")
    ] = None,
    org: Annotated[str | None, typer.Option(help="only this organisation's memberships")] = None,
    json_: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Recompute every membership's status from its dates and type (active, grace, lapsed),
    leaving statuses set by hand alone. Set-based (a large table is split into ranges of
    people refreshed at once, one statement and transaction each); safe to run at any time."""
    # Loaded here, and only what the refresh needs: the command starts in about a second.
    from ..cli import _fail, _runtime_session
    from . import status_refresh

    day = _parse_day(today)
    started = time.perf_counter()
    if org is None:
        # The whole table: split over a connection per CPU when it is large.
        from ..cli import database_url
        from ..core.config import get_settings
        from ..core.db import make_engine

        engine = make_engine(database_url(get_settings()), pool_size=status_refresh.MAX_PARTS)
        try:
            result = status_refresh.refresh_in_parts(engine, today=day, actor="system")
        finally:
            engine.dispose()
    else:
        with _runtime_session() as session:
            from ..orgs import service as org_service

            found = org_service.by_code(session, org)
            if found is None:
                raise _fail(f"no organisation with code {org}")
            result = status_refresh.refresh(session, today=day, org_ids=[found.id], actor="system")
            engine = session.get_bind()
        # Committed: now the people made searchable while it ran.
        with engine.connect() as conn, conn.begin():
            status_refresh.queue_made_searchable(conn, horizon=result.horizon)
    seconds = time.perf_counter() - started
    summary = {
        "today": day.isoformat(),
        "changed": result.total,
        "by_status": result.changed,
        "group_members_by_status": result.groups_changed,
        "queued_for_search": result.queued_for_search,
        "change_id": None if result.change_id is None else str(result.change_id),
        "seconds": round(seconds, 3),
    }
    if json_:
        typer.echo(json.dumps(summary))
    else:
        moves = ", ".join(f"{n} to {s}" for s, n in sorted(result.changed.items())) or "none"
        groups = sum(result.groups_changed.values())
        typer.echo(
            f"refreshed as of {day}: {result.total} changed ({moves}), {groups} group"
            f" member(s) changed, in {seconds:.2f} s"
        )
