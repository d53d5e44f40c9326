"""`registry import orgs` and `registry import group-members`: upserts by code and by USCC."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from stdnum.cn import uscc

from ..factories import unique_code
from .conftest import read_errors, write_csv, write_xlsx


def a_uscc(seed: int) -> str:
    body = f"91110108{seed:09d}"
    return body + uscc.calc_check_digit(body)


def test_orgs_parents_may_follow_children_and_a_second_run_changes_nothing(
    registry, db, tmp_path: Path
) -> None:
    root, child, grandchild = unique_code("R"), unique_code("C"), unique_code("G")
    header = ["代码", "名称", "类型", "上级代码", "统一社会信用代码", "行政区划代码"]
    rows = [
        [grandchild, "海淀区科协", "县科协", child, "", "110108"],
        [child, "北京市科协", "省级科协", root, a_uscc(1), "11"],
        [root, "测试科协", "中国科协", "", "", ""],
        ["BAD CODE", "坏", "全国学会", "", "", ""],
        [unique_code("O"), "孤儿学会", "全国学会", "NO-SUCH", "", ""],
        [unique_code("K"), "类型不明", "神仙会", "", "", ""],
    ]
    path = write_csv(tmp_path / "orgs.csv", rows, header=header)
    errors = tmp_path / "e.csv"
    s = registry("import", "orgs", path, "--errors", errors, "--json").summary
    assert (s["rows"], s["created_orgs"], s["rejected"]) == (6, 3, 3)
    assert [(r["row_number"], r["reason"].split(":")[0]) for r in read_errors(errors)] == [
        ("5", "代码"),
        ("6", "上级代码"),
        ("7", "类型"),
    ]
    db.rollback()
    tree = {
        code: (parent, path, oid.hex)
        for code, parent, path, oid in db.execute(
            text(
                "SELECT o.code, p.code, o.path, o.id FROM organisation o"
                " LEFT JOIN organisation p ON p.id = o.parent_id WHERE o.code = ANY(:c)"
            ),
            {"c": [root, child, grandchild]},
        ).all()
    }
    # Each path is its parent's with the organisation's own id added: the ids from the root.
    assert tree[root] == (None, f"{tree[root][2]}/", tree[root][2])
    for code, parent in ((child, root), (grandchild, child)):
        assert tree[code][:2] == (parent, f"{tree[parent][1]}{tree[code][2]}/"), code
    again = registry("import", "orgs", path, "--json").summary
    assert (again["created_orgs"], again["updated_orgs"], again["unchanged"]) == (0, 0, 3)
    rows[1][1] = "北京市科学技术协会"
    edited = registry(
        "import", "orgs", write_csv(tmp_path / "o2.csv", rows, header=header), "--json"
    ).summary
    assert (edited["updated_orgs"], edited["unchanged"]) == (1, 2)
    db.rollback()
    history = db.execute(
        text(
            "SELECT h.field, h.new_value, h.source FROM change_history h JOIN organisation o "
            "ON o.id = h.entity_id WHERE o.code = :c ORDER BY h.id"
        ),
        {"c": child},
    ).all()
    assert [tuple(h)[:2] for h in history] == [("created", child), ("name", "北京市科学技术协会")]
    assert history[1][2] == f"import:{edited['batch_id']}"


def test_group_members_are_keyed_by_uscc(registry, factory, db, tmp_path: Path) -> None:
    org = factory.org()
    header = [
        "单位名称",
        "统一社会信用代码",
        "会员编号",
        "会员等级",
        "入会日期",
        "联系人",
        "联系电话",
    ]
    rows = [
        {
            "单位名称": "华为技术有限公司",
            "统一社会信用代码": a_uscc(2),
            "会员编号": "G1",
            "会员等级": "理事单位",
            "入会日期": "2019-01-01",
            "联系人": "张三",
            "联系电话": "13800000000",
        },
        {
            "单位名称": "中国航天科技集团有限公司",
            "统一社会信用代码": a_uscc(3).lower(),
            "会员编号": "G2",
        },
        {"单位名称": "中国航天科技集团有限公司", "统一社会信用代码": a_uscc(3), "会员编号": "G2"},
        {"单位名称": "重复", "统一社会信用代码": a_uscc(2)},  # other values: refused
        {"单位名称": "坏代码", "统一社会信用代码": "91110108000000000X"},
    ]
    path = write_xlsx(tmp_path / "groups.xlsx", rows, header=header)
    errors = tmp_path / "e.csv"
    s = registry(
        "import", "group-members", path, "--org", org.code, "--errors", errors, "--json"
    ).summary
    assert (s["rows"], s["created_memberships"], s["duplicate_rows"], s["rejected"]) == (5, 2, 1, 2)
    reasons = [e["reason"] for e in read_errors(errors)]
    assert reasons[0] == "统一社会信用代码: also on row 2 with other values"
    assert reasons[1] == "统一社会信用代码: check digit does not match (GB 32100)"
    db.rollback()
    stored = db.execute(
        text(
            "SELECT uscc, grade, member_no FROM group_membership WHERE org_id = :o "
            "ORDER BY member_no"
        ),
        {"o": org.id},
    ).all()
    assert [tuple(r) for r in stored] == [(a_uscc(2), "council", "G1"), (a_uscc(3), "member", "G2")]
    again = registry("import", "group-members", path, "--org", org.code, "--json").summary
    assert (again["created_memberships"], again["updated_memberships"], again["unchanged"]) == (
        0,
        0,
        2,
    )


def _groups(db, org_id) -> list[tuple]:  # type: ignore[no-untyped-def]
    db.rollback()
    return [
        tuple(row)
        for row in db.execute(
            text(
                "SELECT name, status, seats, joined_on IS NOT NULL FROM group_membership"
                " WHERE org_id = :o ORDER BY name"
            ),
            {"o": org_id},
        )
    ]


def _import_groups(registry, tmp_path, org, rows, header, name="g.csv"):  # type: ignore[no-untyped-def]
    """The summary of importing `rows` as the org's group members, and the refused rows."""
    errors = tmp_path / "e.csv"
    s = registry(
        "import", "group-members", write_csv(tmp_path / name, rows, header=header),
        "--org", org.code, "--errors", errors, "--json",
    ).summary  # fmt: skip
    return s, read_errors(errors)


