"""`registry import members`: exact counts, the error file, idempotency, matching across
societies, repeated people, dry runs and the outcome for every kind of bad file."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import text

from services.registry.core.security import mask_document

from ..factories import resident_id, with_wrong_check_digit
from .conftest import HEADER, member, phone, read_errors, write_csv, write_xlsx


def people_of(db, org_code: str) -> list[dict]:  # type: ignore[no-untyped-def]
    db.rollback()
    return [
        dict(r._mapping)
        for r in db.execute(
            text(
                "SELECT p.*, m.grade, m.member_no, m.joined_on, m.valid_until, "
                "m.status AS m_status "
                "FROM membership m JOIN person p ON p.id = m.person_id "
                "JOIN organisation o ON o.id = m.org_id WHERE o.code = :c ORDER BY p.name"
            ),
            {"c": org_code},
        )
    ]


def history_of(db, person_ids) -> list[tuple]:  # type: ignore[no-untyped-def]
    db.rollback()
    return [
        tuple(r)
        for r in db.execute(
            text(
                "SELECT entity, field, old_value, new_value, source FROM change_history "
                "WHERE entity_id = ANY(:ids) OR entity_id IN "
                "(SELECT id FROM membership WHERE person_id = ANY(:ids)) ORDER BY id"
            ),
            {"ids": list(person_ids)},
        )
    ]


def outbox_count(db, person_ids) -> int:  # type: ignore[no-untyped-def]
    db.rollback()
    return db.execute(
        text("SELECT count(*) FROM search_outbox WHERE person_id = ANY(:ids)"),
        {"ids": list(person_ids)},
    ).scalar_one()


def import_refused(registry, tmp_path, org, rows, name="a.csv"):  # type: ignore[no-untyped-def]
    """The summary of importing `rows` as the org's members, and the refused rows."""
    errors = tmp_path / "e.csv"
    s = registry(
        "import", "members", write_csv(tmp_path / name, rows), "--org", org.code,
        "--errors", errors, "--json",
    ).summary  # fmt: skip
    return s, read_errors(errors)


def dirty_rows() -> tuple[list[dict[str, str]], dict[str, str]]:
    """Nine rows typed as people type them: six good, one repeated, two bad."""
    good = [
        member(),
        member(出生日期="1985/3/2", birth=date(1985, 3, 2)),
        member(出生日期="1985年3月2日", birth=date(1985, 3, 2), 手机="１３８ ００１３ ８０００"),
        member(
            出生日期="19850302", birth=date(1985, 3, 2), 邮箱=" Li.Na@Example.CN ", 职称="副研究员"
        ),
        member(出生日期="31108", birth=date(1985, 3, 2), 会员等级="高级会员", 学科="力学"),
        member(证件类型="", 证件号码="", 出生日期="1990.7.1", 会员等级="学生会员", 学科="130"),
    ]
    bad_check = member()
    bad_check["证件号码"] = with_wrong_check_digit(bad_check["证件号码"])
    bad_values = member(性别="未知", 手机="138", 邮箱="nobody@", 入会日期="2020-13-01")
    rows = [*good, dict(good[0]), bad_check, bad_values]
    return rows, {"bad_check": bad_check["证件号码"]}


