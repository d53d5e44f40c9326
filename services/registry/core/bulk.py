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

# Distinct values remembered across chunks (dates, titles, institutions repeat a lot).
CACHE_LIMIT = 200_000

Cache = dict[str, tuple[Any, str | None]]


def _reason(exc: Exception) -> str:
    if isinstance(exc, ProblemError) and exc.errors:
        return exc.errors[0].reason
    return str(exc)


def by_value(
    raw: pl.Series,
    fn: Callable[[str], Any],
    dtype: pl.DataType | type[pl.DataType],
    cache: Cache | None = None,
) -> tuple[pl.Series, pl.Series]:
    """`fn` applied once per distinct non-null value; (values, reasons) in the order of `raw`."""
    keys: list[str] = []
    values: list[Any] = []
    reasons: list[str | None] = []
    for value in raw.drop_nulls().unique().to_list():
        hit = cache.get(value) if cache is not None else None
        if hit is None:
            try:
                hit = (fn(value), None)
            except (ValueError, ProblemError) as exc:
                hit = (None, _reason(exc))
            if cache is not None and len(cache) < CACHE_LIMIT:
                cache[value] = hit
        keys.append(value)
        values.append(hit[0])
        reasons.append(hit[1])
    table = pl.DataFrame(
        {
            "raw": pl.Series(keys, dtype=pl.String),
            "value": pl.Series(values, dtype=dtype),
            "reason": pl.Series(reasons, dtype=pl.String),
        }
    )
    joined = raw.rename("raw").to_frame().join(table, on="raw", how="left", maintain_order="left")
    return joined["value"], joined["reason"]


def fast_or_by_value(
    raw: pl.Series,
    fast: str,
    fn: Callable[[str], Any],
    cache: Cache | None = None,
) -> tuple[pl.Series, pl.Series]:
    """String values matching the `fast` pattern are kept as they are (they are already what
    `fn` returns); the others go through `fn`."""
    ok = raw.str.contains(fast).fill_null(False)
    slow = pl.select(pl.when(ok).then(None).otherwise(raw)).to_series()
    values, reasons = by_value(slow, fn, pl.String, cache)
    return pl.select(pl.when(ok).then(raw).otherwise(values)).to_series(), reasons


# Already-folded text: no spaces to collapse, no full-width letters or digits, nothing NFC
# would change (CJK unified ideographs, ASCII, middle dots, Chinese punctuation).
TEXT_FAST = (
    r"^[\x{21}-\x{7E}\x{4E00}-\x{9FFF}\x{3400}-\x{4DBF}·・\x{3001}-\x{3011}\x{FF08}\x{FF09}]+$"
)
PHONE_FAST = r"^1[3-9][0-9]{9}$"
EMAIL_FAST = r"^[A-Za-z0-9._%+\-]{1,64}@[a-z0-9\-]+(\.[a-z0-9\-]+)+$"
MEMBER_NO_FAST = r"^[!-~]{1,64}$"
RESIDENT_FAST = r"^[0-9]{17}[0-9X]$"

_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
_CHECK = "10X98765432"


def resident_ids(raw: pl.Series, regions: Cache | None = None) -> pl.DataFrame:
    """Canonical resident ID numbers checked in bulk, as `ids.parse_resident_id` checks them:
    format, MOD 11-2 check digit, encoded birth date (1900 to today), GB/T 2260 region.

    Returns columns `fast` (bool: valid and already canonical), `birth_date`, `gender`; the
    values where `fast` is false must go through `parse_resident_id`, for an answer or a reason.
    """
    shape = raw.str.contains(RESIDENT_FAST).fill_null(False)
    digits = [raw.str.slice(i, 1).cast(pl.Int64, strict=False) * w for i, w in enumerate(_WEIGHTS)]
    frame = pl.DataFrame({"raw": raw, "shape": shape})
    checks = pl.select(
        (pl.sum_horizontal(*digits) % 11).replace_strict(
            list(range(11)), list(_CHECK), default=None, return_dtype=pl.String
        )
    ).to_series()
    frame = frame.with_columns(
        check_ok=(raw.str.slice(17, 1) == checks).fill_null(False),
        birth_date=raw.str.slice(6, 8).str.to_date("%Y%m%d", strict=False),
        gender=pl.when(raw.str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1)
        .then(pl.lit("male"))
        .otherwise(pl.lit("female")),
    )
    region_ok, _ = by_value(
        pl.select(pl.when(shape).then(raw.str.slice(0, 6))).to_series(),
        lambda code: ids.region_name(code) is not None,
        pl.Boolean,
        regions,
    )
    today = date.today()
    fast = (
        frame["shape"]
        & frame["check_ok"]
        & region_ok.fill_null(False)
        & frame["birth_date"].is_not_null()
        & (frame["birth_date"].dt.year() >= 1900).fill_null(False)
        & (frame["birth_date"] <= today).fill_null(False)
    )
    return pl.DataFrame(
        {"fast": fast, "birth_date": frame["birth_date"], "gender": frame["gender"]}
    )
