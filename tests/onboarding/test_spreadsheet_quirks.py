"""What spreadsheets put in a list besides values: formula errors, the 1904 date system of
workbooks from old Mac Excel, and the semicolons of CSV exported where a comma is a decimal
point."""

from __future__ import annotations

import csv
from datetime import date, datetime
from pathlib import Path

from openpyxl import Workbook
from openpyxl.utils.datetime import CALENDAR_MAC_1904
from sqlalchemy import text
from sqlalchemy.orm import Session

from .conftest import HEADER, member, read_errors, write_csv, write_xlsx
from .test_orgs_and_groups import a_uscc


def _members(db: Session, org_code: str) -> list[tuple[str, str | None, date | None, date | None]]:
    db.rollback()
    return [
        tuple(row)
        for row in db.execute(
            text(
                "SELECT p.name, p.institution, p.birth_date, m.joined_on FROM membership m"
                " JOIN person p ON p.id = m.person_id JOIN organisation o ON o.id = m.org_id"
                " WHERE o.code = :code ORDER BY p.name"
            ),
            {"code": org_code},
        )
    ]


def test_formula_errors_are_refused_naming_the_column_in_csv_and_xlsx(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    rows = [
        member(姓名="#N/A"),  # a VLOOKUP that found nothing, saved as its shown value
        member(工作单位="#VALUE!", 研究方向="#REF!"),
        member(手机="#DIV/0!", 证件类型="", 证件号码=""),
        member(入会日期="#NUM!"),
        member(姓名="李四", 工作单位="#无效单位"),  # text that only starts like one is text
    ]
    expected = [
        "姓名: #N/A is a spreadsheet formula error, not a value",
        "工作单位: #VALUE! is a spreadsheet formula error, not a value; "
        "研究方向: #REF! is a spreadsheet formula error, not a value",
        "手机: #DIV/0! is a spreadsheet formula error, not a value",
        "入会日期: #NUM! is a spreadsheet formula error, not a value",
    ]
    for path in (write_csv(tmp_path / "m.csv", rows), write_xlsx(tmp_path / "m.xlsx", rows)):
        errors = tmp_path / f"errors-{path.suffix[1:]}.csv"
        run = registry(
            "import", "members", path, "--org", org.code, "--errors", errors, "--json"
        )  # fmt: skip
        assert run.summary["rejected"] == 4, path.name
        assert [row["reason"] for row in read_errors(errors)] == expected, path.name
        assert next(row["姓名"] for row in read_errors(errors)) == "#N/A"
    assert [(name, institution) for name, institution, *_ in _members(db, org.code)] == [
        ("李四", "#无效单位")
    ]


def test_formula_errors_are_refused_in_organisation_and_group_member_lists(
    registry, factory, tmp_path: Path
) -> None:
    org = factory.org()
    header = ["单位名称", "统一社会信用代码", "联系人"]
    rows = [["#N/A", a_uscc(401), "张三"], ["乙单位", a_uscc(402), "#NAME?"]]
    errors = tmp_path / "g.csv"
    summary = registry(
        "import", "group-members", write_csv(tmp_path / "groups.csv", rows, header=header),
        "--org", org.code, "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert (summary["created_memberships"], summary["rejected"]) == (0, 2)
    assert [row["reason"] for row in read_errors(errors)] == [
        "单位名称: #N/A is a spreadsheet formula error, not a value",
        "联系人: #NAME? is a spreadsheet formula error, not a value",
    ]
    header = ["代码", "名称", "类型"]
    errors = tmp_path / "o.csv"
    summary = registry(
        "import", "orgs",
        write_csv(tmp_path / "orgs.csv", [["Q1X", "#REF!", "全国学会"]], header=header),
        "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert (summary["created_orgs"], summary["rejected"]) == (0, 1)
    assert [row["reason"] for row in read_errors(errors)] == [
        "名称: #REF! is a spreadsheet formula error, not a value"
    ]


def test_dates_of_a_workbook_counting_from_1904_are_the_dates_excel_shows(
    registry, factory, db, tmp_path: Path
) -> None:
    """A date cell is a day number from the workbook's epoch: 1904-01-01 in workbooks from
    old Mac Excel, 1900 elsewhere. Both a cell formatted as a date and a bare number in a date
    column mean what Excel shows for them in that workbook."""
    org = factory.org()
    book = Workbook()
    book.epoch = CALENDAR_MAC_1904
    sheet = book.active
    sheet.append(HEADER)
    formatted = member(姓名="张三", birth=date(1985, 3, 2))
    formatted.update(出生日期=datetime(1985, 3, 2), 入会日期=datetime(2015, 6, 1))
    bare = member(姓名="李四", birth=date(1990, 7, 15))
    # Day numbers from 1904-01-01 (they show as these dates in a 1904 workbook), one with
    # the time of day a date typed with a time keeps; the member number is a number too.
    bare.update(出生日期=31607, 入会日期=40968.5, 会员编号=31607)
    for row in (formatted, bare):
        sheet.append([row.get(h) for h in HEADER])
    path = tmp_path / "mac.xlsx"
    book.save(path)
    summary = registry("import", "members", path, "--org", org.code, "--json").summary
    assert (summary["created_people"], summary["rejected"]) == (2, 0)
    assert [(name, birth, joined) for name, _, birth, joined in _members(db, org.code)] == [
        ("张三", date(1985, 3, 2), date(2015, 6, 1)),
        ("李四", date(1990, 7, 15), date(2016, 3, 1)),
    ]
    db.rollback()
    assert db.scalar(
        text("SELECT member_no FROM membership m JOIN person p ON p.id = m.person_id"
             " WHERE p.name = '李四' AND m.org_id = :org"),
        {"org": org.id},
    ) == "31607"  # fmt: skip


def test_a_list_separated_by_semicolons_is_read_like_one_separated_by_commas(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    rows = [
        member(姓名="张三", 研究方向="湍流、固体力学"),
        member(姓名="李四", 工作单位="北京大学"),
    ]
    path = tmp_path / "m.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as handle:
        handle.write("湖北省力学学会会员名单\n")  # a title above the header, without a semicolon
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(HEADER)
        for row in rows:
            writer.writerow([row[h] for h in HEADER])
        writer.writerow([""] * len(HEADER))
        quoted = member(姓名="王五;王六")  # a cell holding the delimiter is quoted
        writer.writerow([quoted[h] for h in HEADER])
    errors = tmp_path / "errors.csv"
    run = registry(
        "import", "members", path, "--org", org.code, "--errors", errors, "--json"
    )  # fmt: skip
    assert (run.summary["created_people"], run.summary["unknown_columns"]) == (3, [])
    names = sorted(name for name, *_ in _members(db, org.code))
    assert names == sorted(["张三", "李四", "王五;王六"])


def test_a_cell_merged_down_a_column_gives_its_value_to_every_row_it_covers(
    registry, factory, db, tmp_path: Path
) -> None:
    """Lists grouped by institution merge the 工作单位 cell over the group's rows: the value is
    written once, in the first, and stands for all of them, as it shows in Excel."""
    org = factory.org()
    book = Workbook()
    sheet = book.active
    sheet.append(["中国力学学会会员名单"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    names = ["甲一", "甲二", "甲三", "乙一", "乙二"]
    for name in names:
        row = member(姓名=name)
        sheet.append([row[h] for h in HEADER])
    sheet.append([])  # a blank row the last merge runs over stays blank
    column = HEADER.index("工作单位") + 1
    for first, last, institution in ((3, 5, "清华大学"), (6, 8, "北京大学")):
        sheet.cell(row=first, column=column, value=institution)
        sheet.merge_cells(start_row=first, start_column=column, end_row=last, end_column=column)
    path = tmp_path / "grouped.xlsx"
    book.save(path)
    summary = registry("import", "members", path, "--org", org.code, "--json").summary
    assert (summary["created_people"], summary["rejected"]) == (5, 0)
    got = {name: institution for name, institution, *_ in _members(db, org.code)}
    assert got == dict(zip(names, ["清华大学"] * 3 + ["北京大学"] * 2, strict=True))
