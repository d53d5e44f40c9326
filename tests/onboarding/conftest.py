"""Helpers for import tests: dirty files in every format, the CLI run as operators run it."""

from __future__ import annotations

import csv
import itertools
import json
import random
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from services.registry.cli import app

from ..factories import resident_id

HEADER = [
    "姓名",
    "性别",
    "出生日期",
    "证件类型",
    "证件号码",
    "手机",
    "邮箱",
    "工作单位",
    "职称",
    "学科",
    "研究方向",
    "会员等级",
    "会员编号",
    "入会日期",
    "有效期至",
]

_rng = random.Random()
# Member numbers never repeat across rows: a collision would turn a clean row into a rejected one.
_member_numbers = itertools.count(_rng.randrange(10**8))


def phone() -> str:
    return f"1{_rng.choice('3578')}{_rng.randrange(10**9):09d}"


def member(**overrides: Any) -> dict[str, str]:
    """One clean member row (Chinese headers); override any cell."""
    gender = overrides.pop("gender_en", _rng.choice(["male", "female"]))
    birth = overrides.pop(
        "birth", date(_rng.randint(1960, 1999), _rng.randint(1, 12), _rng.randint(1, 28))
    )
    row = {
        "姓名": _rng.choice("王李张刘陈杨黄赵")
        + _rng.choice("伟芳娜敏静强磊军洋勇")
        + _rng.choice("华明丽平"),
        "性别": "男" if gender == "male" else "女",
        "出生日期": birth.isoformat(),
        "证件类型": "居民身份证",
        "证件号码": resident_id(birth, gender),
        "手机": phone(),
        "邮箱": f"u{_rng.randrange(10**9)}@example.cn",
        "工作单位": "清华大学",
        "职称": "教授",
        "学科": "130 力学",
        "研究方向": "湍流、固体力学",
        "会员等级": "会员",
        "会员编号": f"M{next(_member_numbers):09d}",
        "入会日期": "2015-06-01",
        "有效期至": "2030-12-31",
    }
    row.update(overrides)
    return row


def write_csv(
    path: Path,
    rows: list[dict[str, str]] | list[list[str]],
    *,
    header: list[str] | None = None,
    encoding: str = "utf-8",
) -> Path:
    header = header or HEADER
    with path.open("w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(h, "") for h in header] if isinstance(row, dict) else row)
    return path


def write_xlsx(
    path: Path,
    rows: list[dict[str, Any]],
    *,
    header: list[str] | None = None,
    sheet: str = "会员",
    extra_sheet_first: bool = False,
) -> Path:
    from openpyxl import Workbook

    header = header or HEADER
    book = Workbook()
    first = book.active
    if extra_sheet_first:
        first.title = "说明"
        first.append(["本表为会员名单"])
        target = book.create_sheet(sheet)
    else:
        first.title = sheet
        target = first
    target.append(header)
    for row in rows:
        target.append([row.get(h) for h in header])
    book.save(path)
    return path


@pytest.fixture
def cli_env(database_url: str, settings, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("REGISTRY_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("REGISTRY_ENV", "test")


class Run:
    """`output` is what a terminal shows (both streams); `stdout` alone holds the summary."""

    def __init__(self, exit_code: int, output: str, stdout: str) -> None:
        self.exit_code = exit_code
        self.output = output
        self.stdout = stdout

    @property
    def summary(self) -> dict[str, Any]:
        return json.loads(self.stdout.strip().splitlines()[-1])


@pytest.fixture
def registry(cli_env: None) -> Callable[..., Run]:
    """Run `registry ARGS...` in-process; `.summary` parses the last stdout line as JSON."""

    def run(*args: str | Path) -> Run:
        result = CliRunner().invoke(app, [str(a) for a in args])
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.output, result.stdout)

    return run


def read_errors(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as handle:
        return list(csv.DictReader(handle))
