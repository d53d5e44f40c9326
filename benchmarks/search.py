"""Expert search at national scale: build throughput and query latency per backend.

    python benchmarks/search.py [--experts 1000000] [--queries 500] [--backends postgres,opensearch]

1. Creates a fresh database `registry_bench_<hex>` (as api.py does), migrates it and loads
   `--experts` searchable experts (plus about 6% more people who are not searchable: opted out
   or inactive) with COPY: Chinese names, about 1,500 institutions across 31 provinces with
   their GB/T 2260 district codes, GB/T 13745 discipline codes (first level, 5- and 7-digit),
   title levels, genders, birth dates, memberships of about 200 societies, and research fields
   built from each discipline's topics with generic words ("研究", "技术", "系统"...) spread
   in a skewed, Zipf-like way, as in real profiles.
2. Builds each backend's index with its own `rebuild` (postgres: stream, COPY, index, swap;
   opensearch: bulk into a new index, swap the alias) and prints documents/s.
3. Runs `--queries` queries per class through the service layer (`search_experts`: analysis,
   conflict rules, backend, highlighting; no HTTP), one session per query as the API does:
   - selective: a specific field phrase, usually with filters, matching at most 5% of experts
     (topics that alone match more than 4% are screened out first);
   - broad: one common word matching 30-60% of experts (checked with an exact count);
   both always with facets. Prints p50/p95/p99, the observed match counts, the share of
   answers marked `approximate`, and where the time went, SQL statement by statement (the
   rest is Python, and for opensearch the engine). `--explain` adds EXPLAIN ANALYZE plans.
4. Prints peak memory (this process, and its largest child: the rebuild's second process)
   and, as the last line, one JSON object with every figure.

The opensearch backend runs against OPENSEARCH_URL (or --opensearch-url) when set, otherwise
against an in-memory osmem-server: that server is not OpenSearch, so its figures are only a
protocol check, never a statement about OpenSearch's speed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, event, text
from sqlalchemy.orm import Session, sessionmaker

from services.registry import migrate
from services.registry.core.db import make_engine, make_sessionmaker
from services.registry.core.disciplines import first_level
from services.registry.core.errors import ProblemError
from services.search import analysis
from services.search.protocol import SearchBackend
from services.search.schemas import ExpertSearchRequest, ExpertSearchResponse
from services.search.service import search_experts

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module
from benchmarks.common import (
    BIRTH_DAYS,
    BIRTH_START,
    DEFAULT_SERVER_URL,
    DEGREES,
    DISCIPLINES,
    FIELD_MODIFIERS,
    FIELD_SUFFIXES,
    GRADES,
    JOIN_DAYS,
    JOIN_START,
    MEMBERSHIP_STATUS,
    PROVINCE_WEIGHTS,
    PROVINCES,
    TALENT_TAGS,
    TITLES,
    Institution,
    Weighted,
    bench_database,
    chinese_name,
    expand,
    institution_pool,
    libpq,
    percentile,
    sub_codes,
    zipf,
)

SOCIETIES = 200
SELECTIVE_MAX_SHARE = 0.05
SELECTIVE_TOPIC_SHARE = 0.04  # a topic alone; filters and phrasing only narrow it further
BROAD_SHARE = (0.30, 0.60)
# Words a committee types alone; those whose exact match share is within BROAD_SHARE are used.
BROAD_CANDIDATES = ("研究", "技术", "工程", "系统", "科学", "应用", "方法", "材料", "设计")
BIOGRAPHIES = (
    "{degree}，{position}。主要从事{fields}等方面的研究工作。",
    "{degree}，{position}，长期从事{fields}工作。",
    "{position}，{degree}。专业方向为{fields}。",
)
GOALS = {"build_docs_per_s": 20_000, "selective_p95_ms": 50.0, "broad_p95_ms": 150.0}

PERSON_COLUMNS = (
    "id", "name", "gender", "birth_date", "nationality", "region_of_origin", "region_code",
    "institution", "title_level", "position", "highest_degree", "biography",
    "discipline_codes", "research_fields", "talent_tags", "expert_opt_in", "status",
    "source_org_id", "created_at", "updated_at", "version",
)  # fmt: skip
MEMBERSHIP_COLUMNS = (
    "id", "org_id", "person_id", "grade", "status", "member_no", "joined_on", "valid_until",
    "created_at", "updated_at", "version",
)  # fmt: skip
ORG_COLUMNS = (
    "id", "code", "name", "name_en", "kind", "parent_id", "path", "region_code", "status",
    "created_at", "updated_at", "version",
)  # fmt: skip
# Text COPY format: these would need escaping, and the generated data never contains them.
_UNSAFE = re.compile(r'[\t\n\r\\,{}" ]')


# --- vocabulary and organisations ---------------------------------------------------------


@dataclass(frozen=True)
class Discipline:
    code: str
    name: str
    weight: float
    topics: tuple[str, ...]
    subcodes: tuple[str, ...]  # 5-digit code of each topic, by position

    def topic_code(self, topic: str) -> str:
        return self.subcodes[self.topics.index(topic)]


@dataclass(frozen=True)
class Society:
    id: str  # text form of its UUID, as COPY writes it
    code: str
    name: str
    discipline: str
    size: float


def disciplines() -> list[Discipline]:
    """The disciplines of `common.DISCIPLINES`, named from the service's own GB/T 13745 table."""
    names = first_level()
    found = []
    for code, weight, topics in DISCIPLINES:
        if code not in names:
            raise SystemExit(f"{code} is not a GB/T 13745 first-level discipline")
        found.append(
            Discipline(code, names[code][0], weight, topics, tuple(sub_codes(code, len(topics))))
        )
    return found


