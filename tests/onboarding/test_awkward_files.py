"""Member lists as they arrive from old systems: stray bytes, titles above the header, a stale
sheet size, padded names, half dates, and the mistakes operators make on the command line."""

from __future__ import annotations

import codecs
import re
import zipfile
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.orm import Session

from .conftest import HEADER, member, read_errors, write_csv, write_xlsx


def _names(db: Session, org_code: str) -> list[str]:
    db.rollback()
    return list(
        db.scalars(
            text(
                "SELECT p.name FROM membership m JOIN person p ON p.id = m.person_id"
                " JOIN organisation o ON o.id = m.org_id WHERE o.code = :code ORDER BY p.name"
            ),
            {"code": org_code},
        )
    )


def test_a_year_and_month_is_rejected_not_read_as_a_day_number(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    rows = [member(证件类型="", 证件号码="", 出生日期="1985.03"), member(有效期至="2030")]
    errors = tmp_path / "errors.csv"
    run = registry(
        "import", "members", write_csv(tmp_path / "m.csv", rows), "--org", org.code,
        "--errors", errors, "--json",
    )  # fmt: skip
    assert run.summary["rejected"] == 2
    reasons = [row["reason"] for row in read_errors(errors)]
    assert reasons == [
        "出生日期: a year and month only, not a full date; use YYYY-MM-DD",
        "有效期至: a year only, not a full date; use YYYY-MM-DD",
    ]
    assert _names(db, org.code) == []


def test_a_utf8_file_with_one_stray_byte_is_refused_not_read_as_gb18030(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member(), member(), member(工作单位="X")])
    path.write_bytes(path.read_bytes().replace(b",X,", ",Universit\xe9 Paris,".encode("latin-1")))
    run = registry("import", "members", path, "--org", org.code)
    assert run.exit_code == 1
    assert "m.csv is UTF-8 text but line 4 holds bytes that are not UTF-8" in run.output
    assert _names(db, org.code) == []


def test_a_byte_order_mark_before_gb18030_text_is_skipped_when_the_encoding_is_given(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member(姓名="王小明")], encoding="gb18030")
    path.write_bytes(codecs.BOM_UTF8 + path.read_bytes())
    guessed = registry("import", "members", path, "--org", org.code)
    assert guessed.exit_code == 1
    assert "byte-order mark but is not UTF-8 from line 1" in guessed.output
    run = registry("import", "members", path, "--org", org.code, "--encoding", "gb18030", "--json")
    assert run.summary["created_people"] == 1
    assert _names(db, org.code) == ["王小明"]


def test_a_file_without_its_header_row_is_refused_without_quoting_documents_or_contacts(
    registry, factory, tmp_path: Path
) -> None:
    org = factory.org()
    row = member()
    path = tmp_path / "m.csv"
    path.write_text(",".join(row[h] for h in HEADER) + "\n", encoding="utf-8")
    run = registry("import", "members", path, "--org", org.code)
    assert run.exit_code == 1
    assert "no recognisable header" in run.output
    for secret in (row["证件号码"], row["手机"], row["邮箱"]):
        assert secret not in run.output
    assert row["证件号码"][:3] + "*" * 11 + row["证件号码"][-4:] in run.output