def test_a_dirty_file_gives_exact_counts_and_an_error_file(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    rows, secrets = dirty_rows()
    path = write_csv(tmp_path / "members.csv", rows)
    errors = tmp_path / "errors.csv"
    run = registry(
        "import", "members", path, "--org", org.code.lower(), "--errors", errors, "--json"
    )
    assert run.exit_code == 0, run.output
    s = run.summary
    assert {
        k: s[k]
        for k in (
            "rows",
            "created_people",
            "matched_people",
            "updated_people",
            "created_memberships",
            "updated_memberships",
            "unchanged",
            "rejected",
            "duplicate_rows",
        )
    } == {
        "rows": 9,
        "created_people": 6,
        "matched_people": 0,
        "updated_people": 0,
        "created_memberships": 6,
        "updated_memberships": 0,
        "unchanged": 0,
        "rejected": 2,
        "duplicate_rows": 1,
    }
    rejected = read_errors(errors)
    assert [r["row_number"] for r in rejected] == ["9", "10"]
    assert rejected[0]["证件号码"] == secrets["bad_check"]  # original cells, to fix and re-import
    assert rejected[0]["reason"] == "证件号码: check digit does not match (GB 11643 MOD 11-2)"
    assert rejected[1]["reason"].split("; ") == [
        "性别: unknown gender, expected 男 (male) or 女 (female)",
        "手机: not a phone number",
        "邮箱: not an email address",
        "入会日期: not a calendar date",
    ]
    assert all(secrets["bad_check"] not in r["reason"] for r in rejected)
    people = people_of(db, org.code)
    assert len(people) == 6
    by_phone = {p["phone"]: p for p in people}
    assert "13800138000" in by_phone  # full-width digits and spaces folded
    emails = {p["email"] for p in people}
    assert "Li.Na@example.cn" in emails
    assert {p["grade"] for p in people} == {"member", "senior", "student"}
    assert {tuple(p["discipline_codes"]) for p in people} == {("130",)}
    no_doc = [p for p in people if p["id_number_enc"] is None]
    assert len(no_doc) == 1
    assert no_doc[0]["birth_date"] == date(1990, 7, 1)
    assert all(p["research_fields"] == ["湍流", "固体力学"] for p in people)


def test_importing_the_same_file_again_changes_nothing(registry, factory, db, tmp_path) -> None:
    org = factory.org()
    rows, _ = dirty_rows()
    path = write_csv(tmp_path / "members.csv", rows)
    first = registry("import", "members", path, "--org", org.code, "--json").summary
    ids = [p["id"] for p in people_of(db, org.code)]
    before = (history_of(db, ids), outbox_count(db, ids), people_of(db, org.code))
    second = registry("import", "members", path, "--org", org.code, "--json").summary
    assert first["created_people"] == 6
    assert second["created_people"] == second["created_memberships"] == 0
    assert second["updated_people"] == second["updated_memberships"] == 0
    assert second["matched_people"] == second["unchanged"] == 6
    assert second["rejected"] == 2
    assert second["duplicate_rows"] == 1
    assert (history_of(db, ids), outbox_count(db, ids), people_of(db, org.code)) == before


def test_an_edited_file_updates_only_changed_fields_with_the_batch_as_source(
    registry, factory, db, tmp_path
) -> None:
    org = factory.org()
    rows = [member(), member()]
    registry("import", "members", write_csv(tmp_path / "v1.csv", rows), "--org", org.code)
    new_phone = phone()
    rows[0] = {**rows[0], "工作单位": "北京大学", "手机": new_phone, "会员等级": "会士"}
    run = registry(
        "import", "members", write_csv(tmp_path / "v2.csv", rows), "--org", org.code, "--json"
    )
    s = run.summary
    assert (s["matched_people"], s["updated_people"], s["updated_memberships"], s["unchanged"]) == (
        2,
        1,
        1,
        1,
    )
    changed = next(p for p in people_of(db, org.code) if p["institution"] == "北京大学")
    assert changed["phone"] == new_phone
    assert changed["version"] == 2
    source = f"import:{s['batch_id']}"
    entries = [h for h in history_of(db, [changed["id"]]) if h[4] == source]
    assert sorted((e[0], e[1]) for e in entries) == [
        ("membership", "grade"),
        ("person", "institution"),
        ("person", "phone"),
    ]
    phone_entry = next(e for e in entries if e[1] == "phone")
    assert "****" in phone_entry[3]
    assert new_phone not in phone_entry[3]


def test_an_empty_cell_never_clears_a_stored_value(registry, factory, db, tmp_path) -> None:
    org = factory.org()
    row = member()
    registry("import", "members", write_csv(tmp_path / "a.csv", [row]), "--org", org.code)
    s = registry(
        "import",
        "members",
        write_csv(tmp_path / "b.csv", [{**row, "邮箱": "", "工作单位": ""}]),
        "--org",
        org.code,
        "--json",
    ).summary
    assert s["unchanged"] == 1
    stored = people_of(db, org.code)[0]
    assert (stored["email"], stored["institution"]) == (row["邮箱"].lower(), row["工作单位"])


def test_the_same_person_in_two_societies_is_one_profile(registry, factory, db, tmp_path) -> None:
    first, second = factory.org(), factory.org()
    with_id = member()
    no_id = member(证件类型="", 证件号码="")
    registry(
        "import", "members", write_csv(tmp_path / "a.csv", [with_id, no_id]), "--org", first.code
    )
    # The other society spells things its own way and has no document for the second person.
    again = [
        {**with_id, "姓名": f" {with_id['姓名']} ", "会员编号": "X1", "会员等级": "会士"},
        {**no_id, "邮箱": "", "会员编号": "X2"},  # matched by name + birth date + phone
    ]
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", again), "--org", second.code, "--json"
    ).summary
    assert (s["created_people"], s["matched_people"], s["created_memberships"]) == (0, 2, 2)
    ids_first = {p["id"] for p in people_of(db, first.code)}
    ids_second = {p["id"] for p in people_of(db, second.code)}
    assert ids_first == ids_second


