"""Differential: a few hundred generated queries asked of every backend, compared where the
contract says they agree.

The queries are drawn from a seeded `random.Random` over the relevance corpus's own values
(relevance/corpus.py, written once and indexed into each backend by the session fixtures of
conftest.py), each around an expert of the corpus: words of its research fields, institution
and biography, its name in characters and in pinyin (with and without spaces, given name
first, upper case, full width), English words, and filters on the discipline prefixes (3, 5
and 7 digits), regions (2, 4 and 6 digits, a province's or city's own code), titles, genders,
ages and societies it has or just misses, alone and combined, with people excluded by id or by
a conflict of interest. Age ranges are bounded at the anchor's own age, on the registry's date,
on the anchor's birthday and the day before (the anchor on the bound's very day), and on the
dates where a year of birth splits (31 December, 1 January, 29 February).

Three answer each query: postgres on its row path, postgres on its bitmap path (rebuilt with a
bitmap for every token, as a national corpus answers its broad queries), and opensearch. They
must give the same total and the same count for every facet value (the contract has no facet
request: every answer carries all four), and, when the match fits one page, the same people in
the same order (opensearch.py scores to mirror the postgres ranking), with the same public
fields and highlights; each must page those hits through its cursors in smaller pages, every
one once and in the same order. Left out on purpose: the scores themselves (ts_rank against
constant per-field weights, two scales of the same order), and whatever an answer says it
estimated (`approximate`: a total, the facets, or a ranking drawn from candidates).
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from pypinyin import lazy_pinyin
from sqlalchemy import select

from services.registry.auth.models import Role
from services.registry.core.clock import age_on, get_today
from services.registry.core.config import Settings
from services.registry.core.disciplines import labels_of
from services.registry.core.runtime import Runtime
from services.registry.memberships.models import Membership
from services.search import analysis, worker
from services.search.outbox import enqueue_people
from services.search.protocol import FACETS

from ..factories import Factory
from .conftest import TEST_SERVER_SPLITS_EQUAL_SCORES
from .relevance.corpus import SOCIETIES, Expert, experts
from .relevance.world import (
    FEDERATION,
    RelevanceWorld,
    relevance_database,
    relevance_world,
)

SEED = 2260  # GB/T 2260
CASES = 260
PAGE = 100  # the contract's largest page: the people of a match up to it are compared
TITLES = ("senior", "associate_senior", "intermediate", "junior", "none")
# Words of no profile, in both scripts, and stop words that leave a query's other words alone.
STRANGERS = ("ocean", "protein", "volcano", "宇宙学", "考古", "the", "of", "的", "和")
# A hit's public fields, compared between backends (its score is not: two scales).
SHOWN = (
    "name", "institution", "title_level", "discipline_codes", "research_fields", "region_code",
    "highlights",
)  # fmt: skip


@dataclass(frozen=True)
class Case:
    """One generated request and the registry date it is asked on."""

    body: dict[str, Any]
    today: date


@dataclass
class Answer:
    """What one backend said: the first page, and what it contradicted of itself."""

    first: dict[str, Any]
    faults: list[str] = field(default_factory=list)
    split_ties: bool = (
        False  # no walk: the test server cannot page its hits (TEST_SERVER_SPLITS_EQUAL_SCORES)
    )

    def estimated(self, aspect: str) -> bool:
        return aspect in (self.first.get("approximate") or {})


# -- the queries ---------------------------------------------------------------------------


def _full_width(text: str) -> str:
    return "".join(
        chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else "　" if c == " " else c for c in text
    )


def name_forms(expert: Expert) -> list[str]:
    """A name as people type it: in characters, its surname, and in pinyin with and without
    spaces, the given name as one word, given name first; an English name as written."""
    forms = [expert.name]
    syllables = [s for s in lazy_pinyin(expert.name) if s.isalpha()]
    if len(syllables) >= 2 and not expert.name.isascii():
        given = "".join(syllables[1:])
        forms += [
            expert.name[0],
            " ".join(syllables),
            "".join(syllables),
            f"{syllables[0]} {given}",
            f"{given.title()} {syllables[0].title()}",
        ]
    if expert.name_en:
        forms.append(expert.name_en)
    return forms


def profile_words(expert: Expert) -> list[str]:
    """The words of a profile's fields, institution, biography, position and tags."""
    texts = [*expert.research_fields, expert.institution, expert.bio, expert.position]
    return sorted({w for t in [*texts, *expert.tags] for w in analysis.index_tokens(t)})


