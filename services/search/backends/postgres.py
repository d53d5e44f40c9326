"""The postgres backend: a derived table in the registry's own database, tsvector, GIN, bitmaps.

Totals and facets are exact on both of its paths:
- the row path, for queries whose match is small (a rare word or a selective filter in every
  reading of the query): one statement materialises the matching rows once (the GIN index
  intersects the words with the filters, which are tokens of the same tsvector) and computes
  the total, the facets and the ranked page from them;
- the bitmap path, for broad queries: every common token, every facet value and `*` (everyone)
  has a bitmap over the experts' dense ordinals (`expert_bitmap`); the match is the AND/OR of
  its keys' bitmaps chunk by chunk, the total and each facet value a `bit_count` of the match
  and the facet's bitmap, and excluded people (conflicts) inside the match are subtracted.
  Its hits are ranked in full up to RANK_LIMIT matches; above that the CANDIDATES strongest
  profiles that match are ranked by relevance, and `approximate` says so.
"""

from __future__ import annotations

import time
import uuid
from array import array
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from functools import lru_cache, partial
from itertools import chain
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.schema import CreateIndex

from services.registry.core.disciplines import first_level

from .. import rebuild as rebuild_module
from ..documents import SEARCHABLE, SOURCE_SQL, ExpertDocument, ExpertSource, from_json, to_json
from ..documents import build as build_document
from ..models import CHUNK_BITS, EXCLUSION_COLUMNS, ExpertDoc, ExpertDocBody
from ..protocol import FACETS, ExpertHit, ExpertQuery, SearchResult
from . import facet_codes, postgres_rows

ROW_PATH_LIMIT = 20_000  # estimated matches up to which the rows are read
# Bitmap-path matches up to which every match is ranked: reading them through the GIN index
# costs about what finding CANDIDATES of them in profile-strength order costs at 1M experts.
RANK_LIMIT = 40_000
# A bitmap-path query whose estimate is at most this share of experts has its match counted on
# the bitmaps first (a millisecond or two); up to RECOUNT_ROWS matches it takes the row path.
RECOUNT_SHARE = 0.15
RECOUNT_ROWS = 40_000
CANDIDATES = 1_000
DRIVE_SHARE = 0.1  # a filter admitting more than this share of experts does not drive the index
# What reading one GIN posting costs against visiting one matching row (heap page, recheck,
# rank): measured at 1M experts, a 420,000-posting token (a gender) cost 15 ms in the index and
# spared 14,000 row visits (60-140 ms), about 35 ns against 5-10 µs.
POSTING_COST = 1 / 150
# A token in at least this share of documents gets a bitmap (about ROW_PATH_LIMIT at 1M: a
# rarer key sends its query to the row path anyway).
BITMAP_MIN_SHARE = 0.02
BITMAP_MIN_DOCS = 1_000
RANK_WEIGHTS = "{0.1, 0.3, 0.6, 1.0}"  # D (biography), C (institution), B (fields), A (name)
_TABLE = ExpertDoc.__table__

_COLUMNS = ", ".join(postgres_rows.ROW_COLUMNS)
_VALUES = ", ".join(
    "CAST(:tsv AS tsvector)" if c == "tsv" else f":{c}" for c in postgres_rows.ROW_COLUMNS
)
_EXCLUDED = ", ".join(f"EXCLUDED.{c}" for c in postgres_rows.ROW_COLUMNS)
# The document's row, and its body when the row was written (no newer version, no tombstone).
UPSERT = text(
    f"""
    WITH d AS (
        INSERT INTO expert_doc ({_COLUMNS}, indexed_at)
        SELECT {_VALUES}, now()
        WHERE NOT EXISTS (
            SELECT 1 FROM expert_doc_tombstone t
            WHERE t.person_id = :person_id AND t.version >= :version
        )
        ON CONFLICT (person_id) DO UPDATE SET
            ({_COLUMNS}, indexed_at) = ({_EXCLUDED}, now())
        WHERE expert_doc.version <= EXCLUDED.version
        RETURNING person_id
    )
    INSERT INTO expert_doc_body (person_id, document) SELECT person_id, :document FROM d
    ON CONFLICT (person_id) DO UPDATE SET document = EXCLUDED.document
    """  # noqa: S608 - column list is a constant
)
DELETE = text(
    """
    WITH d AS (
        DELETE FROM expert_doc WHERE person_id = :person_id AND version <= :version
        RETURNING person_id
    )
    DELETE FROM expert_doc_body b USING d WHERE b.person_id = d.person_id
    """
)
TOMBSTONE = text(
    """
    INSERT INTO expert_doc_tombstone (person_id, version) VALUES (:person_id, :version)
    ON CONFLICT (person_id) DO UPDATE
    SET version = GREATEST(expert_doc_tombstone.version, EXCLUDED.version)
    """
)


# Query lexemes are quoted as the documents' are, so a word matches its indexed token.
_lexeme = postgres_rows.lexeme


def row(doc: ExpertDocument) -> dict[str, Any]:
    """The expert_doc row of a document: the values of `postgres_rows.ROW_COLUMNS` by name, and
    its JSON `document` (`postgres_rows.copy_line` and `body_line` render the same values for
    the rebuild's COPY)."""
    cell, mask = facet_codes.numbers(doc.title_level, doc.gender, doc.province, doc.disciplines_l1)
    return {
        "person_id": doc.person_id,
        "version": doc.version,
        "gender": doc.gender,
        "birth_date": doc.birth_date,
        "title_level": doc.title_level,
        "institution_key": doc.institution_key,
        "institution_uscc": doc.institution_uscc,
        "province": doc.province,
        "disciplines_l1": list(doc.disciplines_l1),
        "facet_cell": cell,
        "disciplines_mask": mask,
        "prior": doc.prior,
        "tsv": postgres_rows.tsv_text(doc),
        "document": to_json(doc),
    }


def _term(word: str, parts: tuple[str, ...]) -> str:
    if not parts:
        return _lexeme(word)
    return f"({_lexeme(word)} | ({' & '.join(_lexeme(p) for p in parts)}))"


def _tsquery(query: ExpertQuery, *, ranking: bool = False) -> str:
    """Every term required; for ranking, the whole-phrase token adds to the score."""
    required = " & ".join(_term(word, parts) for word, parts in query.terms)
    # A phrase longer than any indexed lexeme matches nothing, and PostgreSQL refuses it in a
    # tsquery (over 2,046 bytes): a 200-character query can fold to that (㍿ is 株式会社).
    if ranking and query.phrase and postgres_rows.fits(query.phrase):
        return f"({required}) | {_lexeme(query.phrase)}"
    return required


# A query as keys: every clause must hold; a clause holds when one of its alternatives does;
# an alternative holds when the expert carries all of its keys (tsvector tokens).
Clauses = list[list[list[str]]]


