"""The bulk (column-at-a-time) paths give exactly what the scalar normalisers give, and the
reader streams files of any length."""

from __future__ import annotations

import contextlib
import csv
import random
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from cryptography.exceptions import InvalidTag

from services.registry.core import bulk, ids, normalize
from services.registry.onboarding import readers
from services.registry.onboarding.readers import byte_fraction, open_table

from ..factories import resident_id, with_wrong_check_digit


def scalar(fn, value):  # type: ignore[no-untyped-def]
    try:
        return fn(value), None
    except ValueError as exc:
        return None, str(exc)


def test_fast_paths_agree_with_the_scalar_normalisers_value_by_value() -> None:
    rng = random.Random(7)
    cases = {
        (bulk.PHONE_FAST, normalize.phone): [
            "13812345678",
            "138 1234 5678",
            "+8613812345678",
            "1381234567",
            "12345",
            "010-6275 1234",
            "１３８１２３４５６７８",
            "23812345678",
            None,
        ],
        (bulk.EMAIL_FAST, normalize.email): [
            "a@b.cn",
            "A.B@Example.COM",
            "x@y",
            "no-at",
            " a@b.cn",
            "ä@b.cn",
            "a@b.c",
            None,
        ],
        (bulk.TEXT_FAST, normalize.clean_text): [
            "张伟",
            "欧阳 晓明",
            "欧阳　晓明",
            "Ｚｈａｎｇ",
            "李娜（女）",
            "中国科学院,力学所",
            " 王芳 ",
            "丽\u0301",
            "司马·相如",
            "\ufa11",
            None,
        ],
        (bulk.MEMBER_NO_FAST, normalize.member_no): ["M001", "Ｍ００１", "M 001", "会员1", None],
    }
    for (pattern, fn), values in cases.items():
        raw = pl.Series(values, dtype=pl.String)
        fast = raw.str.contains(pattern).fill_null(False).to_list()
        table = bulk.lookup_table(
            [v for v, ok in zip(values, fast, strict=True) if v is not None and not ok],
            fn,
            pl.String,
        )
        answers = {row["raw"]: (row["value"], row["reason"]) for row in table.iter_rows(named=True)}
        for value, ok in zip(values, fast, strict=True):
            if value is None:
                assert not ok
                continue
            # A value matching the fast pattern is kept as it is: `fn` must give it back unchanged.
            got = (value, None) if ok else answers[value]
            assert got == scalar(fn, value), value
    del rng


def test_bulk_resident_id_check_matches_the_scalar_parser() -> None:
    rng = random.Random(11)
    good = [resident_id() for _ in range(300)]
    values = (
        good
        + [with_wrong_check_digit(v) for v in good[:50]]
        + [
            "11010119850230001X",
            "110101180001010011",
            "990101198501010011",
            good[0].lower(),
            good[1][:17] + "x",
            "1" * 18,
            "abc",
            "",
            "11010120991231001X",
            None,
        ]
    )
    rng.shuffle(values)
    frame = pl.DataFrame({"raw": pl.Series(values, dtype=pl.String)})
    frame = frame.with_columns(checked=bulk.resident_id_checked(pl.col("raw")))
    regions = bulk.lookup_table(
        frame.filter("checked")["raw"].str.slice(0, 6).unique().to_list(),
        bulk.known_region,
        pl.Boolean,
        {},
    )
    known = {row["raw"] for row in regions.iter_rows(named=True) if row["value"]}
    checked = frame.select(
        fast=pl.col("checked") & pl.col("raw").str.slice(0, 6).is_in(list(known)),
        birth_date=bulk.resident_birth_date(pl.col("raw")),
        gender=bulk.resident_gender(pl.col("raw")),
    )
    for value, fast, birth, gender in zip(
        values, checked["fast"], checked["birth_date"], checked["gender"], strict=True
    ):
        if value is None:
            assert not fast
            continue
        parsed, _ = scalar(ids.parse_resident_id, value)
        if fast:  # the fast path only ever accepts what the parser accepts, unchanged
            assert parsed is not None
            assert parsed.number == value
            assert (parsed.birth_date, parsed.gender) == (birth, gender)
        elif parsed is not None:
            assert parsed.number != value  # only non-canonical spellings go the slow way
    assert sum(checked["fast"].to_list()) >= 300


