"""Cells of the CSV files the service hands out, safe to open in a spreadsheet program."""

from __future__ import annotations

from typing import Any

# A text cell starting with one of these is read as a formula by Excel, WPS and LibreOffice
# (CSV injection): `=HYPERLINK(...)` in a nominee's name would run in the committee's sheet.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    """The value itself, or a text that would start a formula behind a quote, which the
    spreadsheet shows as text (numbers are left as numbers)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def row(values: list[Any]) -> list[Any]:
    return [cell(v) for v in values]