def region_forms(code: str) -> list[str]:
    """What a region filter may name of a region: 2, 4 or 6 digits, a province's or a city's
    own code (110000, 110100) and a province's four-digit code (1100)."""
    return sorted({code[:2], code[:4], code, code[:2] + "0000", code[:4] + "00", code[:2] + "00"})


@dataclass(frozen=True)
class Vocabulary:
    """The corpus's own values, to draw queries from."""

    corpus: tuple[Expert, ...]
    ids: dict[str, str]  # corpus key -> person id
    fields: list[str]  # research field phrases, Chinese and English
    words: list[str]  # the words of profiles, each of at least two characters
    common: list[str]  # words of at least five profiles
    institutions: list[str]
    names: list[str]  # every name form of every expert
    english: list[str]
    disciplines: list[str]  # every prefix of every code, at each level
    regions: list[str]
    by_institution: dict[str, list[str]]  # institution -> person ids


def vocabulary(corpus: tuple[Expert, ...], ids: dict[str, str]) -> Vocabulary:
    fields = sorted({f for e in corpus for f in e.research_fields})
    profiles: Counter[str] = Counter()
    for e in corpus:
        labels = [
            w
            for c in e.discipline_codes
            for label in labels_of(c)
            for w in analysis.index_tokens(label)
        ]
        profiles.update({*profile_words(e), *labels})
    by_institution: dict[str, list[str]] = {}
    for e in corpus:
        by_institution.setdefault(e.institution or "", []).append(ids[e.key])
    return Vocabulary(
        corpus=corpus,
        ids=ids,
        fields=fields,
        words=sorted(w for w in profiles if len(w) > 1),
        common=sorted(w for w, n in profiles.items() if n >= 5),
        institutions=sorted({e.institution for e in corpus if e.institution}),
        names=sorted({form for e in corpus for form in name_forms(e)}),
        english=sorted({w for f in fields if f.isascii() for w in f.split()}),
        disciplines=sorted({c[:n] for e in corpus for c in e.discipline_codes for n in (3, 5, 7)}),
        regions=sorted({f for e in corpus if e.region_code for f in region_forms(e.region_code)}),
        by_institution=by_institution,
    )


FILTERS = ("discipline", "region", "title", "gender", "age", "org", "exclude", "conflict")


def _text(rng: random.Random, v: Vocabulary, e: Expert) -> str:
    """Text from the anchor's profile most of the time, from anywhere in the corpus otherwise."""
    kind = rng.choice(
        ("field", "word", "word", "common", "common", "institution", "name", "name", "english",
         "two", "two", "folded", "stranger")
    )  # fmt: skip
    own = rng.random() < 0.7
    if kind == "field":
        return rng.choice(e.research_fields if own else v.fields)
    if kind == "word":
        return rng.choice((profile_words(e) if own else None) or v.words)
    if kind == "common":
        return " ".join(rng.sample(v.common, rng.choice((1, 1, 2))))
    if kind == "institution":
        if own and e.institution:
            return rng.choice([e.institution, *analysis.index_tokens(e.institution)])
        return rng.choice(v.institutions)
    if kind == "name":
        return rng.choice(name_forms(e) if own else v.names)
    if kind == "english":
        return rng.choice(v.english)
    if kind == "folded":
        return _full_width(rng.choice([*name_forms(e), *v.english]).upper())
    if kind == "stranger":  # a word of no profile, or a stop word, beside a word of the corpus
        return f"{rng.choice(STRANGERS)} {rng.choice(v.words)}"
    pools = [profile_words(e) or v.words, name_forms(e), v.common, v.words]
    return " ".join(rng.choice(pool) for pool in rng.sample(pools, 2))


