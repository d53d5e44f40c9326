"""The postgres backend's bitmap path: totals and facets equal a straightforward count.

The thresholds are lowered so that a few hundred experts take the path a national corpus
takes for broad words: every token gets a bitmap, and every query that can be answered from
bitmaps is. Each answer is checked against plain SQL over the table's columns, and against
the row path, before and after the outbox drain changes people (the bitmaps must stay true).
"""

from __future__ import annotations

import dataclasses
import random
import uuid
from datetime import date
from typing import Any

import pytest
from sqlalchemy import cast, event, func, literal, select, text, update
from sqlalchemy.dialects.postgresql import TSVECTOR
from sqlalchemy.orm import Session

from services.registry.people.models import Person
from services.search import worker
from services.search.backends.postgres import (
    PostgresBackend,
    _tsquery,
    document_tokens,
    rebuild,
    row,
)
from services.search.documents import from_json, load
from services.search.protocol import FACETS, ExpertQuery
from services.search.schemas import ExpertSearchRequest
from services.search.service import build_query

from ..factories import Factory

TODAY = date(2026, 11, 23)
REGIONS = ["110108", "110105", "310104", "330106", "440305", "630102"]
DISCIPLINES = ["130", "13015", "1301510", "520", "52010", "150"]
TITLES = ["senior", "associate_senior", "intermediate", "junior"]
FIELDS = ["材料研究", "系统设计方法", "流体力学研究", "机器学习方法", "计算流体力学", "草地生态"]
INSTITUTIONS = ["清华大学", "北京大学", "浙江大学", "青海大学", "南方科技大学"]

REQUESTS: list[dict[str, Any]] = [
    {"q": "研究"},
    {"q": "方法", "gender": "female", "title_levels": ["senior", "associate_senior"]},
    {"q": "研究", "discipline_codes": ["130"], "region_codes": ["11"]},
    {"q": "研究 方法"},
    {"q": "流体力学"},
    {"q": "计算流体力学", "title_levels": ["senior"]},
    {"discipline_codes": ["13015", "520"]},
    {"region_codes": ["1101"], "gender": "male"},
    {"org_codes": ["BITMAP-A"]},
    {},
    {"q": "研究", "exclude_person_ids": "FIRST_THREE"},
    {"q": "方法", "conflicts_with": "FIRST"},
    {"conflicts_with": "FIRST"},
    {"q": "研究", "age_min": 35, "age_max": 50},
    {"age_min": 30, "age_max": 45, "gender": "female"},
    {"q": "方法", "age_min": 50},
    {"age_max": 40, "conflicts_with": "FIRST"},
]


@pytest.fixture(scope="module")
def people(runtime) -> list[Person]:  # type: ignore[no-untyped-def]
    """Two hundred experts with skewed attributes, in two societies, some without a gender,
    title, region or discipline and some with a discipline outside the GB/T 13745 table; then
    a rebuild with thresholds low enough that every token has a bitmap."""
    rng = random.Random(13)
    factory = Factory(runtime)
    org_a = factory.org(code="BITMAP-A")
    org_b = factory.org(code="BITMAP-B")
    created = []
    for i in range(200):
        person = factory.person(
            name="专家" + "".join(rng.choice("伟芳娜洋静杰敏强磊丽") for _ in range(2)),
            gender=None if i % 23 == 5 else rng.choice(("male", "male", "female")),
            birth_date=date(rng.randint(1955, 2000), rng.randint(1, 12), 1),
            institution=rng.choice(INSTITUTIONS),
            region_code=None if i % 19 == 4 else rng.choice(REGIONS),
            title_level=None if i % 17 == 3 else rng.choice(TITLES),
            discipline_codes=[] if i % 29 == 6 else rng.sample(DISCIPLINES, rng.choice((1, 1, 2))),
            research_fields=rng.sample(FIELDS, rng.choice((1, 2, 3))),
            expert_opt_in=True,
        )
        if i % 13 == 2:
            # A code outside the table, as profiles stored before the API refused one hold.
            with runtime.engine.begin() as conn:
                conn.execute(
                    update(Person)
                    .where(Person.id == person.id)
                    .values(discipline_codes=func.array_append(Person.discipline_codes, "99901"))
                )
        if i % 3 == 0:
            factory.membership(org_a if i % 2 else org_b, person, member_no=f"B{i}")
        created.append(person)
    worker.drain(runtime.sessions, runtime.search)
    rebuild(runtime.sessions, bitmap_share=0.0, bitmap_min_docs=1)
    worker.drain(runtime.sessions, runtime.search)  # the rebuild's replay
    return created


