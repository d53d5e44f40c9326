"""The relevance corpus written once into a database of its own and indexed into each backend.

The corpus (corpus.py) goes into PostgreSQL through the people service in one transaction;
each backend then indexes every person through the outbox, as a deployment would, and is
queried through the HTTP API as a committee of the federation. Birth dates are derived from
the registry's date when the corpus is written, and every app answers on that same date, so
the ages the corpus fixes are the ages the filters see.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from services.registry import migrate
from services.registry.app import create_app
from services.registry.auth.models import Role
from services.registry.core import clock
from services.registry.core.clock import get_today
from services.registry.core.config import Settings
from services.registry.core.db import transaction
from services.registry.core.runtime import Runtime
from services.registry.memberships.models import Membership
from services.registry.orgs.models import Organisation
from services.registry.people import service as people_service
from services.registry.people.models import Person
from services.registry.people.schemas import PersonCreate
from services.search import worker
from services.search.backends import postgres
from services.search.outbox import enqueue_people

from ...conftest import create_database, drop_database
from ...factories import Factory
from .corpus import SOCIETIES, experts

FEDERATION = "CAST"


@dataclass(frozen=True)
class RelevanceDatabase:
    """The database holding the corpus, and what writing it learned."""

    url: str
    ids: dict[str, str]  # corpus key -> person id
    today: date  # the registry's date the birth dates were derived from
    write_seconds: float


@dataclass
class RelevanceWorld:
    """One backend over the relevance database, and a committee member's client."""

    backend: str
    client: TestClient
    headers: dict[str, str]
    ids: dict[str, str]  # corpus key -> person id
    keys: dict[str, str]  # person id -> corpus key
    today: date
    write_seconds: float  # the corpus into PostgreSQL, once for every backend
    index_seconds: float  # the outbox drained into this backend

    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """The answer of the expert search to a body (a 200 is expected)."""
        response = self.client.post("/api/v1/search/experts", json=body, headers=self.headers)
        assert response.status_code == 200, f"{self.backend} {body}: {response.text}"
        return response.json()


def write_corpus(
    settings: Settings, database_url: str, today: date
) -> tuple[dict[str, str], float]:
    """Every expert and membership in one transaction, through the people service."""
    runtime = Runtime.build(settings, database_url)
    started = time.monotonic()
    try:
        factory = Factory(runtime)
        factory.org(code=FEDERATION, name="中国科学技术协会", kind="federation")
        for code, name in SOCIETIES.items():
            factory.org(code=code, name=name)
        ids: dict[str, str] = {}
        with transaction(runtime.sessions) as session:
            orgs = dict(session.execute(select(Organisation.code, Organisation.id)).all())
            for expert in experts():
                person = people_service.create(
                    session,
                    principal=None,
                    pii=runtime.pii,
                    data=PersonCreate(**expert.person_fields(today)),
                    source="test",
                )
                ids[expert.key] = str(person.id)
                for n, (code, grade) in enumerate(expert.orgs):
                    session.add(
                        Membership(
                            org_id=orgs[code],
                            person_id=person.id,
                            grade=grade,
                            member_no=f"{expert.key}-{n}",
                        )
                    )
        return ids, time.monotonic() - started
    finally:
        runtime.close()


@contextmanager
def relevance_database(server_url: str, settings: Settings) -> Iterator[RelevanceDatabase]:
    """A database of its own (the contract corpus asserts exact counts), written once."""
    url = create_database(server_url, "registry_relevance")
    try:
        migrate.upgrade(url)
        today = clock.today()
        ids, seconds = write_corpus(settings, url, today)
        yield RelevanceDatabase(url, ids, today, seconds)
    finally:
        drop_database(server_url, url)


@contextmanager
def relevance_world(
    settings: Settings,
    database: RelevanceDatabase,
    backend: str,
    opensearch_url: str | None = None,
    *,
    bitmaps: bool = False,
) -> Iterator[RelevanceWorld]:
    """The corpus indexed into one backend through the outbox, answering on the corpus's date.

    `bitmaps` (postgres): the tables are then rebuilt with a bitmap for every token and the
    backend answers every query it can from them, as a national corpus answers broad ones (at
    520 experts every query would otherwise take the row path). The rebuild replaces the
    tables every postgres world of the database reads: the row path reads them as well.
    """
    app = create_app(
        settings.model_copy(update={"search_backend": backend, "opensearch_url": opensearch_url}),
        database.url,
    )
    app.dependency_overrides[get_today] = lambda: database.today
    runtime: Runtime = app.state.runtime
    alias = None
    if backend == "opensearch":
        from services.search.backends.opensearch import OpenSearchBackend

        # An alias of its own: the contract corpus shares the OpenSearch server.
        alias = f"experts-relevance-{uuid.uuid4().hex[:8]}"
        runtime.search = OpenSearchBackend(opensearch_url, alias=alias, retire_after=0)  # type: ignore[arg-type]
    try:
        started = time.monotonic()
        with runtime.sessions.begin() as session:
            enqueue_people(session, list(session.scalars(select(Person.id))))
        worker.drain(runtime.sessions, runtime.search)
        if bitmaps:
            postgres.rebuild(runtime.sessions, bitmap_share=0.0, bitmap_min_docs=1)
            worker.drain(runtime.sessions, runtime.search)  # what the rebuild put back
            runtime.search = postgres.PostgresBackend(row_path_limit=0, recount_share=0.0)
            backend = "postgres-bitmaps"
        index_seconds = time.monotonic() - started
        with runtime.sessions() as session:
            assert runtime.search.count(session) == len(database.ids), "every expert is indexed"
            federation = session.scalars(
                select(Organisation).where(Organisation.code == FEDERATION)
            ).one()
        headers = Factory(runtime).caller(Role.committee, federation)  # an award committee
        with TestClient(app, raise_server_exceptions=False) as client:
            yield RelevanceWorld(
                backend,
                client,
                headers,
                database.ids,
                {v: k for k, v in database.ids.items()},
                database.today,
                database.write_seconds,
                index_seconds,
            )
    finally:
        if alias is not None:
            runtime.search.client.indices.delete(index=f"{alias}-*", ignore=[404])  # type: ignore[attr-defined]
        runtime.close()
