"""Merging two profiles found by an import: what the kept person's records say afterwards."""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

from sqlalchemy import text

from ..factories import resident_id
from .conftest import member, phone, write_csv


def _id(db, name: str, born: str) -> str:  # type: ignore[no-untyped-def]
    db.rollback()
    found = db.scalars(
        text("SELECT id::text FROM person WHERE name = :n AND birth_date = :b"),
        {"n": name, "b": born},
    ).all()
    assert len(found) == 1, found
    return found[0]


def _import(registry, org, tmp_path: Path, name: str, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    run = registry("import", "members", write_csv(tmp_path / name, rows), "--org", org.code)
    assert run.exit_code == 0, run.output


def test_a_combined_membership_takes_the_status_its_combined_dates_give(
    registry, factory, db, tmp_path: Path
) -> None:
    both = factory.org()
    born = "1974-07-08"
    keep = member(姓名="诸葛云天", 出生日期=born, 性别="男", 证件类型="", 证件号码="",
                  入会日期="2010-01-01", 有效期至="2020-12-31")  # fmt: skip
    other = {**keep, "姓名": "诸葛云添", "手机": phone(), "邮箱": "", "会员编号": "Z9",
             "入会日期": "2012-01-01", "有效期至": "2035-12-31"}  # fmt: skip
    _import(registry, both, tmp_path, "a.csv", [keep])
    _import(registry, both, tmp_path, "b.csv", [other])
    keep_id, other_id = _id(db, "诸葛云天", born), _id(db, "诸葛云添", born)
    assert registry("people", "merge", keep_id, other_id).exit_code == 0
    db.rollback()
    membership, valid_until, status = db.execute(
        text("SELECT id, valid_until::text, status FROM membership WHERE person_id = :k"),
        {"k": keep_id},
    ).one()
    assert (valid_until, status) == ("2035-12-31", "active")
    history = db.scalars(
        text("SELECT new_value FROM change_history WHERE entity_id = :m AND field = 'status'"
             " AND source = 'merge'"),
        {"m": membership},
    ).all()  # fmt: skip
    assert history == ["active"]


def test_a_resident_id_number_is_not_merged_onto_a_person_it_contradicts(
    registry, factory, db, tmp_path: Path
) -> None:
    a, b = factory.org(), factory.org()
    keep = member(姓名="慕容复", 出生日期="1975-01-01", 性别="男", 证件类型="", 证件号码="")
    number = resident_id(date(1976, 2, 2), "female")
    other = member(姓名="慕容福", 出生日期="1976-02-02", 性别="女", 证件号码=number)
    _import(registry, a, tmp_path, "a.csv", [keep])
    _import(registry, b, tmp_path, "b.csv", [other])
    keep_id, other_id = _id(db, "慕容复", "1975-01-01"), _id(db, "慕容福", "1976-02-02")
    run = registry("people", "merge", keep_id, other_id)
    assert run.exit_code == 1
    assert "gives another birth date than the kept person's" in " ".join(run.output.split())
    assert number not in run.output
    db.rollback()
    assert db.scalar(text("SELECT count(*) FROM person WHERE id IN (:k, :o)"),
                     {"k": keep_id, "o": other_id}) == 2  # fmt: skip


def test_a_claim_code_of_the_merged_person_now_claims_the_kept_profile(
    registry, factory, db, tmp_path: Path
) -> None:
    a, b = factory.org(), factory.org()
    born = date(1982, 8, 8)
    keep = member(姓名="独孤求败", birth=born, gender_en="male", 证件类型="", 证件号码="")
    other = {**keep, "姓名": "独孤求拜", "手机": phone(), "邮箱": "",
             "证件类型": "居民身份证", "证件号码": resident_id(born, "male")}  # fmt: skip
    _import(registry, a, tmp_path, "a.csv", [keep])
    _import(registry, b, tmp_path, "b.csv", [other])
    keep_id, other_id = _id(db, "独孤求败", str(born)), _id(db, "独孤求拜", str(born))
    code_hash = os.urandom(32)
    db.execute(
        text("INSERT INTO claim_code (id, person_id, code_hash, created_by, created_at,"
             " expires_at) VALUES (gen_random_uuid(), :o, :h, 'staff', now(),"
             " now() + interval '30 days')"),
        {"o": other_id, "h": code_hash},
    )  # fmt: skip
    db.commit()
    assert registry("people", "merge", keep_id, other_id).exit_code == 0
    db.rollback()
    owners = db.scalars(
        text("SELECT person_id::text FROM claim_code WHERE code_hash = :h"), {"h": code_hash}
    ).all()
    assert owners == [keep_id]


def _pairs(registry, status: str = "open") -> set[frozenset[str]]:  # type: ignore[no-untyped-def]
    out = registry("people", "duplicates", "--status", status, "--json", "--limit", "10000")
    return {
        frozenset((p["person_id"], p["other_id"])) for p in map(json.loads, out.stdout.splitlines())
    }


def test_a_pair_of_two_different_documents_left_by_a_merge_is_dismissed_not_listed(
    registry, factory, db, tmp_path: Path
) -> None:
    o1, o2, o3 = factory.org(), factory.org(), factory.org()
    born = date(1978, 4, 4)
    keep = member(姓名="皇甫嵩年", birth=born, gender_en="male")
    other = {**keep, "证件类型": "", "证件号码": "", "邮箱": "", "手机": phone(), "会员编号": "P2"}
    third = member(姓名="皇甫松年", birth=born, gender_en="male", 会员编号="P3")
    for org, row, name in ((o1, keep, "k.csv"), (o2, other, "o.csv"), (o3, third, "t.csv")):
        _import(registry, org, tmp_path, name, [row])
    db.rollback()
    keep_id, other_id = (
        db.scalar(
            text(f"SELECT id::text FROM person WHERE name = '皇甫嵩年' AND id_number_bidx {test}")
        )
        for test in ("IS NOT NULL", "IS NULL")
    )
    third_id = _id(db, "皇甫松年", str(born))
    assert frozenset((other_id, third_id)) in _pairs(registry)
    assert registry("people", "merge", keep_id, other_id).exit_code == 0
    assert frozenset((keep_id, third_id)) not in _pairs(registry)
    assert frozenset((keep_id, third_id)) in _pairs(registry, "dismissed")


def test_a_chain_of_merges_keeps_the_record_of_each(registry, factory, db, tmp_path: Path) -> None:
    o1, o2, o3 = factory.org(), factory.org(), factory.org()
    born = "1977-09-09"
    base = member(姓名="东方明月", 出生日期=born, 性别="女", 证件类型="", 证件号码="", 邮箱="")
    rows = [base, {**base, "姓名": "东方明玥", "手机": phone()},
            {**base, "姓名": "东方名月", "手机": phone()}]  # fmt: skip
    for org, row, name in zip((o1, o2, o3), rows, ("a.csv", "b.csv", "c.csv"), strict=True):
        _import(registry, org, tmp_path, name, [row])
    a, b, c = (_id(db, row["姓名"], born) for row in rows)
    assert registry("people", "merge", b, a).exit_code == 0
    assert registry("people", "merge", c, b).exit_code == 0
    merged = _pairs(registry, "merged")
    assert frozenset((a, b)) in merged
    assert frozenset((b, c)) in merged


def _merge_pair(registry, name: str) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    out = registry("people", "duplicates", "--json", "--limit", "10000").stdout.splitlines()
    pair = next(p for p in map(json.loads, out) if name in (p["person_name"], p["other_name"]))
    run = registry("people", "merge", pair["person_id"], pair["other_id"])
    assert run.exit_code == 0, run.output
    return pair["person_id"], pair["other_id"]


def _members_of(db, org_code: str) -> list[str]:  # type: ignore[no-untyped-def]
    db.rollback()
    return db.scalars(
        text("SELECT m.person_id::text FROM membership m JOIN organisation o ON o.id = m.org_id"
             " WHERE o.code = :c"),
        {"c": org_code},
    ).all()  # fmt: skip


def test_the_society_of_a_merged_profile_finds_the_kept_person_on_its_next_import(
    registry, factory, db, tmp_path: Path
) -> None:
    """By contact (the same name, other contacts), by member number (a variant of the name)
    and by document (the merged profile held it, under a variant of the name)."""
    born = date(1973, 5, 6)
    cases = {
        "contact": (
            member(姓名="夏侯惇然", birth=born, gender_en="male", 证件类型="", 证件号码="",
                   会员编号=""),
            {"手机": phone(), "邮箱": "xh@example.cn"},
        ),
        "member number": (
            member(姓名="上官明远", birth=born, gender_en="male", 证件类型="", 证件号码=""),
            {"姓名": "上官明沅", "手机": phone(), "邮箱": "", "会员编号": "X1"},
        ),
        "document": (
            member(姓名="司徒文静", birth=born, gender_en="female", 证件类型="", 证件号码=""),
            {"姓名": "司徒文菁", "手机": phone(), "邮箱": "", "证件类型": "居民身份证",
             "证件号码": resident_id(born, "female")},
        ),
    }  # fmt: skip
    for case, (keep, changes) in cases.items():
        a, b = factory.org(), factory.org()
        other = {**keep, **changes}
        _import(registry, a, tmp_path, "a.csv", [keep])
        listed_by_b = write_csv(tmp_path / "b.csv", [other])
        _import(registry, b, tmp_path, "b.csv", [other])
        kept, _ = _merge_pair(registry, keep["姓名"])
        run = registry("import", "members", listed_by_b, "--org", b.code, "--json")
        summary = run.summary
        assert (summary["created_people"], summary["rejected"], summary["matched_people"]) == (
            0, 0, 1,
        ), case  # fmt: skip
        assert _members_of(db, b.code) == [kept], case
        assert all(kept not in pair for pair in _pairs(registry)), case  # not proposed again
