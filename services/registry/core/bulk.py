"""Column-at-a-time variants of `normalize` and `ids` for bulk imports, on polars Series.

Not a second set of rules: every value goes either through a fast path that accepts only
values already in their stored form (for which the scalar function is the identity, which the
tests check value by value) or through the scalar function itself, called once per distinct
value. Errors come back as a Series of reasons (null where the value is good).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import polars as pl

from . import ids
from .errors import ProblemError
from .normalize import EARLIEST_DATE, LATEST_DATE

# Distinct values remembered across chunks (dates, titles, institutions repeat a lot).
CACHE_LIMIT = 200_000

Cache = dict[str, tuple[Any, str | None]]


def _reason(exc: Exception) -> str:
    if isinstance(exc, ProblemError) and exc.errors:
        return exc.errors[0].reason
    return str(exc)


def lookup_table(
    keys: list[str],
    fn: Callable[[str], Any],
    dtype: pl.DataType | type[pl.DataType],
    cache: Cache | None = None,
    *,
    names: tuple[str, str, str] = ("raw", "value", "reason"),
) -> pl.DataFrame:
    """`fn` applied to each of the distinct `keys` (or its answer taken from `cache`): a frame
    of key, value and reason (null where the value is good), to join values to."""
    values: list[Any] = []
    reasons: list[str | None] = []
    for value in keys:
        hit = cache.get(value) if cache is not None else None
        if hit is None:
            try:
                hit = (fn(value), None)
            except (ValueError, ProblemError) as exc:
                hit = (None, _reason(exc))
            if cache is not None and len(cache) < CACHE_LIMIT:
                cache[value] = hit
        values.append(hit[0])
        reasons.append(hit[1])
    return pl.DataFrame(
        {
            names[0]: pl.Series(keys, dtype=pl.String),
            names[1]: pl.Series(values, dtype=dtype),
            names[2]: pl.Series(reasons, dtype=pl.String),
        }
    )


# Already-folded text: no spaces to collapse, no full-width letters or digits, nothing NFC
# would change (CJK unified ideographs, ASCII, middle dots, Chinese punctuation).
TEXT_FAST = (
    r"^[\x{21}-\x{7E}\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}·・\x{3001}-\x{3011}\x{FF08}\x{FF09}]+$"
)
PHONE_FAST = r"^1[3-9][0-9]{9}$"
EMAIL_FAST = r"^[A-Za-z0-9._%+\-]{1,64}@[a-z0-9\-]+(\.[a-z0-9\-]+)+$"
MEMBER_NO_FAST = r"^[A-Za-z0-9][A-Za-z0-9_./\-]{0,63}$"  # normalize.member_no's rule
RESIDENT_FAST = r"^[0-9]{17}[0-9X]$"

# A date already written YYYY-MM-DD in ASCII digits (years 1000 to 2999): `parse_date` reads
# exactly that date when it is one of the calendar (polars gives null when it is not).
DATE_FAST = r"^[12][0-9]{3}-[0-9]{2}-[0-9]{2}$"


def iso_dates(raw: pl.Expr) -> pl.Expr:
    """The dates `parse_date` reads from values matching `DATE_FAST`; null for other values,
    which must go through `parse_date` for an answer or a reason."""
    return pl.when(raw.str.contains(DATE_FAST)).then(raw.str.to_date("%Y-%m-%d", strict=False))


def register_dates(raw: pl.Expr) -> pl.Expr:
    """`iso_dates` that `in_register_range` also accepts; null otherwise."""
    dates = iso_dates(raw)
    return pl.when(dates.is_between(EARLIEST_DATE, LATEST_DATE)).then(dates)


def past_dates(raw: pl.Expr) -> pl.Expr:
    """`iso_dates` that `not_future` also accepts (1900 to today); null otherwise."""
    dates = iso_dates(raw)
    return pl.when((dates.dt.year() >= 1900) & (dates <= date.today())).then(dates)


_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def resident_birth_date(number: pl.Expr) -> pl.Expr:
    """The birth date an 18-character resident ID number encodes (null if none)."""
    return number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False)


def resident_gender(number: pl.Expr) -> pl.Expr:
    """The gender an 18-character resident ID number's 17th digit encodes."""
    return (
        pl.when(number.str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1)
        .then(pl.lit("male"))
        .otherwise(pl.lit("female"))
    )


def resident_id_checked(raw: pl.Expr) -> pl.Expr:
    """Canonical resident ID numbers that pass every check of `ids.parse_resident_id` but the
    region one: format, MOD 11-2 check digit, encoded birth date (1900 to today). True or
    false, never null; the region (`raw.str.slice(0, 6)`) still has to be known."""
    digits = [raw.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(_WEIGHTS)]
    check = (pl.sum_horizontal(*digits) % 11).replace_strict(
        list(range(11)), list(_CHECK), default=None, return_dtype=pl.String
    )
    birth = resident_birth_date(raw)
    return (
        raw.str.contains(RESIDENT_FAST)
        & (raw.str.slice(17, 1) == check)
        & (birth.dt.year() >= 1900)
        & (birth <= date.today())
    ).fill_null(False)


def known_region(code: str) -> bool:
    """Whether a six-digit code is in the GB/T 2260 table `ids.region_name` reads."""
    return ids.region_name(code) is not None