def _clauses(query: ExpertQuery) -> Clauses:
    clauses: Clauses = [[[word], list(parts)] if parts else [[word]] for word, parts in query.terms]
    for prefix, values in (
        ("D:", query.discipline_codes),
        ("R:", query.region_codes),
        ("T:", query.title_levels),
        ("O:", query.org_codes),
    ):
        if values:
            clauses.append([[prefix + v] for v in dict.fromkeys(values)])
    if query.gender:
        clauses.append([["G:" + query.gender]])
    return clauses


def _match_text(clauses: Clauses) -> str | None:
    if not clauses:
        return None
    return " & ".join(
        "(" + " | ".join("(" + " & ".join(map(_lexeme, alt)) + ")" for alt in clause) + ")"
        for clause in clauses
    )


def _facet_of(key: str) -> tuple[str, str] | None:
    """The facet and value a token counts for, if any: `R:11` is region `110000`; a
    first-level discipline outside the table is a filter token only (documents._first_levels)."""
    if key.startswith("T:"):
        return "title_level", key[2:]
    if key.startswith("G:"):
        return "gender", key[2:]
    if key.startswith("R:") and len(key) == 4:
        return "region_codes", key[2:] + "0000"
    if key.startswith("D:") and len(key) == 5 and key[2:] in first_level():
        return "discipline_codes", key[2:]
    return None


def _estimate(clause: list[list[str]], df: dict[str, int]) -> int:
    """At most how many experts a clause admits (a key without a bitmap is rare: 0)."""
    return sum(min(df.get(k, 0) for k in alt) for alt in clause)


def _drive(clauses: Clauses, df: dict[str, int]) -> Clauses:
    """The clauses the GIN index intersects: the selective ones (at most DRIVE_SHARE of
    experts), then each common one whose postings cost less than the row visits it spares (a
    gender halves a 25,000-row topic match for the price of 2,800 row visits; it is not worth
    it for a 1,000-row match)."""
    everyone = df.get("*", 0)
    drive = [c for c in clauses if _estimate(c, df) <= DRIVE_SHARE * everyone]
    if not drive and clauses:
        drive = [min(clauses, key=lambda c: _estimate(c, df))]
    if not everyone:
        return drive
    # The words of one query go together (大 and 数据 of 大数据): the match is taken to be the
    # smallest driving clause, and each clause added to it as independent of it.
    rows = float(min((_estimate(c, df) for c in drive), default=everyone))
    for clause in sorted((c for c in clauses if c not in drive), key=lambda c: _estimate(c, df)):
        postings = _estimate(clause, df)
        share = min(1.0, postings / everyone)
        if rows * (1.0 - share) <= postings * POSTING_COST:
            break
        drive.append(clause)
        rows *= share
    return drive


class _Sql:
    """One query's WHERE clause, score and parameters, shared by the row and bitmap paths.

    The GIN index is driven by the selective words and filters, and by a common token (研究, a
    gender) only when the match it narrows is large enough to repay its long posting list
    (`_drive`). The words and filters left out are checked on the tsvector of the rows the
    index found, the age range on the birth date.
    """

    def __init__(self, query: ExpertQuery, df: dict[str, int]) -> None:
        self.params: dict[str, Any] = {}
        clauses = _clauses(query)
        drive = _drive(clauses, df)
        conditions: list[str] = []
        match = _match_text(drive)
        if match:
            conditions.append("tsv @@ CAST(:match AS tsquery)")
            self.params["match"] = match
        # Common words and filters are checked on the rows found, by the function behind `@@`,
        # which the planner does not turn into an index condition.
        check = _match_text([c for c in clauses if c not in drive])
        if check:
            conditions.append("ts_match_vq(tsv, CAST(:check AS tsquery))")
            self.params["check"] = check
        # With the GIN index driving, the age range is checked on the rows it finds: left
        # indexable, the planner ANDs in the birth-date index, whose scan of a range of ages (a
        # third of the experts, at 1M 350,000 entries, 53 ms) costs more than the rows it spares.
        born = "(birth_date + 0)" if match else "birth_date"
        if query.born_after:
            conditions.append(f"{born} > :born_after")
            self.params["born_after"] = query.born_after
        if query.born_on_or_before:
            conditions.append(f"{born} <= :born_on_or_before")
            self.params["born_on_or_before"] = query.born_on_or_before
        ex = query.exclusions
        if ex.person_ids:
            conditions.append("person_id <> ALL(CAST(:ex_ids AS uuid[]))")
            self.params["ex_ids"] = list(ex.person_ids)
        if ex.institution_keys:
            conditions.append(
                "(institution_key IS NULL OR institution_key <> ALL(CAST(:ex_keys AS text[])))"
            )
            self.params["ex_keys"] = list(ex.institution_keys)
        if ex.institution_usccs:
            conditions.append(
                "(institution_uscc IS NULL OR institution_uscc <> ALL(CAST(:ex_usccs AS text[])))"
            )
            self.params["ex_usccs"] = list(ex.institution_usccs)
        self.where = " AND ".join(conditions) or "true"
        if query.terms:
            self.score = (
                f"ts_rank(CAST('{RANK_WEIGHTS}' AS real[]), tsv, CAST(:rank AS tsquery))"
                " + prior * CAST(0.001 AS float8)"
            )
            self.params["rank"] = _tsquery(query, ranking=True)
        else:
            self.score = "CAST(prior AS float8)"
        self.after = "true"
        if query.after is not None:
            self.after = (
                "(score < :after_score OR (score = :after_score AND person_id < :after_id))"
            )
            self.params["after_score"], self.params["after_id"] = query.after
        self.params["page"] = query.limit + 1


# The total and the facets of the row path's match, counted in one pass over it by the two
# numbers that encode a row's facet values (facet_codes), and sent as three rows of arrays (a
# large match has thousands of distinct cells and sets of disciplines): GROUPING() says which
# set a row is (1: the cells, 2: the sets of disciplines, 3: the total).
_FACET_ROWS = """
    UNION ALL SELECT g, NULL, NULL, array_agg(key), array_agg(n), NULL FROM (
        SELECT GROUPING(facet_cell, disciplines_mask) AS g,
               coalesce(CAST(facet_cell AS bigint), disciplines_mask, 0) AS key, count(*) AS n
        FROM m GROUP BY GROUPING SETS ((facet_cell), (disciplines_mask), ())
    ) f GROUP BY g
"""
_CELL_SET, _DISCIPLINE_SET = 0b01, 0b10
_DECODE = {_CELL_SET: facet_codes.cell_values, _DISCIPLINE_SET: facet_codes.mask_values}