def _query(session: Session, people: list[Person], body: dict[str, Any]) -> ExpertQuery:
    body = dict(body)
    if body.get("exclude_person_ids") == "FIRST_THREE":
        body["exclude_person_ids"] = [str(p.id) for p in people[:3]]
    if body.get("conflicts_with") == "FIRST":
        body["conflicts_with"] = str(people[0].id)
    query = build_query(session, ExpertSearchRequest(**body, limit=100), TODAY)
    assert query is not None
    return query


def _straightforward(session: Session, query: ExpertQuery) -> tuple[int, dict[str, dict[str, int]]]:
    """Total and facets counted in Python over the stored documents: the words matched by
    PostgreSQL, every filter and exclusion checked on the document's own fields."""
    statement = text(
        "SELECT b.document, d.tsv @@ CAST(:words AS tsquery) OR :no_words FROM expert_doc d"
        " JOIN expert_doc_body b USING (person_id)"
    )
    # The words only: the filters are checked on the documents below.
    params = {"words": _tsquery(query) if query.terms else "x", "no_words": not query.terms}
    ex = query.exclusions
    total = 0
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for document, matched in session.execute(statement, params):
        doc = from_json(document)
        region = doc.region_code or ""
        born = doc.birth_date
        kept = (
            matched
            and (
                not query.discipline_codes
                or any(
                    c.startswith(p) for c in doc.discipline_codes for p in query.discipline_codes
                )
            )
            and (not query.region_codes or any(region.startswith(p) for p in query.region_codes))
            and (not query.title_levels or doc.title_level in query.title_levels)
            and (not query.gender or doc.gender == query.gender)
            and (not query.org_codes or set(doc.org_codes) & set(query.org_codes))
            and (query.born_after is None or (born is not None and born > query.born_after))
            and (
                query.born_on_or_before is None
                or (born is not None and born <= query.born_on_or_before)
            )
            and doc.person_id not in ex.person_ids
            and (doc.institution_key is None or doc.institution_key not in ex.institution_keys)
            and (doc.institution_uscc is None or doc.institution_uscc not in ex.institution_usccs)
        )
        if not kept:
            continue
        total += 1
        for name, values in (
            ("title_level", [doc.title_level]),
            ("gender", [doc.gender]),
            ("region_codes", [doc.province]),
            ("discipline_codes", doc.disciplines_l1),
        ):
            for value in values:
                if value is not None:
                    facets[name][value] = facets[name].get(value, 0) + 1
    return total, facets


def _check_every_request(runtime, people: list[Person]) -> None:  # type: ignore[no-untyped-def]
    fast = PostgresBackend(row_path_limit=0, rank_limit=10**9, recount_limit=0)
    rows = PostgresBackend(row_path_limit=10**9)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        _compare(runtime, people, fast, rows, statements)
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)


def _compare(  # type: ignore[no-untyped-def]
    runtime, people: list[Person], fast: PostgresBackend, rows: PostgresBackend, statements: list
) -> None:
    for body in REQUESTS:
        with runtime.sessions() as session:
            query = _query(session, people, body)
            expected_total, expected_facets = _straightforward(session, query)
            assert expected_total > 0, body
            statements.clear()
            by_bitmaps = fast.search(session, query)
            assert any("JOIN expert_bitmap b" in s for s in statements), body  # bitmap facets
            by_rows = rows.search(session, query)
        assert by_bitmaps.total == by_rows.total == expected_total, body
        for name in FACETS:
            assert by_bitmaps.facets[name] == by_rows.facets[name] == expected_facets[name], (
                body,
                name,
            )
        assert [h.person_id for h in by_bitmaps.hits] == [h.person_id for h in by_rows.hits], body
        assert by_bitmaps.approximate == by_rows.approximate == {}, body