def _ages(rng: random.Random, age: int) -> dict[str, int]:
    """An age range with a bound at the anchor's age or just beside it."""
    low, high = age - rng.choice((0, 0, 1, 5)), age + rng.choice((0, 0, 1, 5))
    return rng.choice(
        (
            {"age_min": age},
            {"age_max": age},
            {"age_min": age, "age_max": age},
            {"age_max": age - 1},
            {"age_min": age + 1},
            {"age_min": low, "age_max": high},
            {"age_min": max(0, age - 10), "age_max": age - 1},
        )
    )


def _filters(
    rng: random.Random, v: Vocabulary, e: Expert, day: date, today: date, kinds: list[str]
) -> dict[str, Any]:
    """Filters that hold for the anchor `e` most of the time (its values, its age on `day`),
    and for others besides; sometimes a value of anyone's."""
    body: dict[str, Any] = {}
    for kind in kinds:
        own = rng.random() < 0.8
        if kind == "discipline":
            codes = [c[:n] for c in e.discipline_codes for n in (3, 5, 7) if len(c) >= n]
            pool = codes if own and codes else v.disciplines
            body["discipline_codes"] = rng.sample(pool, 1) + rng.sample(
                v.disciplines, rng.choice((0, 0, 1))
            )
        elif kind == "region":
            pool = region_forms(e.region_code) if own and e.region_code else v.regions
            body["region_codes"] = rng.sample(pool, 1) + rng.sample(
                v.regions, rng.choice((0, 0, 1))
            )
        elif kind == "title":
            titles = rng.sample(TITLES, rng.choice((1, 1, 2, 3)))
            if own and e.title_level and e.title_level not in titles:
                titles[0] = e.title_level
            body["title_levels"] = titles
        elif kind == "gender":
            body["gender"] = e.gender if own and e.gender else rng.choice(("male", "female"))
        elif kind == "age":
            birth = e.birth_date(today)
            body |= _ages(rng, age_on(birth, day) if birth else rng.randint(27, 75))
        elif kind == "org":
            codes = [code for code, _ in e.orgs] if own else []
            body["org_codes"] = rng.sample(codes or [*SOCIETIES, FEDERATION], 1)
        elif kind == "exclude":
            others = rng.sample(sorted(v.ids.values()), rng.choice((1, 3, 8, 40)))
            body["exclude_person_ids"] = ([v.ids[e.key]] if own else []) + others
        elif kind == "conflict":
            colleagues = v.by_institution.get(e.institution or "", [])
            pool = colleagues if own and len(colleagues) > 1 else sorted(v.ids.values())
            body["conflicts_with"] = rng.choice(pool)
    return body


def _birthday(expert: Expert, today: date) -> tuple[date, ...]:
    """The day before the expert's birthday this year, and the birthday: asked on them, an age
    bound at the expert's age puts them on the bound's very day."""
    birth = expert.birth_date(today)
    if birth is None or (birth.month, birth.day) == (2, 29):
        return ()
    day = birth.replace(year=today.year)
    return day - timedelta(days=1), day


def cases(ids: dict[str, str], today: date) -> list[Case]:
    """CASES requests, the same on every run over the same corpus and registry date.

    Each is built around an expert of the corpus (the anchor): its words, its name, and
    filters its profile meets or just misses, so that most queries match someone and many
    match dozens, with a share drawn from anywhere in the corpus that match no one."""
    rng = random.Random(SEED)
    v = vocabulary(experts(), ids)
    # The days on which an age range's bounds fall at a year's edge, or on a leap day (the
    # anchor's birthday is added for each query).
    edges = (date(today.year, 12, 31), date(today.year + 1, 1, 1), date(2028, 2, 29))
    found: list[Case] = []
    while len(found) < CASES:
        anchor = rng.choice(v.corpus)
        with_text = rng.random() < 0.65
        weights = (4, 4, 2, 1) if with_text else (0, 3, 3, 2)
        kinds = rng.sample(FILTERS, rng.choices((0, 1, 2, 3), weights=weights)[0])
        day = today
        if "age" in kinds:
            day = rng.choice((today, today, *_birthday(anchor, today), *edges))
        body = _filters(rng, v, anchor, day, today, kinds)
        if with_text:
            body["q"] = _text(rng, v, anchor)
        found.append(Case(body, day))
    found.append(Case({}, today))  # everyone: the total and the facets of the whole corpus
    return found