# The total and facets of the match, from bitmaps: the match per chunk is the AND over clauses
# of the OR over alternatives of the AND of their keys' bitmaps (a missing row is all zeros);
# excluded people inside the match are counted again and subtracted.
_BITMAP_MATCH = """
WITH q AS (
    SELECT q.clause, q.alt, q.key, count(*) OVER (PARTITION BY q.clause, q.alt) AS width
    FROM unnest(CAST(:clause AS int[]), CAST(:alt AS int[]), CAST(:key AS text[]))
        AS q(clause, alt, key)
    JOIN expert_bitmap_key k ON k.key = q.key  -- first: the rebuild's swap locks it first
), a AS (
    SELECT b.chunk, q.clause, q.alt, bit_and(b.bits) AS bits
    FROM q JOIN expert_bitmap b ON b.key = q.key
    GROUP BY b.chunk, q.clause, q.alt, q.width HAVING count(*) = q.width
), c AS (
    SELECT chunk, clause, bit_or(bits) AS bits FROM a GROUP BY chunk, clause
), m AS MATERIALIZED (
    SELECT chunk, bit_and(bits) AS bits FROM c GROUP BY chunk HAVING count(*) = :clauses
)
, fk AS MATERIALIZED (
    SELECT key, facet, value FROM expert_bitmap_key WHERE facet IS NOT NULL
), f AS MATERIALIZED (  -- one index probe per facet value and chunk, counted before grouping
    SELECT fk.facet, fk.value, bit_count(m.bits & b.bits) AS n
    FROM m CROSS JOIN fk JOIN expert_bitmap b ON b.key = fk.key AND b.chunk = m.chunk
)
SELECT f.facet, f.value, sum(f.n)::bigint FROM f GROUP BY f.facet, f.value
UNION ALL SELECT '_total', NULL, coalesce(sum(bit_count(bits)), 0)::bigint FROM m
"""
_BITMAP_EXCLUDED = """
UNION ALL SELECT 'title_level', title_level, -count(*) FROM x GROUP BY title_level
UNION ALL SELECT 'gender', gender, -count(*) FROM x GROUP BY gender
UNION ALL SELECT 'region_codes', province, -count(*) FROM x GROUP BY province
UNION ALL SELECT 'discipline_codes', code, -count(*)
    FROM x CROSS JOIN LATERAL unnest(x.disciplines_l1) AS code GROUP BY code
UNION ALL SELECT '_total', NULL, -count(*) FROM x
"""
# Excluded people inside the match, found through their indexes and their bit in the match.
# Each kind of exclusion is its own scan (a colleague found twice counts once), so
# that colleagues come from the covering institution indexes alone: a large institution has
# tens of thousands of people, whose rows would cost a page each.
_EXCLUDED_CTE = f"""
, x AS MATERIALIZED (
    SELECT DISTINCT ON (d.ord) d.title_level, d.gender, d.province, d.disciplines_l1
    FROM ({{who}}) d JOIN m ON m.chunk = d.ord / {CHUNK_BITS}
    WHERE get_bit(m.bits, d.ord % {CHUNK_BITS}) = 1
)
"""  # noqa: S608 - constants only
_EXCLUDED_COLUMNS = ", ".join(EXCLUSION_COLUMNS)

_KEYS = text("SELECT key, df FROM expert_bitmap_key WHERE key = ANY(CAST(:keys AS text[]))")
# A search's statements are estimated costly enough at a million experts for PostgreSQL to
# compile them (JIT), which takes longer than it saves on a query that runs once: measured
# at 1,000,000 experts, selective p50/p95 31.3/108.5 → 26.1/99.1 ms and broad 45.6/63.7 →
# 37.6/56.2 ms without it. For the search's transaction only.
_NO_JIT = text("SET LOCAL jit = off")
# The size of the match alone (before exclusions), from the same bitmaps: a few dozen rows.
# The match alone (its size), and what follows it: the facet keys and the counts.
_MATCH_ONLY, _AFTER_MATCH = _BITMAP_MATCH.split("\n, fk AS", 1)
_BITMAP_SIZE = text(
    f"{_MATCH_ONLY} SELECT coalesce(sum(bit_count(bits)), 0)::bigint AS match_size FROM m"  # noqa: S608 - constants
)

# Bit changes of one batch, applied per bitmap row: set bits OR'ed in, cleared bits masked out.
_ZERO = f"CAST(B'0' AS bit({CHUNK_BITS}))"
_LOCK_BITMAPS = text(
    "SELECT 1 FROM expert_bitmap WHERE (key, chunk) IN"
    " (SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:chunks AS int[])))"
    " ORDER BY key, chunk FOR UPDATE"
)
_ADD_BITMAPS = text(
    f"""
    INSERT INTO expert_bitmap (key, chunk, bits)
    SELECT key, chunk, {_ZERO} FROM unnest(CAST(:keys AS text[]), CAST(:chunks AS int[]))
        AS n(key, chunk)
    ORDER BY key, chunk ON CONFLICT DO NOTHING
    """  # noqa: S608 - constants only
)
_CHANGE_BITS = text(
    f"""
    UPDATE expert_bitmap b SET bits = (b.bits & ~u.cleared) | u.set
    FROM (
        SELECT key, chunk,
               bit_or(CASE WHEN v THEN set_bit({_ZERO}, pos, 1) ELSE {_ZERO} END) AS set,
               bit_or(CASE WHEN v THEN {_ZERO} ELSE set_bit({_ZERO}, pos, 1) END) AS cleared
        FROM unnest(CAST(:keys AS text[]), CAST(:chunks AS int[]), CAST(:pos AS int[]),
                    CAST(:vals AS boolean[])) AS u(key, chunk, pos, v)
        GROUP BY key, chunk
    ) u
    WHERE b.key = u.key AND b.chunk = u.chunk
    """  # noqa: S608 - constants only
)
_REGISTER = text(
    "INSERT INTO expert_bitmap_key (key, facet, value, df)"
    " SELECT * FROM unnest(CAST(:keys AS text[]), CAST(:facets AS text[]),"
    " CAST(:vals AS text[]), CAST(:dfs AS int[])) ON CONFLICT DO NOTHING"
)
_ANY_YEAR = text("SELECT 1 FROM expert_bitmap_key WHERE key LIKE 'Y:%' LIMIT 1")
# The query's keys and, for an age range, every year of birth, in one lookup.
_KEYS_AND_YEARS = text(
    "SELECT key, df FROM expert_bitmap_key WHERE key = ANY(CAST(:keys AS text[])) OR key LIKE 'Y:%'"
)
_ROW_KEYS = text(
    "SELECT person_id, ord, tsvector_to_array(tsv) FROM expert_doc"
    " WHERE person_id = ANY(CAST(:ids AS uuid[])) FOR UPDATE"
)