def test_bitmap_totals_and_facets_equal_a_straightforward_count(runtime, people) -> None:  # type: ignore[no-untyped-def]
    _check_every_request(runtime, people)


def test_the_drain_keeps_the_bitmaps_true(runtime, factory, people) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions.begin() as session:
        session.execute(  # a change of title and of fields, and one expert opting out
            update(Person)
            .where(Person.id.in_([p.id for p in people[3:40]]))
            .values(title_level="senior", research_fields=["研究方法"])
        )
        session.execute(
            update(Person).where(Person.id == people[41].id).values(expert_opt_in=False)
        )
        session.execute(  # born in another year, one of them in a year nobody was born in
            update(Person)
            .where(Person.id.in_([p.id for p in people[30:36]]))
            .values(birth_date=date(1986, 6, 15))
        )
        session.execute(
            update(Person).where(Person.id == people[36].id).values(birth_date=date(1950, 2, 1))
        )
    from services.search.outbox import enqueue_people

    with runtime.sessions.begin() as session:
        enqueue_people(session, [p.id for p in people[3:42]])
    factory.person(  # a new expert in a province nobody was in before
        name="新疆专家",
        gender="female",
        region_code="650102",
        title_level="junior",
        discipline_codes=["150"],
        research_fields=["材料研究"],
        expert_opt_in=True,
    )
    worker.drain(runtime.sessions, runtime.search)
    _check_every_request(runtime, people)
    with runtime.sessions() as session:
        assert session.scalar(text("SELECT df FROM expert_bitmap_key WHERE key = 'Y:1950'")) == 0
        query = _query(session, people, {"age_min": 70})  # only the one born in 1950
        answer = PostgresBackend(row_path_limit=0, recount_limit=0).search(session, query)
    assert answer.total == _straightforward(session, query)[0] >= 1


def test_broad_answers_say_when_the_ranking_is_of_the_strongest_candidates(
    runtime,
    people,  # type: ignore[no-untyped-def]
) -> None:
    backend = PostgresBackend(row_path_limit=0, rank_limit=0)
    with runtime.sessions() as session:
        query = _query(session, people, {"q": "研究"})
        answer = backend.search(session, query)
        expected_total, expected_facets = _straightforward(session, query)
    assert answer.total == expected_total
    assert answer.facets == expected_facets
    assert set(answer.approximate) == {"ranking"}


def test_pages_of_a_bitmap_answer_walk_every_hit_once(runtime, people) -> None:  # type: ignore[no-untyped-def]
    backend = PostgresBackend(row_path_limit=0, recount_limit=0)
    seen: list[uuid.UUID] = []
    after = None
    with runtime.sessions() as session:
        query = _query(session, people, {"region_codes": ["11"]})
        total = backend.search(session, query).total
        while True:
            page = ExpertQuery(**{**query.__dict__, "limit": 7, "after": after})
            hits = backend.search(session, page).hits
            seen.extend(h.person_id for h in hits[:7])
            if len(hits) <= 7:
                break
            after = (hits[6].score, hits[6].person_id)
    assert len(seen) == len(set(seen)) == total


def test_the_rebuild_numbers_exactly_the_tokens_the_tsvector_holds(runtime, people) -> None:  # type: ignore[no-untyped-def]
    """The bitmaps are built from `document_tokens`; they must be the tsvector's lexemes."""
    with runtime.sessions() as session:
        versions = {p.id: 1 for p in people[:60]}
        docs, _ = load(session, versions, TODAY)
        for doc in docs:
            stored = session.scalar(
                select(func.tsvector_to_array(cast(literal(row(doc)["tsv"]), TSVECTOR)))
            )
            assert set(stored) == document_tokens(doc), doc.name