def test_group_members_seats_are_imported_and_checked(registry, factory, db, tmp_path) -> None:
    org = factory.org()
    header = ["单位名称", "统一社会信用代码", "席位数"]
    rows = [
        ["甲单位", a_uscc(101), "5"], ["乙单位", a_uscc(102), ""], ["丙单位", a_uscc(103), "三"],
        ["丁单位", a_uscc(104), "1001"], ["戊单位", a_uscc(105), "０"],
    ]  # fmt: skip
    s, refused = _import_groups(registry, tmp_path, org, rows, header)
    assert (s["created_memberships"], s["rejected"], s["unknown_columns"]) == (3, 2, [])
    assert [e["row_number"] for e in refused] == ["4", "5"]
    # New members are joined today, as through the API; an empty cell leaves the default seat.
    assert set(_groups(db, org.id)) == {
        ("乙单位", "active", 1, True), ("戊单位", "active", 0, True), ("甲单位", "active", 5, True),
    }  # fmt: skip
    edited = write_csv(tmp_path / "g2.csv", [["甲单位", a_uscc(101), "7"]], header=header)
    again = registry("import", "group-members", edited, "--org", org.code, "--json").summary
    assert again["updated_memberships"] == 1
    assert ("甲单位", "active", 7, True) in _groups(db, org.id)


def test_a_renewal_by_import_takes_the_status_its_dates_give_within_the_cap(
    registry, factory, db, tmp_path
) -> None:
    org = factory.org()
    header = ["单位名称", "统一社会信用代码", "有效期至"]
    first = [["甲单位", a_uscc(201), "2035-12-31"], ["乙单位", a_uscc(202), "2020-12-31"],
             ["丙单位", a_uscc(203), "2020-12-31"]]  # fmt: skip
    registry("import", "group-members", write_csv(tmp_path / "g.csv", first, header=header),
             "--org", org.code)  # fmt: skip
    statuses = {name: status for name, status, _, _ in _groups(db, org.id)}
    assert statuses == {"甲单位": "active", "乙单位": "lapsed", "丙单位": "lapsed"}
    db.execute(
        text("UPDATE membership_policy SET group_member_cap = 2 WHERE org_id = :o"),
        {"o": org.id},
    )
    db.commit()
    renewed = [["乙单位", a_uscc(202), "2036-12-31"], ["丙单位", a_uscc(203), "2036-12-31"]]
    s, refused = _import_groups(registry, tmp_path, org, renewed, header, "g2.csv")
    assert (s["updated_memberships"], s["rejected"]) == (1, 1)
    assert refused[0]["reason"] == (
        "group_member_cap: the society has 2 group members and its cap is 2 (总量控制);"
        " end one or raise the cap first"
    )
    statuses = {name: status for name, status, _, _ in _groups(db, org.id)}
    assert statuses == {"甲单位": "active", "乙单位": "active", "丙单位": "lapsed"}


