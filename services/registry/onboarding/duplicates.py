"""Possible duplicates among the people an import created: recorded, never merged silently.

A pair is a possible duplicate when both have the same birth date, at most one has a document
number (two different documents are two people), their genders do not contradict, and their
names are alike: equal, one character apart in names of three or more characters, or the same
in pinyin without tones (张伟 and 章伟). Candidates are drawn by birth date and a shared first
or last character of the name, so that the work stays proportional to the batch; names alike
only in sound with no character in common at either end are not found.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import psycopg
from pypinyin import lazy_pinyin
from rapidfuzz.distance import Levenshtein

_PAIRS = """
WITH fresh AS (
    SELECT p.id, p.name, p.gender, p.birth_date, p.id_number_bidx IS NULL AS no_doc
    FROM import_created c JOIN person p ON p.id = c.person_id
    WHERE p.birth_date IS NOT NULL
), others AS (
    SELECT p.id, p.name, p.gender, p.birth_date, p.id_number_bidx IS NULL AS no_doc
    FROM person p WHERE p.birth_date IS NOT NULL
), pairs AS (
    SELECT f.id AS a, f.name AS a_name, o.id AS b, o.name AS b_name
    FROM fresh f JOIN others o
      ON o.birth_date = f.birth_date AND left(o.name, 1) = left(f.name, 1)
    WHERE (f.no_doc OR o.no_doc) AND o.id <> f.id
      AND (f.gender IS NULL OR o.gender IS NULL OR f.gender = o.gender)
    UNION
    SELECT f.id, f.name, o.id, o.name
    FROM fresh f JOIN others o
      ON o.birth_date = f.birth_date AND right(o.name, 1) = right(f.name, 1)
    WHERE (f.no_doc OR o.no_doc) AND o.id <> f.id
      AND (f.gender IS NULL OR o.gender IS NULL OR f.gender = o.gender)
)
SELECT a, a_name, b, b_name FROM pairs
"""


@cache
def _sound(name: str) -> str:
    return " ".join(lazy_pinyin(name))


def alike(a: str, b: str) -> str | None:
    """Why two names may be the same person's, or None."""
    if a == b:
        return "same name"
    if max(len(a), len(b)) >= 3 and Levenshtein.distance(a, b) <= 1:
        return "names one character apart"
    if _sound(a) == _sound(b):
        return "names sound alike"
    return None


def record(conn: psycopg.Connection[Any], *, source: str) -> int:
    """Find and store possible duplicates of the people this import created; returns how many
    new pairs were stored."""
    found: dict[tuple[Any, Any], str] = {}
    with conn.cursor() as cur:
        cur.execute(_PAIRS)
        for a, a_name, b, b_name in cur:
            why = alike(a_name, b_name)
            if why:
                key = (a, b) if a < b else (b, a)
                found[key] = f"same birth date, {why}: {a_name} / {b_name}"
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