def test_an_overestimated_match_is_counted_on_bitmaps_and_answered_from_its_rows(  # type: ignore[no-untyped-def]
    runtime, people
) -> None:
    """A query estimated above the row-path limit (and not broad) whose bitmaps count a small
    match takes the row path: the same total, facets and hits, without the bitmap facets
    statement; with a lower recount limit the same query keeps the bitmap facets."""
    rows = PostgresBackend(row_path_limit=10**9)
    statements: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(runtime.engine, "before_cursor_execute", record)
    recounted_requests = 0
    try:
        for body in REQUESTS:
            with runtime.sessions() as session:
                query = _query(session, people, body)
                expected = rows.search(session, query)
                statements.clear()
                recounting = PostgresBackend(row_path_limit=0, recount_share=1.0)
                recounted = recounting.search(session, query)
                counted = any("AS match_size" in s for s in statements)
                bitmap_facets = any("fk AS MATERIALIZED" in s for s in statements)
                statements.clear()
                small = PostgresBackend(
                    row_path_limit=0, recount_limit=expected.total - 1, recount_share=1.0
                )
                by_bitmaps = small.search(session, query)
                kept_bitmaps = any("fk AS MATERIALIZED" in s for s in statements)
            assert kept_bitmaps, body
            assert bitmap_facets != counted, body  # counted small: no bitmap facets
            recounted_requests += counted
            for answer in (recounted, by_bitmaps):
                assert answer.total == expected.total, body
                assert answer.facets == expected.facets, body
                assert [h.person_id for h in answer.hits] == [h.person_id for h in expected.hits]
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    assert recounted_requests >= 3