def test_identity_without_a_document_is_name_and_birth_date_with_a_phone_or_an_email(
    registry, factory, db, tmp_path
) -> None:
    first, second = factory.org(), factory.org()
    no_doc = {"证件类型": "", "证件号码": ""}
    by_email = member(**no_doc)
    by_phone = member(**no_doc)
    neither = member(**no_doc)
    other_birth = member(**no_doc)
    two_documents = member()
    rows = [by_email, by_phone, neither, other_birth, two_documents]
    registry("import", "members", write_csv(tmp_path / "a.csv", rows), "--org", first.code)
    ids_first = {p["phone"]: p["id"] for p in people_of(db, first.code)}
    gender = "male" if two_documents["性别"] == "男" else "female"
    birth = date.fromisoformat(two_documents["出生日期"])
    again = [
        {**by_email, "手机": phone(), "会员编号": "I1"},  # the e-mail alone matches
        {**by_phone, "邮箱": "", "会员编号": "I2"},  # the phone alone matches
        {**neither, "手机": phone(), "邮箱": "other@example.cn", "会员编号": "I3"},
        {**other_birth, "出生日期": "1959-01-01", "会员编号": "I4"},
        # The same name, birth date and contacts under another document: another person.
        {**two_documents, "证件号码": resident_id(birth, gender), "会员编号": "I5"},
    ]
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", again), "--org", second.code, "--json"
    ).summary
    assert (s["matched_people"], s["created_people"], s["rejected"]) == (2, 3, 0)
    ids_second = {p["member_no"]: p["id"] for p in people_of(db, second.code)}
    assert ids_second["I1"] == ids_first[by_email["手机"]]
    assert ids_second["I2"] == ids_first[by_phone["手机"]]
    assert ids_second["I3"] != ids_first[neither["手机"]]
    assert ids_second["I4"] != ids_first[other_birth["手机"]]
    assert ids_second["I5"] != ids_first[two_documents["手机"]]


def test_a_member_number_with_the_same_name_is_the_same_person_in_that_society_only(
    registry, factory, db, tmp_path
) -> None:
    org, other = factory.org(), factory.org()
    header = ["姓名", "会员编号", "手机"]
    registry(
        "import", "members", write_csv(tmp_path / "a.csv", [["赵子龙", "Z1", ""]], header=header),
        "--org", org.code,
    )  # fmt: skip
    number = phone()
    rows = [["赵子龙", "Z1", number]]
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", rows, header=header),
        "--org", org.code, "--json",
    ).summary  # fmt: skip
    assert (s["matched_people"], s["updated_people"], s["created_people"]) == (1, 1, 0)
    (person,) = people_of(db, org.code)
    assert (person["name"], person["member_no"], person["phone"]) == ("赵子龙", "Z1", number)
    # Another society's Z1 is another member: the number identifies nobody there.
    s = registry(
        "import", "members", write_csv(tmp_path / "c.csv", [["赵子龙", "Z1", ""]], header=header),
        "--org", other.code, "--json",
    ).summary  # fmt: skip
    assert (s["matched_people"], s["created_people"]) == (0, 1)
    assert people_of(db, other.code)[0]["id"] != person["id"]
    # The same number under another name is refused: the number is held by someone else.
    errors = tmp_path / "e.csv"
    s = registry(
        "import", "members", write_csv(tmp_path / "d.csv", [["赵云", "Z1", ""]], header=header),
        "--org", org.code, "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert (s["matched_people"], s["created_people"], s["rejected"]) == (0, 0, 1)
    assert read_errors(errors)[0]["reason"] == (
        "会员编号: taken by another member of the organisation"
    )


def test_a_document_added_later_is_sealed_on_the_matched_person(  # type: ignore[no-untyped-def]
    registry, factory, db, runtime, tmp_path
):
    org = factory.org()
    row = member()
    number = row["证件号码"]
    registry(
        "import",
        "members",
        write_csv(tmp_path / "a.csv", [{**row, "证件类型": "", "证件号码": ""}]),
        "--org",
        org.code,
    )
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", [row]), "--org", org.code, "--json"
    ).summary
    assert (s["matched_people"], s["updated_people"]) == (1, 1)
    person = people_of(db, org.code)[0]
    assert person["id_number_masked"] == number[:3] + "*" * 11 + number[-4:]
    # Encrypted bound to this person's row, as the API does it.
    assert runtime.pii.decrypt(person["id_number_enc"], context=person["id"].bytes) == number


def test_created_people_and_memberships_show_their_batch_as_the_created_entry(  # type: ignore[no-untyped-def]
    registry, factory, db, runtime, tmp_path
):
    from sqlalchemy.orm import Session

    from services.registry.core import history

    org = factory.org()
    row = member()
    first = registry(
        "import", "members", write_csv(tmp_path / "a.csv", [row]), "--org", org.code, "--json"
    ).summary
    renamed = {**row, "工作单位": "北京大学", "会员等级": "会士"}
    second = registry(
        "import", "members", write_csv(tmp_path / "b.csv", [renamed]), "--org", org.code, "--json"
    ).summary
    person = people_of(db, org.code)[0]
    # The document was sealed for the new row's id before the row reached the database.
    assert (
        runtime.pii.decrypt(person["id_number_enc"], context=person["id"].bytes) == row["证件号码"]
    )
    membership_id = db.execute(
        text("SELECT id FROM membership WHERE person_id = :p"), {"p": person["id"]}
    ).scalar_one()
    with Session(runtime.engine) as session:
        shown = history.list_for(
            session, entity="person", entity_id=person["id"], after=None, limit=50
        )
        shown_membership = history.list_for(
            session, entity="membership", entity_id=membership_id, after=None, limit=50
        )
        later = history.list_for(
            session, entity="person", entity_id=person["id"], after=0, limit=50
        )
    assert [(h.field, h.new_value, h.source) for h in shown] == [
        ("created", row["姓名"], f"import:{first['batch_id']}"),
        ("institution", "北京大学", f"import:{second['batch_id']}"),
    ]
    assert shown[0].actor.startswith("cli:")
    assert [(h.field, h.old_value, h.new_value) for h in shown_membership] == [
        ("created", None, "active"),
        ("grade", "member", "fellow"),
    ]
    assert [h.field for h in later] == ["institution"]  # the next page starts after it