def test_a_title_above_the_header_is_skipped_in_csv_and_xlsx(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    people = [member(姓名="赵一鸣"), member(姓名="钱二")]
    path = write_csv(tmp_path / "m.csv", people)
    path.write_text("中国力学学会2024年会员名单\n\n" + path.read_text("utf-8"), encoding="utf-8")
    errors = tmp_path / "errors.csv"
    run = registry(
        "import", "members", path, "--org", org.code, "--errors", errors, "--json"
    )  # fmt: skip
    assert (run.summary["rows"], run.summary["created_people"]) == (2, 2)

    book = Workbook()
    sheet = book.active
    sheet.append(["中国力学学会2024年会员名单"])
    sheet.merge_cells(start_row=1, start_column=1, end_row=1, end_column=len(HEADER))
    sheet.append(HEADER)
    sheet.append([member(姓名="孙三", 出生日期="1980-02-30")[h] for h in HEADER])
    book.save(tmp_path / "m.xlsx")
    run = registry(
        "import", "members", tmp_path / "m.xlsx", "--org", org.code, "--errors", errors, "--json"
    )  # fmt: skip
    assert (run.summary["rows"], run.summary["rejected"]) == (1, 1)
    assert read_errors(errors)[0]["row_number"] == "3"  # the sheet's own row number
    assert _names(db, org.code) == sorted(["赵一鸣", "钱二"])


def _declare_size(path: Path, reference: str) -> None:
    """Rewrite the sheet's `dimension` record, as writers that store a stale one do."""
    data = {}
    with zipfile.ZipFile(path) as source:
        for item in source.infolist():
            data[item.filename] = source.read(item.filename)
    sheet = "xl/worksheets/sheet1.xml"
    data[sheet] = re.sub(
        rb'<dimension ref="[^"]*"', f'<dimension ref="{reference}"'.encode(), data[sheet]
    )
    with zipfile.ZipFile(path, "w") as target:
        for name, content in data.items():
            target.writestr(name, content)


def test_an_xlsx_sheet_is_read_to_its_last_row_whatever_size_it_declares(
    registry, factory, db, tmp_path: Path
) -> None:
    for declared in ("A1:O2", "A1"):
        org = factory.org()
        rows = [member() for _ in range(5)]
        rows[2]["邮箱"] = ""  # a gap inside a row keeps the cells after it in place
        path = write_xlsx(tmp_path / f"m{len(declared)}.xlsx", rows)
        _declare_size(path, declared)
        run = registry("import", "members", path, "--org", org.code, "--json")
        assert (run.summary["rows"], run.summary["created_people"]) == (5, 5), declared


def test_one_document_number_with_two_names_rejects_the_later_row_wherever_chunks_end(
    registry, factory, tmp_path: Path
) -> None:
    outcomes = []
    for filler in (0, 150):
        org = factory.org()
        first = member()
        other = {**first, "姓名": first["姓名"] + "某", "会员编号": member()["会员编号"]}
        rows = [first, *(member() for _ in range(filler)), other]
        errors = tmp_path / f"errors{filler}.csv"
        run = registry(
            "import", "members", write_csv(tmp_path / f"m{filler}.csv", rows), "--org", org.code,
            "--chunk-rows", "100", "--errors", errors, "--json",
        )  # fmt: skip
        reasons = [row["reason"] for row in read_errors(errors)]
        outcomes.append((run.summary["rejected"], run.summary["duplicate_rows"], reasons))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == (
        1,
        0,
        ["姓名: differs from the name registered with this document number"],
    )


def test_a_name_padded_with_an_ideographic_space_is_the_same_name(
    registry, factory, db, tmp_path: Path
) -> None:
    first, second = factory.org(), factory.org()
    row = member(姓名="张三")
    registry("import", "members", write_csv(tmp_path / "a.csv", [row]), "--org", first.code)
    padded = {**row, "姓名": "张\u3000三", "会员编号": member()["会员编号"]}
    run = registry(
        "import", "members", write_csv(tmp_path / "b.csv", [padded]), "--org", second.code, "--json"
    )  # fmt: skip
    assert (run.summary["matched_people"], run.summary["rejected"]) == (1, 0)
    assert _names(db, second.code) == ["张三"]


def test_an_error_file_that_cannot_be_written_is_one_clear_message(
    registry, factory, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member()])
    run = registry(
        "import", "members", path, "--org", org.code, "--errors", tmp_path / "nowhere" / "e.csv"
    )  # fmt: skip
    assert run.exit_code == 1
    assert "cannot write the error file" in run.output
    assert "Traceback" not in run.output


def test_options_that_do_not_fit_the_file_are_usage_errors(
    registry, factory, tmp_path: Path
) -> None:
    org = factory.org()
    csv_file = write_csv(tmp_path / "m.csv", [member()])
    xlsx_file = write_xlsx(tmp_path / "m.xlsx", [member()])
    for args, message in (
        ((csv_file, "--encoding", "nonsense"), "--encoding: unknown encoding 'nonsense'"),
        ((csv_file, "--sheet", "会员"), "--sheet applies to XLSX files, not CSV"),
        ((xlsx_file, "--encoding", "gbk"), "--encoding applies to CSV files, not XLSX"),
    ):
        run = registry("import", "members", *args, "--org", org.code)
        assert run.exit_code == 2, args
        assert message in run.output


def test_a_latin_name_in_capitals_is_the_same_holder_of_a_document(
    registry, factory, tmp_path: Path
) -> None:
    first, second = factory.org(), factory.org()
    row = member(姓名="John Smith", 证件类型="护照", 证件号码="E12345678", 性别="男")
    registry("import", "members", write_csv(tmp_path / "a.csv", [row]), "--org", first.code)
    capitals = {**row, "姓名": "JOHN SMITH", "会员编号": member()["会员编号"]}
    twice = [capitals, {**capitals, "姓名": "john smith"}]
    run = registry(
        "import", "members", write_csv(tmp_path / "b.csv", twice), "--org", second.code, "--json"
    )  # fmt: skip
    summary = run.summary
    assert (summary["matched_people"], summary["rejected"], summary["duplicate_rows"]) == (1, 0, 1)


