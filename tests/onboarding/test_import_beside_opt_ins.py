"""A member import keeps the search index true for people who become searchable while it runs.

The import queues a matched person only when they were in the expert pool as it judged their
row, or opted in by it. A person opted in by a transaction that commits while the import is
still open is queued by that transaction and indexed at once, from committed state without
the import's changes; once the import has committed, their document must show them.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from services.registry.core.runtime import Runtime
from services.registry.onboarding import service as onboarding
from services.registry.orgs.models import Organisation
from services.registry.people import service as people_service
from services.registry.people.models import Person
from services.search import worker

from ..factories import Factory
from ..memberships.test_refresh_beside_opt_ins import change_and_drain, indexed_orgs
from .conftest import HEADER, member, write_csv

SECONDS = 20.0  # an import that never comes to wait, or stays blocked, fails the test by then


def imported(
    runtime: Runtime, org: Organisation, rows: list[dict[str, str]], path: Path, **options: Any
) -> Any:
    """The society's member list imported (with the expert pool column); the summary."""
    written = write_csv(path, rows, header=[*HEADER, "入选专家库"])
    request = onboarding.ImportRequest(path=written, org_code=org.code, **options)
    return onboarding.import_members(runtime.engine, runtime.pii, request)


def member_of(db: Connection, org: Organisation) -> uuid.UUID:
    db.rollback()
    return db.execute(
        text("SELECT person_id FROM membership WHERE org_id = :org"), {"org": org.id}
    ).scalar_one()


def outbox_rows(db: Connection, person_id: uuid.UUID) -> int:
    db.rollback()
    return db.execute(
        text("SELECT count(*) FROM search_outbox WHERE person_id = :id"), {"id": person_id}
    ).scalar_one()


def member_of_one_society(
    runtime: Runtime, factory: Factory, db: Connection, tmp_path: Path
) -> tuple[Organisation, Organisation, dict[str, str], uuid.UUID]:
    """A society, another one, a member imported into the first (indexed) and their row."""
    first, second = factory.org(), factory.org()
    row = member()
    imported(runtime, first, [row], tmp_path / "first.csv")
    person_id = member_of(db, first)
    worker.drain(runtime.sessions, runtime.search)
    return first, second, row, person_id


def test_a_member_opted_in_while_an_import_adds_their_membership_is_indexed_with_it(
    runtime: Runtime, factory: Factory, db: Connection, tmp_path: Path
) -> None:
    first, second, row, person_id = member_of_one_society(runtime, factory, db, tmp_path)
    assert indexed_orgs(runtime, person_id) is None  # not in the expert pool
    seen: list[set[str] | None] = []

    def opt_in(chunk: int) -> None:
        change_and_drain(runtime, [person_id], expert_opt_in=True)
        seen.append(indexed_orgs(runtime, person_id))

    # The same person in the second society's list: matched, their profile unchanged.
    summary = imported(runtime, second, [row], tmp_path / "second.csv", after_chunk=opt_in)
    assert (summary["matched_people"], summary["created_memberships"]) == (1, 1)
    assert seen == [{first.code}]  # indexed while the import was open
    worker.drain(runtime.sessions, runtime.search)
    assert indexed_orgs(runtime, person_id) == {first.code, second.code}


def blocked_by(db: Connection, pid: int, running: threading.Thread) -> bool:
    """Whether a statement came to wait on a lock held by backend `pid` (while `running`)."""
    deadline = time.monotonic() + SECONDS
    while running.is_alive() and time.monotonic() < deadline:
        waiting = db.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND :pid = ANY(pg_blocking_pids(pid))"
            ),
            {"pid": pid},
        ).scalar_one()
        db.rollback()
        if waiting:
            return True
        running.join(0.05)
    return False


def test_a_member_opted_in_just_before_an_import_changes_their_profile_is_indexed_with_it(
    runtime: Runtime, factory: Factory, db: Connection, tmp_path: Path
) -> None:
    first, second, row, person_id = member_of_one_society(runtime, factory, db, tmp_path)
    # The opt-in holds the profile's row lock until it commits: the import judges the row
    # without it, then waits to write the new institution.
    editor: Session = runtime.sessions()
    try:
        person = editor.get(Person, person_id)
        assert person is not None
        people_service.apply_changes(
            editor,
            person=person,
            pii=runtime.pii,
            values={"expert_opt_in": True},
            actor="test",
            source="api",
        )
        pid = editor.execute(text("SELECT pg_backend_pid()")).scalar_one()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                outcome["summary"] = imported(
                    runtime, second, [{**row, "工作单位": "北京大学"}], tmp_path / "second.csv"
                )
            except BaseException as error:  # reported below
                outcome["error"] = error

        importing = threading.Thread(target=run, daemon=True)
        importing.start()
        assert blocked_by(db, pid, importing), outcome
        editor.commit()
    finally:
        editor.close()
    worker.drain(runtime.sessions, runtime.search)
    assert indexed_orgs(runtime, person_id) == {first.code}  # before the import's commit
    importing.join(SECONDS)
    assert not importing.is_alive()
    assert "error" not in outcome, outcome
    assert outcome["summary"]["updated_people"] == 1
    worker.drain(runtime.sessions, runtime.search)
    assert indexed_orgs(runtime, person_id) == {first.code, second.code}
    with runtime.sessions() as session:
        doc = runtime.search.get(session, person_id)
    assert doc is not None
    assert doc.institution == "北京大学"


def test_an_import_queues_each_expert_it_writes_once(
    runtime: Runtime, factory: Factory, db: Connection, tmp_path: Path
) -> None:
    first, second = factory.org(), factory.org()
    known = member(入选专家库="是")
    imported(runtime, first, [known], tmp_path / "first.csv")
    known_id = member_of(db, first)
    worker.drain(runtime.sessions, runtime.search)
    # An expert whose profile changes and a new one: each queued by the import, and only by
    # it (both were written within the minute before it committed, by it).
    rows = [{**known, "工作单位": "北京大学"}, member(入选专家库="是")]
    summary = imported(runtime, second, rows, tmp_path / "second.csv")
    assert (summary["updated_people"], summary["created_people"]) == (1, 1)
    db.rollback()
    people = list(
        db.execute(
            text("SELECT person_id FROM membership WHERE org_id = :org"), {"org": second.id}
        ).scalars()
    )
    assert known_id in people
    assert [outbox_rows(db, person_id) for person_id in people] == [1, 1]