def test_only_people_in_the_expert_pool_reach_the_search_outbox(registry, factory, db, tmp_path):  # type: ignore[no-untyped-def]
    org, other = factory.org(), factory.org()
    header = [*HEADER, "入选专家库"]
    expert, plain = member(入选专家库="是"), member(入选专家库="否")
    rows = [expert, plain]
    registry(
        "import", "members", write_csv(tmp_path / "a.csv", rows, header=header), "--org", org.code
    )
    people = {p["id_number_masked"][-4:]: p["id"] for p in people_of(db, org.code)}
    expert_id, plain_id = people[expert["证件号码"][-4:]], people[plain["证件号码"][-4:]]
    assert (outbox_count(db, [expert_id]), outbox_count(db, [plain_id])) == (1, 0)
    # A membership in another society changes the expert's document only.
    registry(
        "import", "members", write_csv(tmp_path / "b.csv", rows, header=header), "--org", other.code
    )
    assert (outbox_count(db, [expert_id]), outbox_count(db, [plain_id])) == (2, 0)
    # Opting out removes the document: the person is queued once more.
    out = [{**expert, "入选专家库": "否"}]
    registry(
        "import", "members", write_csv(tmp_path / "c.csv", out, header=header), "--org", org.code
    )
    assert outbox_count(db, [expert_id]) == 3


def test_a_person_repeated_in_the_file_gives_one_person_and_one_membership(
    registry, factory, db, tmp_path
) -> None:
    org = factory.org()
    row = member()
    rows = [row, member(), {**row, "工作单位": "北京大学"}, {**row, "证件号码": "", "证件类型": ""}]
    s = registry(
        "import",
        "members",
        write_csv(tmp_path / "a.csv", rows),
        "--org",
        org.code,
        "--chunk-rows",
        "100",
        "--json",
    ).summary
    assert (s["created_people"], s["created_memberships"], s["duplicate_rows"]) == (2, 2, 2)
    assert len(people_of(db, org.code)) == 2
    # Repeats across chunk boundaries give the same answer.
    other = factory.org()
    many = [member() for _ in range(150)] + [row]
    s = registry(
        "import",
        "members",
        write_csv(tmp_path / "b.csv", [row, *many]),
        "--org",
        other.code,
        "--chunk-rows",
        "100",
        "--json",
    ).summary
    assert (s["matched_people"], s["created_people"], s["duplicate_rows"]) == (1, 150, 1)


def test_a_member_number_given_to_two_people_rejects_the_second(registry, factory, tmp_path):  # type: ignore[no-untyped-def]
    org = factory.org()
    rows = [member(会员编号="A1"), member(会员编号="A1")]
    s, refused = import_refused(registry, tmp_path, org, rows)
    assert (s["created_people"], s["rejected"]) == (1, 1)
    assert refused[0]["reason"] == "会员编号: also given to row 2"
    s, refused = import_refused(registry, tmp_path, org, [member(会员编号="A1")], "b.csv")
    assert s["rejected"] == 1
    assert refused[0]["reason"] == "会员编号: taken by another member of the organisation"


