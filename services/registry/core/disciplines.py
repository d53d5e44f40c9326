"""GB/T 13745 disciplines: first-level names and codes, for typed labels and for search."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

_DATA = Path(__file__).parent / "data" / "gbt13745-level1.csv"


@cache
def first_level() -> dict[str, tuple[str, str]]:
    """code -> (Chinese name, English name) for the 62 first-level disciplines."""
    with _DATA.open(encoding="utf-8") as handle:
        return {row["code"]: (row["name_zh"], row["name_en"]) for row in csv.DictReader(handle)}


@cache
def code_by_name() -> dict[str, str]:
    """Chinese or English first-level name (lower case) -> code."""
    table: dict[str, str] = {}
    for code, (zh, en) in first_level().items():
        table[zh] = code
        table[en.lower()] = code
    return table


def name_of(code: str) -> str | None:
    """The Chinese name of a code's first-level discipline."""
    entry = first_level().get(code[:3])
    return entry[0] if entry else None


def labels_of(code: str) -> tuple[str, ...]:
    """The Chinese and English names of a code's first-level discipline (empty when unknown)."""
    return first_level().get(code[:3], ())


def prefixes(code: str) -> list[str]:
    """`1301510` -> [`130`, `13015`, `1301510`]: what a prefix filter may name."""
    return [code[:n] for n in (3, 5, 7) if len(code) >= n]