def test_a_persons_later_row_counts_when_their_first_is_refused_wherever_chunks_end(
    registry, factory, db, tmp_path: Path
) -> None:
    outcomes = []
    for chunk_rows in (100, 10_000):
        org = factory.org()
        holder = member(会员编号=f"TAKEN{chunk_rows}")
        registry("import", "members", write_csv(tmp_path / "h.csv", [holder]), "--org", org.code)
        person = member(会员编号=holder["会员编号"])  # row 2: the number is the holder's
        again = {**person, "会员编号": ""}  # row 102: the same person, nothing wrong
        errors = tmp_path / f"errors{chunk_rows}.csv"
        rows = [person, *(member() for _ in range(99)), again]
        run = registry(
            "import", "members", write_csv(tmp_path / "m.csv", rows), "--org", org.code,
            "--chunk-rows", str(chunk_rows), "--errors", errors, "--json",
        )  # fmt: skip
        db.rollback()
        imported = db.scalar(
            text("SELECT count(*) FROM person WHERE phone = :p"), {"p": person["手机"]}
        )
        refused = [int(row["row_number"]) for row in read_errors(errors)]
        summary = run.summary
        outcomes.append((imported, refused, summary["duplicate_rows"], summary["created_people"]))
    assert outcomes[0] == outcomes[1] == (1, [2], 0, 100)


def _outcome(registry, org, tmp_path: Path, rows: list[dict], chunk_rows: int) -> tuple:  # type: ignore[no-untyped-def]
    errors = tmp_path / f"errors{chunk_rows}.csv"
    run = registry(
        "import", "members", write_csv(tmp_path / "m.csv", rows), "--org", org.code,
        "--chunk-rows", str(chunk_rows), "--errors", errors, "--json",
    )  # fmt: skip
    s = run.summary
    reasons = [(e["row_number"], e["reason"]) for e in read_errors(errors)]
    return s["matched_people"], s["created_people"], s["rejected"], s["duplicate_rows"], reasons


def test_the_registered_name_after_a_refused_misspelling_is_matched_wherever_chunks_end(
    registry, factory, tmp_path: Path
) -> None:
    outcomes = []
    for chunk_rows in (100, 10_000):
        registered_in, org = factory.org(), factory.org()
        holder = member()
        registry("import", "members", write_csv(tmp_path / "h.csv", [holder]),
                 "--org", registered_in.code)  # fmt: skip
        wrong = {**holder, "姓名": holder["姓名"] + "某", "会员编号": member()["会员编号"]}
        right = {**holder, "会员编号": member()["会员编号"]}
        rows = [wrong, *(member() for _ in range(99)), right]  # rows 2 and 102
        outcomes.append(_outcome(registry, org, tmp_path, rows, chunk_rows))
    assert outcomes[0] == outcomes[1]
    assert outcomes[0] == (
        1, 99, 1, 0, [("2", "姓名: differs from the name registered with this document number")]
    )  # fmt: skip


def test_a_name_in_other_capitals_is_judged_by_the_database_wherever_chunks_end(
    registry, factory, tmp_path: Path
) -> None:
    outcomes = []
    for chunk_rows in (100, 10_000):
        org = factory.org()
        first = member(姓名="İlhan Kaya", 证件类型="护照", 证件号码=f"U{chunk_rows:08d}", 性别="男")
        later = {**first, "姓名": "ILHAN KAYA", "会员编号": member()["会员编号"]}
        rows = [first, *(member() for _ in range(99)), later]
        outcomes.append(_outcome(registry, org, tmp_path, rows, chunk_rows))
    assert outcomes[0] == outcomes[1]
    # The later row is the same holder's repeat, as a name in other capitals is the same name.
    assert outcomes[0] == (0, 100, 0, 1, [])


def test_a_thousand_copies_of_a_refused_row_are_refused_together(
    registry, factory, tmp_path: Path
) -> None:
    registered_in, org = factory.org(), factory.org()
    holder = member()
    registry("import", "members", write_csv(tmp_path / "h.csv", [holder]),
             "--org", registered_in.code)  # fmt: skip
    wrong = {**holder, "姓名": holder["姓名"] + "某", "会员编号": ""}
    errors = tmp_path / "e.csv"
    run = registry(
        "import", "members", write_csv(tmp_path / "m.csv", [wrong] * 1200), "--org", org.code,
        "--errors", errors, "--json",
    )  # fmt: skip
    assert run.exit_code == 0
    assert (run.summary["rejected"], run.summary["duplicate_rows"]) == (1200, 0)
    assert len(read_errors(errors)) == 1200