def societies(rng: random.Random, fields: list[Discipline]) -> list[Society]:
    """About SOCIETIES national societies, named after disciplines and their topics; larger
    disciplines have more of them, and the first society of each is the largest."""
    total = sum(d.weight for d in fields)
    found: list[Society] = []
    for d in fields:
        count = max(1, round(SOCIETIES * d.weight / total))
        names = [f"中国{d.name.replace('、', '')}学会"]
        names += [f"中国{topic}学会" for topic in d.topics[: count - 1]]
        for n, name in enumerate(names):
            code = f"S{d.code}{n:02d}"
            org_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
            found.append(Society(org_id, code, name, d.code, d.weight / (n + 1.5)))
    return found


def text_safe(*values: str) -> None:
    """Refuse generated text that the text COPY lines below would have to escape."""
    for value in values:
        if _UNSAFE.search(value):
            raise SystemExit(f"generated text {value!r} would need COPY escaping")


# --- people -------------------------------------------------------------------------------


def copy_array(values: Sequence[str]) -> str:
    """A text[] literal; the elements never need quoting (see `text_safe`)."""
    return "{" + ",".join(values) + "}"


def uuid7_text(ms: int, rng: random.Random) -> str:
    """A version-7 UUID at `ms` with random bits from `rng`, in its text form."""
    rand = rng.getrandbits(74)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | (rand >> 62) << 64 | 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    h = f"{value:032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


@dataclass
class Dataset:
    """What the load left behind that the queries need."""

    people: int = 0
    experts: int = 0
    memberships: int = 0
    seconds: float = 0.0
    sample_ids: list[str] = field(default_factory=list)  # searchable experts, for conflicts_with
    orgs: list[Society] = field(default_factory=list)