class PostgresBackend:
    """Expert documents in `expert_doc`, written in the outbox drain's own transaction.

    `row_path_limit`: a query whose estimated match is at most this many experts is answered
    from its rows; `rank_limit`: a bitmap-path match up to this size is still ranked in full;
    `recount_limit`: a query estimated above `row_path_limit` whose match, counted on the
    bitmaps, is at most this (and `rank_limit`) is answered from its rows after all; only
    queries estimated at most `recount_share` of experts are counted so (not broad ones).
    """

    name = "postgres"

    def __init__(
        self,
        row_path_limit: int = ROW_PATH_LIMIT,
        rank_limit: int = RANK_LIMIT,
        recount_limit: int = RECOUNT_ROWS,
        recount_share: float = RECOUNT_SHARE,
    ) -> None:
        self.row_path_limit = row_path_limit
        self.rank_limit = rank_limit
        self.recount_limit = recount_limit
        self.recount_share = recount_share

    def apply(
        self,
        session: Session,
        upserts: list[ExpertDocument],
        deletes: list[tuple[uuid.UUID, int]],
    ) -> None:
        ids = [d.person_id for d in upserts] + [pid for pid, _ in deletes]
        before = self._row_keys(session, ids)
        if upserts:
            session.execute(UPSERT, [row(d) for d in upserts])
        if deletes:
            params = [{"person_id": pid, "version": version} for pid, version in deletes]
            session.execute(DELETE, params)
            session.execute(TOMBSTONE, params)
        if before is not None:
            self._change_bits(session, before, self._row_keys(session, ids) or {})

    def _row_keys(
        self, session: Session, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, tuple[int, set[str]]] | None:
        """Each indexed person's ordinal and tokens; None while no bitmaps exist (no rebuild
        yet): then there is nothing to keep true."""
        if not ids:
            return None
        if session.scalar(text("SELECT 1 FROM expert_bitmap_key WHERE key = '*'")) is None:
            return None
        rows = session.execute(_ROW_KEYS, {"ids": ids})
        return {pid: (ord_, {"*", *tokens}) for pid, ord_, tokens in rows}

    def _change_bits(
        self,
        session: Session,
        before: dict[uuid.UUID, tuple[int, set[str]]],
        after: dict[uuid.UUID, tuple[int, set[str]]],
    ) -> None:
        """Set and clear the bits of what the batch changed, in bitmaps that exist; a facet
        value seen for the first time gets its bitmap (it had no experts before)."""
        changes: list[tuple[str, int, bool]] = []
        for pid in before.keys() | after.keys():
            old_ord, old = before.get(pid, (None, set()))
            new_ord, new = after.get(pid, (None, set()))
            if old_ord is not None and old_ord != new_ord:
                changes += [(k, old_ord, False) for k in old]
                old = set()
            if new_ord is not None:
                changes += [(k, new_ord, True) for k in new - old]
            if old_ord is not None and new_ord == old_ord:
                changes += [(k, old_ord, False) for k in old - new]
        if not changes:
            return
        keys = sorted({k for k, _, _ in changes})
        known = {k for k, _ in session.execute(_KEYS, {"keys": keys})}
        fresh = [k for k in keys if k not in known and _always_noted(k)]
        if any(k.startswith("Y:") for k in fresh) and session.scalar(_ANY_YEAR) is None:
            # Bitmaps built before years were noted have none: a year's bitmap made now would
            # hold only the people changed since. Age ranges wait for the next rebuild.
            fresh = [k for k in fresh if not k.startswith("Y:")]
        if fresh:
            facets = [_facet_of(k) for k in fresh]
            session.execute(
                _REGISTER,
                {
                    "keys": fresh,
                    "facets": [f[0] if f else None for f in facets],
                    "vals": [f[1] if f else None for f in facets],
                    "dfs": [0] * len(fresh),
                },
            )
            known.update(fresh)
        changes = sorted((k, o, v) for k, o, v in changes if k in known)
        if not changes:
            return
        keys_, chunks, pos, vals = [], [], [], []
        for key, ord_, value in changes:
            keys_.append(key)
            chunks.append(ord_ // CHUNK_BITS)
            pos.append(ord_ % CHUNK_BITS)
            vals.append(value)
        rows = sorted(set(zip(keys_, chunks, strict=True)))
        pairs = {"keys": [k for k, _ in rows], "chunks": [c for _, c in rows]}
        session.execute(_LOCK_BITMAPS, pairs)
        session.execute(_ADD_BITMAPS, pairs)
        session.execute(_CHANGE_BITS, {"keys": keys_, "chunks": chunks, "pos": pos, "vals": vals})

    def rebuild(self, sessions: sessionmaker[Session]) -> dict[str, Any]:
        return rebuild(sessions)

    def count(self, session: Session) -> int:
        return session.scalar(select(func.count()).select_from(_TABLE)) or 0

    def get(self, session: Session, person_id: uuid.UUID) -> ExpertDocument | None:
        body = ExpertDocBody.__table__
        text_ = session.scalar(select(body.c.document).where(body.c.person_id == person_id))
        return from_json(text_) if text_ else None

    def search(self, session: Session, query: ExpertQuery) -> SearchResult:
        session.execute(_NO_JIT)
        clauses = _clauses(query) or [[["*"]]]
        keys = sorted({"*"} | {k for clause in clauses for alt in clause for k in alt})
        aged = query.born_after is not None or query.born_on_or_before is not None
        found = session.execute(_KEYS_AND_YEARS if aged else _KEYS, {"keys": keys}).all()
        wanted = set(keys)
        df = {key: n for key, n in found if key in wanted}
        bitmaps = len(df) == len(keys)
        if bitmaps and aged:
            # An age range is the years of birth it spans, on their bitmaps; those born in its
            # first and last year but outside it are subtracted like excluded people.
            years = {key: n for key, n in found if key.startswith("Y:")}
            bitmaps = bool(years)  # none before a rebuild that noted them
            clauses = [*clauses, _year_clause(years, query)]
            df |= years
        estimate = min(_estimate(clause, df) for clause in clauses)
        if not bitmaps or estimate <= self.row_path_limit:
            return self._row_path(session, query, df)
        recount = min(self.rank_limit, self.recount_limit)
        if estimate <= self.recount_share * df["*"] and self._fits(session, clauses, recount):
            # Ranked in full, the bitmap path visits every match for its hits anyway; the row
            # path's facets come from those same rows instead of a hundred bitmaps a chunk.
            return self._row_path(session, query, df)
        return self._bitmap_path(session, query, clauses, df)

    def _fits(self, session: Session, clauses: Clauses, limit: int) -> bool:
        """Whether the clauses admit at most `limit` experts, on their bitmaps. An age range's
        clause has a key per year of birth, the costliest to combine (10-14 ms for twenty years
        at 1M experts, against 1-2 for a few words): the match without it bounds the match
        with it, and is counted first."""
        unaged = [c for c in clauses if not all(k.startswith("Y:") for alt in c for k in alt)]
        if (
            len(unaged) < len(clauses)
            and unaged != [[["*"]]]
            and self._match_size(session, unaged) <= limit
        ):
            return True
        return self._match_size(session, clauses) <= limit

    def _match_size(self, session: Session, clauses: Clauses) -> int:
        """How many experts the clauses admit, counted on their bitmaps."""
        params = _bitmap_params(clauses)
        return session.scalar(_BITMAP_SIZE, params) or 0

    def _row_path(self, session: Session, query: ExpertQuery, df: dict[str, int]) -> SearchResult:
        """One statement over the materialised match: total, facets and the ranked page."""
        sql = _Sql(query, df)
        statement = f"""
            WITH m AS MATERIALIZED (
                SELECT person_id, facet_cell, disciplines_mask, {sql.score} AS score
                FROM expert_doc WHERE {sql.where}
            ), h AS (
                SELECT person_id, score FROM m WHERE {sql.after}
                ORDER BY score DESC, person_id DESC LIMIT :page
            )
            SELECT -1, h.score, h.person_id, CAST(NULL AS bigint[]), CAST(NULL AS bigint[]),
                   d.document
            FROM h JOIN expert_doc_body d ON d.person_id = h.person_id
            {_FACET_ROWS}
        """  # noqa: S608 - fragments are constants, values are bound
        hits: list[ExpertHit] = []
        counts: list[tuple[str, str | None, int]] = []
        rows = session.execute(text(statement), sql.params)
        for grouping, score, pid, keys, ns, document in rows:
            if grouping < 0:
                hits.append(ExpertHit(person_id=pid, score=score, document=from_json(document)))
                continue
            decode = _DECODE.get(grouping)
            if decode is None:
                counts.append(("_total", None, ns[0]))
                continue
            for key, n in zip(keys, ns, strict=True):
                counts.extend((facet, value, n) for facet, value in decode(key))
        total, facets = _facets(counts)
        return SearchResult(total=total, hits=_ordered(hits), facets=facets)

    def _bitmap_path(
        self, session: Session, query: ExpertQuery, clauses: Clauses, df: dict[str, int]
    ) -> SearchResult:
        """Total and facets from bitmaps; hits ranked in full up to `rank_limit` matches."""
        ex = query.exclusions
        params = _bitmap_params(clauses)
        who = []
        for column, name, values, kind in (
            ("person_id", "ex_ids", ex.person_ids, "uuid"),
            ("institution_key", "ex_keys", ex.institution_keys, "text"),
            ("institution_uscc", "ex_usccs", ex.institution_usccs, "text"),
        ):
            if values:
                who.append(
                    f"SELECT {_EXCLUDED_COLUMNS} FROM expert_doc"  # noqa: S608 - constants
                    f" WHERE {column} = ANY(CAST(:{name} AS {kind}[]))"
                )
                params[name] = list(values)
        for condition, bounds in _outside_age(query):
            who.append(f"SELECT {_EXCLUDED_COLUMNS} FROM expert_doc WHERE {condition}")  # noqa: S608
            params |= bounds
        statement = _BITMAP_MATCH
        if who:
            excluded = _EXCLUDED_CTE.replace("{who}", " UNION ALL ".join(who))
            statement = f"{_MATCH_ONLY}{excluded}, fk AS{_AFTER_MATCH}{_BITMAP_EXCLUDED}"
        total, facets = _facets(session.execute(text(statement), params).all())
        sql = _Sql(query, df)
        approximate: dict[str, str] = {}
        if not query.terms:  # ranked by profile strength: the index order is the ranking
            statement = f"""
                WITH h AS (
                    SELECT person_id, {sql.score} AS score FROM expert_doc
                    WHERE {sql.where} ORDER BY prior DESC, person_id DESC
                )
                SELECT h.person_id, h.score, d.document FROM (
                    SELECT * FROM h WHERE {sql.after} LIMIT :page
                ) h JOIN expert_doc_body d ON d.person_id = h.person_id
            """  # noqa: S608 - fragments are constants, values are bound
        else:
            limit = ""
            if total > self.rank_limit:
                limit = f"ORDER BY prior DESC, person_id DESC LIMIT {CANDIDATES}"
                approximate["ranking"] = (
                    f"the {CANDIDATES:,} strongest matching profiles, ranked by relevance"
                )
            statement = f"""
                WITH m AS MATERIALIZED (
                    SELECT person_id, {sql.score} AS score FROM expert_doc
                    WHERE {sql.where} {limit}
                ), h AS (
                    SELECT person_id, score FROM m WHERE {sql.after}
                    ORDER BY score DESC, person_id DESC LIMIT :page
                )
                SELECT h.person_id, h.score, d.document
                FROM h JOIN expert_doc_body d ON d.person_id = h.person_id
            """  # noqa: S608 - fragments are constants, values are bound
        hits = [
            ExpertHit(person_id=pid, score=score, document=from_json(document))
            for pid, score, document in session.execute(text(statement), sql.params)
        ]
        return SearchResult(
            total=total, hits=_ordered(hits), facets=facets, approximate=approximate
        )


def _year_span(query: ExpertQuery) -> tuple[int | None, int | None]:
    """The first and last year of birth an age range admits anyone from (None: unbounded)."""
    low = high = None
    if query.born_after:  # exclusive: born on 31 December, the year is left out whole
        low = query.born_after.year + (query.born_after == date(query.born_after.year, 12, 31))
    if query.born_on_or_before:
        high = query.born_on_or_before.year
    return low, high


def _year_clause(years: dict[str, int], query: ExpertQuery) -> list[list[str]]:
    """The `Y:` keys of the years of birth an age range spans, in whole or in part."""
    low, high = _year_span(query)
    return [
        [key]
        for key in sorted(years)
        if (low is None or int(key[2:]) >= low) and (high is None or int(key[2:]) <= high)
    ]


def _outside_age(query: ExpertQuery) -> list[tuple[str, dict[str, date]]]:
    """Conditions on `birth_date` for those born in the first or last year an age range spans
    but outside the range (the year's bitmap holds them); none for a year taken whole."""
    low, high = _year_span(query)
    edges = []
    if query.born_after and low == query.born_after.year:
        edges.append(
            (
                "birth_date BETWEEN :age_low_start AND :born_after",
                {"age_low_start": date(low, 1, 1), "born_after": query.born_after},
            )
        )
    last = query.born_on_or_before
    if last and high is not None and last != date(high, 12, 31):
        edges.append(
            (
                "birth_date > :born_on_or_before AND birth_date <= :age_high_end",
                {"born_on_or_before": last, "age_high_end": date(high, 12, 31)},
            )
        )
    return edges


def _bitmap_params(clauses: Clauses) -> dict[str, Any]:
    """The clauses as the parallel arrays `_BITMAP_MATCH` unnests."""
    flat = [
        (c, a, key)
        for c, clause in enumerate(clauses)
        for a, alt in enumerate(clause)
        for key in alt
    ]
    return {
        "clause": [c for c, _, _ in flat],
        "alt": [a for _, a, _ in flat],
        "key": [k for _, _, k in flat],
        "clauses": len(clauses),
    }


def _ordered(hits: list[ExpertHit]) -> list[ExpertHit]:
    """Best first; equal scores in a stable order (the larger id first, as the index reads)."""
    return sorted(hits, key=lambda h: (h.score, h.person_id), reverse=True)


def _facets(
    counts: list[tuple[str, str | None, int]] | Any,
) -> tuple[int, dict[str, dict[str, int]]]:
    """Sum the counts of each facet value (the bitmap path subtracts excluded people)."""
    facets: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    total = 0
    for facet, value, n in counts:
        if facet == "_total":
            total += n
        elif value is not None:
            facets[facet][value] = facets[facet].get(value, 0) + n
    for name in FACETS:
        kept = ((v, n) for v, n in facets[name].items() if n > 0)
        facets[name] = dict(sorted(kept, key=lambda kv: (-kv[1], kv[0])))
    return total, facets


def rebuild(
    sessions: sessionmaker[Session],
    *,
    bitmap_share: float = BITMAP_MIN_SHARE,
    bitmap_min_docs: int = BITMAP_MIN_DOCS,
    parallel_from: int = rebuild_module.PARALLEL_FROM,
) -> dict[str, Any]:
    """Build `expert_doc`, `expert_doc_body` and the bitmaps anew beside the live tables, then
    swap them in one transaction. Tokens in at least `bitmap_share` of the documents (and
    `bitmap_min_docs`) get a bitmap, as do every facet value and `*`. From `parallel_from`
    documents two processes stream them (see `rebuild.copy_documents`), in the order of
    `rebuild.CLUSTER_KEY`.

    Searches keep reading the old tables until the swap, which takes a brief exclusive lock.
    """
    started_clock = time.monotonic()
    replay_from = rebuild_module.replay_point(sessions)  # before the build's snapshot
    build = "expert_doc_rebuild"
    indexes = [
        f"CREATE UNIQUE INDEX {build}_pkey ON {build} (person_id)",
        f"CREATE UNIQUE INDEX {_BODY_BUILD}_pkey ON {_BODY_BUILD} (person_id)",
    ]
    for index in _TABLE.indexes:
        ddl = str(CreateIndex(index).compile(dialect=postgresql.dialect()))
        indexes.append(
            ddl.replace(f"INDEX {index.name} ON expert_doc", f"INDEX {index.name}_new ON {build}")
        )
    gin = [s for s in indexes if " USING gin " in s]
    indexes = [s for s in indexes if s not in gin]

    def drop_build(session: Session) -> None:
        """Drop the build objects (what a failed rebuild may have left behind)."""
        session.execute(
            text(f"DROP TABLE IF EXISTS {build}, {_BODY_BUILD}, {_BITMAP_BUILD}, {_KEY_BUILD}")
        )
        session.execute(text(f"DROP SEQUENCE IF EXISTS {_ORD_BUILD}"))

    with sessions.begin() as session:
        drop_build(session)
        # INCLUDING STORAGE: the tsvector stays in the row (STORAGE MAIN, see migration 0016).
        session.execute(
            text(f"CREATE TABLE {build} (LIKE expert_doc INCLUDING DEFAULTS INCLUDING STORAGE)")
        )
        session.execute(text(f"CREATE TABLE {_BODY_BUILD} (LIKE expert_doc_body)"))
        # Ordinals count from 0 again in the order documents arrive, so the bitmaps are dense.
        session.execute(text(f"CREATE SEQUENCE {_ORD_BUILD} MINVALUE 0 START 0"))
        session.execute(text(f"ALTER SEQUENCE {_ORD_BUILD} OWNED BY {build}.ord"))
        session.execute(
            text(f"ALTER TABLE {build} ALTER COLUMN ord SET DEFAULT nextval('{_ORD_BUILD}')")
        )
        session.execute(
            text(f"CREATE TABLE {_KEY_BUILD} (LIKE expert_bitmap_key, PRIMARY KEY (key))")
        )
        session.execute(
            text(
                f"CREATE TABLE {_BITMAP_BUILD} (LIKE expert_bitmap INCLUDING STORAGE,"
                f" PRIMARY KEY (key, chunk))"
            )
        )
    try:
        parts: dict[str, float] = {}
        timed = time.monotonic()
        common = common_words(sessions, bitmap_share)
        parts["sampling"] = time.monotonic() - timed
        count, builders = rebuild_module.copy_documents(
            sessions,
            [(build, postgres_rows.COPY_COLUMNS), (_BODY_BUILD, postgres_rows.BODY_COLUMNS)],
            partial(_RowPart, common),
            timings=parts,
            parallel_from=parallel_from,
        )
        bitmaps = BitmapBuilder.merge(builders)
        del builders  # the merged postings are the first builder's; the others are emptied

        def write_bitmaps() -> None:
            with sessions.begin() as session:
                bitmaps.write(session, max(bitmap_min_docs, round(bitmap_share * count)))
                session.execute(text(f"ANALYZE {_BITMAP_BUILD}, {_KEY_BUILD}"))
                session.execute(text(f"SELECT setval('{_ORD_BUILD}', :n, false)"), {"n": count})

        def create_text_index() -> None:
            """The GIN index, built in one pass over the new rows (see GIN_MEMORY)."""
            with sessions.begin() as session:
                session.execute(text(f"SET LOCAL maintenance_work_mem = '{GIN_MEMORY}'"))
                for statement in gin:
                    session.execute(text(statement))

        timed = time.monotonic()
        parts |= _create_indexes(
            sessions,
            indexes,
            first=("text_index", create_text_index),
            alongside=write_bitmaps,
        )
        with sessions.begin() as session:
            for table in (build, _BODY_BUILD):
                session.execute(
                    text(
                        f"ALTER TABLE {table} ADD CONSTRAINT {table}_pkey"
                        f" PRIMARY KEY USING INDEX {table}_pkey"
                    )
                )
        parts["indexes_and_bitmaps"] = time.monotonic() - timed
        timed = time.monotonic()
        # VACUUM sets the visibility map of the new rows (so index-only scans skip the heap) and
        # their hint bits, which the first searches would otherwise write; the indexes are new and
        # hold nothing to clean. The bodies are read a page of hits at a time, by key: their
        # statistics are enough.
        with sessions.kw["bind"].connect() as conn:
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(text(f"VACUUM (ANALYZE, INDEX_CLEANUP OFF) {build}"))
            conn.execute(text(f"ANALYZE {_BODY_BUILD}"))
        parts["vacuum_analyze"] = time.monotonic() - timed
        with sessions.begin() as session:
            # In the order searches and the outbox drain take them: the key table comes first.
            # The exclusive lock comes first and at once: a weaker lock that lets a drain read
            # (SHARE) leaves the drain holding locks the swap then needs, a deadlock.
            session.execute(
                text(
                    "LOCK TABLE expert_bitmap_key, expert_bitmap, expert_doc, expert_doc_body"
                    " IN ACCESS EXCLUSIVE MODE"
                )
            )
            # Changes drained into the old tables during the build go back on the outbox in
            # the swap's own transaction: no moment where the new tables lack them for good.
            # (Its scans take about 0.35 s at a million people, during which searches wait.)
            replayed = rebuild_module.replay_into(session, replay_from)
            session.execute(
                text("DROP TABLE expert_doc, expert_doc_body, expert_bitmap, expert_bitmap_key")
            )
            session.execute(text(f"ALTER TABLE {build} RENAME TO expert_doc"))
            session.execute(
                text(f"ALTER TABLE expert_doc RENAME CONSTRAINT {build}_pkey TO pk_expert_doc")
            )
            session.execute(text(f"ALTER SEQUENCE {_ORD_BUILD} RENAME TO expert_doc_ord_seq"))
            for index in _TABLE.indexes:
                session.execute(text(f"ALTER INDEX {index.name}_new RENAME TO {index.name}"))
            for table in ("expert_doc_body", "expert_bitmap", "expert_bitmap_key"):
                session.execute(text(f"ALTER TABLE {table}_rebuild RENAME TO {table}"))
                session.execute(
                    text(
                        f"ALTER TABLE {table} RENAME CONSTRAINT {table}_rebuild_pkey TO pk_{table}"
                    )
                )
    except BaseException as exc:
        # Nothing half-built is left behind; the live tables were not touched. Best effort: a
        # failure here is noted on the original error (the next rebuild drops them anyway).
        try:
            with sessions.begin() as session:
                session.execute(text("SET LOCAL lock_timeout = '30s'"))
                drop_build(session)
        except Exception as cleanup:
            exc.add_note(f"dropping the rebuild's build tables failed too: {cleanup!r}")
        raise
    return {
        "backend": "postgres",
        "documents": count,
        "replayed": replayed,
        "seconds": round(time.monotonic() - started_clock, 2),
        "seconds_by_part": {k: round(v, 2) for k, v in parts.items()},
    }


INDEX_MEMORY = "256MB"  # maintenance_work_mem of each B-tree build
# The text index is built once the rows are in, beside the B-trees and the bitmaps. Its build
# collects entries in memory up to maintenance_work_mem before it writes them out; a small
# collection is the faster one (1M experts, 47 lexemes each: 33-41 s with 16MB, 43-48 s with
# 256MB, 59 s with 1GB). Kept up to date while the rows stream in, through its pending list, it cost
# the COPY backends 61 s of CPU between them, taken from the processes building documents.
GIN_MEMORY = "16MB"


def _create_indexes(
    sessions: sessionmaker[Session],
    statements: list[str],
    *,
    first: tuple[str, Callable[[], None]],
    alongside: Callable[[], None],
) -> dict[str, float]:
    """Run `first`, the CREATE INDEX statements and `alongside` on two connections, each in
    its own transaction. Returns the seconds each part took (they overlap)."""

    took: dict[str, float] = {}

    def timed(part: str, work: Callable[[], None]) -> None:
        started = time.monotonic()
        work()
        took[part] = took.get(part, 0.0) + time.monotonic() - started

    def create(statement: str) -> None:
        with sessions.begin() as session:
            session.execute(text(f"SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}'"))
            session.execute(text(statement))

    with ThreadPoolExecutor(2, thread_name_prefix="rebuild-index") as pool:
        futures = [pool.submit(timed, *first)]
        futures += [pool.submit(timed, "btree_indexes", partial(create, s)) for s in statements]
        futures.append(pool.submit(timed, "bitmaps", alongside))
        for future in futures:
            future.result()
    return took


_ORD_BUILD = "expert_doc_ord_seq_rebuild"
_BODY_BUILD = "expert_doc_body_rebuild"
_BITMAP_BUILD = "expert_bitmap_rebuild"
_KEY_BUILD = "expert_bitmap_key_rebuild"


_FILTER_PREFIXES = ("D:", "R:", "O:", "T:", "G:", "Y:")


def _facet_tokens(doc: ExpertDocument) -> set[str]:
    """The keys every document is noted under: its facet values (province, first-level
    disciplines, title, gender) and its year of birth."""
    tokens = set(_facet_values(doc.disciplines_l1, doc.region_code, doc.title_level, doc.gender))
    if doc.birth_date is not None:
        tokens.add(f"Y:{doc.birth_date.year}")
    return tokens


@lru_cache(maxsize=1 << 16)
def _facet_values(
    disciplines_l1: tuple[str, ...], region: str | None, title: str | None, gender: str | None
) -> frozenset[str]:
    tokens = {f"D:{code}" for code in disciplines_l1}
    if region:
        tokens.add(f"R:{region[:2]}")
    if title:
        tokens.add(f"T:{title}")
    if gender:
        tokens.add(f"G:{gender}")
    return frozenset(tokens)


def _always_noted(key: str) -> bool:
    """Whether every document carrying the key is noted (its bitmap is complete once made):
    facet values and years of birth."""
    return key.startswith("Y:") or _facet_of(key) is not None


def document_tokens(doc: ExpertDocument) -> set[str]:
    """The lexemes `row(doc)["tsv"]` holds: the tokens `postgres_rows.tsvector_text` keeps
    (positions up to 16383, lexemes up to 2000 bytes), and the filter tokens."""
    groups = (
        doc.name_tokens,
        doc.field_tokens,
        doc.discipline_tokens,
        doc.institution_tokens,
        doc.bio_tokens,
    )
    tokens = set().union(*groups)
    if sum(map(len, groups)) > 16383 or max(map(len, tokens), default=0) > 500:
        tokens = set()
        position = 0
        for token in (t for group in groups for t in group):
            if len(token) > 500 and len(token.encode()) > 2000:
                continue  # too long to index: takes no position
            position += 1
            if position > 16383:
                break
            tokens.add(token)
    tokens.update([f"D:{p}" for p in doc.discipline_prefixes])
    tokens.update([f"R:{p}" for p in doc.region_prefixes])
    tokens.update([f"O:{c}" for c in doc.org_codes])
    if doc.title_level:
        tokens.add(f"T:{doc.title_level}")
    if doc.gender:
        tokens.add(f"G:{doc.gender}")
    if doc.birth_date:
        tokens.add(f"Y:{doc.birth_date.year}")
    return tokens


class _RowPart:
    """Renders the rows of one part of the rebuild's stream and numbers its documents for the
    bitmaps, from the ordinal of its first document; its result is its bitmap postings."""

    def __init__(self, common: frozenset[str] | None, first: int) -> None:
        self.bitmaps = BitmapBuilder(first, common)

    def render(self, doc: ExpertDocument) -> tuple[str, str]:
        return postgres_rows.copy_line(doc, self.bitmaps.add(doc)), postgres_rows.body_line(doc)

    def result(self) -> BitmapBuilder:
        return self.bitmaps


_MASKS = tuple(128 >> i for i in range(8))
SAMPLE_DOCS = 20_000  # documents sampled to find the common words (all of a smaller corpus)
_IN_SAMPLE = (
    " AND p.id = ANY(ARRAY(SELECT id FROM person TABLESAMPLE BERNOULLI (:percent) REPEATABLE (0)))"
)
_SAMPLE = text(SOURCE_SQL.format(where=SEARCHABLE + _IN_SAMPLE))


def common_words(sessions: sessionmaker[Session], share: float) -> frozenset[str] | None:
    """The words in at least half of `share` of a random sample of about SAMPLE_DOCS searchable
    experts: the words a rebuild notes postings of, besides facet values. None when there are
    no more than SAMPLE_DOCS experts: every token is noted.

    The sample is drawn from the whole corpus, not from the start of the stream, which is
    ordered by discipline (the first documents' words are one discipline's).
    """
    sample = SAMPLE_DOCS
    with sessions() as session:
        searchable = session.scalar(text(f"SELECT count(*) FROM person p WHERE {SEARCHABLE}"))  # noqa: S608
        if not searchable or searchable <= sample:
            return None
        percent = 100.0 * sample / searchable
        session.execute(_NO_JIT)  # estimated costly, the statement ran longer compiled
        today = date.today()
        seen: Counter[str] = Counter()
        docs = 0
        for row in session.execute(_SAMPLE, {"percent": percent}):
            doc = build_document(ExpertSource._make(row), 0, today)
            seen.update(t for t in document_tokens(doc) if t[:2] not in _FILTER_PREFIXES)
            docs += 1
    floor = share / 2 * docs
    return frozenset(t for t, n in seen.items() if n >= floor)


class BitmapBuilder:
    """Numbers the documents of a rebuild as they stream into COPY and notes which documents
    carry each token; then writes the bitmaps of the common tokens and of every facet value.

    With `common` (words found common in a sample, `common_words`), only those words and the
    facet values are noted, so that the stream pays for a dozen tokens a document; without,
    every token is (a corpus no larger than the sample). A word that was not common in the
    sample gets no bitmap, and its queries take the row path (exact). Unnesting every tsvector
    in SQL instead cost far more than the whole stream.
    """

    def __init__(self, first: int = 0, common: frozenset[str] | None = None) -> None:
        self.first = first  # the ordinal of the first document
        self.count = 0
        self.postings: dict[str, array[int]] = {}
        self.common = common

    def add(self, doc: ExpertDocument) -> int:
        """The document's ordinal (its place in the stream)."""
        ordinal = self.first + self.count
        self.count += 1
        postings = self.postings
        if self.common is None:
            tokens = document_tokens(doc)
        else:
            tokens = _facet_tokens(doc)
            tokens.update(
                self.common.intersection(
                    chain(
                        doc.name_tokens,
                        doc.field_tokens,
                        doc.discipline_tokens,
                        doc.institution_tokens,
                        doc.bio_tokens,
                    )
                )
            )
        for token in tokens:
            found = postings.get(token)
            if found is None:
                found = postings[token] = array("i")
            found.append(ordinal)
        return ordinal

    def complete(self, token: str) -> bool:
        """Whether every document of this stream that carries the token was noted."""
        return self.common is None or token in self.common or _always_noted(token)

    @classmethod
    def merge(cls, parts: list[BitmapBuilder]) -> BitmapBuilder:
        """One builder for consecutive streams (each starting where the previous one ended),
        made from the first one: the others' postings are moved into it and cleared, so no
        token's postings are held twice. A token gets postings only if every stream noted all
        of its documents: a token one stream found common and another did not gets no bitmap
        (its queries take the row path, which is exact)."""
        merged = parts[0]
        if len(parts) == 1:
            return merged
        end = merged.first + merged.count
        for part in parts[1:]:
            if part.first != end:
                raise ValueError("bitmap streams are not consecutive")
            end += part.count
        complete = {
            token
            for token in set().union(*(part.postings for part in parts))
            if all(part.complete(token) for part in parts)
        }
        postings = merged.postings
        for token in [t for t in postings if t not in complete]:
            del postings[token]
        if any(part.common is not None for part in parts):
            # What the merged builder holds in full, for `complete()` after the merge.
            merged.common = frozenset(t for t in complete if not _always_noted(t))
        for part in parts[1:]:
            for token, found in part.postings.items():
                if token in complete:
                    ours = postings.get(token)
                    if ours is None:
                        postings[token] = found
                    else:
                        ours.extend(found)
            part.postings = {}
            merged.count += part.count
            part.count = 0
        return merged

    def keys(self, min_docs: int) -> list[tuple[str, str | None, str | None, int]]:
        """(key, facet, value, documents) of every key that gets a bitmap."""
        found = [("*", None, None, self.count)]
        for token, ordinals in self.postings.items():
            facet = _facet_of(token)
            if _always_noted(token) or len(ordinals) >= min_docs:
                found.append((token, *(facet or (None, None)), len(ordinals)))
        return found

    def rows(self, min_docs: int) -> Iterator[tuple[str, int, str]]:
        """(key, chunk, bits as hex input) for every chunk with at least one bit set."""
        size = CHUNK_BITS // 8
        chunks = -(-self.count // CHUNK_BITS)
        everyone = array("i", range(self.first, self.first + self.count))
        masks = _MASKS
        for key, *_ in self.keys(min_docs):
            buffer = bytearray(chunks * size)
            for ordinal in self.postings.get(key, everyone) if key != "*" else everyone:
                buffer[ordinal >> 3] |= masks[ordinal & 7]
            for chunk in range(chunks):
                part = buffer[chunk * size : (chunk + 1) * size]
                if any(part):
                    yield key, chunk, "x" + part.hex()

    def write(self, session: Session, min_docs: int) -> None:
        """COPY the keys and bitmaps into the `_rebuild` tables."""
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor:
            with cursor.copy(f"COPY {_KEY_BUILD} (key, facet, value, df) FROM STDIN") as copy:
                for key_row in self.keys(min_docs):
                    copy.write_row(key_row)
            with cursor.copy(f"COPY {_BITMAP_BUILD} (key, chunk, bits) FROM STDIN") as copy:
                for bitmap_row in self.rows(min_docs):
                    copy.write_row(bitmap_row)