def test_text_the_api_refuses_is_refused_by_the_import_too(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    rows = [
        member(姓名="张三\x07"),  # the cell-end mark a table copied out of Word carries
        member(工作单位="清华\x08大学"),
        member(研究方向="、".join(f"方向{i}" for i in range(51))),
        member(研究方向="湍流、" + "长" * 201),
        member(研究方向="湍流\x1b、固体力学"),
        member(姓名="李四"),
    ]
    errors = tmp_path / "errors.csv"
    run = registry(
        "import", "members", write_csv(tmp_path / "m.csv", rows), "--org", org.code,
        "--errors", errors, "--json",
    )  # fmt: skip
    assert [row["reason"] for row in read_errors(errors)] == [
        "姓名: contains control characters",
        "工作单位: contains control characters",
        "研究方向: at most 50 items",
        "研究方向: at most 200 characters",
        "研究方向: contains control characters",
    ]
    assert (run.summary["rejected"], run.summary["created_people"]) == (5, 1)
    assert _names(db, org.code) == ["李四"]


def _damaged(path: Path, part: str, keep: float) -> Path:
    """A copy of an XLSX workbook with one of its parts cut short (a broken download)."""
    damaged = path.with_name(f"damaged-{part.replace('/', '-')}.xlsx")
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            target.writestr(item, data[: int(len(data) * keep)] if item.filename == part else data)
    return damaged


def test_a_damaged_xlsx_workbook_is_one_clear_message_and_imports_nothing(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_xlsx(tmp_path / "m.xlsx", [member() for _ in range(300)])
    for part, keep in (("xl/workbook.xml", 0.2), ("xl/worksheets/sheet1.xml", 0.6)):
        run = registry("import", "members", _damaged(path, part, keep), "--org", org.code)
        assert run.exit_code == 1, part
        assert "is not a readable XLSX workbook" in run.output, part
        assert "Traceback" not in run.output
    assert _names(db, org.code) == []


def test_messages_quote_file_names_and_columns_as_they_are_written(
    registry, factory, tmp_path: Path
) -> None:
    org = factory.org()
    empty = tmp_path / "会员名单[v2].csv"
    empty.write_bytes(b"")
    run = registry("import", "members", empty, "--org", org.code)
    assert run.exit_code == 1
    assert "会员名单[v2].csv is empty" in run.output
    path = write_csv(
        tmp_path / "名单[final].csv", [[*member().values(), "x"]], header=[*HEADER, "[note]"]
    )
    run = registry("import", "members", path, "--org", org.code)
    assert run.exit_code == 0, run.output
    assert "imported 名单[final].csv: 1 rows" in run.output
    assert "ignored unknown column(s): [note]" in run.output


def test_an_error_file_that_would_overwrite_the_list_is_refused_and_the_list_kept(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member() for _ in range(3)])
    content = path.read_bytes()
    for errors in (path, tmp_path / "." / "m.csv"):
        run = registry("import", "members", path, "--org", org.code, "--errors", errors)
        assert run.exit_code == 2, run.output
        assert "--errors" in run.output
        assert path.read_bytes() == content
    assert _names(db, org.code) == []


def test_the_terminal_report_shows_the_first_rejected_rows_or_where_they_were_written(
    registry, factory, tmp_path: Path
) -> None:
    org = factory.org()
    rows = [member(性别="未知") for _ in range(7)] + [member()]
    path = write_csv(tmp_path / "m.csv", rows)
    run = registry("import", "members", path, "--org", org.code)
    assert run.exit_code == 0, run.output
    assert "7 rows rejected, the first 5 here (--errors FILE writes each with its cells" in (
        run.output
    )
    reason = "性别: unknown gender, expected 男 (male) or 女 (female)"
    assert [line.strip() for line in run.output.splitlines() if line.startswith("  row ")] == [
        f"row {n}: {reason}" for n in range(2, 7)
    ]
    assert "created_orgs" not in run.output  # counts a member list never changes
    errors = tmp_path / "errors.csv"
    run = registry("import", "members", path, "--org", org.code, "--errors", errors)
    assert f"rejected rows, with their numbers and reasons: {errors}" in run.output
    assert "  row " not in run.output
    orgs = write_csv(
        tmp_path / "orgs.csv", [["Q2X", "某学会", "全国学会"]], header=["代码", "名称", "类型"]
    )
    run = registry("import", "orgs", orgs)
    assert "created_orgs" in run.output
    assert "people" not in run.output
    assert "rejected" not in run.output.replace("  rejected               0", "")