class ExpertGenerator:
    """Profiles as text COPY lines. Called a million times: weighted draws are bisects over
    cumulative weights, dates and timestamps are precomputed strings."""

    def __init__(
        self,
        rng: random.Random,
        fields: list[Discipline],
        orgs: list[Society],
        institutions: list[Institution],
    ) -> None:
        self.rng = rng
        self.fields = Weighted([(d, d.weight) for d in fields])
        self.topics = {d.code: zipf(d.topics, s=0.9, offset=0.5) for d in fields}
        self.modifiers = Weighted(FIELD_MODIFIERS)
        self.suffixes = Weighted(FIELD_SUFFIXES)
        self.field_counts = expand([(1, 25), (2, 35), (3, 25), (4, 15)])
        self.institutions = Weighted([(i, i.weight) for i in institutions])
        by_field: dict[str, list[Society]] = defaultdict(list)
        for s in orgs:
            by_field[s.discipline].append(s)
        self.home_societies = {
            code: Weighted([(s, s.size) for s in members]) for code, members in by_field.items()
        }
        self.any_society = Weighted([(s, s.size) for s in orgs])
        self.society_counts = expand([(1, 6), (2, 3), (3, 1)])
        self.titles = expand([((level, positions), w) for level, w, positions in TITLES])
        self.grades = expand(GRADES)
        self.statuses = expand(MEMBERSHIP_STATUS)
        self.births = [(BIRTH_START + timedelta(days=n)).isoformat() for n in range(BIRTH_DAYS)]
        joins = [JOIN_START + timedelta(days=n) for n in range(0, JOIN_DAYS, 3)]
        self.joins = [(d.isoformat(), (d + timedelta(days=5 * 365)).isoformat()) for d in joins]
        # created years ago, so that a rebuild's replay window (minutes) holds none of them
        first = datetime(2012, 1, 1, 8)
        self.stamps = [f"{first + timedelta(minutes=150 * n)}+08" for n in range(40_000)]
        self.member_seq: Counter[str] = Counter()
        self.base_ms = int(datetime(2024, 1, 1).timestamp() * 1000)
        for i in institutions:
            text_safe(i.name)
        for d in fields:
            text_safe(*d.topics)
        text_safe(*(m for m, _ in FIELD_MODIFIERS), *(s for s, _ in FIELD_SUFFIXES))

    def phrase(self, d: Discipline) -> tuple[str, str]:
        """A research field as people write it, and the topic it is about."""
        topic = self.topics[d.code].draw(self.rng)
        return self.modifiers.draw(self.rng) + topic + self.suffixes.draw(self.rng), topic

    def person(self, n: int, searchable: bool) -> tuple[str, str, list[str]]:
        """Person number n: its id, its COPY line, and its membership COPY lines."""
        rng = self.rng
        person_id = uuid7_text(self.base_ms + n, rng)
        gender = "female" if rng.random() < 0.42 else "male"
        home = self.fields.draw(rng)
        fields: list[str] = []
        topics: list[str] = []
        for _ in range(rng.choice(self.field_counts)):
            phrase, topic = self.phrase(home if rng.random() < 0.85 else self.fields.draw(rng))
            if phrase not in fields:
                fields.append(phrase)
                topics.append(topic)
        roll = rng.random()
        if roll < 0.2 or topics[0] not in home.topics:
            codes = [home.code]
        elif roll < 0.75:
            codes = [home.topic_code(topics[0])]
        else:
            codes = [home.topic_code(topics[0]) + rng.choice(("10", "20", "30"))]
        if rng.random() < 0.3:
            other = self.fields.draw(rng)
            if other.code != home.code:
                codes.append(rng.choice(other.subcodes))
        institution = self.institutions.draw(rng)
        level, positions = rng.choice(self.titles)
        position = rng.choice(positions)
        degree = rng.choice(DEGREES)
        tags = [rng.choice(TALENT_TAGS)] if level == "senior" and rng.random() < 0.1 else []
        biography = "\\N"
        if rng.random() < 0.3:
            template = rng.choice(BIOGRAPHIES)
            biography = template.format(
                degree=degree, position=position, fields="、".join(fields[:2])
            )
        created = rng.choice(self.stamps)
        if searchable:
            opt_in, status = "t", "active"
        else:
            opt_in, status = ("f", "active") if rng.random() < 0.6 else ("t", "inactive")
        picked: list[Society] = [self.home_societies[home.code].draw(rng)]
        for _ in range(rng.choice(self.society_counts) - 1):
            society = self.any_society.draw(rng)
            if society not in picked:
                picked.append(society)
        line = "\t".join(
            (
                person_id,
                chinese_name(rng, gender),
                gender,
                rng.choice(self.births),
                "CN",
                "mainland",
                institution.region_code,
                institution.name,
                level,
                position,
                degree,
                biography,
                copy_array(codes),
                copy_array(fields),
                copy_array(tags),
                opt_in,
                status,
                picked[0].id,
                created,
                created,
                "1",
            )
        )
        memberships = []
        for society in picked:
            self.member_seq[society.code] += 1
            joined, until = rng.choice(self.joins)
            memberships.append(
                "\t".join(
                    (
                        uuid7_text(self.base_ms + n, rng),
                        society.id,
                        person_id,
                        rng.choice(self.grades),
                        rng.choice(self.statuses),
                        f"{society.code}{self.member_seq[society.code]:07d}",
                        joined,
                        until,
                        created,
                        created,
                        "1",
                    )
                )
            )
        return person_id, line, memberships


def organisation_lines(orgs: list[Society]) -> list[str]:
    """The federation and the societies under it, with materialized paths."""
    root = str(uuid.UUID(int=random.Random(0).getrandbits(128), version=4))
    root_path = root.replace("-", "") + "/"
    stamp = "2012-01-01 08:00:00+08"
    lines = [
        "\t".join(
            (
                *(root, "CAST", "中国科学技术协会", "China Association for Science and Technology"),
                *("federation", "\\N", root_path, "110000", "active", stamp, stamp, "1"),
            )
        )
    ]
    for s in orgs:
        path = f"{root_path}{s.id.replace('-', '')}/"
        lines.append(
            "\t".join(
                (
                    *(s.id, s.code, s.name, "\\N", "national_society", root, path, "110000"),
                    *("active", stamp, stamp, "1"),
                )
            )
        )
    return lines


def copy_lines(cur: psycopg.Cursor[Any], table: str, columns: Sequence[str], lines: Any) -> None:
    """COPY text lines, sent in chunks of about a megabyte."""
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            if len(chunk) >= 4_000:
                copy.write("\n".join(chunk) + "\n")
                chunk.clear()
        if chunk:
            copy.write("\n".join(chunk) + "\n")


