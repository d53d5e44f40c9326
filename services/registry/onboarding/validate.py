"""Member rows to normalised columns, a chunk at a time: the API's rules, applied in bulk.

Every value goes through `core.normalize` / `core.ids` / `people.service.resolve_identity`,
either directly (once per distinct value) or through a `core.bulk` fast path that only accepts
values those functions would return unchanged. A row with any bad value is rejected with all
its reasons, each prefixed by the header the file used for that column.

A chunk is one polars frame throughout: the distinct values that need a scalar function are
gathered in one pass, answered in Python (with caches spanning the file's chunks), joined
back, and every check and reason is one expression, so the work per chunk is a few frame
operations whatever the number of columns.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from ..core import bulk, ids, normalize
from ..core.types import SHORT_TEXT_MAX, printable
from ..people import service as people_service
from ..people.schemas import LIST_MAX
from .columns import HeaderMap
from .readers import FORMULA_ERRORS, Chunk, blank_pattern, formula_error


@dataclass
class Caches:
    """Distinct values already normalised, kept across the chunks of one file."""

    by_field: dict[str, bulk.Cache] = field(default_factory=dict)

    def __getitem__(self, name: str) -> bulk.Cache:
        return self.by_field.setdefault(name, {})


class RawRows(Mapping[int, list[str]]):
    """A chunk's rows as read, by row number (looked up in the chunk's frame when asked)."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self._numbers = frame["row_no"]
        self._cells = frame["cells"]

    def _index(self, number: int) -> int | None:
        if not isinstance(number, int) or not self._numbers.len():
            return None
        index = int(self._numbers.search_sorted(number))
        if index < self._numbers.len() and self._numbers[index] == number:
            return index
        return None

    def __getitem__(self, number: int) -> list[str]:
        index = self._index(number)
        if index is None:
            raise KeyError(number)
        cells = self._cells[index]
        return cells.to_list() if cells is not None else []

    def __contains__(self, number: object) -> bool:
        return isinstance(number, int) and self._index(number) is not None

    def __iter__(self) -> Iterator[int]:
        return iter(self._numbers.to_list())

    def __len__(self) -> int:
        return self._numbers.len()


@dataclass
class Checked:
    """One chunk after validation: good rows as columns, rejected rows with their reasons."""

    good: pl.DataFrame
    rejected: list[tuple[int, list[str], str]]  # row number, cells as read, reason
    raw_by_row: Mapping[int, list[str]]


def _short_text(value: str) -> str:
    text = normalize.clean_text(value)
    if text is None:
        raise ValueError("empty")
    if len(text) > SHORT_TEXT_MAX:
        raise ValueError(f"at most {SHORT_TEXT_MAX} characters")
    return printable(text)


def _person_name(value: str) -> str:
    return _short_text(normalize.person_name(value))


def _past_date(value: str) -> date:
    return normalize.not_future(normalize.parse_date(value))


def _register_date(value: str) -> date:
    return normalize.in_register_range(normalize.parse_date(value))


def _joined(values: list[str]) -> str:
    # Lists travel to PostgreSQL as one text split on the unit separator, which folded text
    # never holds (folding turns it into a space).
    return "\x1f".join(values)


def _title(value: str) -> dict[str, str | None]:
    return dict(zip(("level", "position"), normalize.title(value), strict=True))


def _at_most(values: list[str]) -> list[str]:
    if len(values) > LIST_MAX:
        raise ValueError(f"at most {LIST_MAX} items")
    return values


def _disciplines(value: str) -> str:
    return _joined(_at_most(normalize.disciplines(value)))


def _research_fields(value: str) -> str:
    # Each phrase as the API takes one (ShortText).
    return _joined(_at_most([_short_text(part) for part in normalize.split_list(value)]))


def _resolve(key: str) -> dict[str, str | None]:
    document_type, _, number = key.partition("\x1f")
    identity = people_service.resolve_identity(document_type, number, birth_date=None, gender=None)
    return {"number": identity.number, "origin": identity.region_of_origin}


