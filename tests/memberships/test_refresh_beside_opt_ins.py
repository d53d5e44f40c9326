"""The status refresh keeps the search index true for people who become searchable while it runs.

The refresh queues only the people searchable in its snapshot. A person opted in (or made
active again) by a transaction that commits while the refresh is still open is queued by that
transaction and indexed at once, from committed state without the refresh's changes; once
the refresh has committed, their document must show its changes too.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest

from services.registry import migrate
from services.registry.core.config import Settings
from services.registry.core.db import transaction
from services.registry.core.runtime import Runtime
from services.registry.memberships import status_refresh
from services.registry.orgs.models import Organisation
from services.registry.people import service as people_service
from services.registry.people.models import Person
from services.search import worker
from tests.conftest import create_database, drop_database
from tests.factories import Factory

ENDED = date(2026, 12, 31)
TODAY = date(2027, 1, 1)  # the day after: lapsed (no type, no grace)
SECONDS = 20.0  # parts that never all reach their commit fail the test by then


@pytest.fixture(scope="module")
def own(server_url: str, settings: Settings) -> Iterator[Runtime]:
    """A database of this module's own: the whole-table refresh touches every membership."""
    url = create_database(server_url, "registry_test_opt_ins")
    runtime = None
    try:
        migrate.upgrade(url)
        runtime = Runtime.build(settings, url)
        yield runtime
    finally:
        if runtime is not None:
            runtime.close()
        drop_database(server_url, url)


def member_whose_period_ended(
    factory: Factory, ended_in: Organisation, stays_in: Organisation, **fields: Any
) -> Person:
    """A person with an active membership that ended yesterday (`TODAY`) and one that runs on."""
    person = factory.person(**fields)
    factory.membership(ended_in, person, joined_on=date(2026, 1, 1), valid_until=ENDED)
    factory.membership(stays_in, person, joined_on=date(2026, 1, 1), valid_until=None)
    return person


def change_person(runtime: Runtime, person_id: uuid.UUID, **values: Any) -> None:
    """The people service's change (as the API makes it) in a transaction of its own."""
    with transaction(runtime.sessions) as session:
        person = session.get(Person, person_id)
        assert person is not None
        people_service.apply_changes(
            session, person=person, pii=runtime.pii, values=values, actor="test", source="api"
        )


def indexed_orgs(runtime: Runtime, person_id: uuid.UUID) -> set[str] | None:
    """The organisations the person's search document lists, None without a document."""
    with runtime.sessions() as session:
        doc = runtime.search.get(session, person_id)
    return None if doc is None else set(doc.org_codes)


def change_and_drain(runtime: Runtime, person_ids: list[uuid.UUID], **values: Any) -> None:
    """The people changed, each in a transaction of its own, then the outbox drained: what the
    worker (or the API after its commit) does at once."""
    for person_id in person_ids:
        change_person(runtime, person_id, **values)
    worker.drain(runtime.sessions, runtime.search)


def test_a_person_opted_in_while_the_refresh_runs_is_indexed_with_the_refreshed_standing(
    own: Runtime,
) -> None:
    factory = Factory(own)
    ended, stays = factory.org(), factory.org()
    person = member_whose_period_ended(factory, ended, stays, expert_opt_in=False)
    worker.drain(own.sessions, own.search)
    seen: list[set[str] | None] = []

    def opt_in() -> None:
        change_and_drain(own, [person.id], expert_opt_in=True)
        seen.append(indexed_orgs(own, person.id))

    result = status_refresh.refresh_in_parts(own.engine, today=TODAY, parts=1, before_commit=opt_in)
    assert result.changed == {"lapsed": 1}
    # Indexed while the refresh was open: a member of both, as committed then.
    assert seen == [{ended.code, stays.code}]
    worker.drain(own.sessions, own.search)
    assert indexed_orgs(own, person.id) == {stays.code}


def test_people_made_active_while_a_refresh_in_parts_runs_are_indexed_with_its_changes(
    own: Runtime,
) -> None:
    factory = Factory(own)
    ended, stays = factory.org(), factory.org()
    people = [
        member_whose_period_ended(factory, ended, stays, expert_opt_in=True) for _ in range(6)
    ]
    for person in people:
        change_person(own, person.id, status="inactive")
    worker.drain(own.sessions, own.search)
    # Every part has run its statement, none has committed: then everyone is made active.
    everyone_in = threading.Barrier(
        3,
        action=lambda: change_and_drain(own, [p.id for p in people], status="active"),
        timeout=SECONDS,
    )

    result = status_refresh.refresh_in_parts(
        own.engine, today=TODAY, parts=3, before_commit=everyone_in.wait
    )
    assert result.changed == {"lapsed": 6}
    worker.drain(own.sessions, own.search)
    assert [indexed_orgs(own, p.id) for p in people] == [{stays.code}] * 6


def test_a_refresh_in_the_callers_transaction_leaves_a_late_opt_in_to_its_call_after_commit(
    runtime: Runtime, factory: Factory
) -> None:
    ended, stays = factory.org(), factory.org()
    person = member_whose_period_ended(factory, ended, stays, expert_opt_in=False)
    worker.drain(runtime.sessions, runtime.search)
    with transaction(runtime.sessions) as session:
        result = status_refresh.refresh(session, today=TODAY, org_ids=[ended.id])
        change_and_drain(runtime, [person.id], expert_opt_in=True)
        assert indexed_orgs(runtime, person.id) == {ended.code, stays.code}
    with runtime.engine.begin() as conn:
        assert status_refresh.queue_made_searchable(conn, horizon=result.horizon) == 1
    worker.drain(runtime.sessions, runtime.search)
    assert indexed_orgs(runtime, person.id) == {stays.code}
