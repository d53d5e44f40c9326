"""The status refresh against edits committed while it waits on a membership's row lock."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from services.registry.core.db import transaction
from services.registry.core.runtime import Runtime
from services.registry.memberships import lifecycle
from services.registry.memberships.models import Membership, MembershipType

ENDED = date(2026, 12, 31)
TODAY = date(2027, 1, 1)  # the day after the period ends: in grace with one, lapsed without
SECONDS = 20.0  # a refresh that stays blocked, or never blocks, fails the test by then


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国力学学会" + uuid.uuid4().hex[:4])


def ended_membership(factory, society, **fields: Any) -> Membership:  # type: ignore[no-untyped-def]
    """An active membership whose period ended yesterday (`TODAY`)."""
    person = factory.person(org=society)
    return factory.membership(
        society, person, joined_on=date(2026, 1, 1), valid_until=ENDED, status="active", **fields
    )


class Refresh(threading.Thread):
    """The society's refresh in a transaction of its own, on a thread, so that it can wait on
    a row lock while the test commits the other transaction."""

    def __init__(self, runtime: Runtime, org_id: uuid.UUID) -> None:
        super().__init__(daemon=True)
        self.runtime = runtime
        self.org_id = org_id
        self.result: lifecycle.RefreshResult | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            with transaction(self.runtime.sessions) as session:
                session.execute(text(f"SET LOCAL lock_timeout = '{int(SECONDS)}s'"))
                self.result = lifecycle.refresh(session, today=TODAY, org_ids=[self.org_id])
        except BaseException as error:  # reported to the test by `finish`
            self.error = error

    def finish(self) -> lifecycle.RefreshResult:
        self.join(SECONDS)
        assert not self.is_alive(), "the refresh is still waiting"
        assert self.error is None, repr(self.error)
        assert self.result is not None
        return self.result


def backend_pid(session: Session) -> int:
    return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def wait_until_blocked_by(db: Connection, pid: int, refresh: Refresh) -> bool:
    """Whether the refresh's UPDATE came to wait on a lock held by backend `pid`."""
    deadline = time.monotonic() + SECONDS
    while refresh.is_alive() and time.monotonic() < deadline:
        blocked = db.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND wait_event_type = 'Lock' AND :pid = ANY(pg_blocking_pids(pid))"
                " AND query LIKE '%UPDATE membership m%'"
            ),
            {"pid": pid},
        ).scalar_one()
        db.rollback()
        if blocked:
            return True
        refresh.join(0.05)
    return False


def commit_while_the_refresh_waits(
    editor: Session, runtime: Runtime, org_id: uuid.UUID, db: Connection
) -> lifecycle.RefreshResult:
    """Start the society's refresh, let it come to wait on the row `editor` holds, commit
    `editor`, and return what the refresh did once it went on."""
    refresh = Refresh(runtime, org_id)
    refresh.start()
    assert wait_until_blocked_by(db, backend_pid(editor), refresh)
    editor.commit()
    return refresh.finish()


def history_of(db: Connection, membership: Membership) -> list[tuple[Any, ...]]:
    rows = db.execute(
        text(
            "SELECT field, old_value, new_value, source FROM change_history"
            " WHERE entity = 'membership' AND entity_id = :id ORDER BY id"
        ),
        {"id": membership.id},
    ).all()
    return [tuple(r) for r in rows]


def stored(db: Connection, membership: Membership) -> dict[str, Any]:
    row = db.execute(
        text("SELECT status, status_override, member_no, version FROM membership WHERE id = :id"),
        {"id": membership.id},
    ).one()
    return dict(row._mapping)


def test_an_edit_committed_while_the_refresh_waits_is_kept_and_the_status_still_moves(
    factory, society, runtime, db
) -> None:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        kind = MembershipType(org_id=society.id, code="regular", name="普通会员", grace_days=30)
        session.add(kind)
        session.flush()
        kind_id = kind.id
    edited = ended_membership(factory, society, type_id=kind_id, member_no=f"{society.code}-1")
    untouched = ended_membership(factory, society)
    editor = runtime.sessions()
    try:
        editor.execute(
            text(
                "UPDATE membership SET member_no = :no, updated_at = now(),"
                " version = version + 1 WHERE id = :id"
            ),
            {"no": f"{society.code}-2026-000001", "id": edited.id},
        )  # holds the row's lock until it commits
        result = commit_while_the_refresh_waits(editor, runtime, society.id, db)
    finally:
        editor.close()
    assert result.changed == {"grace": 1, "lapsed": 1}
    assert stored(db, edited) == {
        "status": "grace",  # the rule on the newest version: the edit leaves the dates alone
        "status_override": None,
        "member_no": f"{society.code}-2026-000001",  # the edit is kept
        "version": 3,  # created, edited, refreshed
    }
    assert history_of(db, edited) == [("status", "active", "grace", "refresh")]
    assert stored(db, untouched)["status"] == "lapsed"


def test_a_suspension_committed_while_the_refresh_waits_is_not_overwritten(
    factory, society, runtime, db
) -> None:  # type: ignore[no-untyped-def]
    suspended = ended_membership(factory, society)
    untouched = ended_membership(factory, society)
    editor = runtime.sessions()
    try:
        row = editor.get(Membership, suspended.id)
        assert row is not None
        lifecycle.suspend(editor, row, today=TODAY, actor="admin", reason="违反章程")
        # The suspension's UPDATE is flushed: it holds the row's lock until it commits.
        result = commit_while_the_refresh_waits(editor, runtime, society.id, db)
    finally:
        editor.close()
    assert result.changed == {"lapsed": 1}  # the other membership only
    assert stored(db, suspended) == {
        "status": "suspended",
        "status_override": "suspended",
        "member_no": None,
        "version": 2,  # created, suspended; the refresh did not write it
    }
    assert history_of(db, suspended) == [
        ("status_override", None, "suspended", "api"),
        ("status", "active", "suspended", "api"),
    ]  # the suspension's entries, none from the refresh
    assert stored(db, untouched)["status"] == "lapsed"