def _origin(key: str) -> str | None:
    return people_service.region_of_origin(*key.split("\x1f", 1))


_RESOLVED = pl.Struct({"number": pl.String, "origin": pl.String})


@dataclass
class _Lookup:
    """Values of one key that need a scalar function: its distinct values are answered once
    and joined back as columns `v:<name>` (value) and `r:<name>` (reason)."""

    name: str
    key: pl.Expr  # null where no lookup is needed
    fn: Callable[[str], Any]
    dtype: Any
    cache: bulk.Cache | None = None


def _shape_reason(width: int, pads: bool) -> pl.Expr:
    """Why a row cannot be read against the header: NUL characters, or more or fewer fields
    than the header (cells past the header that are all blank are dropped; XLSX rows are
    padded, because a sheet does not store trailing empty cells)."""
    cells = pl.col("cells")
    size = cells.list.len()
    blank = blank_pattern("")  # exactly what `str.strip` removes
    extra_blank = cells.list.slice(width).list.eval(pl.element().str.contains(blank)).list.all()
    wrong = pl.format("row has {} fields, the header has {}", size, pl.lit(width))
    short = (size < width) if not pads else pl.lit(False)
    return (
        pl.when(cells.list.join("").str.contains("\x00", literal=True))
        .then(pl.lit("contains NUL characters (binary data, not text)"))
        .when(((size > width) & ~extra_blank) | short)
        .then(wrong)
    )


def shape_reasons(rows: list[list[str]], width: int, *, pads: bool) -> list[str | None]:
    """`_shape_reason` for rows read one at a time (organisation and group-member imports):
    the same rule and messages as the member import, one reason or None per row."""
    cells = pl.DataFrame({"cells": rows}, schema={"cells": pl.List(pl.String)})
    return cells.select(_shape_reason(width, pads)).to_series().to_list()


def _when(condition: pl.Expr, text: str) -> pl.Expr:
    return pl.when(condition).then(pl.lit(text))