def load(url: str, experts: int, seed: int, scratch: Path) -> tuple[Dataset, ExpertGenerator]:
    """Generate and COPY organisations, people and memberships; memberships wait in a file
    until every person is in, so the foreign keys hold."""
    rng = random.Random(seed)
    fields = disciplines()
    orgs = societies(rng, fields)
    generator = ExpertGenerator(rng, fields, orgs, institution_pool(rng))
    outsiders = round(experts * 0.06)
    data = Dataset(people=experts + outsiders, experts=experts, orgs=orgs)
    unsearchable = set(rng.sample(range(data.people), outsiders))
    spool = scratch / "memberships.copy"
    sample_every = max(1, experts // 5_000)

    def person_lines(out: Any) -> Iterator[str]:
        for n in range(data.people):
            searchable = n not in unsearchable
            person_id, line, memberships = generator.person(n, searchable)
            if searchable and n % sample_every == 0:
                data.sample_ids.append(person_id)
            data.memberships += len(memberships)
            out.write("\n".join(memberships) + "\n")
            yield line

    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cur:
        copy_lines(cur, "organisation", ORG_COLUMNS, organisation_lines(orgs))
        with spool.open("w", encoding="utf-8") as out:
            copy_lines(cur, "person", PERSON_COLUMNS, person_lines(out))
        with spool.open(encoding="utf-8") as spooled:
            copy_lines(cur, "membership", MEMBERSHIP_COLUMNS, (s.rstrip("\n") for s in spooled))
    spool.unlink()
    data.seconds = time.perf_counter() - started
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) organisation, person, membership")
    return data, generator


