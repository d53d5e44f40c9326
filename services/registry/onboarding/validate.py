"""Member rows to normalised columns, a chunk at a time: the API's rules, applied in bulk.

Every value goes through `core.normalize` / `core.ids` / `people.service.resolve_identity`,
either directly (once per distinct value) or through a `core.bulk` fast path that only accepts
values those functions would return unchanged. A row with any bad value is rejected with all
its reasons, each prefixed by the header the file used for that column.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

import polars as pl

from ..core import bulk, ids, normalize
from ..people import service as people_service
from .columns import HeaderMap
from .readers import Chunk

TEXT_MAX = 200  # ShortText in the API


@dataclass
class Caches:
    """Distinct values already normalised, kept across the chunks of one file."""

    by_field: dict[str, bulk.Cache] = field(default_factory=dict)

    def __getitem__(self, name: str) -> bulk.Cache:
        return self.by_field.setdefault(name, {})


@dataclass
class Checked:
    """One chunk after validation: good rows as columns, rejected rows with their reasons."""

    good: pl.DataFrame
    rejected: list[tuple[int, list[str], str]]  # row number, cells as read, reason
    raw_by_row: dict[int, list[str]]


def shape_rows(chunk: Chunk, header: HeaderMap, *, pads: bool) -> tuple[list, list, list]:
    """Rows with exactly the header's width; a row with more or fewer fields is rejected
    (cells past the header that are all empty are dropped; XLSX rows are padded, because a
    sheet does not store trailing empty cells)."""
    width = header.width
    numbers: list[int] = []
    rows: list[list[str]] = []
    rejected: list[tuple[int, list[str], str]] = []
    for number, row in zip(chunk.numbers, chunk.rows, strict=True):
        size = len(row)
        if "\x00" in "".join(row):
            rejected.append((number, row, "contains NUL characters (binary data, not text)"))
            continue
        if size > width:
            if any(cell.strip() for cell in row[width:]):
                rejected.append((number, row, f"row has {size} fields, the header has {width}"))
                continue
            row = row[:width]
        elif size < width:
            if not pads:
                rejected.append((number, row, f"row has {size} fields, the header has {width}"))
                continue
            row = row + [""] * (width - size)
        numbers.append(number)
        rows.append(row)
    return numbers, rows, rejected


def to_frame(numbers: list[int], rows: list[list[str]], header: HeaderMap) -> pl.DataFrame:
    """The mapped columns as trimmed strings, empty cells as null, plus `row_no`."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in range(header.width)]
    data: dict[str, Any] = {"row_no": pl.Series(numbers, dtype=pl.Int64)}
    for name, index in header.positions.items():
        data[name] = pl.Series(columns[index], dtype=pl.String)
    frame = pl.DataFrame(data)
    text = [c for c in frame.columns if c != "row_no"]
    return frame.with_columns(pl.col(c).str.strip_chars().replace("", None) for c in text)


def _short_text(value: str) -> str:
    text = normalize.clean_text(value)
    if text is None:
        raise ValueError("empty")
    if len(text) > TEXT_MAX:
        raise ValueError(f"at most {TEXT_MAX} characters")
    return text


def _past_date(value: str) -> date:
    return normalize.not_future(normalize.parse_date(value))


def _joined(values: list[str]) -> str:
    # Lists travel to PostgreSQL as one text split on the unit separator, which folded text
    # never holds (folding turns it into a space).
    return "\x1f".join(values)