def test_an_organisation_code_repeated_with_other_values_is_refused_and_repeats_share_its_fate(
    registry, db, tmp_path
) -> None:
    same, orphan = unique_code("D"), unique_code("E")
    rows = [
        [same, "中国力学学会", "全国学会", ""],
        [same, "中国化学会", "全国学会", ""],  # other values: refused
        [same, "中国力学学会", "全国学会", ""],  # an exact repeat
        [orphan, "甲学会", "全国学会", "NO-SUCH"],  # refused: unknown parent
        [orphan, "甲学会", "全国学会", "NO-SUCH"],  # its exact repeat: refused with it
    ]
    path = write_csv(tmp_path / "o.csv", rows, header=["代码", "名称", "类型", "上级代码"])
    errors = tmp_path / "e.csv"
    s = registry("import", "orgs", path, "--errors", errors, "--json").summary
    assert (s["rows"], s["created_orgs"], s["duplicate_rows"], s["rejected"]) == (5, 1, 1, 3)
    assert [(e["row_number"], e["reason"]) for e in read_errors(errors)] == [
        ("3", "代码: also on row 2 with other values"),
        ("5", "上级代码: no organisation has this code"),
        ("6", "上级代码: no organisation has this code"),
    ]
    db.rollback()
    assert db.scalar(text("SELECT name FROM organisation WHERE code = :c"), {"c": same}) == (
        "中国力学学会"
    )


def test_an_organisation_is_refused_where_the_tree_has_no_place_for_its_kind(
    registry, db, tmp_path
) -> None:
    province, county = unique_code("P"), unique_code("K")
    rows = [
        [province, "某省科协", "省级科协", ""],
        [county, "某县科协", "县科协", province],
        [unique_code("S"), "某县力学学会", "全国学会", county],  # a society of the county: fits
        [unique_code("Q"), "另一省科协", "省级科协", county],  # a province below a county
        [unique_code("F"), "中国科协", "中国科协", county],  # the federation below anything
    ]
    path = write_csv(tmp_path / "o.csv", rows, header=["代码", "名称", "类型", "上级代码"])
    errors = tmp_path / "e.csv"
    s = registry("import", "orgs", path, "--errors", errors, "--json").summary
    assert (s["created_orgs"], s["rejected"]) == (3, 2)
    assert [(e["row_number"], e["reason"]) for e in read_errors(errors)] == [
        ("5", "上级代码: a provincial_association cannot sit below a local_association"),
        ("6", "上级代码: a federation cannot sit below a local_association"),
    ]


def test_group_member_dates_outside_what_a_register_keeps_are_refused(
    registry, factory, db, tmp_path
) -> None:
    org = factory.org()
    header = ["单位名称", "统一社会信用代码", "有效期至"]
    rows = [["甲单位", a_uscc(301), "9999-12-31"], ["乙单位", a_uscc(302), "2030-12-31"]]
    s, refused = _import_groups(registry, tmp_path, org, rows, header)
    assert (s["created_memberships"], s["rejected"]) == (1, 1)
    (error,) = refused
    assert error["row_number"] == "2"
    assert error["reason"] == "有效期至: must be between 1900-01-01 and 2199-12-31"


def test_a_dry_run_of_orgs_or_group_members_writes_nothing(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    code = unique_code("D")
    orgs = write_csv(
        tmp_path / "orgs.csv", [[code, "演练学会", "全国学会", "", "", ""]],
        header=["代码", "名称", "类型", "上级代码", "统一社会信用代码", "行政区划代码"],
    )  # fmt: skip
    groups = write_csv(
        tmp_path / "g.csv", [["演练单位", a_uscc(401)]], header=["单位名称", "统一社会信用代码"]
    )

    def counts():  # type: ignore[no-untyped-def]
        db.rollback()
        return db.execute(
            text(
                "SELECT (SELECT count(*) FROM organisation),"
                " (SELECT count(*) FROM group_membership),"
                " (SELECT count(*) FROM change_history), (SELECT count(*) FROM import_batch)"
            )
        ).one()

    before = counts()
    s = registry("import", "orgs", orgs, "--dry-run", "--json").summary
    assert (s["created_orgs"], s["dry_run"]) == (1, True)
    s = registry(
        "import", "group-members", groups, "--org", org.code, "--dry-run", "--json"
    ).summary
    assert (s["created_memberships"], s["dry_run"]) == (1, True)
    assert counts() == before
    # For real, the same files write the organisation, the group membership and two batches.
    assert registry("import", "orgs", orgs, "--json").summary["created_orgs"] == 1
    s = registry("import", "group-members", groups, "--org", org.code, "--json").summary
    assert s["created_memberships"] == 1
    after = counts()
    assert (after[0] - before[0], after[1] - before[1], after[3] - before[3]) == (1, 1, 2)


def test_an_organisation_name_too_long_is_reported_in_characters(registry, tmp_path: Path) -> None:
    header = ["代码", "名称", "类型"]
    rows = [[unique_code("O"), "长" * 201, "全国学会"]]
    path = write_csv(tmp_path / "orgs.csv", rows, header=header)
    errors = tmp_path / "e.csv"
    s = registry("import", "orgs", path, "--errors", errors, "--json").summary
    assert s["rejected"] == 1
    assert [r["reason"] for r in read_errors(errors)] == [
        "名称: String should have at most 200 characters"
    ]
