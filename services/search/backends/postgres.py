"""The postgres backend: a derived table in the registry's own database, tsvector and GIN indexes.

Small and selective result sets are ranked and counted exactly. PostgreSQL checks the tsvector
of every matching row, so a very broad query (hundreds of thousands of matches) would cost
hundreds of milliseconds; past EXACT_LIMIT matches the answer counts facets on a repeatable
table sample and ranks the strongest profiles by relevance, and says so in `approximate`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from sqlalchemy import (
    ARRAY,
    REAL,
    ColumnElement,
    FromClause,
    and_,
    bindparam,
    cast,
    func,
    literal,
    or_,
    select,
    tablesample,
    text,
    true,
    union_all,
)
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateIndex

from .. import rebuild as rebuild_module
from ..documents import ExpertDocument, from_json, to_json
from ..models import ExpertDoc
from ..protocol import FACETS, ExpertHit, ExpertQuery, SearchResult

EXACT_LIMIT = 50_000
CANDIDATES = 2_000
SAMPLE_ROWS = 100_000
RANK_WEIGHTS = "{0.1, 0.3, 0.6, 1.0}"  # D (biography), C (institution), B (fields), A (name)
_TABLE = ExpertDoc.__table__

_COLUMNS = (
    "person_id, version, name, name_en, gender, birth_date, title_level, institution,"
    " institution_key, institution_uscc, region_code, province, region_prefixes,"
    " discipline_codes, discipline_prefixes, disciplines_l1, research_fields, org_codes,"
    " prior, document, tsv"
)
UPSERT = text(
    f"""
    INSERT INTO expert_doc ({_COLUMNS}, indexed_at)
    SELECT :person_id, :version, :name, :name_en, :gender, :birth_date, :title_level,
           :institution, :institution_key, :institution_uscc, :region_code, :province,
           :region_prefixes, :discipline_codes, :discipline_prefixes, :disciplines_l1,
           :research_fields, :org_codes, :prior, :document, CAST(:tsv AS tsvector), now()
    WHERE NOT EXISTS (
        SELECT 1 FROM expert_doc_tombstone t
        WHERE t.person_id = :person_id AND t.version >= :version
    )
    ON CONFLICT (person_id) DO UPDATE SET
        ({_COLUMNS}, indexed_at) = (
            EXCLUDED.person_id, EXCLUDED.version, EXCLUDED.name, EXCLUDED.name_en,
            EXCLUDED.gender, EXCLUDED.birth_date, EXCLUDED.title_level, EXCLUDED.institution,
            EXCLUDED.institution_key, EXCLUDED.institution_uscc, EXCLUDED.region_code,
            EXCLUDED.province, EXCLUDED.region_prefixes, EXCLUDED.discipline_codes,
            EXCLUDED.discipline_prefixes, EXCLUDED.disciplines_l1, EXCLUDED.research_fields,
            EXCLUDED.org_codes, EXCLUDED.prior, EXCLUDED.document, EXCLUDED.tsv, now()
        )
    WHERE expert_doc.version <= EXCLUDED.version
    """  # noqa: S608 - column list is a constant
)
DELETE = text("DELETE FROM expert_doc WHERE person_id = :person_id AND version <= :version")
TOMBSTONE = text(
    """
    INSERT INTO expert_doc_tombstone (person_id, version) VALUES (:person_id, :version)
    ON CONFLICT (person_id) DO UPDATE
    SET version = GREATEST(expert_doc_tombstone.version, EXCLUDED.version)
    """
)


def _lexeme(token: str) -> str:
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_literal(doc: ExpertDocument) -> str:
    """Weighted lexemes with positions (PostgreSQL keeps weights only on positions)."""
    parts: list[str] = []
    position = 1
    for tokens, weight in (
        (doc.name_tokens, "A"),
        (doc.field_tokens, "B"),
        (doc.discipline_tokens, "B"),
        (doc.institution_tokens, "C"),
        (doc.bio_tokens, "D"),
    ):
        for token in tokens:
            if position > 16383 or len(token.encode()) > 2000:
                continue
            parts.append(f"{_lexeme(token)}:{position}{weight}")
            position += 1
    return " ".join(parts)


def row(doc: ExpertDocument) -> dict[str, Any]:
    """The expert_doc row of a document."""
    return {
        "person_id": doc.person_id,
        "version": doc.version,
        "name": doc.name,
        "name_en": doc.name_en,
        "gender": doc.gender,
        "birth_date": doc.birth_date,
        "title_level": doc.title_level,
        "institution": doc.institution,
        "institution_key": doc.institution_key,
        "institution_uscc": doc.institution_uscc,
        "region_code": doc.region_code,
        "province": doc.province,
        "region_prefixes": list(doc.region_prefixes),
        "discipline_codes": list(doc.discipline_codes),
        "discipline_prefixes": list(doc.discipline_prefixes),
        "disciplines_l1": list(doc.disciplines_l1),
        "research_fields": list(doc.research_fields),
        "org_codes": list(doc.org_codes),
        "prior": doc.prior,
        "document": to_json(doc),
        "tsv": tsvector_literal(doc),
    }


def _term(word: str, parts: tuple[str, ...]) -> str:
    if not parts:
        return _lexeme(word)
    return f"({_lexeme(word)} | ({' & '.join(_lexeme(p) for p in parts)}))"


def _tsquery(query: ExpertQuery, *, ranking: bool = False) -> str:
    """Every term required; for ranking, the whole-phrase token adds to the score."""
    required = " & ".join(_term(word, parts) for word, parts in query.terms)
    if ranking and query.phrase:
        return f"({required}) | {_lexeme(query.phrase)}"
    return required


def _where(src: FromClause, query: ExpertQuery) -> ColumnElement[bool]:
    c = src.c
    conditions: list[ColumnElement[bool]] = []
    if query.terms:
        conditions.append(c.tsv.op("@@")(cast(bindparam("match", _tsquery(query)), TSQUERY)))
    if query.discipline_codes:
        conditions.append(c.discipline_prefixes.overlap(list(query.discipline_codes)))
    if query.region_codes:
        conditions.append(c.region_prefixes.overlap(list(query.region_codes)))
    if query.title_levels:
        conditions.append(c.title_level.in_(query.title_levels))
    if query.gender:
        conditions.append(c.gender == query.gender)
    if query.born_after:
        conditions.append(c.birth_date > query.born_after)
    if query.born_on_or_before:
        conditions.append(c.birth_date <= query.born_on_or_before)
    if query.org_codes:
        conditions.append(c.org_codes.overlap(list(query.org_codes)))
    ex = query.exclusions
    if ex.person_ids:
        conditions.append(c.person_id.not_in(list(ex.person_ids)))
    if ex.institution_keys:
        conditions.append(
            or_(c.institution_key.is_(None), c.institution_key.not_in(list(ex.institution_keys)))
        )
    if ex.institution_usccs:
        conditions.append(
            or_(c.institution_uscc.is_(None), c.institution_uscc.not_in(list(ex.institution_usccs)))
        )
    return and_(true(), *conditions)


class PostgresBackend:
    """Expert documents in `expert_doc`, written in the outbox drain's own transaction."""

    name = "postgres"

    def apply(
        self,
        session: Session,
        upserts: list[ExpertDocument],
        deletes: list[tuple[uuid.UUID, int]],
    ) -> None:
        if upserts:
            session.execute(UPSERT, [row(d) for d in upserts])
        if deletes:
            params = [{"person_id": pid, "version": version} for pid, version in deletes]
            session.execute(DELETE, params)
            session.execute(TOMBSTONE, params)

    def rebuild(self, sessions: sessionmaker[Session]) -> dict[str, Any]:
        return rebuild(sessions)

    def count(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(_TABLE)) or 0

    def get(self, session: Session, person_id: uuid.UUID) -> ExpertDocument | None:
        text_ = session.scalar(select(_TABLE.c.document).where(_TABLE.c.person_id == person_id))
        return from_json(text_) if text_ else None

    def search(self, session: Session, query: ExpertQuery) -> SearchResult:
        where = _where(_TABLE, query)
        capped = session.scalar(
            select(func.count()).select_from(
                select(literal(1))
                .select_from(_TABLE)
                .where(where)
                .limit(EXACT_LIMIT + 1)
                .subquery()
            )
        )
        exact = (capped or 0) <= EXACT_LIMIT
        approximate: dict[str, str] = {}
        sample_percent = 100.0
        if not exact:
            sample_percent = self._sample_percent(session)
            if sample_percent < 100:
                approximate["total"] = approximate["facets"] = (
                    f"estimated from a {sample_percent:g}% sample of the index"
                )
            approximate["ranking"] = (
                f"the {CANDIDATES:,} strongest matching profiles, ranked by relevance"
            )
        total, facets = self._facets(session, query, sample_percent)
        if exact:
            total = capped or 0
        hits = self._hits(session, query, where, exact)
        return SearchResult(total=total, hits=hits, facets=facets, approximate=approximate)

    def _sample_percent(self, session: Session) -> float:
        estimate = session.scalar(
            text("SELECT reltuples FROM pg_class WHERE oid = 'expert_doc'::regclass")
        )
        if not estimate or estimate <= SAMPLE_ROWS:
            return 100.0
        return max(1.0, round(100.0 * SAMPLE_ROWS / float(estimate), 1))

    def _facets(
        self, session: Session, query: ExpertQuery, percent: float
    ) -> tuple[int, dict[str, dict[str, int]]]:
        src: FromClause = _TABLE
        if percent < 100:
            src = tablesample(_TABLE, func.system(percent), name="sample", seed=literal(7))
        matched = (
            select(src.c.title_level, src.c.gender, src.c.province, src.c.disciplines_l1)
            .where(_where(src, query))
            .cte("matched")
        )
        discipline = func.unnest(matched.c.disciplines_l1).table_valued("code").render_derived()
        parts = [
            select(literal("title_level"), matched.c.title_level, func.count()).group_by(
                matched.c.title_level
            ),
            select(literal("gender"), matched.c.gender, func.count()).group_by(matched.c.gender),
            select(literal("region_codes"), matched.c.province, func.count()).group_by(
                matched.c.province
            ),
            select(literal("discipline_codes"), discipline.c.code, func.count())
            .select_from(matched.join(discipline, true()))
            .group_by(discipline.c.code),
            select(literal("_total"), literal(None), func.count()).select_from(matched),
        ]
        scale = 100.0 / percent
        facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
        total = 0
        for facet, value, count in session.execute(union_all(*parts)):
            estimate = round(count * scale)
            if facet == "_total":
                total = estimate
            elif value is not None and estimate:
                facets[facet][value] = estimate
        for name in FACETS:
            facets[name] = dict(sorted(facets[name].items(), key=lambda kv: (-kv[1], kv[0])))
        return total, facets

    def _hits(
        self, session: Session, query: ExpertQuery, where: ColumnElement[bool], exact: bool
    ) -> list[ExpertHit]:
        t = _TABLE
        if query.terms:
            rank_query = cast(bindparam("rank", _tsquery(query, ranking=True)), TSQUERY)
            score = (
                func.ts_rank(cast(literal(RANK_WEIGHTS), ARRAY(REAL)), t.c.tsv, rank_query)
                + t.c.prior * 0.001
            )
        else:
            score = t.c.prior * 1.0
        inner = select(t.c.person_id, t.c.document, score.label("score")).where(where)
        if not exact:
            inner = inner.order_by(t.c.prior.desc(), t.c.person_id.desc()).limit(CANDIDATES)
        sub = inner.subquery()
        stmt = select(sub.c.person_id, sub.c.document, sub.c.score)
        if query.after is not None:
            last_score, last_id = query.after
            stmt = stmt.where(
                or_(
                    sub.c.score < last_score,
                    and_(sub.c.score == last_score, sub.c.person_id > last_id),
                )
            )
        stmt = stmt.order_by(sub.c.score.desc(), sub.c.person_id).limit(query.limit + 1)
        return [
            ExpertHit(person_id=pid, score=float(score_), document=from_json(doc))
            for pid, doc, score_ in session.execute(stmt)
        ]


