"""A document's facet values as two integers, which the row path counts instead of the values.

`facet_cell` packs title level, gender and province; `disciplines_mask` has a bit for each
first-level discipline. The orders below fix the codes stored in `expert_doc` (migration 0020
fills them in SQL the same way): changing one, or the discipline table, needs a reindex.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache

from services.registry.core.disciplines import first_level

TITLES = (None, "senior", "associate_senior", "intermediate", "junior", "none")
GENDERS = (None, "male", "female")
_PROVINCES = 100  # two-digit GB/T 2260 province codes (11 to 83)


@cache
def _discipline_bits() -> tuple[str, ...]:
    codes = tuple(sorted(first_level()))
    if len(codes) > 63:  # a bigint keeps its sign bit clear
        raise RuntimeError(f"{len(codes)} first-level disciplines do not fit a bigint mask")
    return codes


@cache
def _bit_of() -> dict[str, int]:
    return {code: 1 << i for i, code in enumerate(_discipline_bits())}


def facet_cell(title_level: str | None, gender: str | None, province: str | None) -> int:
    """Title level, gender and province (`110000`) as one number; 0 for all three unknown."""
    place = int(province[:2]) if province else 0
    return (TITLES.index(title_level) * len(GENDERS) + GENDERS.index(gender)) * _PROVINCES + place


@lru_cache(maxsize=1 << 14)
def numbers(
    title_level: str | None, gender: str | None, province: str | None, disciplines: tuple[str, ...]
) -> tuple[int, int]:
    """A document's `facet_cell` and `disciplines_mask`, as every writer of its row stores
    them (the outbox drain and the rebuild's COPY)."""
    return facet_cell(title_level, gender, province), disciplines_mask(disciplines)


@cache
def cell_values(cell: int) -> tuple[tuple[str, str], ...]:
    """The (facet, value) pairs a `facet_cell` counts for."""
    profile, place = divmod(cell, _PROVINCES)
    title_index, gender_index = divmod(profile, len(GENDERS))
    title, gender = TITLES[title_index], GENDERS[gender_index]
    values: list[tuple[str, str]] = []
    if title:
        values.append(("title_level", title))
    if gender:
        values.append(("gender", gender))
    if place:
        values.append(("region_codes", f"{place:02d}0000"))
    return tuple(values)


def disciplines_mask(codes: Iterable[str]) -> int:
    """First-level discipline codes as bits (a code outside the table has none: see
    `documents._first_levels`)."""
    bit_of = _bit_of()
    mask = 0
    for code in codes:
        mask |= bit_of.get(code, 0)
    return mask


@lru_cache(maxsize=1 << 16)
def mask_values(mask: int) -> tuple[tuple[str, str], ...]:
    """The (facet, value) pairs a `disciplines_mask` counts for: its first-level disciplines."""
    codes = _discipline_bits()
    values: list[tuple[str, str]] = []
    while mask:
        low = mask & -mask
        values.append(("discipline_codes", codes[low.bit_length() - 1]))
        mask ^= low
    return tuple(values)