def numbers_by_phone(db, org_code: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {p["phone"]: p["member_no"] for p in people_of(db, org_code)}


def test_a_renumbered_list_swaps_member_numbers_in_one_run(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    org = factory.org()
    a, b = member(会员编号="S1"), member(会员编号="S2")
    registry("import", "members", write_csv(tmp_path / "a.csv", [a, b]), "--org", org.code)
    errors = tmp_path / "e.csv"
    swapped = [{**a, "会员编号": "S2"}, {**b, "会员编号": "S1"}]
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", swapped), "--org", org.code,
        "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert (s["rejected"], s["updated_memberships"]) == (0, 2)
    assert numbers_by_phone(db, org.code) == {a["手机"]: "S2", b["手机"]: "S1"}
    ids = [p["id"] for p in people_of(db, org.code)]
    changes = [h for h in history_of(db, ids) if h[1] == "member_no"]
    assert sorted((old, new) for _, _, old, new, _ in changes) == [("S1", "S2"), ("S2", "S1")]
    # The same file again changes nothing.
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", swapped), "--org", org.code, "--json"
    ).summary
    assert (s["rejected"], s["updated_memberships"], s["unchanged"]) == (0, 0, 2)


def test_numbers_moved_along_by_one_across_chunks_go_through_in_one_run(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    org = factory.org()
    rows = [member(会员编号=f"N{i}") for i in range(1, 251)]
    registry("import", "members", write_csv(tmp_path / "a.csv", rows), "--org", org.code)
    before = {r["手机"]: r["会员编号"] for r in rows}
    # Each member takes the next one's number, the last a new one: every row but the last
    # waits on the row after it, in this chunk or a later one.
    moved = [{**r, "会员编号": f"N{i + 2}"} for i, r in enumerate(rows)]
    errors = tmp_path / "e.csv"
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", moved), "--org", org.code,
        "--chunk-rows", "100", "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert (s["rejected"], s["updated_memberships"]) == (0, 250), read_errors(errors)
    assert numbers_by_phone(db, org.code) == {k: f"N{int(v[1:]) + 1}" for k, v in before.items()}


def test_a_row_put_off_to_the_end_still_seals_the_document_it_brings(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """A matched person without a document whose row brings one and waits on a later chunk
    for its member number: the document is sealed for them when the row comes back."""
    org = factory.org()
    without = member(会员编号="W1", 证件号码="", 证件类型="")
    holder = member(会员编号="W2")
    fillers = [member() for _ in range(120)]
    first = [without, holder, *fillers]
    registry("import", "members", write_csv(tmp_path / "a.csv", first), "--org", org.code)
    gender = "male" if without["性别"] == "男" else "female"
    brought = resident_id(date.fromisoformat(without["出生日期"]), gender)
    rows = [
        {**without, "会员编号": "W2", "证件类型": "居民身份证", "证件号码": brought},
        *fillers,
        {**holder, "会员编号": "W3"},
    ]
    errors = tmp_path / "e.csv"
    s = registry(
        "import", "members", write_csv(tmp_path / "b.csv", rows), "--org", org.code,
        "--chunk-rows", "100", "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert s["rejected"] == 0, read_errors(errors)
    assert s["updated_memberships"] == 2
    numbers = numbers_by_phone(db, org.code)
    assert (numbers[without["手机"]], numbers[holder["手机"]]) == ("W2", "W3")
    people = {p["phone"]: p for p in people_of(db, org.code)}
    assert people[without["手机"]]["id_number_masked"] == mask_document(brought)


def test_a_number_whose_holder_is_not_moved_stays_taken(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    org = factory.org()
    a, b, c = member(会员编号="T1"), member(会员编号="T2"), member(会员编号="T3")
    registry("import", "members", write_csv(tmp_path / "a.csv", [a, b, c]), "--org", org.code)
    # a wants b's number, and b's row, which would move b, is refused for a bad date; c
    # wants a number nobody gives up.
    rows = [
        {**a, "会员编号": "T2"},
        {**b, "会员编号": "T9", "入会日期": "2020-01-01", "有效期至": "2019-01-01"},
        {**c, "会员编号": "T1"},
    ]
    s, refused = import_refused(registry, tmp_path, org, rows, "b.csv")
    assert s["rejected"] == 3
    reasons = {e["row_number"]: e["reason"] for e in refused}
    assert reasons["2"] == reasons["4"] == "会员编号: taken by another member of the organisation"
    assert reasons["3"].startswith("有效期至: must not be before")
    assert sorted(p["member_no"] for p in people_of(db, org.code)) == ["T1", "T2", "T3"]


def test_a_known_document_with_another_name_is_rejected(registry, factory, tmp_path) -> None:
    org = factory.org()
    row = member()
    registry("import", "members", write_csv(tmp_path / "a.csv", [row]), "--org", org.code)
    errors = tmp_path / "e.csv"
    s = registry(
        "import",
        "members",
        write_csv(tmp_path / "b.csv", [{**row, "姓名": "别人"}]),
        "--org",
        org.code,
        "--errors",
        errors,
        "--json",
    ).summary
    assert s["rejected"] == 1
    reason = read_errors(errors)[0]["reason"]
    assert reason == "姓名: differs from the name registered with this document number"
    assert row["证件号码"] not in reason


def test_dry_run_validates_and_matches_but_writes_nothing(registry, factory, db, tmp_path) -> None:
    org = factory.org()
    rows, _ = dirty_rows()
    # Experts, so that the same file imported for real reaches the search outbox too.
    header = [*HEADER, "入选专家库"]
    rows = [{**row, "入选专家库": "是"} for row in rows]
    path = write_csv(tmp_path / "m.csv", rows, header=header)
    db.rollback()

    def counts():  # type: ignore[no-untyped-def]
        return db.execute(
            text(
                "SELECT (SELECT count(*) FROM person), (SELECT count(*) FROM membership), "
                "(SELECT count(*) FROM change_history), (SELECT count(*) FROM import_batch), "
                "(SELECT count(*) FROM search_outbox)"
            )
        ).one()

    before = counts()
    s = registry("import", "members", path, "--org", org.code, "--dry-run", "--json").summary
    assert (s["created_people"], s["rejected"], s["dry_run"]) == (6, 2, True)
    assert s["batch_id"] is None
    db.rollback()
    assert counts() == before
    assert registry("import", "batches", "--org", org.code, "--json").stdout.strip() == ""
    # The same file for real writes every kind of row the dry run left out.
    s = registry("import", "members", path, "--org", org.code, "--json").summary
    assert (s["created_people"], s["dry_run"]) == (6, False)
    db.rollback()
    people, memberships, history, batches, outbox = counts()
    assert (people - before[0], memberships - before[1], batches - before[3]) == (6, 6, 1)
    assert history == before[2]  # a created row's first entry is its batch, not a stored row
    assert outbox - before[4] == 6


@pytest.mark.parametrize("encoding", ["utf-8-sig", "gb18030", "gbk"])
def test_chinese_encodings_are_detected(registry, factory, db, tmp_path, encoding) -> None:
    org = factory.org()
    rows = [member(工作单位="中国科学院力学研究所"), member(工作单位="清华大学")]
    path = write_csv(tmp_path / "m.csv", rows, encoding=encoding)
    s = registry("import", "members", path, "--org", org.code, "--json").summary
    assert s["created_people"] == 2
    assert s["rejected"] == 0
    assert s["encoding"] == ("utf-8-sig" if encoding == "utf-8-sig" else "gb18030")
    stored = {(p["name"], p["institution"]) for p in people_of(db, org.code)}
    assert stored == {(r["姓名"], r["工作单位"]) for r in rows}


def test_gb18030_text_outside_gbk_is_detected_and_kept(registry, factory, db, tmp_path) -> None:
    # 𠮷 (a supplementary-plane ideograph) and 䶮 exist in GB18030 only: GBK cannot read them.
    org = factory.org()
    rows = [member(姓名="𠮷田一", 工作单位="䶮研究所"), member(姓名="王〇")]
    path = write_csv(tmp_path / "m.csv", rows, encoding="gb18030")
    with pytest.raises(UnicodeDecodeError):
        path.read_bytes().decode("gbk")
    s = registry("import", "members", path, "--org", org.code, "--json").summary
    assert (s["encoding"], s["created_people"], s["rejected"]) == ("gb18030", 2, 0)
    stored = {(p["name"], p["institution"]) for p in people_of(db, org.code)}
    assert stored == {("𠮷田一", "䶮研究所"), ("王〇", "清华大学")}


def test_encoding_can_be_forced_and_a_wrong_one_is_a_clear_failure(registry, factory, tmp_path):  # type: ignore[no-untyped-def]
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member()], encoding="gbk")
    assert (
        registry(
            "import", "members", path, "--org", org.code, "--encoding", "gbk", "--json"
        ).summary["created_people"]
        == 1
    )
    run = registry("import", "members", path, "--org", org.code, "--encoding", "utf-8")
    assert run.exit_code == 1
    assert "not valid utf-8" in run.output


def test_xlsx_first_sheet_by_default_or_the_named_one(registry, factory, db, tmp_path) -> None:
    org = factory.org()
    rows = [member(), member()]
    typed = dict(rows[1])
    # Cells as Excel stores them: real dates, numbers for phones and serial numbers.
    typed["出生日期"] = date.fromisoformat(rows[1]["出生日期"])
    typed["手机"] = int(rows[1]["手机"])
    typed["入会日期"] = 42156  # 2015-06-01 as an Excel serial
    path = write_xlsx(tmp_path / "m.xlsx", [rows[0], typed])
    s = registry("import", "members", path, "--org", org.code, "--json").summary
    assert (s["created_people"], s["rejected"], s["format"]) == (2, 0, "xlsx")
    assert {str(p["joined_on"]) for p in people_of(db, org.code)} == {"2015-06-01"}
    other = factory.org()
    path = write_xlsx(tmp_path / "n.xlsx", [member()], sheet="名单", extra_sheet_first=True)
    run = registry("import", "members", path, "--org", other.code, "--json")
    assert run.exit_code == 1
    assert "no recognisable header" in run.output
    s = registry(
        "import", "members", path, "--org", other.code, "--sheet", "名单", "--json"
    ).summary
    assert s["created_people"] == 1
    run = registry("import", "members", path, "--org", other.code, "--sheet", "无此表")
    assert run.exit_code == 1
    assert "'名单'" in run.output


def test_english_headers_any_case_spacing_or_width_and_unknown_columns(
    registry, factory, db, tmp_path
) -> None:
    org = factory.org()
    header = ["NAME", "Birth Date", "ｐｈｏｎｅ", " e-mail ", "Member_No", "Favourite colour"]
    rows = [["Zhang Wei", "1980-01-02", phone(), "zw@example.cn", "E1", "blue"]]
    s = registry(
        "import",
        "members",
        write_csv(tmp_path / "en.csv", rows, header=header),
        "--org",
        org.code,
        "--json",
    )
    assert s.summary["created_people"] == 1
    assert s.summary["unknown_columns"] == ["Favourite colour"]
    assert "Favourite colour" in s.output


def test_quoted_commas_and_newlines_follow_csv_rules(registry, factory, db, tmp_path) -> None:
    org = factory.org()
    path = tmp_path / "q.csv"
    row = member()
    cells = [row[h] for h in HEADER]
    cells[HEADER.index("工作单位")] = '"中国科学院,力学研究所"'
    cells[HEADER.index("研究方向")] = '"湍流\n固体力学"'
    other = list(member().values())
    path.write_text(",".join(HEADER) + "\n" + ",".join(cells) + "\n" + ",".join(other) + "\n")
    errors = tmp_path / "e.csv"
    s = registry("import", "members", path, "--org", org.code, "--errors", errors, "--json").summary
    assert (s["rows"], s["created_people"], s["rejected"]) == (2, 2, 0)
    stored = {p["phone"]: p for p in people_of(db, org.code)}
    quoted = stored[row["手机"]]
    assert quoted["institution"] == "中国科学院,力学研究所"
    # The line break stays inside its cell (no new row), folded to a space as in any text.
    assert quoted["research_fields"] == ["湍流 固体力学"]
    assert stored[other[HEADER.index("手机")]]["research_fields"] == ["湍流", "固体力学"]


def test_rows_with_more_or_fewer_fields_are_rejected_with_their_row_number(
    registry, factory, tmp_path
) -> None:
    org = factory.org()
    good = list(member().values())
    path = tmp_path / "r.csv"
    lines = [
        ",".join(HEADER),
        ",".join(good),  # row 2
        ",".join(good[:5]),  # row 3: too few
        "",  # row 4: blank, skipped
        ",".join([*member().values(), "x"]),  # row 5: one too many
        ",".join([*member().values(), "", ""]),  # row 6: trailing empty cells: fine
    ]
    path.write_text("\n".join(lines) + "\n")
    errors = tmp_path / "e.csv"
    s = registry("import", "members", path, "--org", org.code, "--errors", errors, "--json").summary
    assert (s["rows"], s["created_people"], s["rejected"]) == (4, 2, 2)
    assert [(r["row_number"], r["reason"]) for r in read_errors(errors)] == [
        ("3", "row has 5 fields, the header has 15"),
        ("5", "row has 16 fields, the header has 15"),
    ]


def test_a_header_only_file_imports_nothing_successfully(registry, factory, tmp_path) -> None:
    org = factory.org()
    run = registry(
        "import", "members", write_csv(tmp_path / "h.csv", []), "--org", org.code, "--json"
    )
    assert run.exit_code == 0
    assert run.summary["rows"] == 0
    assert run.summary["created_people"] == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\n\n,,\n", "is empty"),
        ("颜色,大小\n红,大\n".encode(), "no recognisable header"),
        ("性别,手机\n男,13800000000\n".encode(), "missing required column(s) 姓名/name"),
        ("姓名,性别\n张三,男\n".encode(), "no column identifies a person"),
        ("姓名,手机,手机\n张三,13800000000,13900000000\n".encode(), "both give 手机/phone"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 64, "Excel 97-2003"),
        (b"\x00\x01\x02\x03,\x00\n", "no recognisable header"),
    ],
)
def test_files_that_cannot_be_processed_exit_1_with_one_clear_message(
    registry, factory, tmp_path, content: bytes, message: str
) -> None:
    org = factory.org()
    path = tmp_path / "bad.csv"
    path.write_bytes(content)
    run = registry("import", "members", path, "--org", org.code, "--json")
    assert run.exit_code == 1, run.output
    assert message in run.output


def test_unknown_org_exits_1_and_usage_errors_exit_2(registry, tmp_path) -> None:
    path = write_csv(tmp_path / "m.csv", [member()])
    run = registry("import", "members", path, "--org", "NO-SUCH-ORG")
    assert run.exit_code == 1
    assert "no organisation has the code 'NO-SUCH-ORG'" in run.output
    assert registry("import", "members", path).exit_code == 2  # --org missing
    run = registry("import", "members", tmp_path / "absent.csv", "--org", "X")
    assert run.exit_code == 1
    assert "cannot read" in run.output
    assert registry("import", "members", path, "--org", "X", "--chunk-rows", "0").exit_code == 2


def test_batches_are_recorded_with_who_file_hash_and_counts(registry, factory, tmp_path) -> None:
    import hashlib
    import json

    org = factory.org()
    path = write_csv(tmp_path / "会员.csv", [member(), member()])
    s = registry("import", "members", path, "--org", org.code, "--actor", "li.na", "--json").summary
    run = registry("import", "batches", "--org", org.code, "--json")
    batches = [json.loads(line) for line in run.stdout.strip().splitlines()]
    assert len(batches) == 1
    batch = batches[0]
    assert batch["batch_id"] == s["batch_id"]
    assert batch["status"] == "completed"
    assert batch["file_name"] == "会员.csv"
    assert batch["actor"] == "li.na"
    assert batch["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    assert batch["summary"]["created_people"] == 2
    assert "会员.csv" in registry("import", "batches").output


def test_wrong_birth_date_or_gender_for_the_document_is_rejected(registry, factory, tmp_path):  # type: ignore[no-untyped-def]
    org = factory.org()
    number = resident_id(date(1980, 1, 2), "male")
    rows = [
        member(证件号码=number, 出生日期="1980-01-03", 性别="男"),
        member(证件号码=resident_id(date(1981, 1, 2), "male"), 出生日期="1981-01-02", 性别="女"),
    ]
    s, refused = import_refused(registry, tmp_path, org, rows)
    assert s["rejected"] == 2
    assert [r["reason"] for r in refused] == [
        "证件号码: birth date in the number differs from birth_date",
        "证件号码: gender digit in the number differs from gender",
    ]


def test_membership_dates_outside_what_a_register_keeps_are_refused_as_the_api_does(  # type: ignore[no-untyped-def]
    registry, factory, tmp_path
):
    org = factory.org()
    rows = [
        member(有效期至="9999-12-31"),
        member(入会日期="1899-12-31"),
        member(有效期至="2199年12月31日"),
    ]
    s, refused = import_refused(registry, tmp_path, org, rows)
    assert (s["created_memberships"], s["rejected"]) == (1, 2)
    reasons = {e["row_number"]: e["reason"] for e in refused}
    assert reasons == {
        "2": "有效期至: must be between 1900-01-01 and 2199-12-31",
        "3": "入会日期: must be between 1900-01-01 and 2199-12-31",
    }


def test_the_org_code_is_read_as_organisations_read_it(registry, factory, tmp_path) -> None:
    import json

    org = factory.org()
    typed = "".join(chr(ord(c) + 0xFEE0) for c in org.code.lower())  # full-width, lower case
    path = write_csv(tmp_path / "m.csv", [member()])
    run = registry("import", "members", path, "--org", typed, "--json")
    assert run.exit_code == 0, run.output
    assert run.summary["created_memberships"] == 1
    listed = registry("import", "batches", "--org", typed, "--json").stdout.splitlines()
    assert [json.loads(line)["org_code"] for line in listed] == [org.code]


def test_the_error_file_of_an_xlsx_list_imports_again_once_corrected(
    registry, factory, tmp_path
) -> None:
    import csv

    org = factory.org()
    good = member(有效期至="")  # empty last cells: a sheet does not store them
    bad = member(有效期至="", 入会日期="")
    number = bad["证件号码"]
    bad["证件号码"] = with_wrong_check_digit(number)
    errors = tmp_path / "errors.csv"
    s = registry(
        "import", "members", write_xlsx(tmp_path / "m.xlsx", [good, bad]), "--org", org.code,
        "--errors", errors, "--json",
    ).summary  # fmt: skip
    assert (s["created_people"], s["rejected"]) == (1, 1)
    with errors.open(encoding="utf-8-sig", newline="") as handle:
        lines = list(csv.reader(handle))
    assert {len(line) for line in lines} == {len(HEADER) + 2}
    lines[1][2 + HEADER.index("证件号码")] = number  # the operator corrects the number
    with errors.open("w", encoding="utf-8-sig", newline="") as handle:
        csv.writer(handle).writerows(lines)
    again = registry("import", "members", errors, "--org", org.code, "--json").summary
    assert (again["created_people"], again["rejected"]) == (1, 0)


def test_member_numbers_follow_the_api_rule(registry, factory, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """One rule for a member number wherever it comes from: letters, digits and `_./-`,
    starting with a letter or digit; spaces typed inside it are dropped, full-width forms
    folded."""
    org = factory.org()
    rows = [
        member(会员编号="ＣＳ 0001"),
        member(会员编号="会员0002"),
        member(会员编号="M#3"),
        member(会员编号="-4"),
    ]
    s, refused = import_refused(registry, tmp_path, org, rows)
    assert (s["created_memberships"], s["rejected"]) == (1, 3)
    reasons = {e["row_number"]: e["reason"] for e in refused}
    assert set(reasons) == {"3", "4", "5"}
    assert all(reason.startswith("会员编号: ") for reason in reasons.values()), reasons
    assert db.execute(
        text("SELECT member_no FROM membership WHERE org_id = :org"), {"org": org.id}
    ).scalars().all() == ["CS0001"]


def test_a_mobile_column_beside_a_contact_phone_column_reads_the_mobile(
    registry, factory, db, tmp_path
) -> None:
    """Lists often carry a mobile and an office or contact number side by side: the mobile
    (the column a documented header names) is the person's phone; the other is reported and
    ignored, not a reason to refuse the whole file."""
    org = factory.org()
    mobile = phone()
    header = ["姓名", "出生日期", "联系电话", "手机", "会员编号"]
    rows = [["张三", "1980-01-02", "010-62345678", mobile, "T1"]]
    s = registry(
        "import", "members", write_csv(tmp_path / "two.csv", rows, header=header),
        "--org", org.code, "--json",
    )  # fmt: skip
    assert s.exit_code == 0, s.output
    assert s.summary["created_people"] == 1
    assert s.summary["unknown_columns"] == ["联系电话 (also 手机/phone; 手机 is read)"]
    db.rollback()
    stored = db.execute(
        text(
            "SELECT p.phone FROM person p JOIN membership m ON m.person_id = p.id"
            " WHERE m.org_id = :org"
        ),
        {"org": org.id},
    ).scalar_one()
    assert stored.endswith(mobile[-4:])