def rebuild(sessions: sessionmaker[Session]) -> dict[str, Any]:
    """Build `expert_doc` anew beside the live table, then swap the two in one transaction.

    Searches keep reading the old table until the swap, which takes a brief exclusive lock.
    """
    started_clock = time.monotonic()
    started = rebuild_module.database_now(sessions)
    build = "expert_doc_rebuild"
    with sessions.begin() as session:
        session.execute(text(f"DROP TABLE IF EXISTS {build}"))
        session.execute(text(f"CREATE TABLE {build} (LIKE expert_doc INCLUDING DEFAULTS)"))
    count = 0
    with sessions() as session:
        raw = session.connection().connection.driver_connection
        columns = [c.strip() for c in _COLUMNS.split(",")]
        for docs in rebuild_module.searchable_batches(sessions):
            statement = f"COPY {build} ({', '.join(columns)}) FROM STDIN"
            with raw.cursor() as cursor, cursor.copy(statement) as copy:
                for doc in docs:
                    values = row(doc)
                    copy.write_row([values[c] for c in columns])
            raw.commit()
            count += len(docs)
    with sessions.begin() as session:
        session.execute(text(f"ALTER TABLE {build} ADD PRIMARY KEY (person_id)"))
        for index in _TABLE.indexes:
            ddl = str(CreateIndex(index).compile(dialect=session.bind.dialect))
            ddl = ddl.replace(
                f"INDEX {index.name} ON expert_doc", f"INDEX {index.name}_new ON {build}"
            )
            session.execute(text(ddl))
        session.execute(text(f"ANALYZE {build}"))
    with sessions.begin() as session:
        session.execute(text("LOCK TABLE expert_doc IN ACCESS EXCLUSIVE MODE"))
        session.execute(text("DROP TABLE expert_doc"))
        session.execute(text(f"ALTER TABLE {build} RENAME TO expert_doc"))
        session.execute(
            text(f"ALTER TABLE expert_doc RENAME CONSTRAINT {build}_pkey TO pk_expert_doc")
        )
        for index in _TABLE.indexes:
            session.execute(text(f"ALTER INDEX {index.name}_new RENAME TO {index.name}"))
    replayed = rebuild_module.replay_changes_since(sessions, started)
    return {
        "backend": "postgres",
        "documents": count,
        "replayed": replayed,
        "seconds": round(time.monotonic() - started_clock, 2),
    }
