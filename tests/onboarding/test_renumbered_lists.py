"""Renumbered member lists whose chains and swaps cross chunks, in any file order."""

from __future__ import annotations

from datetime import date

import pytest

from services.registry.onboarding import members as members_module

from ..factories import resident_id
from .conftest import member, read_errors, write_csv
from .test_members import numbers_by_phone, people_of


def _import(registry, path, org, *extra):  # type: ignore[no-untyped-def]
    return registry(
        "import", "members", path, "--org", org.code, "--chunk-rows", "100", "--json", *extra
    ).summary


def _counted_passes(monkeypatch) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """How many merge passes the import makes (`["n"]`), counted as it goes."""
    passes = {"n": 0}
    original = members_module.MemberMerge._merge_pass

    def counted(self, prepared):  # type: ignore[no-untyped-def]
        passes["n"] += 1
        return original(self, prepared)

    monkeypatch.setattr(members_module.MemberMerge, "_merge_pass", counted)
    return passes


def _seed(registry, tmp_path, org, rows):  # type: ignore[no-untyped-def]
    registry("import", "members", write_csv(tmp_path / "seed.csv", rows), "--org", org.code)


def _numbers_after(registry, db, tmp_path, org, rows, *people):  # type: ignore[no-untyped-def]
    """The member numbers `people` hold after `rows` are imported, with the import's summary
    and its refused rows as (row_number, reason)."""
    errors = tmp_path / "e.csv"
    s = _import(registry, write_csv(tmp_path / "b.csv", rows), org, "--errors", errors)
    numbers = numbers_by_phone(db, org.code)
    refused = [(e["row_number"], e["reason"]) for e in read_errors(errors)]
    return tuple(numbers[p["手机"]] for p in people), s, refused


