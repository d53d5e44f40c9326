"""Every import's `--json` last line carries the summary keys operators' scripts read."""

from __future__ import annotations

from pathlib import Path

import pytest

from ..factories import unique_code
from .conftest import member, write_csv

CONTRACT_KEYS = {
    "rows",
    "created_people",
    "matched_people",
    "updated_people",
    "created_memberships",
    "updated_memberships",
    "unchanged",
    "rejected",
}


def assert_contract_summary(summary: dict[str, object]) -> None:
    missing = CONTRACT_KEYS - set(summary)
    assert not missing, f"summary lacks {sorted(missing)}"
    for key in CONTRACT_KEYS:
        value = summary[key]
        assert isinstance(value, int), (key, value)
        assert not isinstance(value, bool), (key, value)


@pytest.mark.parametrize("dry_run", [False, True], ids=["written", "dry-run"])
def test_an_organisation_import_summary_has_every_contract_key(
    registry, tmp_path: Path, dry_run: bool
) -> None:
    header = ["code", "name", "kind", "parent_code", "uscc", "region_code"]
    rows = [[unique_code("O"), "测试学会", "national_society", "", "", ""]]
    path = write_csv(tmp_path / "orgs.csv", rows, header=header)
    run = registry("import", "orgs", path, "--json", *(["--dry-run"] if dry_run else []))
    assert run.exit_code == 0, run.output
    assert_contract_summary(run.summary)
    assert (run.summary["rows"], run.summary["rejected"]) == (1, 0)


@pytest.mark.parametrize("dry_run", [False, True], ids=["written", "dry-run"])
def test_a_member_import_summary_has_every_contract_key(
    registry, factory, tmp_path: Path, dry_run: bool
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "members.csv", [member(), member()])
    args = ["import", "members", path, "--org", org.code, "--json"]
    run = registry(*args, *(["--dry-run"] if dry_run else []))
    assert run.exit_code == 0, run.output
    assert_contract_summary(run.summary)
    assert (run.summary["rows"], run.summary["created_people"]) == (2, 2)
    assert run.summary["created_memberships"] == 2


@pytest.mark.parametrize(
    "args",
    [
        ["import", "orgs"],  # no FILE
        ["import", "orgs", "x.csv", "--no-such-option"],
        ["import", "members", "x.csv", "--org"],  # --org without its value
        ["users", "create", "someone"],  # --role missing
        ["users", "create", "someone", "--role", "emperor"],
    ],
)
def test_usage_errors_exit_2(registry, args: list[str]) -> None:
    assert registry(*args).exit_code == 2