class MemberValidator:
    """Validates member rows; one per file, so the distinct-value caches span its chunks."""

    def __init__(self, header: HeaderMap, *, pads: bool) -> None:
        self.header = header
        self.pads = pads
        self.caches = Caches()

    def label(self, name: str) -> str:
        return self.header.labels.get(name, name)

    def check(self, chunk: Chunk) -> Checked:
        cells = chunk.frame
        shaped = cells.with_columns(shape=_shape_reason(self.header.width, self.pads))
        rejected = [
            (number, row or [], reason)
            for number, row, reason in shaped.filter(pl.col("shape").is_not_null())
            .select("row_no", "cells", "shape")
            .iter_rows()
        ]
        # The mapped columns as trimmed strings, empty cells as null.
        frame = shaped.filter(pl.col("shape").is_null()).select(
            "row_no",
            *(
                pl.col("cells")
                .list.get(index, null_on_oob=True)
                .str.strip_chars()
                .replace("", None)
                .alias(name)
                for name, index in self.header.positions.items()
            ),
        )
        out, reasons = self._normalise(frame)
        bad = (
            out.select("row_no", reason=reasons)
            .filter(pl.col("reason").is_not_null())
            .join(cells, on="row_no", how="left", maintain_order="left")
        )
        for number, reason, row in bad.iter_rows():
            rejected.append((number, row or [], reason))
        rejected.sort(key=lambda item: item[0])
        good = out.filter(reasons.is_null())
        return Checked(good, rejected, RawRows(cells))

    def _lookups(self, frame: pl.DataFrame, lookups: list[_Lookup]) -> pl.DataFrame:
        """`frame` with every lookup's key, value and reason as columns `k:`, `v:` and `r:`:
        one pass for the distinct keys, the scalar functions on those, then each answer
        gathered to its rows by the key's position in the (small) table of answers."""
        if not lookups:
            return frame
        frame = frame.with_columns(lookup.key.alias(f"k:{lookup.name}") for lookup in lookups)
        distinct = frame.select(
            pl.col(f"k:{lookup.name}").drop_nulls().unique().implode() for lookup in lookups
        ).row(0)
        columns: list[pl.Series] = []
        for lookup, keys in zip(lookups, distinct, strict=True):
            table = bulk.lookup_table(keys, lookup.fn, lookup.dtype, lookup.cache)
            index = frame[f"k:{lookup.name}"].replace_strict(
                table["raw"],
                pl.int_range(table.height, eager=True, dtype=pl.UInt32),
                default=None,
                return_dtype=pl.UInt32,
            )
            columns.append(table["value"].gather(index).alias(f"v:{lookup.name}"))
            columns.append(table["reason"].gather(index).alias(f"r:{lookup.name}"))
        return frame.hstack(columns)

    def _normalise(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
        present = set(frame.columns)
        caches = self.caches
        null_text = pl.lit(None, dtype=pl.String)

        def raw(name: str) -> pl.Expr:
            return pl.col(name) if name in present else null_text

        # Fast paths: values already in their stored form, kept as they are (`f:` columns
        # say which), and dates already written YYYY-MM-DD (`d:` columns).
        fast = {
            name: pattern
            for name, pattern in (
                ("name", bulk.TEXT_FAST),
                ("phone", bulk.PHONE_FAST),
                ("email", bulk.EMAIL_FAST),
                ("member_no", bulk.MEMBER_NO_FAST),
            )
            if name in present
        }
        fast_dates = {
            name: parse(pl.col(name))
            for name, parse in (
                ("birth_date", bulk.past_dates),
                ("joined_on", bulk.register_dates),
                ("valid_until", bulk.register_dates),
            )
            if name in present
        }
        # (Lazy frames here and below, so that polars computes a subexpression used twice,
        # such as a date parsed and then range-checked, once.)
        frame = (
            frame.lazy()
            .with_columns(
                *(
                    pl.col(name).str.contains(pattern).alias(f"f:{name}")
                    for name, pattern in fast.items()
                ),
                *(expr.alias(f"d:{name}") for name, expr in fast_dates.items()),
            )
            .collect()
        )
        # (column, scalar function, dtype, cached across chunks)
        specs: list[tuple[str, Callable[[str], Any], Any, bool]] = [
            ("name", _person_name, pl.String, False),
            ("name_en", _short_text, pl.String, True),
            ("gender", normalize.gender, pl.String, True),
            ("birth_date", _past_date, pl.Date, True),
            ("phone", normalize.phone, pl.String, False),
            ("email", normalize.email, pl.String, False),
            ("orcid", normalize.orcid, pl.String, True),
            ("region_code", ids.normalise_region_code, pl.String, True),
            ("institution", _short_text, pl.String, True),
            ("title", _title, pl.Struct({"level": pl.String, "position": pl.String}), True),
            ("discipline", _disciplines, pl.String, True),
            ("research_fields", _research_fields, pl.String, True),
            ("expert_opt_in", normalize.yes_no, pl.Boolean, True),
            ("grade", normalize.grade, pl.String, True),
            ("member_no", normalize.member_no, pl.String, False),
            ("joined_on", _register_date, pl.Date, True),
            ("valid_until", _register_date, pl.Date, True),
            ("id_type", normalize.id_type, pl.String, True),
        ]
        lookups = []
        for name, fn, dtype, cached in specs:
            if name not in present:
                continue
            key = pl.col(name)
            if name in fast:
                key = pl.when(~pl.col(f"f:{name}")).then(key)
            elif name in fast_dates:
                key = pl.when(pl.col(f"d:{name}").is_null()).then(key)
            lookups.append(_Lookup(name, key, fn, dtype, caches[name] if cached else None))
        frame = self._lookups(frame, lookups)

        def value(name: str, dtype: Any = pl.String) -> pl.Expr:
            if name not in present:
                return pl.lit(None, dtype=dtype)
            if name in fast:
                return pl.when(f"f:{name}").then(pl.col(name)).otherwise(pl.col(f"v:{name}"))
            if name in fast_dates:
                return pl.coalesce(f"d:{name}", f"v:{name}")
            return pl.col(f"v:{name}")

        # Document numbers, checked as `resolve_identity` checks them: canonical resident ID
        # numbers in bulk (all but the region, which is looked up once per code), the rest
        # one distinct value at a time.
        number = raw("id_number")
        frame = frame.with_columns(
            kind=pl.when(number.is_not_null()).then(value("id_type").fill_null("resident_id"))
        )
        resident = (pl.col("kind") == "resident_id").fill_null(False)
        frame = (
            frame.lazy().with_columns(checked=resident & bulk.resident_id_checked(number)).collect()
        )
        frame = self._lookups(
            frame,
            [
                _Lookup(
                    "region",
                    pl.when("checked").then(number.str.slice(0, 6)),
                    bulk.known_region,
                    pl.Boolean,
                    caches["region"],
                ),
                _Lookup(
                    "origin",
                    pl.when("checked").then("resident_id\x1f" + number.str.slice(0, 2)),
                    _origin,
                    pl.String,
                    caches["origin"],
                ),
            ],
        )
        frame = frame.with_columns(fast_id=pl.col("checked") & pl.col("v:region").fill_null(False))
        # The rest, including numbers right in every way but an unknown region (the parser
        # says why), one distinct value at a time.
        frame = self._lookups(
            frame,
            [
                _Lookup(
                    "id",
                    pl.when(number.is_not_null() & ~pl.col("fast_id")).then(
                        pl.col("kind") + "\x1f" + number
                    ),
                    _resolve,
                    _RESOLVED,
                )
            ],
        )
        # Each value once, as `x:` columns, for the checks and the output below.
        document = pl.when("fast_id").then(number).otherwise(pl.col("v:id").struct.field("number"))
        frame = frame.with_columns(
            *(
                value(name, dtype).alias(f"x:{name}")
                for name, dtype in (
                    ("name", pl.String),
                    ("gender", pl.String),
                    ("birth_date", pl.Date),
                    ("phone", pl.String),
                    ("email", pl.String),
                    ("member_no", pl.String),
                    ("joined_on", pl.Date),
                    ("valid_until", pl.Date),
                    ("id_type", pl.String),
                )
            ),
            document.alias("x:document"),
        )
        is_resident = resident & pl.col("x:document").is_not_null()
        frame = frame.with_columns(
            pl.when(is_resident)
            .then(bulk.resident_birth_date(pl.col("x:document")))
            .alias("x:implied_birth"),
            pl.when(is_resident)
            .then(bulk.resident_gender(pl.col("x:document")))
            .alias("x:implied_gender"),
        )

        id_label = self.label("id_number")
        out: dict[str, pl.Expr] = {"row_no": pl.col("row_no")}
        problems: list[pl.Expr] = []

        def note(name: str, reasons: pl.Expr) -> None:
            # A formula error is the reason, whatever the column's rule would say of it.
            if name in present:
                error = pl.col(name) + pl.lit(formula_error(""))
                reasons = pl.when(pl.col(name).is_in(FORMULA_ERRORS)).then(error).otherwise(reasons)
            problems.append(self.label(name) + ": " + reasons)

        def reason(name: str) -> pl.Expr:
            return pl.col(f"r:{name}") if name in present else null_text

        # Name: required, folded prose.
        out["name"] = pl.col("x:name")
        long = _when(
            pl.col("x:name").str.len_chars() > SHORT_TEXT_MAX,
            f"at most {SHORT_TEXT_MAX} characters",
        )
        missing = _when(pl.col("name").is_null(), "required")
        note("name", pl.coalesce(reason("name"), long, missing))
        out["name_en"] = value("name_en")
        note("name_en", reason("name_en"))
        gender = pl.col("x:gender")
        note("gender", reason("gender"))
        birth = pl.col("x:birth_date")
        note("birth_date", reason("birth_date"))
        for name in ("phone", "email", "orcid", "region_code", "institution"):
            out[name] = pl.col(f"x:{name}") if name in ("phone", "email") else value(name)
            note(name, reason(name))
        title = pl.col("v:title") if "title" in present else None
        out["title_level"] = title.struct.field("level") if title is not None else null_text
        out["position"] = title.struct.field("position") if title is not None else null_text
        note("title", reason("title"))
        out["discipline_codes"] = value("discipline")
        note("discipline", reason("discipline"))
        out["research_fields"] = value("research_fields")
        note("research_fields", reason("research_fields"))
        out["expert_opt_in"] = value("expert_opt_in", pl.Boolean)
        note("expert_opt_in", reason("expert_opt_in"))
        out["grade"] = value("grade")
        note("grade", reason("grade"))
        out["member_no"] = pl.col("x:member_no")
        note("member_no", reason("member_no"))
        joined, until = pl.col("x:joined_on"), pl.col("x:valid_until")
        out["joined_on"], out["valid_until"] = joined, until
        note("joined_on", reason("joined_on"))
        note("valid_until", reason("valid_until"))
        problems.append(
            _when(
                joined.is_not_null() & until.is_not_null() & (until < joined),
                f"{self.label('valid_until')}: must not be before {self.label('joined_on')}",
            )
        )
        note("id_type", reason("id_type"))

        note("id_number", pl.col("r:id"))
        document = pl.col("x:document")
        implied_birth, implied_gender = pl.col("x:implied_birth"), pl.col("x:implied_gender")
        problems.append(
            _when(
                birth.is_not_null() & implied_birth.is_not_null() & (birth != implied_birth),
                f"{id_label}: birth date in the number differs from birth_date",
            )
        )
        problems.append(
            _when(
                gender.is_not_null() & implied_gender.is_not_null() & (gender != implied_gender),
                f"{id_label}: gender digit in the number differs from gender",
            )
        )
        problems.append(
            _when(
                number.is_null() & pl.col("x:id_type").is_not_null(),
                f"{id_label}: required when {self.label('id_type')} is given",
            )
        )
        out["id_type"] = pl.when(document.is_not_null()).then(pl.col("kind"))
        out["id_number"] = document
        out["region_of_origin"] = (
            pl.when("fast_id")
            .then(pl.col("v:origin"))
            .otherwise(pl.col("v:id").struct.field("origin"))
        )
        out["birth_date"] = pl.coalesce(birth, implied_birth)
        out["gender"] = pl.coalesce(gender, implied_gender)

        has_contact = out["phone"].is_not_null() | out["email"].is_not_null()
        identified = (
            out["id_number"].is_not_null()
            | raw("id_number").is_not_null()
            | out["member_no"].is_not_null()
            | raw("member_no").is_not_null()
            | ((out["birth_date"].is_not_null() | raw("birth_date").is_not_null())
               & (has_contact | raw("phone").is_not_null() | raw("email").is_not_null()))
        )  # fmt: skip
        problems.append(
            _when(
                ~identified,
                f"nothing identifies this person: give {self.label('id_number')}, "
                f"or {self.label('birth_date')} with {self.label('phone')} or "
                f"{self.label('email')}, or {self.label('member_no')}",
            )
        )
        result = (
            frame.lazy()
            .select(
                *(expr.alias(name) for name, expr in out.items()),
                pl.concat_str(problems, separator="; ", ignore_nulls=True)
                .replace("", None)
                .alias("__reason"),
            )
            .collect()
        )
        return result.drop("__reason"), result["__reason"]
