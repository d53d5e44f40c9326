"""Cells of the CSV files the service hands out."""

from __future__ import annotations

import pytest

from services.registry.core.spreadsheet import cell


@pytest.mark.parametrize("text", ["=1+1", "+86 138", "-2", "@SUM(A1)", "\tx", "\rx"])
def test_text_that_would_start_a_formula_is_quoted(text: str) -> None:
    assert cell(text) == "'" + text


@pytest.mark.parametrize("value", ["张伟", "a=b", "", -2, 3.5, None])
def test_other_values_are_left_as_they_are(value: object) -> None:
    assert cell(value) == value
