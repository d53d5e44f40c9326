"""Streaming readers for CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM, GB18030/GBK) and XLSX.

A file is read in chunks of rows, so memory does not grow with its size. Rows are numbered as
a spreadsheet numbers them: the header is row 1 when it is the first line, and every record
counts (blank ones too), so a reported row number is the one the operator sees in Excel.
Records with a quoted newline count once. Blank records (no cell with text) are skipped.

Rows travel as polars frames (`row_no`, and `cells`: the record's fields as read). A CSV block
with no quote character and no carriage return other than a line's CRLF ending is one record
per line and its fields are the line split at the delimiter, exactly what the csv module
returns for it, so such blocks are split in bulk; from the first block that holds a quote (a
quoted comma or newline) the csv module reads the rest of the file.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from functools import cached_property, partial
from pathlib import Path
from typing import IO, Any

import polars as pl

_BLOCK = 1 << 22
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


# The values Excel and WPS show (and a CSV export writes) for a formula that failed: not a
# member's data, whatever column holds them. The codes are the same in every language.
FORMULA_ERRORS = frozenset(
    {
        "#NULL!", "#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#GETTING_DATA",
        "#SPILL!", "#CALC!", "#FIELD!", "#BLOCKED!", "#CONNECT!", "#BUSY!", "#UNKNOWN!",
        "#PYTHON!",
    }
)  # fmt: skip


def formula_error(value: str) -> str:
    """Why a cell holding one of FORMULA_ERRORS is refused (after its column's label)."""
    return f"{value} is a spreadsheet formula error, not a value"


class FileProblem(Exception):
    """The file cannot be processed at all: the import stops with exit status 1."""


class OptionProblem(FileProblem):
    """An option that does not fit the file (`--sheet` for a CSV): a usage error, exit 2."""


class Chunk:
    """Consecutive data rows: their row numbers and cells exactly as read (as text), held as a
    frame (`row_no`, `cells`) and as Python lists on demand."""

    def __init__(self, frame: pl.DataFrame) -> None:
        self.frame = frame

    def __len__(self) -> int:
        return self.frame.height

    @cached_property
    def numbers(self) -> list[int]:
        return self.frame["row_no"].to_list()

    @cached_property
    def rows(self) -> list[list[str]]:
        return self.frame["cells"].to_list()


# A stream's frames: `row_no` (the record's number) and `cells` (its fields as read).
CELLS_SCHEMA = {"row_no": pl.Int64, "cells": pl.List(pl.String)}
# Rows gathered into one frame by the readers that go record by record.
_FRAME_ROWS = 8192


def cells_frame(numbers: list[int], rows: list[list[str]]) -> pl.DataFrame:
    """Records read one by one as a frame of the stream's schema."""
    return pl.DataFrame({"row_no": numbers, "cells": rows}, schema=CELLS_SCHEMA)


@dataclass
class Table:
    """An opened file: its header and a stream of row chunks."""

    path: Path
    format: str  # "csv" or "xlsx"
    encoding: str | None
    header: list[str]
    header_row: int
    sha256: str
    size: int
    _frames: Iterator[pl.DataFrame]
    _progress: Any = field(default=None)
    total_rows: int | None = None

    def frames(self, size: int) -> Iterator[pl.DataFrame]:
        """The data rows as frames of `size` rows (the last may be shorter): `row_no` and
        `cells`, blank records left out."""
        pending: list[pl.DataFrame] = []
        count = 0
        for frame in self._frames:
            while frame.height:
                take = min(size - count, frame.height)
                pending.append(frame.slice(0, take))
                frame = frame.slice(take)
                count += take
                if count == size:
                    yield pl.concat(pending, rechunk=True) if len(pending) > 1 else pending[0]
                    pending, count = [], 0
        if count:
            yield pl.concat(pending, rechunk=True) if len(pending) > 1 else pending[0]

    def chunks(self, size: int) -> Iterator[Chunk]:
        """The data rows, `size` at a time (the last chunk may be shorter)."""
        for frame in self.frames(size):
            yield Chunk(frame)

    def done_fraction(self) -> float | None:
        """How far through the file the reader is (by bytes for CSV), when known."""
        return self._progress() if self._progress else None


def _blank(row: list[str]) -> bool:
    return not "".join(row).strip()


@dataclass(frozen=True)
class Utf8Check:
    """Whether a file is valid UTF-8; if not, the line of its first invalid byte and whether
    Chinese (or other text of several bytes a character) came before it in valid UTF-8."""

    valid: bool
    bad_line: int = 0
    wide_before: bool = False

    def evidently_utf8(self) -> bool:
        """Invalid, but after text only UTF-8 would give: a stray byte, not another encoding
        (GB18030 text breaks UTF-8 within its first few characters)."""
        return not self.valid and self.wide_before


# Bytes beyond one a character, in valid UTF-8 before the first invalid byte, that show a file
# is UTF-8: four Chinese characters.
_WIDE_EVIDENCE = 8


def _digest(path: Path) -> tuple[str, int, Utf8Check]:
    """SHA-256, size, and whether the whole file is valid UTF-8 (one streaming pass)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    check: Utf8Check | None = None
    size = lines = wide = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
            if check is not None:
                continue
            pending = decoder.getstate()[0]
            try:
                text = decoder.decode(block)
            except UnicodeDecodeError as exc:
                good = (pending + block)[: exc.start]
                lines += good.count(b"\n")
                wide += len(good) - len(good.decode("utf-8", errors="ignore"))
                check = Utf8Check(False, lines + 1, wide >= _WIDE_EVIDENCE)
                continue
            lines += text.count("\n")
            if wide < _WIDE_EVIDENCE and not text.isascii():
                wide += len(text.encode()) - len(text)
    if check is None:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            check = Utf8Check(False, lines + 1, wide >= _WIDE_EVIDENCE)
    return digest.hexdigest(), size, check or Utf8Check(True)


def open_table(
    path: Path,
    *,
    encoding: str | None = None,
    sheet: str | None = None,
    is_header: Callable[[list[str]], bool] | None = None,
    date_columns: Callable[[list[str]], set[int]] | None = None,
) -> Table:
    """Open a CSV or XLSX file and read its header; FileProblem when that is impossible.
    `is_header` tells a header from a title above it (see `_first_non_blank`);
    `date_columns`, the positions of a header's date columns, lets a workbook's bare day
    numbers there be read in its own date system (`_open_xlsx`)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise FileProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(_XLS_MAGIC) or path.suffix.lower() == ".xls":
        raise FileProblem(f"{path.name} is an Excel 97-2003 (.xls) file; save it as XLSX or CSV")
    if head.startswith(_XLSX_MAGIC) or path.suffix.lower() in {".xlsx", ".xlsm"}:
        if encoding:
            raise OptionProblem("--encoding applies to CSV files, not XLSX")
        return _open_xlsx(path, sheet, is_header, date_columns)
    if sheet:
        raise OptionProblem("--sheet applies to XLSX files, not CSV")
    return _open_csv(path, encoding, is_header)


def _detect_encoding(path: Path, utf8: Utf8Check) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if utf8.evidently_utf8():
        # Read as GB18030 it would give wrong names without an error.
        raise FileProblem(
            f"{path.name} is UTF-8 text but line {utf8.bad_line} holds bytes that are not UTF-8"
            " (pasted from another encoding?); correct that line, or give --encoding if the"
            " whole file is in another encoding"
        )
    if head.startswith(codecs.BOM_UTF8):
        if not utf8.valid:
            raise FileProblem(
                f"{path.name} starts with a UTF-8 byte-order mark but is not UTF-8 from line"
                f" {utf8.bad_line}; give its encoding (--encoding gb18030 for Chinese text"
                " from older systems)"
            )
        return "utf-8-sig"
    # Chinese text in GB18030 is practically never valid UTF-8, so validity decides.
    return "utf-8" if utf8.valid else "gb18030"


# Encodings in which a 0x0A byte is always a line feed, so a file can be cut into blocks
# at line ends and each block decoded on its own.
_GB = {"gb18030", "gbk", "gb2312"}
_BLOCK_ENCODINGS = {"utf-8", "utf-8-sig", *_GB}


def _open_csv(
    path: Path, encoding: str | None, is_header: Callable[[list[str]], bool] | None
) -> Table:
    sha256, size, utf8 = _digest(path)
    if encoding:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise OptionProblem(f"--encoding: unknown encoding {encoding!r}") from None
        if encoding == "utf-8" and utf8.valid:
            with path.open("rb") as handle:
                if handle.read(3) == codecs.BOM_UTF8:
                    encoding = "utf-8-sig"
    else:
        encoding = _detect_encoding(path, utf8)
    binary = path.open("rb")
    # A UTF-8 byte-order mark before text in a Chinese encoding (some tools write one to
    # every file): skipped when that encoding is given.
    start = 3 if encoding in _GB and binary.read(3) == codecs.BOM_UTF8 else 0
    binary.seek(start)
    try:
        sample = codecs.getincrementaldecoder(encoding)(errors="strict").decode(
            binary.read(1 << 16)
        )
    except UnicodeDecodeError:
        binary.close()
        raise FileProblem(
            f"{path.name} is not valid {encoding} text; give the right --encoding"
        ) from None
    binary.seek(start)
    delimiter = _delimiter(sample, is_header)
    if encoding in _BLOCK_ENCODINGS:
        frames = _csv_blocks(binary, path, encoding, delimiter, start)
    else:
        frames = _csv_records(binary, path, encoding, delimiter, 0)
    header_row, header, frames = _first_non_blank(frames, path, is_header)

    return Table(
        path=path,
        format="csv",
        encoding=encoding,
        header=header,
        header_row=header_row,
        sha256=sha256,
        size=size,
        _frames=_closing(frames, binary),
        _progress=partial(byte_fraction, binary, size),
    )


_DELIMITERS = (",", "\t", ";")


def _delimiter(sample: str, is_header: Callable[[list[str]], bool] | None) -> str:
    """The delimiter that makes a header of one of the first records with text: a comma,
    a tab (text copied out of a sheet) or a semicolon (Excel's CSV where a comma is the
    decimal point). Without one, a tab when the first line has tabs and no comma."""
    lines = sample.splitlines()
    whole = lines[:-1] if len(lines) > 1 and not sample.endswith(("\n", "\r")) else lines
    if is_header is not None:
        texts = [line for line in whole if line.strip()][:_HEADER_SEARCH]
        for line in texts:
            for delimiter in _DELIMITERS:
                if delimiter in line and is_header(next(csv.reader([line], delimiter=delimiter))):
                    return delimiter
    first_line = lines[0] if lines else ""
    return "\t" if "\t" in first_line and "," not in first_line else ","


def byte_fraction(binary: IO[bytes], size: int) -> float:
    """How far into the file `binary` has read. Asked from another thread than the reading
    one, which may close the file meanwhile (its descriptor gone before the object says it is
    closed): that, like a closed file, is the end."""
    if binary.closed or not size:
        return 1.0
    try:
        return min(1.0, binary.tell() / size)
    except (OSError, ValueError):
        return 1.0


def blank_pattern(delimiter: str) -> str:
    # Exactly the characters `str.strip` removes (Unicode White_Space and U+001C..U+001F),
    # plus the delimiter: a line of only these is a record whose cells are all blank.
    return r"^[\s\x{1c}-\x{1f}" + re.escape(delimiter) + "]*$"


def _csv_blocks(
    binary: IO[bytes], path: Path, encoding: str, delimiter: str, start: int = 0
) -> Iterator[pl.DataFrame]:
    """Blocks of whole lines (from byte `start`) split in bulk while they hold no quote and no
    bare CR; from the first one that does, the csv module reads on from that block's first
    byte."""
    number = 0
    offset = start
    carry = b""
    blank = blank_pattern(delimiter)
    while True:
        block = binary.read(_BLOCK)
        data = carry + block
        # A BOM is only at the start of the file.
        codec = encoding if offset == start or encoding != "utf-8-sig" else "utf-8"
        if block:
            cut = data.rfind(b"\n") + 1
            if cut == 0 and len(data) > _BLOCK:
                # No line feed in a whole block (lines ended by a bare CR, as old Mac exports
                # do, or one huge record): the csv module streams it, so memory stays bounded.
                binary.seek(offset)
                yield from _csv_records(binary, path, codec, delimiter, number, name=encoding)
                return
            if cut == 0:
                carry = data
                continue
            data, carry = data[:cut], data[cut:]
        else:
            carry = b""
            if not data:
                return
        try:
            text = data.decode(codec)
        except UnicodeDecodeError as exc:
            good = number + data.count(b"\n", 0, exc.start)
            raise FileProblem(
                f"{path.name} is not valid {encoding} text after row {good}; "
                "give the right --encoding"
            ) from None
        crlf = text.count("\r\n")
        if '"' in text or text.count("\r") != crlf:
            binary.seek(offset)
            yield from _csv_records(binary, path, codec, delimiter, number, name=encoding)
            return
        offset += len(data)
        lines = pl.Series("line", [text]).str.split("\n").explode()
        if text.endswith("\n"):
            lines = lines.slice(0, len(lines) - 1)
        if crlf:
            lines = lines.str.strip_suffix("\r")
        frame = pl.DataFrame(
            {
                "row_no": pl.int_range(number + 1, number + 1 + len(lines), eager=True),
                "line": lines,
            }
        )
        number += len(lines)
        yield frame.filter(~pl.col("line").str.contains(blank)).select(
            "row_no", cells=pl.col("line").str.split(delimiter)
        )


def _csv_records(
    binary: IO[bytes],
    path: Path,
    encoding: str,
    delimiter: str,
    number: int,
    *,
    name: str | None = None,
) -> Iterator[pl.DataFrame]:
    """The csv module's records from the handle's position on, numbered after `number`
    (`name`: the file's encoding as reported, when reading on past a BOM)."""
    text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
    reader = csv.reader(text, delimiter=delimiter)
    yield from _framed(_numbered_csv(reader, path, name or encoding, number))


def _framed(records: Iterable[tuple[int, list[str]]]) -> Iterator[pl.DataFrame]:
    numbers: list[int] = []
    rows: list[list[str]] = []
    for number, row in records:
        if _blank(row):
            continue
        numbers.append(number)
        rows.append(row)
        if len(rows) >= _FRAME_ROWS:
            yield cells_frame(numbers, rows)
            numbers, rows = [], []
    if rows:
        yield cells_frame(numbers, rows)


def _numbered_csv(
    reader: Iterator[list[str]], path: Path, encoding: str, number: int = 0
) -> Iterator[tuple[int, list[str]]]:
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except UnicodeDecodeError:
            raise FileProblem(
                f"{path.name} is not valid {encoding} text after row {number}; "
                "give the right --encoding"
            ) from None
        except csv.Error as exc:
            raise FileProblem(f"{path.name}: CSV error after row {number}: {exc}") from None
        number += 1
        yield number, row


# Records with text looked at for the header: a title above it ("XX学会2024年会员名单", merged
# across the columns) or a blank-looking line of notes is skipped.
_HEADER_SEARCH = 10


def _first_non_blank(
    frames: Iterator[pl.DataFrame], path: Path, is_header: Callable[[list[str]], bool] | None
) -> tuple[int, list[str], Iterator[pl.DataFrame]]:
    """The header and the frames after it: the first of the first _HEADER_SEARCH records with
    text that `is_header` accepts (the records above it are titles, not members), else the
    first record with text (for the caller to say what it expected)."""
    seen: list[pl.DataFrame] = []
    looked = 0
    for frame in frames:
        if not frame.height:
            continue
        seen.append(frame)
        for index, cells in enumerate(frame["cells"].head(_HEADER_SEARCH - looked).to_list()):
            if is_header is None or is_header(cells):
                row = int(frame["row_no"][index])
                return row, cells, _after(frame.slice(index + 1), iter(()), frames)
        looked += min(frame.height, _HEADER_SEARCH - looked)
        if looked >= _HEADER_SEARCH:
            break
    if not seen:
        raise FileProblem(f"{path.name} is empty: expected a header row and member rows")
    first = seen[0]
    header = first["cells"][0].to_list()
    return int(first["row_no"][0]), header, _after(first.slice(1), iter(seen[1:]), frames)


def _after(
    first: pl.DataFrame, held: Iterator[pl.DataFrame], frames: Iterator[pl.DataFrame]
) -> Iterator[pl.DataFrame]:
    yield first
    yield from held
    yield from frames


def _closing(frames: Iterator[pl.DataFrame], handle: Any) -> Iterator[pl.DataFrame]:
    try:
        yield from frames
    finally:
        handle.close()


def cell_text(value: Any) -> str:
    """An XLSX cell as the text a CSV export would hold: dates ISO, whole numbers without .0."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time(0) else value.isoformat(" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return str(value)


class _Days1904:
    """Bare day numbers in the date columns of a workbook that counts days from 1904-01-01
    (the date system of old Mac Excel), written as the dates Excel shows for them. Cells
    formatted as dates openpyxl already reads in the workbook's system; a bare number in a
    date column would otherwise be read as a day from 1900, four years and a day earlier.
    The header is found as `_first_non_blank` finds it, among the first records with text."""

    def __init__(
        self,
        is_header: Callable[[list[str]], bool] | None,
        date_columns: Callable[[list[str]], set[int]],
    ) -> None:
        from openpyxl.utils.datetime import CALENDAR_MAC_1904, from_excel

        self.day = partial(from_excel, epoch=CALENDAR_MAC_1904)
        self.is_header = is_header or (lambda cells: True)
        self.date_columns = date_columns
        self.positions: set[int] | None = None
        self.looked = 0

    def __call__(self, values: tuple[Any, ...], row: list[str]) -> None:
        if self.positions is None:
            if self.looked < _HEADER_SEARCH and not _blank(row):
                self.looked += 1
                if self.is_header(row):
                    self.positions = self.date_columns(row)
            return
        for index in self.positions:
            value = values[index] if index < len(values) else None
            if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
                with contextlib.suppress(OverflowError, ValueError):  # past year 9999
                    row[index] = self.day(value).date().isoformat()


# A merged range in a sheet's XML (`<mergeCell ref="H3:H5"/>`, after the rows).
_MERGE_REF = re.compile(rb'<(?:\w+:)?mergeCell\b[^>]*?\bref="([A-Z]{1,3})(\d+):([A-Z]{1,3})(\d+)"')


def _merged_down(archive: Any, sheet_path: str) -> dict[int, list[tuple[int, int]]]:
    """The sheet's cells merged down one column, by first row: (column index, last row).
    Read-only sheets do not say which cells are merged, so the sheet's XML is scanned for
    them (decompressing it costs a fraction of parsing its rows)."""
    from openpyxl.utils import column_index_from_string

    refs: set[tuple[bytes, ...]] = set()
    with archive.open(sheet_path.lstrip("/")) as stream:
        tail = b""
        while block := stream.read(1 << 20):
            data = tail + block
            if b"mergeCell" in data:
                refs.update(match.groups() for match in _MERGE_REF.finditer(data))
            tail = data[-256:]
    merged: dict[int, list[tuple[int, int]]] = {}
    for first_col, first_row, last_col, last_row in refs:
        if first_col == last_col and int(last_row) > int(first_row):
            column = column_index_from_string(first_col.decode()) - 1
            merged.setdefault(int(first_row), []).append((column, int(last_row)))
    return merged


class _FilledDown:
    """Gives the rows a cell merged down a column covers the value of its first row, as
    Excel shows it (a sheet stores it once): lists grouped by institution merge 工作单位."""

    def __init__(self, merged: dict[int, list[tuple[int, int]]]) -> None:
        self.merged = merged
        self.open: dict[int, tuple[str, int]] = {}  # column -> (value, last row)

    def __call__(self, number: int, row: list[str]) -> None:
        for column, last in self.merged.get(number, ()):
            self.open[column] = (row[column] if column < len(row) else "", last)
        if _blank(row):
            return  # a blank row inside a merge stays blank (skipped), not a row of one value
        for column, (value, last) in list(self.open.items()):
            if last < number:
                del self.open[column]
            elif value and (column >= len(row) or not row[column]):
                row.extend([""] * (column + 1 - len(row)))
                row[column] = value


def _open_xlsx(
    path: Path,
    sheet: str | None,
    is_header: Callable[[list[str]], bool] | None,
    date_columns: Callable[[list[str]], set[int]] | None = None,
) -> Table:
    from openpyxl import load_workbook
    from openpyxl.utils.datetime import CALENDAR_MAC_1904

    sha256, size, _ = _digest(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # whatever a damaged archive makes openpyxl raise
        raise FileProblem(f"{path.name} is not a readable XLSX workbook: {exc}") from None
    if not book.worksheets:
        book.close()
        raise FileProblem(f"{path.name} is not a readable XLSX workbook: it has no worksheet")
    names = book.sheetnames
    if sheet is not None and sheet not in names:
        book.close()
        raise FileProblem(f"{path.name} has no sheet {sheet!r}; its sheets are {names}")
    worksheet = book[sheet] if sheet is not None else book.worksheets[0]
    # The size the sheet declares (its `dimension` record) is only an estimate for progress:
    # some writers store `A1` or a stale range, so the rows are read to the last one there is.
    try:
        declared = worksheet.max_row if isinstance(worksheet.max_row, int) else None
    except Exception:  # a damaged sheet: reading its rows says so
        declared = None
    total = declared if declared and declared > 1 else None
    worksheet.reset_dimensions()
    position = {"row": 0}
    # openpyxl keeps the archive and the sheet's part name of a read-only workbook privately.
    archive = getattr(book, "_archive", None)
    sheet_path = getattr(worksheet, "_worksheet_path", None)
    try:
        merged = _merged_down(archive, sheet_path) if archive and sheet_path else {}
    except Exception as exc:  # a damaged archive member
        book.close()
        raise FileProblem(f"{path.name} is not a readable XLSX workbook: {exc}") from None
    fill_down = _FilledDown(merged) if merged else None
    days_1904 = (
        _Days1904(is_header, date_columns)
        if date_columns is not None and book.epoch == CALENDAR_MAC_1904
        else None
    )

    def records() -> Iterator[tuple[int, list[str]]]:
        rows = worksheet.iter_rows(values_only=True)
        number = 0
        while True:
            try:
                values = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # the sheet is parsed as it is read
                raise FileProblem(
                    f"{path.name} is not a readable XLSX workbook after row {number}: {exc}"
                ) from None
            number += 1
            position["row"] = number
            row = [cell_text(v) for v in values]
            if days_1904 is not None:
                days_1904(values, row)
            if fill_down is not None:
                fill_down(number, row)
            while row and row[-1] == "":
                row.pop()  # read-only sheets pad rows to the widest one
            yield number, row

    header_row, header, frames = _first_non_blank(_framed(records()), path, is_header)

    def fraction() -> float | None:
        return min(1.0, position["row"] / total) if total else None

    return Table(
        path=path,
        format="xlsx",
        encoding=None,
        header=header,
        header_row=header_row,
        sha256=sha256,
        size=size,
        _frames=_closing(frames, book),
        _progress=fraction,
        total_rows=(total - header_row) if total and total > header_row else None,
    )