def test_label_columns_go_through_the_one_table() -> None:
    values = ["男", "女", "Male", "ｆ", "未知", None, "男"]
    table = bulk.lookup_table(
        list(dict.fromkeys(v for v in values if v)), normalize.gender, pl.String
    )
    answers = {row["raw"]: (row["value"], row["reason"]) for row in table.iter_rows(named=True)}
    got = [answers[v] if v else (None, None) for v in values]
    assert [value for value, _ in got] == ["male", "female", "male", "female", None, None, "male"]
    unknown = "unknown gender, expected 男 (male) or 女 (female)"
    assert [reason for _, reason in got] == [None, None, None, None, unknown, None, None]
    spellings = ["1985-03-02", "1985/3/2", "1985.3.2", "1985年3月2日", "19850302", "31108"]
    dates = bulk.lookup_table(spellings, normalize.parse_date, pl.Date)
    assert set(dates["value"].to_list()) == {date(1985, 3, 2)}


def test_the_reader_streams_a_file_of_1048576_rows_in_chunks(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = 1_048_576
    with path.open("w") as handle:
        handle.write("姓名,会员编号\n")
        line = "张三,M{}\n"
        handle.writelines(line.format(i) for i in range(rows))
    table = open_table(path)
    count = 0
    biggest = 0
    last = 0
    for chunk in table.chunks(100_000):
        biggest = max(biggest, len(chunk.rows))
        count += len(chunk.rows)
        last = chunk.numbers[-1]
    assert count == rows
    assert biggest == 100_000
    assert last == rows + 1  # spreadsheet numbering: the header is row 1


def test_the_date_fast_path_reads_what_parse_date_reads() -> None:
    values = [
        "1985-03-02", "1985-02-29", "1984-02-29", "0000-01-01", "0985-03-02", "1899-12-31",
        "1900-01-01", "2999-12-31", "3000-01-01", "1985-3-2", "1985-13-01", "１９８５-０３-０２",
        " 1985-03-02", "1985/03/02", "19850302", "2099-01-01", None,
    ]  # fmt: skip
    frame = pl.DataFrame({"raw": pl.Series(values, dtype=pl.String)})
    got = frame.select(
        iso=bulk.iso_dates(pl.col("raw")), past=bulk.past_dates(pl.col("raw"))
    ).iter_rows()
    for value, (iso, past) in zip(values, got, strict=True):
        if value is None:
            assert iso is None
            assert past is None
            continue
        if iso is not None:  # the fast path only ever gives what parse_date gives
            assert scalar(normalize.parse_date, value) == (iso, None), value
        if past is not None:
            parsed, _ = scalar(normalize.parse_date, value)
            assert scalar(normalize.not_future, parsed) == (past, None), value
    parsed = frame.select(
        iso=bulk.iso_dates(pl.col("raw")), past=bulk.past_dates(pl.col("raw"))
    ).to_dict(as_series=False)
    iso_expected = {
        "1985-03-02": date(1985, 3, 2), "1984-02-29": date(1984, 2, 29),
        "1899-12-31": date(1899, 12, 31), "1900-01-01": date(1900, 1, 1),
        "2999-12-31": date(2999, 12, 31), "2099-01-01": date(2099, 1, 1),
    }  # fmt: skip
    assert parsed["iso"] == [iso_expected.get(v) for v in values]
    past_expected = {v: d for v, d in iso_expected.items() if d.year >= 1900 and d <= date.today()}
    assert parsed["past"] == [past_expected.get(v) for v in values]


def test_bulk_blind_indexes_and_sealing_match_the_one_at_a_time_cipher() -> None:
    from services.registry.core.security import PiiCipher

    for index_key in (b"i" * 32, b"k" * 100):  # a key longer than SHA-256's block is hashed
        pii = PiiCipher(b"e" * 32, index_key)
        documents = [("resident_id", resident_id()) for _ in range(20)] + [("passport", "E1234567")]
        assert pii.blind_indexes(documents) == [pii.blind_index(k, v) for k, v in documents]
    numbers = [number for _, number in documents]
    contexts = [bytes([i]) * 16 for i in range(len(numbers))]
    sealed = pii.encrypt_many(numbers, contexts)
    assert len({blob[1:13] for blob in sealed}) == len(sealed)  # a fresh nonce for each
    for blob, number, context in zip(sealed, numbers, contexts, strict=True):
        assert pii.decrypt(blob, context=context) == number
    with pytest.raises(InvalidTag):  # bound to its own row: another row's context fails
        pii.decrypt(sealed[0], context=contexts[1])


def _csv_module_rows(path: Path, encoding: str) -> list[tuple[int, list[str]]]:
    """What the csv module reads: every record numbered, blank ones left out."""
    with path.open(encoding=encoding, newline="") as handle:
        records = list(enumerate(csv.reader(handle), start=1))
    return [(number, row) for number, row in records if "".join(row).strip()]


def test_the_reader_gives_the_csv_modules_records_for_every_kind_of_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Blocks of 4 KiB rather than 4 MiB, so that a small file spans many of them.
    monkeypatch.setattr(readers, "_BLOCK", 4096)
    rng = random.Random(3)
    cells = ["张三", "", " ", "\x1c", "\u3000", "a b", "M001", "\x00", "１３８"]
    widths = [2, 3, 3, 4]
    lines = [",".join(rng.choice(cells) for _ in range(rng.choice(widths))) for _ in range(3_000)]
    plain = "姓名,会员编号,手机\n" + "\n".join(lines) + "\n\n \n,,\n"
    quoted = 'x,"a, b",1\n"two\nlines",2,3\n""""\n'
    texts = {
        "plain": plain,
        "crlf": plain.replace("\n", "\r\n"),
        "no final newline": plain.rstrip("\n"),
        # past the first blocks, so the bulk path hands over to the csv module mid-file
        "quoted later": plain * 3 + quoted + plain.split("\n", 1)[1],
        "quoted at once": quoted + plain,
        "bare CR": plain[:500] + "\r" + plain[500:],
        "only CR": plain.replace("\n", "\r"),
    }
    for name, text in texts.items():
        for encoding in ("utf-8", "utf-8-sig", "gb18030"):
            path = tmp_path / f"{name}-{encoding}.csv"
            path.write_bytes(text.encode(encoding))
            expected = _csv_module_rows(path, encoding)
            table = open_table(path)
            got = [(table.header_row, table.header)]
            for chunk in table.chunks(999):
                got.extend(zip(chunk.numbers, chunk.rows, strict=True))
            assert got == expected, (name, encoding)


def test_a_file_without_line_feeds_is_streamed_not_read_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Old Mac exports end lines with a bare CR: no block has a line feed to cut at.
    monkeypatch.setattr(readers, "_BLOCK", 4096)
    path = tmp_path / "mac.csv"
    lines = [f"张三{n},M{n:06d},13800138000" for n in range(100_000)]
    path.write_bytes(("姓名,会员编号,手机\r" + "\r".join(lines) + "\r").encode("utf-8"))
    table = open_table(path)
    assert table.header == ["姓名", "会员编号", "手机"]
    assert (table.done_fraction() or 0) < 0.1
    rows = [row for chunk in table.chunks(5_000) for row in chunk.rows]
    assert len(rows) == 100_000
    assert rows[-1] == ["张三99999", "M099999", "13800138000"]


def test_progress_asked_while_the_reading_thread_closes_the_file_says_done(
    tmp_path: Path,
) -> None:
    """The import's progress is read from another thread than the one reading the file; a
    question landing as the reader closes it (the descriptor gone, the object not yet marked
    closed) is answered "done", not with an error that fails the import."""
    import os

    path = tmp_path / "m.csv"
    path.write_bytes(b"x" * 100)
    binary = path.open("rb")
    binary.read(50)
    assert byte_fraction(binary, 100) == 0.5
    os.close(binary.fileno())  # what a close in the reading thread does first
    try:
        assert byte_fraction(binary, 100) == 1.0
    finally:
        with contextlib.suppress(OSError):
            binary.close()
    assert byte_fraction(binary, 100) == 1.0