# -- asking --------------------------------------------------------------------------------


@contextmanager
def registry_date(worlds: list[RelevanceWorld], day: date) -> Iterator[None]:
    """Every backend's app answers on `day` for a while."""
    for world in worlds:
        world.client.app.dependency_overrides[get_today] = lambda: day  # type: ignore[attr-defined]
    try:
        yield
    finally:
        for world in worlds:
            app = world.client.app
            app.dependency_overrides[get_today] = lambda today=world.today: today  # type: ignore[attr-defined]


def _walk(world: RelevanceWorld, body: dict[str, Any], limit: int) -> tuple[list[dict], list[str]]:
    """Every hit, page by page through the cursors, and what went wrong on the way."""
    hits: list[dict[str, Any]] = []
    faults: list[str] = []
    request = {**body, "limit": limit}
    for _ in range(PAGE // limit + 2):
        page = world.post(request)
        hits += page["hits"]
        if len(page["hits"]) > limit:
            faults.append(f"a page of {len(page['hits'])} hits for a limit of {limit}")
        if not page["next_cursor"]:
            return hits, faults
        if not page["hits"]:
            faults.append("an empty page with a next cursor")
        request["cursor"] = page["next_cursor"]
    faults.append(f"the cursor walk of {limit} a page did not end")
    return hits, faults


def _splits_equal_scores(hits: list[dict[str, Any]], limit: int) -> bool:
    """Whether pages of `limit` end between two hits of equal (displayed) scores."""
    return any(
        hits[end - 1]["score"] == hits[end]["score"] for end in range(limit, len(hits), limit)
    )


def _page_size(world: RelevanceWorld, hits: list[dict[str, Any]]) -> int | None:
    """The page size of the smaller walk: about four pages. On the test server, which loses
    the rest of a group of equal scores that a page ends inside (TEST_SERVER_SPLITS_EQUAL_SCORES),
    the opensearch walk takes the size nearest that ends no page inside one (None: no walk);
    every backend and page size is still held to the rest."""
    limit = -(-len(hits) // 4)
    if world.backend != "opensearch" or not TEST_SERVER_SPLITS_EQUAL_SCORES:
        return limit
    sizes = sorted(range(1, len(hits)), key=lambda size: (abs(size - limit), size))
    return next((size for size in sizes if not _splits_equal_scores(hits, size)), None)


def ask(world: RelevanceWorld, body: dict[str, Any]) -> Answer:
    """The first page, and, for a match that fits it, the same hits walked in smaller pages."""
    first = world.post({**body, "limit": PAGE})
    answer = Answer(first)
    total, hits = first["total"], first["hits"]
    if len(hits) != min(total, PAGE) or bool(first["next_cursor"]) != (total > PAGE):
        answer.faults.append(
            f"a first page of {len(hits)} hits and next_cursor {first['next_cursor']!r}"
            f" for a total of {total}"
        )
    scores = [h["score"] for h in hits]
    if scores != sorted(scores, reverse=True):
        answer.faults.append("the scores do not descend")
    if 1 < total <= PAGE and not answer.estimated("ranking"):
        limit = _page_size(world, hits)
        if limit is None:
            answer.split_ties = True
            return answer
        walked, faults = _walk(world, body, limit)
        answer.faults += faults
        ids = [h["person_id"] for h in walked]
        if ids != [h["person_id"] for h in hits]:
            answer.faults.append(
                f"pages of {limit} give {len(ids)} hits ({len(set(ids))} people)"
                f" other than the {len(hits)} of one page"
            )
    return answer


# -- comparing -----------------------------------------------------------------------------


def _disagree(values: dict[str, Any]) -> bool:
    return len({repr(v) for v in values.values()}) > 1


def differences(answers: dict[str, Answer], keys: dict[str, str]) -> list[str]:
    """Where the backends' answers to one query disagree, or one contradicts itself."""
    found = [f"{b}: {fault}" for b, a in answers.items() for fault in a.faults]
    exact = {b: a for b, a in answers.items() if not a.estimated("total")}
    totals = {b: a.first["total"] for b, a in exact.items()}
    if _disagree(totals):
        found.append(f"total: {totals}")
    counted = {b: a.first["facets"] for b, a in answers.items() if not a.estimated("facets")}
    for facet in FACETS:
        values = sorted({v for facets in counted.values() for v in facets[facet]})
        for value in values:
            counts = {b: facets[facet].get(value) for b, facets in counted.items()}
            if _disagree(counts):
                found.append(f"facet {facet} {value}: {counts}")
    # The people of the match, when it fits one page in every answer.
    walks = {b: a.first["hits"] for b, a in answers.items() if a.first["total"] <= PAGE}
    if len(walks) == len(answers):
        people = {b: {h["person_id"]: h for h in walk} for b, walk in walks.items()}
        everyone = set().union(*people.values())
        if not any(a.estimated("ranking") for a in answers.values()):
            for b, found_by in people.items():
                if missing := everyone - set(found_by):
                    found.append(f"people: {b} lacks {sorted(keys[p] for p in missing)}")
        for pid in set.intersection(*(set(p) for p in people.values())):
            shown = {b: {k: found_by[pid][k] for k in SHOWN} for b, found_by in people.items()}
            if _disagree(shown):
                found.append(f"hit {keys[pid]}: {shown}")
        orders = {b: [keys[h["person_id"]] for h in walk] for b, walk in walks.items()}
        if _disagree(orders):
            found.append(f"order: {orders}")
    return found


def test_backends_agree_on_generated_queries(
    relevance_postgres: RelevanceWorld,
    relevance_bitmaps: RelevanceWorld,
    relevance_opensearch: RelevanceWorld,
) -> None:
    worlds = [relevance_postgres, relevance_bitmaps, relevance_opensearch]
    report, summary = _compare(worlds, cases(relevance_postgres.ids, relevance_postgres.today))
    assert not report, f"{len(report)} of {summary} disagree:\n" + "\n".join(report[:40])


def _compare(worlds: list[RelevanceWorld], generated: list[Case]) -> tuple[list[str], str]:
    """Each case asked of every world: what disagreed, and a line saying what was covered."""
    today, keys = worlds[0].today, worlds[0].keys
    report: list[str] = []
    seen: Counter[str] = Counter()
    for n, case in enumerate(generated):
        with registry_date(worlds, case.today):
            answers = {w.backend: ask(w, case.body) for w in worlds}
        found = differences(answers, keys)
        if found:
            report.append(f"#{n} {_readable(case, keys, today)}\n    " + "\n    ".join(found))
        total = max(a.first["total"] for a in answers.values())
        seen[
            "matching no one" if not total else "people compared" if total <= PAGE else "broad"
        ] += 1
        seen["paged in smaller pages"] += 1 < total <= PAGE
        seen["with text"] += "q" in case.body
        seen["on an edge date"] += case.today != today
        seen["split ties the test server could not page"] += any(
            a.split_ties for a in answers.values()
        )
    summary = f"{len(generated)} queries: " + ", ".join(f"{n} {what}" for what, n in seen.items())
    print("\n" + summary)  # noqa: T201 - what the generated queries covered
    return report, summary


# -- after the drain changed people -----------------------------------------------------------

CHANGED = 60  # background experts changed after indexing, one change each


def _changes(rng: random.Random) -> list[tuple[str, dict[str, Any] | None]]:
    """Seeded changes to background experts: (key, PATCH body), or None to suspend every
    membership. They bring values the corpus lacks (a title of `none`, Macao, a first-level
    discipline of no expert), clear values, move birthdays to a year's edges and a leap day,
    and take experts out of the pool."""
    bodies: list[dict[str, Any] | None] = [
        {"gender": None},
        {"title_level": "none"},
        {"title_level": None},
        {"region_code": "820000"},
        {"region_code": "540102"},
        {"region_code": None},
        {"discipline_codes": ["91010", "11021"]},
        {"discipline_codes": ["78010"]},
        {"discipline_codes": []},
        {"birth_date": "1980-12-31"},
        {"birth_date": "1981-01-01"},
        {"birth_date": "1984-02-29"},
        {"birth_date": None},
        {"research_fields": ["量子计算", "海洋环流"]},
        {"institution": "清华大学", "institution_uscc": None},
        {"institution": None},
        {"expert_opt_in": False},
        {"status": "deceased"},
        None,
    ]
    background = [e for e in experts() if not e.target]
    return [(e.key, rng.choice(bodies)) for e in rng.sample(background, CHANGED)]


@pytest.fixture(scope="module")
def changed_worlds(
    server_url: str, settings: Settings, opensearch_url: str
) -> Iterator[list[RelevanceWorld]]:
    """The corpus in a database of this test's own, indexed into every backend, then changed
    through the API and the changes drained into each (the postgres bitmaps kept true by the
    drain, not rebuilt)."""
    with ExitStack() as stack:
        database = stack.enter_context(relevance_database(server_url, settings))
        worlds = [
            stack.enter_context(relevance_world(settings, database, "postgres")),
            stack.enter_context(relevance_world(settings, database, "postgres", bitmaps=True)),
            stack.enter_context(relevance_world(settings, database, "opensearch", opensearch_url)),
        ]
        client = worlds[0].client
        runtime: Runtime = client.app.state.runtime  # type: ignore[attr-defined]
        admin = Factory(runtime).caller(Role.platform_admin)
        changed = []
        for key, body in _changes(random.Random(SEED + 1)):
            person_id = database.ids[key]
            if body is None:
                with runtime.sessions() as session:
                    memberships = session.scalars(
                        select(Membership.id).where(Membership.person_id == person_id)
                    ).all()
                for membership_id in memberships:
                    response = client.post(
                        f"/api/v1/memberships/{membership_id}/suspend",
                        json={"reason": "unpaid dues"},
                        headers=admin,
                    )
                    assert response.status_code == 200, response.text
            else:
                response = client.patch(f"/api/v1/people/{person_id}", json=body, headers=admin)
                assert response.status_code == 200, (body, response.text)
            changed.append(person_id)
        # The outbox is one for every backend: each takes the changes through its own drain
        # (the two postgres worlds share their tables).
        for changing in (worlds[0], worlds[2]):
            runtime_: Runtime = changing.client.app.state.runtime  # type: ignore[attr-defined]
            with runtime_.sessions.begin() as session:
                enqueue_people(session, changed)
            worker.drain(runtime_.sessions, runtime_.search)
        yield worlds


def test_backends_agree_after_the_drain_changed_people(
    changed_worlds: list[RelevanceWorld],
) -> None:
    """A third of the generated queries, and those that name the values the changes brought."""
    first = changed_worlds[0]
    today = first.today
    for brought in ({"title_levels": ["none"]}, {"region_codes": ["82"]}, {"q": "海洋环流"}):
        assert first.post(brought)["total"] > 0, f"the changes brought no one to {brought}"
    generated = cases(first.ids, today)[::3] + [
        Case(body, today)
        for body in (
            {"title_levels": ["none"]},
            {"region_codes": ["82"]},
            {"region_codes": ["5401"]},
            {"discipline_codes": ["910"]},
            {"discipline_codes": ["780"]},
            {"q": "海洋环流"},
            {"q": "清华大学", "title_levels": ["none", "junior"]},
            {"conflicts_with": first.ids["wu_gang_thu"]},
        )
    ]
    generated += [
        Case({"age_min": age_on(birth, day), "age_max": age_on(birth, day) + 1}, day)
        for birth in (date(1980, 12, 31), date(1981, 1, 1), date(1984, 2, 29))
        for day in (today, date(today.year, 12, 31), date(today.year + 1, 1, 1), date(2028, 2, 29))
    ]
    report, summary = _compare(changed_worlds, generated)
    assert not report, f"{len(report)} of {summary} disagree:\n" + "\n".join(report[:40])


def _readable(case: Case, keys: dict[str, str], today: date) -> str:
    """A case as corpus keys rather than person ids, and its date when not the registry's."""
    body = dict(case.body)
    if "exclude_person_ids" in body:
        body["exclude_person_ids"] = [keys[p] for p in body["exclude_person_ids"]]
    if "conflicts_with" in body:
        body["conflicts_with"] = keys[body["conflicts_with"]]
    return f"{body}" + ("" if case.today == today else f" on {case.today}")
