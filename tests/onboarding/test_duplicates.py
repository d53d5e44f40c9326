"""Near matches are recorded as possible duplicates, never merged silently; `registry people
merge` merges on request and loses nothing."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path

from pypinyin import lazy_pinyin
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.registry.core import history
from services.registry.onboarding import duplicates
from services.search import analysis

from .conftest import member, phone, write_csv


def test_similar_names_with_the_same_birth_date_are_listed_not_merged(
    registry, factory, db, tmp_path: Path
) -> None:
    first, second = factory.org(), factory.org()
    original = member(姓名="欧阳晓明", 出生日期="1977-04-05", 证件类型="", 证件号码="", 性别="男")
    registry("import", "members", write_csv(tmp_path / "a.csv", [original]), "--org", first.code)
    typo = {**original, "姓名": "欧阳小明", "手机": phone(), "邮箱": "", "会员编号": "B1"}
    homophone = member(姓名="章伟国", birth=date(1977, 4, 5), gender_en="male")
    stranger = member(姓名="欧阳晓明", 出生日期="1977-04-05", 性别="女", 证件类型="", 证件号码="")
    rows = [typo, homophone, stranger]
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", rows), "--org", second.code, "--json"
    ).summary
    assert (s["created_people"], s["matched_people"]) == (3, 0), json.dumps(s, ensure_ascii=False)
    assert s["possible_duplicates"] == 1
    pairs = [json.loads(x) for x in registry("people", "duplicates", "--json").stdout.splitlines()]
    mine = [p for p in pairs if {p["person_name"], p["other_name"]} == {"欧阳晓明", "欧阳小明"}]
    assert len(mine) == 1
    why, who = mine[0]["reason"].split(": ")
    assert why == "same birth date, names one character apart"
    assert set(who.split(" / ")) == {"欧阳晓明", "欧阳小明"}
    db.rollback()
    assert (
        db.execute(
            text(
                "SELECT count(*) FROM person WHERE name IN ('欧阳晓明', '欧阳小明') "
                "AND birth_date = '1977-04-05'"
            )
        ).scalar_one()
        == 3
    )
    # Importing the same file again records nothing new.
    again = registry(
        "import", "members", write_csv(tmp_path / "b.csv", rows), "--org", second.code, "--json"
    ).summary
    assert again["possible_duplicates"] == 0


def test_merge_moves_memberships_and_history_and_keeps_every_value(
    registry, factory, db, tmp_path: Path
) -> None:
    a_org, b_org, both = factory.org(), factory.org(), factory.org()
    keep_row = member(
        姓名="司马相如",
        出生日期="1966-06-06",
        证件类型="",
        证件号码="",
        性别="男",
        邮箱="",
        会员编号="K1",
        入会日期="2010-01-01",
        有效期至="2026-01-01",
    )
    other_row = {
        **keep_row,
        "姓名": "司马湘如",
        "手机": phone(),
        "邮箱": "sm@example.cn",
        "会员编号": "O1",
        "工作单位": "北京大学",
        "研究方向": "量子信息",
        "入会日期": "2005-01-01",
        "有效期至": "2030-01-01",
    }
    registry("import", "members", write_csv(tmp_path / "k.csv", [keep_row]), "--org", a_org.code)
    registry("import", "members", write_csv(tmp_path / "k2.csv", [keep_row]), "--org", both.code)
    registry("import", "members", write_csv(tmp_path / "o.csv", [other_row]), "--org", b_org.code)
    registry(
        "import",
        "members",
        write_csv(tmp_path / "o2.csv", [{**other_row, "会员编号": "O2"}]),
        "--org",
        both.code,
    )
    pairs = [json.loads(x) for x in registry("people", "duplicates", "--json").stdout.splitlines()]
    pair = next(p for p in pairs if {p["person_name"], p["other_name"]} == {"司马相如", "司马湘如"})
    keep_id = pair["person_id"] if pair["person_name"] == "司马相如" else pair["other_id"]
    other_id = pair["other_id"] if keep_id == pair["person_id"] else pair["person_id"]
    db.rollback()
    # Its `created` entry is its batch column (shown by the history read), not a stored row.
    other_history = db.execute(
        text(
            "SELECT (SELECT count(*) FROM change_history WHERE entity_id = :o) "
            "+ (SELECT count(*) FROM person WHERE id = :o AND import_batch_id IS NOT NULL)"
        ),
        {"o": other_id},
    ).scalar_one()
    # The other was renamed once: that change moves with its history, and must not change
    # how the kept person's own creation reads.
    history.record(
        db, entity="person", entity_id=uuid.UUID(other_id),
        changes=[("name", "司马香如", "司马湘如")], actor="staff", source="api",
    )  # fmt: skip
    db.commit()
    run = registry("people", "merge", keep_id, other_id, "--reason", "confirmed by phone", "--json")
    assert run.exit_code == 0, run.output
    result = json.loads(run.stdout.strip().splitlines()[-1])
    assert (result["moved_memberships"], result["merged_memberships"]) == (1, 1)
    db.rollback()
    assert (
        db.execute(text("SELECT count(*) FROM person WHERE id = :o"), {"o": other_id}).scalar_one()
        == 0
    )
    kept = db.execute(text("SELECT * FROM person WHERE id = :k"), {"k": keep_id}).one()._mapping
    assert kept["email"] == "sm@example.cn"
    assert kept["phone"] == keep_row["手机"]
    assert kept["institution"] == "清华大学"  # the kept value wins; gaps are filled
    assert set(kept["research_fields"]) == {"湍流", "固体力学", "量子信息"}
    memberships = db.execute(
        text(
            "SELECT o.code, m.member_no, m.joined_on::text, m.valid_until::text FROM membership m "
            "JOIN organisation o ON o.id = m.org_id WHERE m.person_id = :k ORDER BY o.code"
        ),
        {"k": keep_id},
    ).all()
    assert sorted(tuple(m) for m in memberships) == sorted(
        [
            (a_org.code, "K1", "2010-01-01", "2026-01-01"),
            (b_org.code, "O1", "2005-01-01", "2030-01-01"),
            (both.code, "K1", "2005-01-01", "2030-01-01"),  # combined: earliest join, latest expiry
        ]
    )
    moved = db.execute(
        text(
            "SELECT count(*) FROM change_history WHERE entity = 'person' AND entity_id = :k "
            "AND source LIKE 'import:%' AND new_value = '司马香如'"
        ),
        {"k": keep_id},
    ).scalar_one()
    assert moved == 1
    with Session(bind=db) as session:
        read = history.list_for(
            session, entity="person", entity_id=uuid.UUID(keep_id), after=None, limit=50
        )
    created = [(r.field, r.new_value) for r in read if r.field == "created"]
    # Each as created: the kept one, then the other under the name it was imported with.
    assert created == [("created", "司马相如"), ("created", "司马香如")]
    assert other_history == 1  # its batch: the import created it and nothing changed it since
    merged = db.execute(
        text(
            "SELECT new_value, reason FROM change_history WHERE entity_id = :k AND field = 'merged'"
        ),
        {"k": keep_id},
    ).one()
    assert tuple(merged) == (other_id, "confirmed by phone")
    listed = [
        json.loads(x)
        for x in registry(
            "people", "duplicates", "--status", "merged", "--json"
        ).stdout.splitlines()
    ]
    assert {x["status"] for x in listed} == {"merged"}
    assert len([x for x in listed if {x["person_id"], x["other_id"]} == {keep_id, other_id}]) == 1


def test_merge_refuses_two_different_documents_and_unknown_people(
    registry, factory, db, tmp_path
) -> None:
    org = factory.org()
    a, b = member(), member()
    s = registry(
        "import", "members", write_csv(tmp_path / "a.csv", [a, b]), "--org", org.code, "--json"
    )
    assert s.summary["created_people"] == 2
    import uuid

    db_ids = [
        r[0]
        for r in db.execute(
            text(
                "SELECT m.person_id FROM membership m JOIN organisation o ON o.id = m.org_id "
                "WHERE o.code = :c"
            ),
            {"c": org.code},
        )
    ]
    run = registry("people", "merge", str(db_ids[0]), str(db_ids[1]))
    assert run.exit_code == 1
    assert "document numbers and they differ" in run.output
    run = registry("people", "merge", str(uuid.uuid4()), str(uuid.uuid4()))
    assert run.exit_code == 1
    assert "not found" in run.output
    assert registry("people", "merge", "nope", "nada").exit_code == 2


def test_two_people_with_documents_are_never_proposed(registry, factory, tmp_path) -> None:
    org = factory.org()
    born = date(1970, 1, 1)
    rows = [member(姓名="赵一鸣", birth=born, gender_en="male") for _ in range(2)]
    s = registry(
        "import", "members", write_csv(tmp_path / "a.csv", rows), "--org", org.code, "--json"
    ).summary
    assert s["created_people"] == 2
    assert s["possible_duplicates"] == 0


def test_names_alike_by_spelling_or_sound_and_unlike_otherwise() -> None:
    assert duplicates.alike("欧阳晓明", "欧阳晓明") == "same name"
    assert duplicates.alike("欧阳晓明", "欧阳小明") == "names one character apart"
    assert duplicates.alike("张伟", "章伟") == "names sound alike"
    assert duplicates.alike("李静", "李晶") == "names sound alike"
    # Two characters are too short for "one character apart"; different sounds are not alike.
    # (The syllable-count check in `alike` only saves work: with one pinyin item per character,
    # names of different counts never sound alike, so no pair of names can tell it apart.)
    assert duplicates.alike("张伟", "张强") is None
    assert duplicates.alike("Li Wei", "Li Wey") == "names one character apart"


def test_names_are_read_as_pypinyin_reads_them_whole() -> None:
    # Read character by character unless a dictionary phrase is in the name: 尉迟恭 is yu chi
    # gong, though 尉 alone is wei. Other characters are kept as they are.
    names = ["张伟", "欧阳娜娜", "曾国藩", "乐乐", "尉迟恭", "长孙无忌", "阿卜杜·热合曼", "张a伟"]
    for name in names:
        assert analysis.reading(name) == tuple(lazy_pinyin(name)), name
    assert analysis.reading("尉迟恭") == ("yu", "chi", "gong")


def test_a_large_batch_finds_the_same_pairs_without_narrowing_to_its_birth_dates(
    registry, factory, tmp_path: Path, monkeypatch
) -> None:
    """Above `_SMALL_BATCH` people the search reads every birth date instead of the batch's
    own: the pairs found must not change."""
    monkeypatch.setattr(duplicates, "_SMALL_BATCH", 0)
    first, second = factory.org(), factory.org()
    born = "1968-08-08"
    original = member(姓名="上官云飞", 出生日期=born, 证件类型="", 证件号码="", 性别="男")
    registry("import", "members", write_csv(tmp_path / "a.csv", [original]), "--org", first.code)
    rows = [
        {**original, "姓名": "上官云菲", "手机": phone(), "邮箱": "", "会员编号": "L1"},
        member(姓名="尚官云飞", birth=date(1968, 8, 8), gender_en="male", 会员编号="L2"),
        member(姓名="上官云飞", 出生日期="1968-08-09", 性别="男", 证件类型="", 证件号码=""),
    ]
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", rows), "--org", second.code, "--json"
    ).summary
    assert s["created_people"] == 3, json.dumps(s, ensure_ascii=False)
    # 上官云菲 (one character apart) and 尚官云飞 (the same sound) pair with the original; they
    # share no first or last character with each other, and the third was born a day later.
    assert s["possible_duplicates"] == 2
    pairs = [json.loads(x) for x in registry("people", "duplicates", "--json").stdout.splitlines()]
    names = {frozenset((p["person_name"], p["other_name"])) for p in pairs}
    assert frozenset(("上官云飞", "上官云菲")) in names
    assert frozenset(("上官云飞", "尚官云飞")) in names


def test_an_unknown_duplicate_status_is_a_usage_error(registry) -> None:
    run = registry("people", "duplicates", "--status", "merge")
    assert run.exit_code == 2
    assert "merged" in run.output  # the choices are named
