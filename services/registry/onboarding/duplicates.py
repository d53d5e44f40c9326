"""Possible duplicates among the people an import created: recorded, never merged silently.

A pair is a possible duplicate when both have the same birth date, at most one has a document
number (two different documents are two people), their genders do not contradict, and their
names are alike: equal, one character apart in names of three or more characters, or the same
in pinyin without tones (张伟 and 章伟). Candidates are drawn by birth date and a shared first
or last character of the name, so that the work stays proportional to the batch; names alike
only in sound with no character in common at either end are not found.

The database sends only the people who can be in such a pair (sharing a birth date and a first
or last character with someone, one of them created by this import, one without a document),
once each and ordered by birth date, rather than every candidate pair: the pairs are formed in
each birth date's block by the first and last character.
"""

from __future__ import annotations

import itertools
import uuid
from collections import defaultdict
from collections.abc import Iterator
from functools import cache
from typing import Any, NamedTuple

import psycopg
from pypinyin.constants import PINYIN_DICT
from rapidfuzz.distance import Levenshtein

from services.search.analysis import reading

# The people who may form a pair with someone this import created, ordered by birth date:
# those sharing a birth date and a first or last character of the name (grouped in "C"
# collation: equal characters, no locale rules) with at least one other person, one person
# just created (`fresh`) and one without a document. Everyone else is left in the database.
_PEOPLE = """
WITH people AS (
    SELECT p.birth_date, p.id, p.name, p.gender, p.id_number_bidx IS NULL AS no_doc,
           p.import_batch_id IS NOT DISTINCT FROM %(batch)s AS fresh
    FROM person p
    WHERE p.birth_date IS NOT NULL {dates}
), grouped AS (
    SELECT *,
           count(*) OVER by_first > 1 AND bool_or(fresh) OVER by_first
               AND bool_or(no_doc) OVER by_first AS pairs_by_first,
           count(*) OVER by_last > 1 AND bool_or(fresh) OVER by_last
               AND bool_or(no_doc) OVER by_last AS pairs_by_last
    FROM people
    WINDOW by_first AS (PARTITION BY birth_date, left(name, 1) COLLATE "C"),
           by_last AS (PARTITION BY birth_date, right(name, 1) COLLATE "C")
)
SELECT birth_date, id, name, gender, no_doc, fresh FROM grouped
WHERE pairs_by_first OR pairs_by_last
ORDER BY birth_date
"""
# A small batch reads only its own birth dates, not the whole registry, into the sorts above
# (a large one finds nearly every date among its own, so the filter would only cost a join).
_DATES = """AND p.birth_date IN (
    SELECT f.birth_date FROM person f WHERE f.import_batch_id = %(batch)s)"""
_SMALL_BATCH = 50_000


class _Person(NamedTuple):
    id: uuid.UUID
    name: str
    gender: str | None
    no_doc: bool
    fresh: bool


@cache
def _sound(name: str) -> str:
    return " ".join(reading(name))


@cache
def _syllables(name: str) -> int | None:
    """How many syllables the pinyin of `name` has when every character has a reading (one
    each), else None (runs of other characters make one item of any length)."""
    return len(name) if all(ord(ch) in PINYIN_DICT for ch in name) else None


def alike(a: str, b: str) -> str | None:
    """Why two names may be the same person's, or None."""
    if a == b:
        return "same name"
    if max(len(a), len(b)) >= 3 and Levenshtein.distance(a, b) <= 1:
        return "names one character apart"
    counts = _syllables(a), _syllables(b)
    # Names whose characters all have a reading sound alike only with as many syllables.
    if None not in counts and counts[0] != counts[1]:
        return None
    if _sound(a) == _sound(b):
        return "names sound alike"
    return None


def _blocks(cur: psycopg.Cursor[Any]) -> Iterator[list[_Person]]:
    """The people of each birth date in turn."""
    rows = ((born, _Person(*rest)) for born, *rest in cur)
    for _born, group in itertools.groupby(rows, key=lambda item: item[0]):
        yield [person for _, person in group]


def _pairs(block: list[_Person]) -> Iterator[tuple[_Person, _Person, str]]:
    """Alike pairs with a person just created, in one birth date's block: each pair once, the
    person just created first (the earlier in the block when both are)."""
    by_end: dict[tuple[int, str], list[int]] = defaultdict(list)
    for i, person in enumerate(block):
        by_end[0, person.name[:1]].append(i)
        by_end[1, person.name[-1:]].append(i)
    for i, a in enumerate(block):
        if not a.fresh:
            continue
        near = set(by_end[0, a.name[:1]]) | set(by_end[1, a.name[-1:]])
        for j in sorted(near):
            b = block[j]
            if j == i or (b.fresh and j < i):  # the pair of two new people is met from both
                continue
            if not (a.no_doc or b.no_doc):
                continue
            if a.gender is not None and b.gender is not None and a.gender != b.gender:
                continue
            why = alike(a.name, b.name)
            if why:
                yield a, b, why


def record(conn: psycopg.Connection[Any], *, source: str, batch_id: uuid.UUID) -> int:
    """Find and store possible duplicates of the people this import (`batch_id`) created;
    returns how many new pairs were stored."""
    found: dict[tuple[uuid.UUID, uuid.UUID], str] = {}
    with conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM person WHERE import_batch_id = %s", (batch_id,))
        created = (cur.fetchone() or (0,))[0]
    if not created:
        return 0
    query = _PEOPLE.format(dates=_DATES if created < _SMALL_BATCH else "")
    # A server-side cursor: the people arrive a block at a time, not all at once.
    with conn.cursor(name="import_duplicate_people") as cur:
        cur.itersize = 20_000
        cur.execute(query, {"batch": batch_id})  # type: ignore[arg-type]
        for block in _blocks(cur):
            for a, b, why in _pairs(block):
                key = (a.id, b.id) if a.id < b.id else (b.id, a.id)
                found.setdefault(key, f"same birth date, {why}: {a.name} / {b.name}")
    if not found:
        return 0
    with conn.cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE import_pairs (person_id uuid, other_id uuid, reason text) "
            "ON COMMIT DROP"
        )
        with cur.copy("COPY import_pairs (person_id, other_id, reason) FROM STDIN") as copy:
            for (a, b), why in found.items():
                copy.write_row((a, b, why))
        cur.execute(
            """
            INSERT INTO person_duplicate (person_id, other_id, reason, source, status)
            SELECT person_id, other_id, reason, %(source)s, 'open' FROM import_pairs
            ON CONFLICT (person_id, other_id) DO NOTHING
            """,
            {"source": source},
        )
        return cur.rowcount
