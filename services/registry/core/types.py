"""Annotated field types that normalise and validate as the API parses a request."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator, StringConstraints

from . import ids, normalize


def _folded(value: object) -> object:
    return normalize.fold_text(value) if isinstance(value, str) else value


_not_future = normalize.not_future


def _with(fn):  # type: ignore[no-untyped-def]
    """Run a normaliser on strings only, leaving other types for pydantic to refuse."""
    return lambda value: fn(value) if isinstance(value, str) else value


_SURROGATE = re.compile("[\ud800-\udfff]")


def printable(value: str) -> str:
    """Text without control characters (a NUL, which the database refuses), as imports check,
    nor half of a surrogate pair (JSON may escape one; UTF-8 cannot store it)."""
    if any(ord(c) < 32 and c not in "\t\n\r" for c in value):
        raise ValueError("contains control characters")
    if _SURROGATE.search(value):
        raise ValueError("contains half of a surrogate pair, which is not text")
    return value


Text = Annotated[
    str,
    BeforeValidator(_folded),
    StringConstraints(min_length=1, max_length=500),
    AfterValidator(printable),
]
SHORT_TEXT_MAX = 200  # characters of a name, an institution, a phrase (the imports take the same)
ShortText = Annotated[
    str,
    BeforeValidator(_folded),
    StringConstraints(min_length=1, max_length=SHORT_TEXT_MAX),
    AfterValidator(printable),
]
PersonName = Annotated[
    str,
    BeforeValidator(_with(normalize.person_name)),
    StringConstraints(min_length=1, max_length=200),
    AfterValidator(printable),
]
Uscc = Annotated[str, BeforeValidator(_with(ids.normalise_uscc))]
RegionCode = Annotated[str, BeforeValidator(_with(ids.normalise_region_code))]
DisciplineCode = Annotated[str, BeforeValidator(_with(normalize.discipline_code))]
Phone = Annotated[str, BeforeValidator(_with(normalize.phone))]
Email = Annotated[str, BeforeValidator(_with(normalize.email))]
Orcid = Annotated[str, BeforeValidator(_with(normalize.orcid))]


def _date(value: object) -> object:
    """Strings as people type them; a bare number is an Excel serial date (as spreadsheets
    export them), never pydantic's default reading of it as Unix seconds."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str | int | float):
        return normalize.parse_date(value)
    return value


PastDate = Annotated[date, BeforeValidator(_date), AfterValidator(_not_future)]
AnyDate = Annotated[date, BeforeValidator(_date)]
BoundedDate = Annotated[date, BeforeValidator(_date), AfterValidator(normalize.in_register_range)]
Nationality = Annotated[str, BeforeValidator(_with(ids.normalise_country))]
OrgCode = Annotated[
    str,
    BeforeValidator(lambda v: normalize.fold(v).upper() if isinstance(v, str) else v),
    StringConstraints(pattern=r"^[A-Z0-9][A-Z0-9_-]{1,31}$"),
]
