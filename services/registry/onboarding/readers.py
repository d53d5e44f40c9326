"""Streaming readers for CSV (UTF-8, UTF-8 with BOM, UTF-16 with BOM, GB18030/GBK) and XLSX.

A file is read in chunks of rows, so memory does not grow with its size. Rows are numbered as
a spreadsheet numbers them: the header is row 1 when it is the first line, and every record
counts (blank ones too), so a reported row number is the one the operator sees in Excel.
Records with a quoted newline count once. Blank records (no cell with text) are skipped.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

_BLOCK = 1 << 22
_XLSX_MAGIC = b"PK\x03\x04"
_XLS_MAGIC = b"\xd0\xcf\x11\xe0"


class FileProblem(Exception):
    """The file cannot be processed at all: the import stops with exit status 1."""


@dataclass
class Chunk:
    """Consecutive data rows: their row numbers and cells exactly as read (as text)."""

    numbers: list[int]
    rows: list[list[str]]


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
    _rows: Iterator[tuple[int, list[str]]]
    _progress: Any = field(default=None)
    total_rows: int | None = None

    def chunks(self, size: int) -> Iterator[Chunk]:
        numbers: list[int] = []
        rows: list[list[str]] = []
        for number, row in self._rows:
            numbers.append(number)
            rows.append(row)
            if len(rows) >= size:
                yield Chunk(numbers, rows)
                numbers, rows = [], []
        if rows:
            yield Chunk(numbers, rows)

    def done_fraction(self) -> float | None:
        """How far through the file the reader is (by bytes for CSV), when known."""
        return self._progress() if self._progress else None


def _blank(row: list[str]) -> bool:
    return not "".join(row).strip()


def _digest(path: Path) -> tuple[str, int, bool]:
    """SHA-256, size, and whether the whole file is valid UTF-8 (one streaming pass)."""
    digest = hashlib.sha256()
    decoder = codecs.getincrementaldecoder("utf-8")()
    valid = True
    size = 0
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            digest.update(block)
            size += len(block)
            if valid:
                try:
                    decoder.decode(block)
                except UnicodeDecodeError:
                    valid = False
    if valid:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            valid = False
    return digest.hexdigest(), size, valid


def open_table(path: Path, *, encoding: str | None = None, sheet: str | None = None) -> Table:
    """Open a CSV or XLSX file and read its header; FileProblem when that is impossible."""
    try:
        with path.open("rb") as handle:
            head = handle.read(8)
    except OSError as exc:
        raise FileProblem(f"cannot read {path}: {exc.strerror or exc}") from None
    if head.startswith(_XLS_MAGIC) or path.suffix.lower() == ".xls":
        raise FileProblem(f"{path.name} is an Excel 97-2003 (.xls) file; save it as XLSX or CSV")
    if head.startswith(_XLSX_MAGIC) or path.suffix.lower() in {".xlsx", ".xlsm"}:
        if encoding:
            raise FileProblem("--encoding applies to CSV files, not XLSX")
        return _open_xlsx(path, sheet)
    if sheet:
        raise FileProblem("--sheet applies to XLSX files, not CSV")
    return _open_csv(path, encoding)


def _detect_encoding(path: Path, valid_utf8: bool) -> str:
    with path.open("rb") as handle:
        head = handle.read(4)
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    # Chinese text in GB18030 is practically never valid UTF-8, so validity decides.
    return "utf-8" if valid_utf8 else "gb18030"


def _open_csv(path: Path, encoding: str | None) -> Table:
    sha256, size, valid_utf8 = _digest(path)
    if encoding:
        try:
            encoding = codecs.lookup(encoding).name
        except LookupError:
            raise FileProblem(f"unknown encoding {encoding!r}") from None
        if encoding == "utf-8" and valid_utf8:
            with path.open("rb") as handle:
                if handle.read(3) == codecs.BOM_UTF8:
                    encoding = "utf-8-sig"
    else:
        encoding = _detect_encoding(path, valid_utf8)
    binary = path.open("rb")
    text = io.TextIOWrapper(binary, encoding=encoding, errors="strict", newline="")
    try:
        sample = text.read(1 << 16)
    except UnicodeDecodeError:
        binary.close()
        raise FileProblem(
            f"{path.name} is not valid {encoding} text; give the right --encoding"
        ) from None
    first_line = sample.split("\n", 1)[0]
    delimiter = "\t" if "\t" in first_line and "," not in first_line else ","
    text.seek(0)
    reader = csv.reader(text, delimiter=delimiter)
    records = _numbered_csv(reader, path, encoding)
    header_row, header = _first_non_blank(records, path)

    def fraction() -> float:
        if binary.closed or not size:
            return 1.0
        return min(1.0, binary.tell() / size)

    return Table(
        path=path,
        format="csv",
        encoding=encoding,
        header=header,
        header_row=header_row,
        sha256=sha256,
        size=size,
        _rows=_closing(records, binary),
        _progress=fraction,
    )


def _numbered_csv(
    reader: Iterator[list[str]], path: Path, encoding: str
) -> Iterator[tuple[int, list[str]]]:
    number = 0
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


def _first_non_blank(records: Iterator[tuple[int, list[str]]], path: Path) -> tuple[int, list[str]]:
    for number, row in records:
        if not _blank(row):
            return number, row
    raise FileProblem(f"{path.name} is empty: expected a header row and member rows")


def _closing(records: Iterator[tuple[int, list[str]]], handle: IO[bytes]) -> Iterator[Any]:
    try:
        for number, row in records:
            if not _blank(row):
                yield number, row
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


def _open_xlsx(path: Path, sheet: str | None) -> Table:
    import zipfile

    from openpyxl import load_workbook

    sha256, size, _ = _digest(path)
    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise FileProblem(f"{path.name} is not a readable XLSX workbook: {exc}") from None
    names = book.sheetnames
    if sheet is not None and sheet not in names:
        book.close()
        raise FileProblem(f"{path.name} has no sheet {sheet!r}; its sheets are {names}")
    worksheet = book[sheet] if sheet is not None else book.worksheets[0]
    total = worksheet.max_row if isinstance(worksheet.max_row, int) else None
    position = {"row": 0}

    def records() -> Iterator[tuple[int, list[str]]]:
        for number, values in enumerate(worksheet.iter_rows(values_only=True), start=1):
            position["row"] = number
            row = [cell_text(v) for v in values]
            while row and row[-1] == "":
                row.pop()  # read-only sheets pad rows to the widest one
            yield number, row

    stream = records()
    header_row, header = _first_non_blank(stream, path)

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, row in stream:
                if not _blank(row):
                    yield number, row
        finally:
            book.close()

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
        _rows=rows(),
        _progress=fraction,
        total_rows=(total - header_row) if total else None,
    )