class MemberValidator:
    """Validates member rows; one per file, so the distinct-value caches span its chunks."""

    def __init__(self, header: HeaderMap, *, pads: bool) -> None:
        self.header = header
        self.pads = pads
        self.caches = Caches()

    def label(self, name: str) -> str:
        return self.header.labels.get(name, name)

    def check(self, chunk: Chunk) -> Checked:
        numbers, rows, rejected = shape_rows(chunk, self.header, pads=self.pads)
        raw_by_row = dict(zip(chunk.numbers, chunk.rows, strict=True))
        frame = to_frame(numbers, rows, self.header)
        out, reasons = self._normalise(frame)
        bad = out.select("row_no", reason=reasons).filter(pl.col("reason").is_not_null())
        for number, reason in bad.iter_rows():
            rejected.append((number, raw_by_row[number], reason))
        rejected.sort(key=lambda item: item[0])
        good = out.filter(reasons.is_null())
        return Checked(good, rejected, raw_by_row)

    def _normalise(self, frame: pl.DataFrame) -> tuple[pl.DataFrame, pl.Series]:
        n = frame.height
        present = set(frame.columns)
        cols: dict[str, pl.Series] = {"row_no": frame["row_no"]}
        problems: list[pl.Series] = []

        def raw(name: str) -> pl.Series:
            return frame[name] if name in present else pl.Series(name, [None] * n, pl.String)

        def note(name: str, reasons: pl.Series) -> None:
            label = self.label(name)
            problems.append(
                pl.select(pl.when(reasons.is_not_null()).then(label + ": " + reasons)).to_series()
            )

        def simple(name: str, fn: Any, dtype: Any) -> pl.Series:
            if name not in present:
                return pl.Series(name, [None] * n, dtype)
            values, reasons = bulk.by_value(frame[name], fn, dtype, self.caches[name])
            note(name, reasons)
            return values

        # Name: required, folded prose.
        if "name" in present:
            names, reasons = bulk.fast_or_by_value(frame["name"], bulk.TEXT_FAST, _short_text)
            long = pl.select(
                pl.when(names.str.len_chars() > TEXT_MAX).then(
                    pl.lit(f"at most {TEXT_MAX} characters")
                )
            ).to_series()
            reasons = pl.select(pl.coalesce(reasons, long)).to_series()
            missing = pl.select(
                pl.when(frame["name"].is_null()).then(pl.lit("required"))
            ).to_series()
            note("name", pl.select(pl.coalesce(reasons, missing)).to_series())
            cols["name"] = names
        cols["name_en"] = simple("name_en", _short_text, pl.String)
        gender = simple("gender", normalize.gender, pl.String)
        birth = simple("birth_date", _past_date, pl.Date)
        cols["phone"] = (
            self._fast("phone", frame, bulk.PHONE_FAST, normalize.phone, note)
            if "phone" in present
            else pl.Series("phone", [None] * n, pl.String)
        )
        cols["email"] = (
            self._fast("email", frame, bulk.EMAIL_FAST, normalize.email, note)
            if "email" in present
            else pl.Series("email", [None] * n, pl.String)
        )
        cols["orcid"] = simple("orcid", normalize.orcid, pl.String)
        cols["region_code"] = simple("region_code", ids.normalise_region_code, pl.String)
        cols["institution"] = simple("institution", _short_text, pl.String)
        title = simple(
            "title",
            lambda v: dict(zip(("level", "position"), normalize.title(v), strict=True)),
            pl.Struct({"level": pl.String, "position": pl.String}),
        )
        if "title" in present:
            cols["title_level"] = title.struct.field("level")
            cols["position"] = title.struct.field("position")
        else:
            cols["title_level"] = cols["position"] = pl.Series([None] * n, dtype=pl.String)
        cols["discipline_codes"] = simple(
            "discipline", lambda v: _joined(normalize.disciplines(v)), pl.String
        )
        cols["research_fields"] = simple(
            "research_fields", lambda v: _joined(normalize.split_list(v)), pl.String
        )
        cols["expert_opt_in"] = simple("expert_opt_in", normalize.yes_no, pl.Boolean)
        cols["grade"] = simple("grade", normalize.grade, pl.String)
        cols["member_no"] = (
            self._fast("member_no", frame, bulk.MEMBER_NO_FAST, normalize.member_no, note)
            if "member_no" in present
            else pl.Series("member_no", [None] * n, pl.String)
        )
        joined = simple("joined_on", normalize.parse_date, pl.Date)
        until = simple("valid_until", normalize.parse_date, pl.Date)
        cols["joined_on"], cols["valid_until"] = joined, until
        order = pl.select(
            pl.when(joined.is_not_null() & until.is_not_null() & (until < joined)).then(
                pl.lit(f"{self.label('valid_until')}: must not be before {self.label('joined_on')}")
            )
        ).to_series()
        problems.append(order)

        id_type = simple("id_type", normalize.id_type, pl.String)
        identity = self._identity(raw("id_number"), id_type, birth, gender, problems)
        cols["id_type"] = identity["id_type"]
        cols["id_number"] = identity["number"]
        cols["region_of_origin"] = identity["origin"]
        cols["birth_date"] = pl.select(pl.coalesce(birth, identity["birth_date"])).to_series()
        cols["gender"] = pl.select(pl.coalesce(gender, identity["gender"])).to_series()

        has_contact = cols["phone"].is_not_null() | cols["email"].is_not_null()
        identified = (
            cols["id_number"].is_not_null()
            | raw("id_number").is_not_null()
            | cols["member_no"].is_not_null()
            | raw("member_no").is_not_null()
            | ((cols["birth_date"].is_not_null() | raw("birth_date").is_not_null())
               & (has_contact | raw("phone").is_not_null() | raw("email").is_not_null()))
        )  # fmt: skip
        problems.append(
            pl.select(
                pl.when(~identified).then(
                    pl.lit(
                        f"nothing identifies this person: give {self.label('id_number')}, "
                        f"or {self.label('birth_date')} with {self.label('phone')} or "
                        f"{self.label('email')}, or {self.label('member_no')}"
                    )
                )
            ).to_series()
        )
        reasons = pl.select(
            pl.concat_str(problems, separator="; ", ignore_nulls=True).replace("", None)
        ).to_series()
        return pl.DataFrame(cols), reasons

    def _fast(self, name: str, frame: pl.DataFrame, pattern: str, fn: Any, note: Any) -> pl.Series:
        # Values nearly all distinct (phones, e-mails, numbers): nothing worth remembering.
        values, reasons = bulk.fast_or_by_value(frame[name], pattern, fn)
        note(name, reasons)
        return values

    def _identity(
        self,
        raw_number: pl.Series,
        id_type: pl.Series,
        birth: pl.Series,
        gender: pl.Series,
        problems: list[pl.Series],
    ) -> dict[str, pl.Series]:
        """Document numbers checked as `resolve_identity` checks them, in bulk."""
        label = self.label("id_number")
        kind = pl.select(
            pl.when(raw_number.is_not_null()).then(id_type.fill_null("resident_id"))
        ).to_series()
        resident = (kind == "resident_id").fill_null(False)
        checked = bulk.resident_ids(
            pl.select(pl.when(resident).then(raw_number)).to_series(), self.caches["region"]
        )
        fast = checked["fast"] & resident
        slow_key = pl.select(
            pl.when(raw_number.is_not_null() & ~fast).then(kind + "\x1f" + raw_number)
        ).to_series()

        def resolve(key: str) -> str:
            document_type, _, number = key.partition("\x1f")
            return people_service.resolve_identity(
                document_type, number, birth_date=None, gender=None
            ).number

        slow, reasons = bulk.by_value(slow_key, resolve, pl.String)
        problems.append(
            pl.select(pl.when(reasons.is_not_null()).then(label + ": " + reasons)).to_series()
        )
        number = pl.select(pl.when(fast).then(raw_number).otherwise(slow)).to_series()
        is_resident = (kind == "resident_id").fill_null(False) & number.is_not_null()
        implied_birth = pl.select(
            pl.when(is_resident).then(number.str.slice(6, 8).str.to_date("%Y%m%d", strict=False))
        ).to_series()
        implied_gender = pl.select(
            pl.when(is_resident).then(
                pl.when(number.str.slice(16, 1).cast(pl.Int64, strict=False) % 2 == 1)
                .then(pl.lit("male"))
                .otherwise(pl.lit("female"))
            )
        ).to_series()
        problems.append(
            pl.select(
                pl.when(
                    birth.is_not_null() & implied_birth.is_not_null() & (birth != implied_birth)
                ).then(pl.lit(f"{label}: birth date in the number differs from birth_date"))
            ).to_series()
        )
        problems.append(
            pl.select(
                pl.when(
                    gender.is_not_null() & implied_gender.is_not_null() & (gender != implied_gender)
                ).then(pl.lit(f"{label}: gender digit in the number differs from gender"))
            ).to_series()
        )
        problems.append(
            pl.select(
                pl.when(raw_number.is_null() & id_type.is_not_null()).then(
                    pl.lit(f"{label}: required when {self.label('id_type')} is given")
                )
            ).to_series()
        )
        origin, _ = bulk.by_value(
            pl.select(
                pl.when(number.is_not_null()).then(kind + "\x1f" + number.str.slice(0, 2))
            ).to_series(),
            lambda key: people_service.region_of_origin(*key.split("\x1f", 1)),
            pl.String,
            self.caches["origin"],
        )
        return {
            "id_type": pl.select(pl.when(number.is_not_null()).then(kind)).to_series(),
            "number": number,
            "birth_date": implied_birth,
            "gender": implied_gender,
            "origin": origin,
        }