def test_a_swap_across_chunks_goes_through(registry, factory, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Two members of a 150-row list swap numbers, one in the first chunk of 100 rows, one in
    the second: each waits on the other, and no chunk holds the whole swap."""
    org = factory.org()
    a, b = member(会员编号="X1"), member(会员编号="X2")
    fillers = [member() for _ in range(148)]
    registry(
        "import", "members", write_csv(tmp_path / "a.csv", [a, *fillers, b]), "--org", org.code
    )
    swapped = write_csv(
        tmp_path / "b.csv", [{**a, "会员编号": "X2"}, *fillers, {**b, "会员编号": "X1"}]
    )
    errors = tmp_path / "e.csv"
    runs = [_import(registry, swapped, org, "--errors", errors) for _ in range(2)]
    numbers = numbers_by_phone(db, org.code)
    assert (numbers[a["手机"]], numbers[b["手机"]]) == ("X2", "X1"), (
        [(s["rejected"], s["updated_memberships"]) for s in runs],
        [(e["row_number"], e["reason"]) for e in read_errors(errors)],
    )


def test_a_person_twice_in_the_list_first_row_wins_and_a_second_run_changes_nothing(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """The first row of a person wins, whatever the chunks: P's first row (chunk 1) waits
    for the number of H, whom chunk 2 moves; P's second row (chunk 2, another institution) is
    a repeat, not applied in the meantime, so a second run changes nothing."""
    org = factory.org()
    p, h = member(会员编号="P1", 工作单位="甲大学"), member(会员编号="H1")
    fillers = [member() for _ in range(120)]
    registry(
        "import", "members", write_csv(tmp_path / "a.csv", [p, h, *fillers]), "--org", org.code
    )
    rows = [
        {**p, "会员编号": "H1", "工作单位": "甲大学"},
        *fillers[:100],
        {**h, "会员编号": "H2"},
        {**p, "会员编号": "H1", "工作单位": "乙大学"},
        *fillers[100:],
    ]
    path = write_csv(tmp_path / "b.csv", rows)
    first = _import(registry, path, org)
    after_first = {r["phone"]: r["institution"] for r in people_of(db, org.code)}[p["手机"]]
    second = _import(registry, path, org)
    assert (after_first, second["updated_people"]) == ("甲大学", 0), (first, second)


def test_a_leader_with_a_repeat_waiting_on_a_later_chunk_goes_through_in_one_run(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """A forward renumbering where one member's row is repeated (an exact copy) in its chunk:
    the row waits for the later chunk like any other, and its copy is a repeat."""
    org = factory.org()
    p, h = member(会员编号="R1"), member(会员编号="R2")
    fillers = [member() for _ in range(120)]
    registry(
        "import", "members", write_csv(tmp_path / "a.csv", [p, h, *fillers]), "--org", org.code
    )
    moved_p = {**p, "会员编号": "R2"}
    rows = [moved_p, moved_p, *fillers, {**h, "会员编号": "R3"}]
    got, s, refused = _numbers_after(registry, db, tmp_path, org, rows, p, h)
    assert got == ("R2", "R3"), (s["rejected"], s["duplicate_rows"], refused)


def test_a_chain_that_zigzags_between_two_chunks_settles_in_a_bounded_number_of_passes(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path, monkeypatch
):
    """Numbers moved along by one (a chain), the file in another order than the chain: links
    alternate between the first and second chunk. The rows waiting are settled at once at the
    end, not a link per round."""
    org = factory.org()
    n = 120
    chain = [member(会员编号=f"Z{i}") for i in range(n)]
    registry("import", "members", write_csv(tmp_path / "a.csv", chain), "--org", org.code)
    # chain[i] takes chain[i+1]'s number, the last a new one.
    moved = [{**r, "会员编号": f"Z{i + 1}"} for i, r in enumerate(chain)]
    # Even links in the second chunk, odd ones in the first (first chunk: 100 rows).
    odd = [moved[i] for i in range(n) if i % 2 == 1]
    even = [moved[i] for i in range(n) if i % 2 == 0]
    pad = [member() for _ in range(100 - len(odd))]
    path = write_csv(tmp_path / "b.csv", [*odd, *pad, *even])
    passes = _counted_passes(monkeypatch)
    s = _import(registry, path, org)
    assert s["rejected"] == 0
    assert numbers_by_phone(db, org.code)[chain[0]["手机"]] == "Z1"
    # Two chunks, their put-off sets, and a few rounds at most.
    assert passes["n"] <= 12, f"{passes['n']} merge passes for a {n}-row chain"


def test_put_off_rows_keep_their_cells_in_the_error_file(registry, factory, db, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A row put off to the end and refused there: its cells, as read, in the error file."""
    org = factory.org()
    holder = member(会员编号="K1")
    registry("import", "members", write_csv(tmp_path / "a.csv", [holder]), "--org", org.code)
    odd = member(会员编号="K1", 研究方向='湍流,\n固体 "力学"\r\n燃烧', 工作单位="清华大学, 北京")
    rows = [odd, *[member() for _ in range(110)]]
    errors = tmp_path / "e.csv"
    s = _import(registry, write_csv(tmp_path / "b.csv", rows), org, "--errors", errors)
    assert s["rejected"] == 1
    (got,) = read_errors(errors)
    assert {k: got[k] for k in odd} == odd


def test_a_swap_of_three_and_a_forward_chain_keep_their_history_and_a_second_run_changes_nothing(
    registry, factory, db, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    from .test_members import history_of

    org = factory.org()
    rows = [member(会员编号=f"F{i}") for i in range(1, 251)]
    registry("import", "members", write_csv(tmp_path / "a.csv", rows), "--org", org.code)
    # a 3-cycle in the first chunk, the rest moved forwards
    moved = [{**r, "会员编号": f"F{i + 2}"} for i, r in enumerate(rows)]
    moved[0], moved[1], moved[2] = (
        {**rows[0], "会员编号": "F2"},
        {**rows[1], "会员编号": "F3"},
        {**rows[2], "会员编号": "F1"},
    )
    moved[3] = {**rows[3], "会员编号": "F999"}
    path = write_csv(tmp_path / "b.csv", moved)
    errors = tmp_path / "e.csv"
    s = _import(registry, path, org, "--errors", errors)
    assert (s["rejected"], s["updated_memberships"]) == (0, 250), read_errors(errors)
    ids = [p["id"] for p in people_of(db, org.code)]
    changes = sorted((o, n) for _, f, o, n, _ in history_of(db, ids) if f == "member_no")
    expected = sorted((r["会员编号"], m["会员编号"]) for r, m in zip(rows, moved, strict=True))
    assert changes == expected
    s2 = _import(registry, path, org)
    assert (s2["rejected"], s2["updated_memberships"], s2["unchanged"]) == (0, 0, 250), s2
    dry = registry(
        "import", "members", path, "--org", org.code, "--chunk-rows", "100", "--json", "--dry-run"
    ).summary
    assert dry["unchanged"] == 250


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_swaps_and_chains_with_refused_rows_leave_a_list_a_second_run_keeps(
    registry, factory, db, tmp_path, seed
) -> None:  # type: ignore[no-untyped-def]
    import random

    rng = random.Random(seed)
    org = factory.org()
    n = 160
    rows = [member(会员编号=f"Q{i}") for i in range(n)]
    registry("import", "members", write_csv(tmp_path / "a.csv", rows), "--org", org.code)
    numbers = [f"Q{i}" for i in range(n)]
    # a few random cycles and chains
    idx = list(range(n))
    rng.shuffle(idx)
    new = {}
    k = 0
    while k < n:
        size = rng.randint(2, 12)
        group = idx[k : k + size]
        k += size
        kind = rng.random()
        for j, i in enumerate(group):
            if kind < 0.4:  # cycle
                new[i] = numbers[group[(j + 1) % len(group)]]
            elif kind < 0.8:  # chain ending on a fresh number
                new[i] = numbers[group[j + 1]] if j + 1 < len(group) else f"NEW{i}"
            else:
                new[i] = numbers[i]
    moved = []
    for i, r in enumerate(rows):
        row = {**r, "会员编号": new[i]}
        if rng.random() < 0.05:
            row["有效期至"] = "2001-01-01"  # before joined_on: refused by the judge
        moved.append(row)
    for _ in range(6):  # new people wanting held numbers
        moved.insert(rng.randrange(len(moved)), member(会员编号=rng.choice(numbers)))
    rng.shuffle(moved)
    path = write_csv(tmp_path / "b.csv", moved)
    errors = tmp_path / "e.csv"
    s1 = _import(registry, path, org, "--errors", errors)
    refused = {int(e["row_number"]) for e in read_errors(errors)}
    stored = numbers_by_phone(db, org.code)
    # Every row accepted holds the number it gives (and numbers stay unique: the database's
    # constraint would have failed the import).
    accepted = [row for line, row in enumerate(moved, start=2) if line not in refused]
    assert all(stored[row["手机"]] == row["会员编号"] for row in accepted)
    s2 = _import(registry, path, org)
    assert (s2["updated_memberships"], s2["created_memberships"], s2["updated_people"]) == (
        0,
        0,
        0,
    ), (s1, s2)


def test_a_chain_in_shuffled_file_order_settles_in_a_few_rounds(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path, monkeypatch
):
    """Numbers moved along by one (one member inserted at the front of the numbering), the
    file sorted another way (by name, say): the chain's links fall in random chunks, and the
    end of the import settles them in one pass per set."""
    import random
    import time as time_module

    org = factory.org()
    n = 300
    chain = [member(会员编号=f"Y{i}") for i in range(n)]
    registry("import", "members", write_csv(tmp_path / "a.csv", chain), "--org", org.code)
    moved = [{**r, "会员编号": f"Y{i + 1}"} for i, r in enumerate(chain)]
    random.Random(7).shuffle(moved)
    path = write_csv(tmp_path / "b.csv", moved)
    passes = _counted_passes(monkeypatch)
    started = time_module.monotonic()
    s = _import(registry, path, org)
    took = time_module.monotonic() - started
    assert s["rejected"] == 0
    assert passes["n"] <= 15, f"{passes['n']} merge passes, {took:.1f} s, for {n} rows in 3 chunks"


def test_first_row_wins_when_a_later_row_of_an_already_accepted_person_is_put_off(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """P's first row (chunk 1) keeps P1 and is accepted; P's second row (chunk 2) wants Q1,
    which chunk 2 frees: a repeat, not a row waiting for a number, so P keeps P1 and a second
    run changes nothing."""
    org = factory.org()
    p, q = member(会员编号="P1"), member(会员编号="Q1")
    fillers = [member() for _ in range(200)]
    _seed(registry, tmp_path, org, [p, q, *fillers])
    rows = [
        p,  # row 2: unchanged, accepted in chunk 1
        *fillers[:99],
        {**p, "会员编号": "Q1"},  # row 101 (chunk 2): a repeat of P
        {**q, "会员编号": "Q2"},
        *fillers[99:150],
    ]
    path = write_csv(tmp_path / "b.csv", rows)
    first = _import(registry, path, org)
    after_first = numbers_by_phone(db, org.code)[p["手机"]]
    second = _import(registry, path, org)
    after_second = numbers_by_phone(db, org.code)[p["手机"]]
    assert (after_first, second["updated_memberships"]) == ("P1", 0), (
        after_first,
        after_second,
        first,
        second,
    )


def test_a_swap_does_not_leave_a_member_without_a_number(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """A and B swap numbers across chunks 3 and 4, and a repeat row of P (accepted in chunk
    1) wants B1 in chunk 2: nobody is left without a member number."""
    org = factory.org()
    a, b, p = member(会员编号="A1"), member(会员编号="B1"), member(会员编号="P1")
    fillers = [member() for _ in range(300)]
    _seed(registry, tmp_path, org, [a, b, p, *fillers])
    rows = [
        p,  # chunk 1 (rows 2-101)
        *fillers[:99],
        {**p, "会员编号": "B1"},  # chunk 2 (rows 102-201): a repeat of P
        *fillers[99:198],
        {**a, "会员编号": "B1"},  # chunk 3
        *fillers[198:297],
        {**b, "会员编号": "A1"},  # chunk 4
    ]
    got, s, refused = _numbers_after(registry, db, tmp_path, org, rows, a, b, p)
    # A and B swap; P's repeat row changes nothing.
    assert got == ("B1", "A1", "P1"), (s, refused)


def test_a_chain_whose_middle_link_is_refused_at_the_end_keeps_the_holders_number(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """A (chunk 1) wants B1; B (chunk 2, matched by contact, the row bringing a document)
    wants C1; C (chunk 3) moves to C9, and chunk 3 also registers B's row's document under
    another name, so B's row is refused at the end: B keeps B1, and A waits for it in vain."""
    org = factory.org()
    a, c = member(会员编号="A1"), member(会员编号="C1")
    born = date(1980, 3, 4)
    b = member(会员编号="B1", 证件类型="", 证件号码="", gender_en="male", birth=born)
    b_doc = resident_id(born, "male")
    fillers = [member() for _ in range(300)]
    _seed(registry, tmp_path, org, [a, b, c, *fillers])
    x = member(证件号码=b_doc, 姓名="欧阳某某", 会员编号="X1", gender_en="male", birth=born)
    rows = [
        {**a, "会员编号": "B1"},  # chunk 1
        *fillers[:99],
        {**b, "会员编号": "C1", "证件类型": "居民身份证", "证件号码": b_doc},  # chunk 2
        *fillers[99:198],
        {**c, "会员编号": "C9"},  # chunk 3
        x,
        *fillers[198:220],
    ]
    path = write_csv(tmp_path / "b.csv", rows)
    errors = tmp_path / "e.csv"
    s = _import(registry, path, org, "--errors", errors)
    numbers = numbers_by_phone(db, org.code)
    got = {"A": numbers[a["手机"]], "B": numbers[b["手机"]], "C": numbers[c["手机"]]}
    refused = {e["row_number"]: e["reason"] for e in read_errors(errors)}
    # B's row is refused at the end, so B keeps B1 and A's row waits for it in vain.
    assert got == {"A": "A1", "B": "B1", "C": "C9"}, (s, refused)
    assert refused["2"].endswith("taken by another member of the organisation")


@pytest.mark.parametrize("with_repeat", [False, True])
def test_a_holder_with_two_put_off_rows_still_moves_for_the_row_waiting_on_it(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path, with_repeat
):
    """A (chunk 1) wants B1; B's first row (chunk 2) wants D1, held by D, whom chunk 4 moves;
    with or without a later repeat row of B (chunk 3), A gets B1, B D1, D D9, in one run."""
    org = factory.org()
    a, b, c, d = (member(会员编号=n) for n in ("A1", "B1", "C1", "D1"))
    fillers = [member() for _ in range(300)]
    _seed(registry, tmp_path, org, [a, b, c, d, *fillers])
    rows = [
        {**a, "会员编号": "B1"},  # chunk 1 (set 0)
        *fillers[:99],
        {**b, "会员编号": "D1"},  # chunk 2 (set 1)
        *fillers[99:198],
        {**b, "会员编号": "C1"} if with_repeat else member(),  # chunk 3: a repeat of B
        *fillers[198:297],
        {**d, "会员编号": "D9"},  # chunk 4
    ]
    path = write_csv(tmp_path / "b.csv", rows)
    errors = tmp_path / "e.csv"
    first = _import(registry, path, org, "--errors", errors)
    refused = [(e["row_number"], e["reason"]) for e in read_errors(errors)]
    numbers = numbers_by_phone(db, org.code)
    got = (numbers[a["手机"]], numbers[b["手机"]], numbers[d["手机"]])
    assert got == ("B1", "D1", "D9"), (refused, first)
    second = _import(registry, path, org)
    assert second["updated_memberships"] == 0, second


def test_exact_copies_of_a_row_refused_at_the_end_are_refused_with_it(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """As within a chunk: a row put off with exact copies of itself and refused at the end
    takes its copies into the error file; accepted, its copies are repeats."""
    org = factory.org()
    p, h = member(会员编号="R1"), member(会员编号="R2")
    fillers = [member() for _ in range(120)]
    _seed(registry, tmp_path, org, [p, h, *fillers])
    moved_p = {**p, "会员编号": "R2"}  # H never moves
    rows = [moved_p, moved_p, *fillers]
    errors = tmp_path / "e.csv"
    s = _import(registry, write_csv(tmp_path / "b.csv", rows), org, "--errors", errors)
    lines = sorted(int(e["row_number"]) for e in read_errors(errors))
    assert (s["rejected"], s["duplicate_rows"], lines) == (2, 0, [2, 3])
    moving = [moved_p, moved_p, *fillers[:110], {**h, "会员编号": "R9"}]
    s = _import(registry, write_csv(tmp_path / "c.csv", moving), org)
    assert (s["rejected"], s["duplicate_rows"], s["updated_memberships"]) == (0, 1, 2)
    assert numbers_by_phone(db, org.code)[p["手机"]] == "R2"


def test_a_persons_later_row_found_by_another_key_does_not_win_at_the_end(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """P's two rows in one chunk, found by different keys (document, phone): the first keeps
    P1 and is accepted; the second wants Q1, which chunk 2 frees, and stays refused: the first
    row wins, and a second run changes nothing."""
    org = factory.org()
    p, q = member(会员编号="P1"), member(会员编号="Q1")
    fillers = [member() for _ in range(120)]
    _seed(registry, tmp_path, org, [p, q, *fillers])
    first_row = {**p, "手机": "", "邮箱": ""}  # found by its document
    second_row = {**p, "证件类型": "", "证件号码": "", "邮箱": "", "会员编号": "Q1"}  # by phone
    rows = [first_row, second_row, *fillers[:98], {**q, "会员编号": "Q2"}, *fillers[98:110]]
    path = write_csv(tmp_path / "b.csv", rows)
    errors = tmp_path / "e.csv"
    s1 = _import(registry, path, org, "--errors", errors)
    after_first = numbers_by_phone(db, org.code)[p["手机"]]
    s2 = _import(registry, path, org)
    after_second = numbers_by_phone(db, org.code)[p["手机"]]
    outcome = (after_first, after_second, s2["updated_memberships"])
    refused = [(e["row_number"], e["reason"]) for e in read_errors(errors)]
    assert outcome == ("P1", "P1", 0), (s1, s2, refused)


def test_two_people_wanting_one_number_across_chunks_first_row_wins(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """X (chunk 1) and Y (chunk 2) both want H1, which chunk 3 frees: the first row gets it,
    as within one chunk."""
    org = factory.org()
    h, x, y = member(会员编号="H1"), member(会员编号="X1"), member(会员编号="Y1")
    fillers = [member() for _ in range(300)]
    _seed(registry, tmp_path, org, [h, x, y, *fillers])
    rows = [
        {**x, "会员编号": "H1"},  # chunk 1
        *fillers[:99],
        {**y, "会员编号": "H1"},  # chunk 2
        *fillers[99:198],
        {**h, "会员编号": "H9"},  # chunk 3
    ]
    got, s1, refused = _numbers_after(registry, db, tmp_path, org, rows, x, y, h)
    assert got == ("H1", "Y1", "H9"), (got, s1, refused)


def test_a_later_row_of_a_person_whose_waiting_first_row_is_refused_is_judged_after_it(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    """P's row (chunk 1) waits for H1, which H keeps: refused at the end. P's later row
    (chunk 2) wants G1, which chunk 3 frees: it is judged after the first row's refusal and
    takes G1, as within one chunk; not a silent repeat. A second run changes nothing."""
    org = factory.org()
    h, g, p = member(会员编号="H1"), member(会员编号="G1"), member(会员编号="P1")
    fillers = [member() for _ in range(300)]
    _seed(registry, tmp_path, org, [h, g, p, *fillers])
    rows = [
        {**p, "会员编号": "H1"},  # chunk 1: waits for H1 in vain
        *fillers[:99],
        {**p, "会员编号": "G1"},  # chunk 2 (row 102)
        *fillers[99:198],
        {**g, "会员编号": "G9"},  # chunk 3
    ]
    path = write_csv(tmp_path / "b.csv", rows)
    errors = tmp_path / "e.csv"
    s = _import(registry, path, org, "--errors", errors)
    assert [e["row_number"] for e in read_errors(errors)] == ["2"]
    assert numbers_by_phone(db, org.code)[p["手机"]] == "G1"
    assert (s["rejected"], s["duplicate_rows"], s["updated_memberships"]) == (1, 0, 2)
    again = _import(registry, path, org)
    assert again["updated_memberships"] == 0


def test_later_rows_refused_after_their_first_keep_their_own_cells(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path
):
    org = factory.org()
    h, k, p, q = (member(会员编号=n) for n in ("H1", "K1", "P1", "Q1"))
    fillers = [member() for _ in range(200)]
    _seed(registry, tmp_path, org, [h, k, p, q, *fillers])
    later = [{**q, "会员编号": "K1", "职称": "研究员"}, {**p, "会员编号": "K1", "职称": "教授"}]
    rows = [
        {**p, "会员编号": "H1"},  # chunk 1: both wait for numbers nobody gives up
        {**q, "会员编号": "H1"},
        *fillers[:98],
        *later,  # chunk 2: their later rows, kept behind them
        *fillers[98:150],
    ]
    errors = tmp_path / "e.csv"
    s = _import(registry, write_csv(tmp_path / "b.csv", rows), org, "--errors", errors)
    refused = {e["row_number"]: e for e in read_errors(errors)}
    assert sorted(refused, key=int) == ["2", "3", "102", "103"], s
    for line, row in (("102", later[0]), ("103", later[1])):
        assert {key: refused[line][key] for key in row} == row


def test_past_the_together_limit_rows_still_waiting_are_refused_and_lose_nothing(  # type: ignore[no-untyped-def]
    registry, factory, db, tmp_path, monkeypatch
):
    monkeypatch.setattr(members_module, "TOGETHER_ROWS", 0)
    org = factory.org()
    a, b = member(会员编号="X1"), member(会员编号="X2")
    fillers = [member() for _ in range(148)]
    _seed(registry, tmp_path, org, [a, *fillers, b])
    swapped = [{**a, "会员编号": "X2"}, *fillers, {**b, "会员编号": "X1"}]
    errors = tmp_path / "e.csv"
    s = _import(registry, write_csv(tmp_path / "b.csv", swapped), org, "--errors", errors)
    refused = {e["row_number"]: e["reason"] for e in read_errors(errors)}
    assert sorted(refused, key=int) == ["2", "151"]
    assert s["rejected"] == 2
    assert (
        numbers_by_phone(db, org.code)[a["手机"]],
        numbers_by_phone(db, org.code)[b["手机"]],
    ) == (
        "X1",
        "X2",
    )
