"""The two numbers the postgres backend counts facets by give back the values they encode."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from services.registry.core.disciplines import first_level
from services.registry.people.models import Gender, TitleLevel
from services.search.backends import facet_codes


def _codes(mask: int) -> list[str]:
    values = facet_codes.mask_values(mask)
    assert {facet for facet, _ in values} <= {"discipline_codes"}
    return [code for _, code in values]


def test_every_title_gender_and_province_comes_back_from_its_cell() -> None:
    assert set(facet_codes.TITLES) == {None, *TitleLevel}
    assert set(facet_codes.GENDERS) == {None, *Gender}
    cells = set()
    for title in facet_codes.TITLES:
        for gender in facet_codes.GENDERS:
            for province in (None, "110000", "650000", "820000"):
                cell = facet_codes.facet_cell(title, gender, province)
                cells.add(cell)
                expected = {("title_level", title), ("gender", gender), ("region_codes", province)}
                assert set(facet_codes.cell_values(cell)) == {
                    (facet, value) for facet, value in expected if value is not None
                }
    assert len(cells) == len(facet_codes.TITLES) * len(facet_codes.GENDERS) * 4
    assert facet_codes.facet_cell(None, None, None) == 0


def test_every_first_level_discipline_has_its_own_bit_in_a_bigint() -> None:
    codes = sorted(first_level())
    mask = facet_codes.disciplines_mask(codes)
    assert 0 < mask < 2**63
    assert _codes(mask) == codes
    for code in codes:
        assert _codes(facet_codes.disciplines_mask([code])) == [code]
    assert _codes(facet_codes.disciplines_mask(["520", "110", "520"])) == ["110", "520"]


def test_a_code_outside_the_discipline_table_sets_no_bit() -> None:
    assert facet_codes.disciplines_mask(["999", "130"]) == facet_codes.disciplines_mask(["130"])


def test_migration_0020_fills_rows_with_the_same_orders() -> None:
    path = Path(__file__).parents[2] / "migrations" / "versions" / "0020_expert_facet_codes.py"
    spec = importlib.util.spec_from_file_location("migration_0020", path)
    assert spec is not None
    assert spec.loader is not None
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    orders = (migration.TITLES, migration.GENDERS, migration.DISCIPLINES)
    expected = (facet_codes.TITLES[1:], facet_codes.GENDERS[1:], tuple(sorted(first_level())))
    assert orders == expected