def loaded(url: str, seed: int) -> tuple[Dataset, ExpertGenerator]:
    """What `load` left in a database loaded earlier with the same seed (kept with --keep):
    the generator is drawn again from the seed, the people are read back."""
    rng = random.Random(seed)
    fields = disciplines()
    orgs = societies(rng, fields)
    generator = ExpertGenerator(rng, fields, orgs, institution_pool(rng))
    with psycopg.connect(libpq(url)) as conn:
        people = conn.execute("SELECT count(*) FROM person").fetchone()[0]  # type: ignore[index]
        memberships = conn.execute("SELECT count(*) FROM membership").fetchone()[0]  # type: ignore[index]
        ids = [
            row[0]
            for row in conn.execute(
                "SELECT id::text FROM person WHERE expert_opt_in AND status = 'active' ORDER BY id"
            )
        ]
    data = Dataset(people=people, experts=len(ids), memberships=memberships, orgs=orgs)
    data.sample_ids = ids[:: max(1, len(ids) // 5_000)]
    return data, generator


# --- queries ------------------------------------------------------------------------------


def specific_topics(
    sessions: sessionmaker[Session], backend: SearchBackend, fields: list[Discipline], experts: int
) -> dict[str, list[str]]:
    """Topics that match at most SELECTIVE_TOPIC_SHARE of experts on their own, by discipline.

    Some topics are made of common words (系统工程 is 系统 and 工程 to the query analyser):
    those are broad queries, not selective ones, so they are left out of the selective class.
    """
    found: dict[str, list[str]] = defaultdict(list)
    dropped = []
    for d in fields:
        for topic in d.topics:
            with sessions() as session:
                request = ExpertSearchRequest(q=topic, limit=1)
                total = search_experts(session, backend, request).total
            if total <= SELECTIVE_TOPIC_SHARE * experts:
                found[d.code].append(topic)
            else:
                dropped.append(f"{topic} {total / experts:.1%}")
    print(f"  selective topics: {sum(map(len, found.values()))} kept; too common: {dropped}")
    return found


def selective_requests(
    rng: random.Random,
    generator: ExpertGenerator,
    topics: dict[str, list[str]],
    data: Dataset,
    n: int,
) -> list[ExpertSearchRequest]:
    """A specific field phrase (a topic, sometimes as people phrase it), three times in four
    with one to three filters that a committee would set, one in four with a conflict rule."""
    provinces = Weighted([(p[0], PROVINCE_WEIGHTS[p[0]]) for p in PROVINCES])
    by_field: dict[str, list[str]] = defaultdict(list)
    for s in data.orgs:
        by_field[s.discipline].append(s.code)
    requests = []
    while len(requests) < n:
        d = generator.fields.draw(rng)
        if not topics.get(d.code):
            continue
        topic = rng.choice(topics[d.code])
        q = topic
        if rng.random() < 0.3:
            q = generator.modifiers.draw(rng) + topic + generator.suffixes.draw(rng)
        body: dict[str, Any] = {"q": q}
        if rng.random() < 0.75:
            filters = ["discipline", "region", "title", "gender", "age", "org"]
            for name in rng.sample(filters, rng.choice((1, 1, 2, 2, 3))):
                if name == "discipline":
                    body["discipline_codes"] = [
                        d.code if rng.random() < 0.6 else d.topic_code(topic)
                    ]
                elif name == "region":
                    body["region_codes"] = [provinces.draw(rng)]
                elif name == "title":
                    body["title_levels"] = rng.choice((["senior"], ["senior", "associate_senior"]))
                elif name == "gender":
                    body["gender"] = "female"
                elif name == "age":
                    low = rng.choice((30, 35, 40, 45))
                    body |= {"age_min": low, "age_max": low + rng.choice((10, 15, 20))}
                else:
                    body["org_codes"] = [rng.choice(by_field[d.code])]
        if rng.random() < 0.25:
            body["conflicts_with"] = rng.choice(data.sample_ids)
        requests.append(ExpertSearchRequest(**body))
    return requests


def broad_requests(
    rng: random.Random, words: Sequence[str], data: Dataset, n: int
) -> list[ExpertSearchRequest]:
    """One common word, no filters; one in four with a conflict rule."""
    requests = []
    for i in range(n):
        body: dict[str, Any] = {"q": words[i % len(words)]}
        if rng.random() < 0.25:
            body["conflicts_with"] = rng.choice(data.sample_ids)
        requests.append(ExpertSearchRequest(**body))
    rng.shuffle(requests)
    return requests


def exact_shares(sessions: sessionmaker[Session], words: Sequence[str]) -> dict[str, float]:
    """The exact share of postgres documents matching each single-word query."""
    shares = {}
    with sessions() as session:
        total = session.scalar(text("SELECT count(*) FROM expert_doc")) or 1
        for word in words:
            if analysis.query_terms(word) != [(word, ())]:
                continue  # not one indivisible query word: not a clean broad query
            lexeme = "'" + word.replace("'", "''") + "'"
            count = session.scalar(
                text("SELECT count(*) FROM expert_doc WHERE tsv @@ CAST(:q AS tsquery)"),
                {"q": lexeme},
            )
            shares[word] = round((count or 0) / total, 4)
    return shares


# --- measuring ----------------------------------------------------------------------------


def statement_kind(statement: str) -> str:
    """Which part of a search a SQL statement is, for the time breakdown."""
    s = " ".join(statement.lower().split())
    if s.startswith("set "):
        return "settings"  # the transaction's settings (no JIT)
    if "from expert_bitmap_key where key = any" in s or "key like 'y:%'" in s:
        return "bitmap_keys"  # which query keys (and years of birth) have bitmaps: the path
    if "as match_size" in s:
        return "bitmap_count"  # the size of the match on bitmaps: row path or bitmap facets
    if "join expert_bitmap b" in s:
        return "bitmap_facets"  # total and facets from bitmaps (broad)
    if "grouping sets" in s and "expert_doc" in s:
        return "row_path"  # total, facets and hits over the materialised match (selective)
    if "d.document" in s:
        return "hits"  # the ranked page of a bitmap-path answer
    if "from organisation" in s:
        return "org_lookup"
    if "from person" in s:
        return "conflict_lookup"
    return "other_sql"


class StatementClock:
    """Time spent in each kind of SQL statement, per query, through engine events."""

    def __init__(self, engine: Engine) -> None:
        self.current: Counter[str] = Counter()
        self.kind = statement_kind
        self.capture: list[tuple[str, Any]] | None = None
        self._started: dict[int, float] = {}
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self._started[id(cursor)] = time.perf_counter()
        if self.capture is not None:
            self.capture.append((statement, params))

    def _after(self, conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        started = self._started.pop(id(cursor), None)
        if started is not None:
            self.current[self.kind(statement)] += time.perf_counter() - started

    def take(self) -> Counter[str]:
        taken, self.current = self.current, Counter()
        return taken


@dataclass
class ClassResult:
    latencies_ms: list[float] = field(default_factory=list)
    totals: list[int] = field(default_factory=list)
    approximate: int = 0
    with_facets: int = 0
    parts_s: Counter[str] = field(default_factory=Counter)
    unavailable: int = 0  # answered 503: the engine timed out or was away


def run_class(
    sessions: sessionmaker[Session],
    backend: SearchBackend,
    requests: list[ExpertSearchRequest],
    clock: StatementClock,
    warmup: int,
) -> ClassResult:
    """Each request in its own session, as the API serves it; the first `warmup` unmeasured.

    Time outside SQL is Python for postgres; for opensearch it includes the engine's answer.
    A 503 (SearchUnavailable: the engine timed out or is away) is counted, not timed.
    """
    result = ClassResult()
    rest = "python" if backend.name == "postgres" else "python_and_engine"
    for i, request in enumerate(requests[:warmup] + requests):
        clock.take()
        started = time.perf_counter()
        try:
            with sessions() as session:
                response: ExpertSearchResponse = search_experts(session, backend, request)
        except ProblemError as exc:
            if exc.status != 503:
                raise
            result.unavailable += i >= warmup
            continue
        elapsed = time.perf_counter() - started
        parts = clock.take()
        if i < warmup:
            continue
        result.latencies_ms.append(elapsed * 1000)
        result.totals.append(response.total)
        result.approximate += bool(response.approximate)
        facets = response.facets
        result.with_facets += bool(facets.title_level or facets.gender or response.total == 0)
        parts[rest] = max(0.0, elapsed - sum(parts.values()))
        result.parts_s.update(parts)
    return result


def summarise(
    name: str,
    result: ClassResult,
    experts: int,
    bounds: tuple[float, float],
    goal_ms: float | None,
) -> dict[str, Any]:
    """Print and return one class's figures; `bounds` is the match share it must stay within."""
    latencies = result.latencies_ms
    if len(latencies) < 2:
        print(f"  {name:<9} {len(latencies)} answers; unavailable (503) {result.unavailable}")
        return {"queries": len(latencies), "unavailable": result.unavailable}
    cuts = statistics.quantiles(latencies, n=100, method="inclusive")
    shares = sorted(t / experts for t in result.totals)
    n = len(latencies)
    figures: dict[str, Any] = {
        "queries": n,
        "p50_ms": percentile(cuts, 50),
        "p95_ms": percentile(cuts, 95),
        "p99_ms": percentile(cuts, 99),
        "mean_ms": round(statistics.fmean(latencies), 2),
        "max_ms": round(max(latencies), 2),
        "match_share_min": round(shares[0], 5),
        "match_share_median": round(statistics.median(shares), 5),
        "match_share_max": round(shares[-1], 5),
        "zero_matches": sum(1 for t in result.totals if t == 0),
        "outside_bounds": sum(1 for x in shares if not bounds[0] <= x <= bounds[1]),
        "approximate_share": round(result.approximate / n, 3),
        "facets_share": round(result.with_facets / n, 3),
        "unavailable": result.unavailable,
        "mean_ms_by_part": {
            k: round(v * 1000 / n, 2)
            for k, v in sorted(result.parts_s.items(), key=lambda kv: -kv[1])
        },
    }
    if goal_ms is not None:
        figures["goal_p95_ms"] = goal_ms
        figures["goal_met"] = figures["p95_ms"] <= goal_ms
    goal = ""
    if goal_ms is not None:
        goal = f"   goal p95 ≤ {goal_ms:g} ms: {'met' if figures['goal_met'] else 'MISSED'}"
    print(
        f"  {name:<9} {n} queries   p50 {figures['p50_ms']:>7.2f} ms"
        f"   p95 {figures['p95_ms']:>7.2f} ms   p99 {figures['p99_ms']:>7.2f} ms"
        f"   max {figures['max_ms']:>7.1f} ms" + goal
    )
    print(
        f"  {'':<9} matches: min {shares[0]:.3%}  median {statistics.median(shares):.3%}"
        f"  max {shares[-1]:.3%} of experts ({figures['zero_matches']} with none,"
        f" {figures['outside_bounds']} outside {bounds[0]:.0%}-{bounds[1]:.0%});"
        f" approximate {figures['approximate_share']:.0%}; facets {figures['facets_share']:.0%};"
        f" unavailable (503) {result.unavailable}"
    )
    parts = "  ".join(f"{k} {v:.1f}" for k, v in figures["mean_ms_by_part"].items())
    print(f"  {'':<9} mean ms by part: {parts}")
    return figures


def explain(
    sessions: sessionmaker[Session],
    backend: SearchBackend,
    request: ExpertSearchRequest,
    clock: StatementClock,
) -> None:
    """EXPLAIN (ANALYZE, BUFFERS) of every backend statement one request runs."""
    clock.capture = []
    with sessions() as session:
        search_experts(session, backend, request)
    captured, clock.capture = clock.capture, None
    print(f"\n--- EXPLAIN ANALYZE: {request.model_dump(exclude_defaults=True)}")
    with sessions() as session:
        for statement, params in captured:
            if statement_kind(statement) == "settings":
                session.execute(text(statement))  # as the search ran, for what follows
                continue
            if "expert_" not in statement:
                continue
            print(f"\n[{statement_kind(statement)}]")
            plan = session.connection().exec_driver_sql(
                "EXPLAIN (ANALYZE, BUFFERS) " + statement, params
            )
            for (line,) in plan:
                print("   ", line)


def build_kind(statement: str) -> str:
    """Which part of a rebuild a SQL statement is."""
    s = statement.lstrip().lower()
    if (s.startswith("create") and " index " in s) or "primary key" in s:
        return "indexes"
    if s.startswith("analyze"):
        return "analyze"
    if s.startswith("select") and ("from person" in s or "from membership" in s):
        return "read_people"
    return "other_sql"


# --- backends -----------------------------------------------------------------------------


def open_backends(
    names: Sequence[str],
    opensearch_url: str | None,
    experts: int,
    osmem_max: int,
    stack: contextlib.ExitStack,
) -> list[tuple[SearchBackend, str]]:
    """Each requested backend that can run here, with a note on what its figures mean."""
    found: list[tuple[SearchBackend, str]] = []
    for name in names:
        if name == "postgres":
            from services.search.backends.postgres import PostgresBackend

            found.append((PostgresBackend(), "embedded default"))
        elif name == "opensearch":
            try:
                from services.search.backends.opensearch import OpenSearchBackend
            except ImportError as exc:
                print(f"opensearch backend skipped: {exc}")
                continue
            note = "OpenSearch at OPENSEARCH_URL"
            if not opensearch_url and experts > osmem_max:
                print(
                    f"opensearch backend skipped: osmem-server (no OPENSEARCH_URL) takes"
                    f" {experts:,} documents too slowly for a protocol check; run with"
                    f" --experts {osmem_max} --backends opensearch, or raise --osmem-max-experts"
                )
                continue
            if not opensearch_url:
                from osmem_server import OsmemServer

                server = stack.enter_context(OsmemServer.start(freeze=False, japanese=False))
                opensearch_url = server.url
                note = f"osmem-server pid {server.pid}: protocol check only, not OpenSearch"
            found.append((OpenSearchBackend(opensearch_url), note))
        else:
            raise SystemExit(f"unknown backend {name!r}")
    return found


def child_peak_mb(note: str) -> float | None:
    """Peak resident memory of the osmem-server child, from /proc."""
    match = re.search(r"pid (\d+)", note)
    if not match:
        return None
    with contextlib.suppress(OSError):
        status = Path(f"/proc/{match[1]}/status").read_text()
        peak = re.search(r"VmHWM:\s+(\d+) kB", status)
        if peak:
            return round(int(peak[1]) / 1024, 1)
    return None


def build_index(
    backend: SearchBackend, sessions: sessionmaker[Session], clock: StatementClock
) -> dict[str, Any]:
    """The backend's own rebuild, timed; for postgres, the time by part through SQL events."""
    clock.kind = build_kind
    clock.take()
    started = time.perf_counter()
    info = backend.rebuild(sessions)
    seconds = time.perf_counter() - started
    parts = clock.take()
    clock.kind = statement_kind
    documents = int(info.get("documents", 0))
    parts["stream_build_write"] = max(0.0, seconds - sum(parts.values()))
    figures = {
        "documents": documents,
        "seconds": round(seconds, 2),
        "docs_per_s": round(documents / seconds),
        "replayed": info.get("replayed"),
        "seconds_by_part": {k: round(v, 2) for k, v in parts.most_common()},
    }
    if info.get("seconds_by_part"):
        # The backend's own clock: reading/building/rendering/writing are the COPY stream's;
        # the index builds and bitmaps overlap one another.
        figures["seconds_by_part"] = info["seconds_by_part"]
    goal = GOALS["build_docs_per_s"]
    verdict = ""
    if backend.name == "postgres":
        figures["goal_met"] = figures["docs_per_s"] >= goal
        verdict = f"   goal ≥ {goal:,}/s: {'met' if figures['goal_met'] else 'MISSED'}"
    print(
        f"  build     {documents:,} documents in {seconds:.1f} s:"
        f" {figures['docs_per_s']:,} documents/s{verdict}"
    )
    by_part = "  ".join(f"{k} {v:.1f}" for k, v in figures["seconds_by_part"].items())
    print(f"  {'':<9} seconds by part: {by_part}; replayed {info.get('replayed')}")
    return figures


def relation_sizes(sessions: sessionmaker[Session]) -> dict[str, float]:
    with sessions() as session:
        rows = session.execute(
            text(
                "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c"
                " WHERE c.relname IN"
                " ('expert_doc', 'ix_expert_doc_tsv', 'expert_doc_body', 'person', 'membership')"
            )
        )
        return {name: round(size / 2**20, 1) for name, size in rows}


def agreement(totals: dict[str, dict[str, list[int]]]) -> dict[str, float]:
    """How often the backends give the same total for the same query (estimates excepted)."""
    figures = {}
    for name, by_backend in totals.items():
        if len(by_backend) < 2:
            continue
        first, *others = by_backend.items()
        for other in others:
            same = sum(a == b for a, b in zip(first[1], other[1], strict=True))
            share = same / len(first[1])
            figures[f"{name}_totals_agree_{first[0]}_{other[0]}"] = round(share, 3)
            print(f"{name}: {first[0]} and {other[0]} agree on the total of {share:.1%} of queries")
    return figures


# --- main ---------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--experts", type=int, default=1_000_000, help="searchable experts")
    parser.add_argument("--queries", type=int, default=500, help="measured queries per class")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured queries per class")
    parser.add_argument(
        "--backends", default="postgres,opensearch", help="comma-separated; postgres runs first"
    )
    parser.add_argument(
        "--opensearch-url",
        default=os.environ.get("OPENSEARCH_URL"),
        help="a real cluster (default OPENSEARCH_URL); otherwise an in-memory osmem-server",
    )
    parser.add_argument(
        "--osmem-max-experts",
        type=int,
        default=20_000,
        help="largest corpus loaded into osmem-server when there is no OPENSEARCH_URL",
    )
    parser.add_argument(
        "--explain", action="store_true", help="EXPLAIN ANALYZE one query of each class"
    )
    parser.add_argument("--database-url", help="an empty, existing database to load into")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server on which the benchmark database is created",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --database-url: use the people an earlier run loaded there (same --seed)",
    )
    parser.add_argument(
        "--no-rebuild",
        action="store_true",
        help="with --reuse: query the postgres index already built there (no build figures)",
    )
    parser.add_argument(
        "--build-only", action="store_true", help="build each backend's index, run no queries"
    )
    parser.add_argument("--seed", type=int, default=2024)
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    names = [n.strip() for n in args.backends.split(",") if n.strip()]
    names.sort(key=lambda n: n != "postgres")  # postgres's table checks the broad words
    scratch = Path(tempfile.mkdtemp(prefix="registry-search-bench-"))
    figures: dict[str, Any] = {"experts": args.experts, "queries_per_class": args.queries}
    load_before = os.getloadavg()[0]
    print(f"load average {load_before:.2f} on {os.cpu_count()} cores before starting")
    try:
        with contextlib.ExitStack() as stack:
            url = args.database_url or stack.enter_context(
                bench_database(args.server_url, scratch, keep=args.keep)
            )
            if args.database_url:
                migrate.upgrade(url)
            if args.reuse:
                data, generator = loaded(url, args.seed)
                figures |= {"people": data.people, "memberships": data.memberships}
                print(f"reusing {data.people:,} people ({data.experts:,} searchable)")
            else:
                print(f"generating and loading {args.experts:,} experts ...")
                data, generator = load(url, args.experts, args.seed, scratch)
                rows = data.people + data.memberships + len(data.orgs) + 1
                figures |= {
                    "people": data.people,
                    "memberships": data.memberships,
                    "societies": len(data.orgs),
                    "load_seconds": round(data.seconds, 1),
                    "load_rows_per_s": round(rows / data.seconds),
                }
                print(
                    f"loaded {data.people:,} people ({data.experts:,} searchable), "
                    f"{data.memberships:,} memberships of {len(data.orgs)} societies in "
                    f"{data.seconds:.1f} s: {rows / data.seconds:,.0f} rows/s"
                )
            engine = make_engine(url, pool_size=2)
            stack.callback(engine.dispose)
            sessions = make_sessionmaker(engine)
            clock = StatementClock(engine)
            words: list[str] = list(BROAD_CANDIDATES[:4])
            selective: list[ExpertSearchRequest] = []
            totals: dict[str, dict[str, list[int]]] = defaultdict(dict)
            for backend, note in open_backends(
                names, args.opensearch_url, args.experts, args.osmem_max_experts, stack
            ):
                print(f"\n{backend.name} ({note})")
                result: dict[str, Any] = {"note": note}
                if not (args.no_rebuild and backend.name == "postgres"):
                    result["build"] = build_index(backend, sessions, clock)
                if args.build_only:
                    figures[backend.name] = result
                    continue
                if backend.name == "postgres":
                    shares = exact_shares(sessions, BROAD_CANDIDATES)
                    words = [w for w, s in shares.items() if BROAD_SHARE[0] <= s <= BROAD_SHARE[1]]
                    figures["broad_word_shares"] = shares
                    print(
                        "  broad words (exact share of experts): "
                        + "  ".join(
                            f"{w} {s:.1%}{'' if w in words else ' (unused)'}"
                            for w, s in shares.items()
                        )
                    )
                    if not words:
                        raise SystemExit("no candidate word matches 30-60% of experts")
                    result["sizes_mb"] = relation_sizes(sessions)
                elif "broad_word_shares" not in figures:
                    print(f"  broad words {' '.join(words)}: shares not checked without postgres")
                figures["broad_words"] = words
                if not selective:  # screened on the first backend, the same for every one
                    topics = specific_topics(sessions, backend, disciplines(), data.experts)
                    rng = random.Random(args.seed + 1)
                    selective = selective_requests(rng, generator, topics, data, args.queries)
                broad = broad_requests(random.Random(args.seed + 2), words, data, args.queries)
                is_postgres = backend.name == "postgres"
                classes = (
                    ("selective", selective, (0.0, SELECTIVE_MAX_SHARE)),
                    ("broad", broad, BROAD_SHARE),
                )
                for name, requests, bounds in classes:
                    goal = GOALS[f"{name}_p95_ms"] if is_postgres else None
                    measured = run_class(sessions, backend, requests, clock, args.warmup)
                    result[name] = summarise(name, measured, data.experts, bounds, goal)
                    if not measured.unavailable:
                        totals[name][backend.name] = measured.totals
                if args.explain and is_postgres:
                    for requests in (selective, broad):
                        explain(sessions, backend, requests[0], clock)
                peak = child_peak_mb(note)
                if peak is not None:
                    result["server_peak_rss_mb"] = peak
                figures[backend.name] = result
            figures |= agreement(totals)
    finally:
        if args.keep:
            print(f"kept scratch directory {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # The largest child waited for: the rebuild's second process (the upper half of the
    # stream), or the osmem-server.
    children_peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    load_after = os.getloadavg()[0]
    figures |= {
        "peak_rss_mb": round(peak_mb, 1),
        "children_peak_rss_mb": round(children_peak_mb, 1),
        "load_average_before": round(load_before, 2),
        "load_average_after": round(load_after, 2),
    }
    print(
        f"\npeak memory of this process: {peak_mb:,.0f} MB, of its largest child process"
        f" (the rebuild's upper half, or osmem-server): {children_peak_mb:,.0f} MB;"
        f" load average now {load_after:.2f}"
    )
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
