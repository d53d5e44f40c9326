"""`registry search reindex` on the postgres backend: a new table, swapped in atomically."""

from __future__ import annotations

import threading

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from services.registry.models import metadata
from services.registry.people.models import Person
from services.search import worker
from services.search.backends.postgres import rebuild
from services.search.models import ExpertDoc
from services.search.outbox import SearchOutbox


def _searchable(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count()).where(Person.expert_opt_in.is_(True), Person.status == "active")
    )


def test_rebuild_indexes_every_searchable_person_and_keeps_the_schema(runtime, factory) -> None:
    factory.person(name="重建甲", expert_opt_in=True)
    factory.person(name="重建乙", expert_opt_in=False)
    stats = rebuild(runtime.sessions)
    with runtime.sessions() as session:
        assert stats["documents"] == _searchable(session)
        assert runtime.search.count(session) == stats["documents"]
    with runtime.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_searches_keep_answering_while_the_index_is_rebuilt(runtime, factory) -> None:
    factory.person(name="不停服务", research_fields=["声学超材料"], expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    failures: list[Exception] = []
    stop = threading.Event()

    def keep_searching() -> None:
        from services.search.protocol import ExpertQuery

        while not stop.is_set():
            try:
                with runtime.sessions() as session:
                    runtime.search.search(session, ExpertQuery(terms=(("声学", ()),), limit=5))
            except Exception as exc:  # any failure during the swap is a defect
                failures.append(exc)

    thread = threading.Thread(target=keep_searching)
    thread.start()
    try:
        rebuild(runtime.sessions)
    finally:
        stop.set()
        thread.join()
    assert failures == []


def test_changes_made_during_a_rebuild_are_replayed(runtime, factory) -> None:
    person = factory.person(name="重建期间", expert_opt_in=True)
    stats = rebuild(runtime.sessions)
    assert stats["replayed"] >= 1
    with runtime.sessions() as session:
        queued = session.scalar(select(func.count()).where(SearchOutbox.person_id == person.id))
    assert queued >= 1
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions() as session:
        assert session.get(ExpertDoc, person.id) is not None
