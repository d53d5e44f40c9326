"""Search fixtures: a database of its own with a known corpus, and one app per backend."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from services.registry import migrate
from services.registry.app import create_app
from services.registry.auth.models import Role
from services.registry.core.clock import get_today
from services.registry.core.config import Settings
from services.registry.core.runtime import Runtime
from services.registry.people.models import Person
from services.search import worker

from ..conftest import create_database, drop_database
from ..factories import Factory
from .relevance import world as relevance

BACKENDS = ["postgres", "opensearch"]
TODAY = date(2026, 11, 23)

# osmem-server, the OpenSearch-protocol server the tests run on without OPENSEARCH_URL, sorts
# by scores it keeps in double precision, prints them as 32-bit floats, and reads the score of
# `search_after` as a double: a page that ends inside a group of equal scores skips the rest of
# the group on the next page (or repeats it). OpenSearch itself reads that score as a float
# (SearchAfterBuilder.convertValueFromSortType: `floatValue()`), the very value it printed, and
# pages such a group whole, in person-id order; the backend passes the printed value back.
TEST_SERVER_SPLITS_EQUAL_SCORES = not os.environ.get("OPENSEARCH_URL")


@pytest.fixture(scope="session")
def opensearch_url() -> Iterator[str]:
    """OPENSEARCH_URL when set, otherwise an in-memory OpenSearch-protocol server."""
    url = os.environ.get("OPENSEARCH_URL")
    if url:
        yield url
        return
    from osmem_server import OsmemServer

    server = OsmemServer.start(freeze=False, japanese=False)
    try:
        yield server.url
    finally:
        server.close()


@pytest.fixture(scope="session")
def search_database(server_url: str) -> Iterator[str]:
    url = create_database(server_url, "registry_search")
    try:
        migrate.upgrade(url)
        yield url
    finally:
        drop_database(server_url, url)


@pytest.fixture(scope="session")
def relevance_database(
    server_url: str, settings: Settings
) -> Iterator[relevance.RelevanceDatabase]:
    """The 520-expert relevance corpus, written once for every test that reads it."""
    with relevance.relevance_database(server_url, settings) as database:
        yield database


@pytest.fixture(scope="session")
def relevance_postgres(
    settings: Settings, relevance_database: relevance.RelevanceDatabase
) -> Iterator[relevance.RelevanceWorld]:
    """The relevance corpus indexed into the postgres backend."""
    with relevance.relevance_world(settings, relevance_database, "postgres", None) as world:
        yield world


@pytest.fixture(scope="session")
def relevance_bitmaps(
    settings: Settings, relevance_database: relevance.RelevanceDatabase
) -> Iterator[relevance.RelevanceWorld]:
    """The relevance corpus rebuilt into the postgres backend's bitmaps, every query that can
    taking the bitmap path."""
    with relevance.relevance_world(settings, relevance_database, "postgres", bitmaps=True) as world:
        yield world


@pytest.fixture(scope="session")
def relevance_opensearch(
    settings: Settings, relevance_database: relevance.RelevanceDatabase, opensearch_url: str
) -> Iterator[relevance.RelevanceWorld]:
    """The relevance corpus indexed into the opensearch backend."""
    with relevance.relevance_world(
        settings, relevance_database, "opensearch", opensearch_url
    ) as world:
        yield world


@dataclass
class SearchWorld:
    """One backend's app over the search database, and helpers to feed it."""

    runtime: Runtime
    client: TestClient
    factory: Factory
    headers: dict[str, str]

    def drain(self) -> int:
        return worker.drain(self.runtime.sessions, self.runtime.search)

    def search(self, **body: Any) -> dict[str, Any]:
        response = self.client.post("/api/v1/search/experts", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        return response.json()

    def ids(self, **body: Any) -> list[str]:
        return [hit["person_id"] for hit in self.search(**body)["hits"]]


def _world(
    settings: Settings, database_url: str, backend: str, opensearch: str | None
) -> Iterator[SearchWorld]:
    app_settings = settings.model_copy(
        update={"search_backend": backend, "opensearch_url": opensearch}
    )
    app = create_app(app_settings, database_url)
    # Ages in the corpus are counted on a fixed date, so its expected answers do not age.
    app.dependency_overrides[get_today] = lambda: TODAY
    runtime: Runtime = app.state.runtime
    factory = Factory(runtime)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield SearchWorld(runtime, client, factory, factory.caller(Role.platform_admin))
    runtime.close()


@pytest.fixture(scope="session", params=BACKENDS)
def world(request, settings, search_database) -> Iterator[SearchWorld]:  # type: ignore[no-untyped-def]
    """The corpus indexed into one backend (each backend reads the same database)."""
    opensearch = None
    if request.param == "opensearch":
        opensearch = request.getfixturevalue("opensearch_url")
    yield from _world(settings, search_database, request.param, opensearch)


# name, name_en, gender, birth, institution, uscc, region, title, disciplines, fields, bio
CORPUS: list[tuple[Any, ...]] = [
    ("张伟", None, "male", date(1970, 5, 1), "清华大学", None, "110108", "senior", ["130"], ["计算流体力学", "湍流模拟"], "长期从事湍流与多相流研究"),
    ("张薇", None, "female", date(1988, 2, 3), "北京大学", None, "110108", "associate_senior", ["13015"], ["流体力学实验"], None),
    ("王芳", None, "female", date(1985, 7, 9), "上海交通大学", None, "310104", "senior", ["520"], ["机器学习", "计算机视觉"], "深度学习在医学影像中的应用"),
    ("李强", "Li Qiang", "male", date(1960, 1, 1), "清华大学", None, "110108", "senior", ["520"], ["分布式系统"], None),
    ("刘洋", None, "male", date(1992, 9, 9), "中国科学院力学研究所", None, "110108", "intermediate", ["1301510"], ["爆炸力学"], None),
    ("陈静", None, "female", date(1979, 3, 3), "浙江大学", None, "330106", "senior", ["150"], ["高分子化学"], "计算化学与流体模拟"),
    ("Anna Schmidt", "Anna Schmidt", "female", date(1975, 4, 4), "Technische Universität München", None, "", "senior", ["130"], ["turbulence modelling", "computational fluid dynamics"], None),
    ("赵磊", None, "male", date(1983, 12, 12), "青海大学", None, "630102", "associate_senior", ["630"], ["草地生态"], None),
    ("周敏", None, "female", date(1995, 6, 6), "南方科技大学", None, "440305", "junior", ["520"], ["流体", "计算", "力学教育"], None),
    ("吴刚", None, "male", date(1965, 8, 8), "清华大学", "12100000400000624D", "110108", "senior", ["130"], ["固体力学"], None),
]  # fmt: skip


@dataclass
class Corpus:
    ids: dict[str, str]  # name -> person id
    org_a: str
    org_b: str
    hidden: list[str]


@pytest.fixture(scope="session")
def corpus(world: SearchWorld) -> Corpus:
    """The corpus written once per database; each backend indexes it through the outbox."""
    with world.runtime.sessions() as session:
        existing = {p.name: str(p.id) for p in session.scalars(select(Person))}
    if "张伟" not in existing:
        org_a = world.factory.org(code="SEARCH-A")
        org_b = world.factory.org(code="SEARCH-B")
        for i, row in enumerate(CORPUS):
            name, name_en, gender, birth, inst, uscc, region, title, disc, fields, bio = row
            person = world.factory.person(
                name=name,
                name_en=name_en,
                gender=gender,
                birth_date=birth,
                institution=inst,
                institution_uscc=uscc,
                region_code=region or None,
                title_level=title,
                discipline_codes=disc,
                research_fields=fields,
                biography=bio,
                expert_opt_in=True,
            )
            world.factory.membership(org_a if i % 2 == 0 else org_b, person, member_no=f"S{i}")
        world.factory.person(name="隐身专家", research_fields=["计算流体力学"], expert_opt_in=False)
        gone = world.factory.person(
            name="已故专家", research_fields=["计算流体力学"], expert_opt_in=True
        )
        with world.runtime.sessions.begin() as session:
            session.execute(update(Person).where(Person.id == gone.id).values(status="deceased"))
        with world.runtime.sessions() as session:
            existing = {p.name: str(p.id) for p in session.scalars(select(Person))}
    _index_everything(world)
    return Corpus(existing, "SEARCH-A", "SEARCH-B", [existing["隐身专家"], existing["已故专家"]])


def _index_everything(world: SearchWorld) -> None:
    """Feed this backend every person, as a rebuild would (the outbox is shared by backends)."""
    from services.search.outbox import enqueue_people

    with world.runtime.sessions.begin() as session:
        enqueue_people(session, list(session.scalars(select(Person.id))))
    world.drain()