def test_an_age_range_is_counted_without_its_years_when_its_words_alone_fit(  # type: ignore[no-untyped-def]
    runtime, people
) -> None:
    """Counting the years of birth costs most of a recount; when the match without them is
    small enough, they are not counted, and the answer is the row path's."""
    counted: list[list[str]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "AS match_size" in statement:
            counted.append(list(parameters["key"]))

    body = {"q": "研究", "age_min": 35, "age_max": 50}
    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        with runtime.sessions() as session:
            query = _query(session, people, body)
            expected = PostgresBackend(row_path_limit=10**9).search(session, query)
            answer = PostgresBackend(row_path_limit=0, recount_share=1.0).search(session, query)
            fitting = list(counted)
            counted.clear()
            PostgresBackend(row_path_limit=0, recount_share=1.0, recount_limit=0).search(
                session, query
            )
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    assert len(fitting) == 1
    assert not any(k.startswith("Y:") for k in fitting[0])
    assert (answer.total, answer.facets) == (expected.total, expected.facets)
    assert [h.person_id for h in answer.hits] == [h.person_id for h in expected.hits]
    # Too large without the years: counted again with them.
    assert len(counted) == 2
    assert any(k.startswith("Y:") for k in counted[1])


def test_a_search_runs_without_jit_and_leaves_the_setting_to_its_transaction(  # type: ignore[no-untyped-def]
    runtime, people
) -> None:
    """JIT compiling costs a search more than it saves; the setting is the transaction's."""
    # One connection throughout, so that what a commit keeps is seen by the next statement.
    with runtime.engine.connect() as conn, Session(bind=conn) as session:
        query = _query(session, people, REQUESTS[0])
        session.execute(text("SET jit = on"))
        session.commit()
        PostgresBackend().search(session, query)
        assert session.execute(text("SHOW jit")).scalar_one() == "off"
        session.commit()  # a plain SET would outlive the commit; SET LOCAL does not
        assert session.execute(text("SHOW jit")).scalar_one() == "on"
        session.execute(text("RESET jit"))
        session.commit()


def test_age_bounds_on_the_last_day_of_a_year_and_within_one_year_count_exactly(
    runtime,  # type: ignore[no-untyped-def]
    people,
) -> None:
    """A bound on 31 December takes its year whole or leaves it out; a range inside one year
    subtracts the rest of that year once."""
    backend = PostgresBackend(row_path_limit=0, recount_limit=0)
    with runtime.sessions() as session:
        base = _query(session, people, {"q": "研究"})
        for after, until in (
            (date(1979, 12, 31), date(1990, 12, 31)),
            (date(1979, 12, 31), None),
            (None, date(1985, 12, 31)),
            (date(1980, 3, 1), date(1980, 9, 1)),
        ):
            bounds = {"born_after": after, "born_on_or_before": until}
            query = ExpertQuery(**{**base.__dict__, **bounds})
            expected = _straightforward(session, query)
            answer = backend.search(session, query)
            assert (answer.total, answer.facets) == expected, bounds


def _row_path_plan(runtime, people: list[Person], body: dict[str, Any]) -> str:  # type: ignore[no-untyped-def]
    """The plan of the row path's statement for `body`, sequential scans ruled out (so that
    each index the planner may use is one it would choose over the others)."""
    executed: list[tuple[str, Any]] = []

    def record(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        if "WITH m AS MATERIALIZED" in statement:
            executed.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", record)
    try:
        with runtime.sessions() as session:
            PostgresBackend(row_path_limit=10**9).search(session, _query(session, people, body))
    finally:
        event.remove(runtime.engine, "before_cursor_execute", record)
    (statement, parameters), *_ = executed
    with runtime.engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.execute("SET enable_seqscan = off")
        cursor.execute("EXPLAIN " + statement, parameters)
        plan = "\n".join(line for (line,) in cursor.fetchall())
        conn.rollback()
    return plan


def test_a_worded_search_checks_the_age_range_on_the_rows_the_text_index_finds(
    runtime,  # type: ignore[no-untyped-def]
    people,
) -> None:
    """Scanning the birth-date index for a range of ages (a third of a national corpus) costs
    more than the rows it spares the text match; without words it is the way in."""
    worded = _row_path_plan(runtime, people, {"q": "流体力学", "age_min": 35, "age_max": 50})
    assert "ix_expert_doc_tsv" in worded
    assert "ix_expert_doc_birth_date" not in worded
    ages_only = _row_path_plan(runtime, people, {"age_min": 35, "age_max": 36})
    assert "ix_expert_doc_birth_date" in ages_only


def _walk(backend: PostgresBackend, session: Session, query: ExpertQuery) -> list[uuid.UUID]:
    """Every hit, a page of `query.limit` at a time, each page after the last hit of the one
    before, as the service's cursor asks for it."""
    seen: list[uuid.UUID] = []
    after = None
    while True:
        page = backend.search(session, dataclasses.replace(query, after=after)).hits
        seen += [hit.person_id for hit in page[: query.limit]]
        if len(page) <= query.limit:
            return seen
        after = (page[query.limit - 1].score, page[query.limit - 1].person_id)


@pytest.mark.parametrize(
    "body",
    [
        {"q": "研究", "exclude_person_ids": "ON_THE_PAGES"},
        {"exclude_person_ids": "ON_THE_PAGES"},
        {"conflicts_with": "FIRST"},
        {"age_min": 30, "age_max": 45, "exclude_person_ids": "ON_THE_PAGES"},
    ],
)
def test_a_cursor_walk_on_the_bitmap_path_leaves_out_the_excluded_on_every_page(  # type: ignore[no-untyped-def]
    runtime, people, body
) -> None:
    fast = PostgresBackend(row_path_limit=0, rank_limit=10**9, recount_limit=0)
    rows = PostgresBackend(row_path_limit=10**9)
    with runtime.sessions() as session:
        unfiltered = {
            k: v for k, v in body.items() if k not in ("exclude_person_ids", "conflicts_with")
        }
        everyone = [
            hit.person_id
            for hit in rows.search(
                session, dataclasses.replace(_query(session, people, unfiltered), limit=1000)
            ).hits
        ]
        excluded = {people[0].id}
        if "exclude_person_ids" in body:
            # The last of the first page, the first of the second, and one further on.
            excluded = {everyone[6], everyone[7], everyone[12]}
            body = {**body, "exclude_person_ids": [str(pid) for pid in excluded]}
        query = dataclasses.replace(_query(session, people, body), limit=1000)
        expected_total, _ = _straightforward(session, query)
        whole = [hit.person_id for hit in rows.search(session, query).hits]
        assert len(whole) == expected_total > 7
        paged = dataclasses.replace(query, limit=7)
        by_bitmaps = _walk(fast, session, paged)
        by_rows = _walk(rows, session, paged)
    assert by_bitmaps == by_rows == whole, body
    assert not excluded & set(by_bitmaps), body
    assert set(by_bitmaps) < set(everyone), body
