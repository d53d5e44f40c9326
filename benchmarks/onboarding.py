"""Import a 1,000,000-row member list end to end and compare it with a raw COPY of the same file.

    python benchmarks/onboarding.py [--rows 1000000] [--dirty 0.05] [--keep] [--file PATH]
    python benchmarks/onboarding.py --file-side-only [--file PATH | --rows N]

Generates a realistic society member list (the 14 CONTRACT.md columns a society exports:
Chinese names, valid GB 11643 resident ID numbers for most members, phones, e-mails,
institutions, title words, disciplines as `130 力学`, research fields, grades, member numbers,
dates) with about `--dirty` of the rows typed the way people type them: full-width digits,
other date styles, spaces, plus some that are wrong (bad check digits, short phones, impossible
dates, no name) and some people listed twice. In a fresh database `registry_bench_<hex>` (as
benchmarks/api.py creates it) it then times, in this order:

1. a raw `COPY ... (FORMAT csv, HEADER)` of the same file into a plain table of 14 text
   columns: the floor for getting these bytes into PostgreSQL;
2. `registry import members FILE --org BENCH --json` as a subprocess, end to end (process start,
   reading, validation, matching, COPY into staging, merge, history, outbox, commit);
3. the same command again on the unchanged file (everything matches, nothing is written);
4. with `--renumbered`, the file again with every member number moved along by one (each
   number becomes the list's next one, the last a new one): a renumbered list, where every
   row's number is held until the row after it moves its member, each chunk's last row waiting
   on the next chunk.

Prints rows/s for each, the ratio import/raw-COPY throughput, the importer's peak resident
memory, and as the last line one JSON object with every figure.

`--file-side-only` needs no database: it runs, in this process, what the import does to the
file before the database sees it (reading, validation, and `members.prepare`: blind indexes,
sealing, staging CSV), chunk by chunk as the import does, and prints wall and CPU seconds for
each step and the peak resident memory.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from stdnum.cn import ric  # noqa: E402

from benchmarks.api import BIRTH_REGIONS, SOCIETIES  # noqa: E402
from benchmarks.common import (  # noqa: E402
    BIRTH_DAYS,
    BIRTH_START,
    DEFAULT_SERVER_URL,
    INSTITUTIONS,
    TITLES,
    bench_database,
    chinese_name,
    libpq,
)

HEADER = [
    "姓名", "性别", "出生日期", "证件号码", "手机", "邮箱", "工作单位", "职称", "学科", "研究方向",
    "会员等级", "会员编号", "入会日期", "有效期至",
]  # fmt: skip
GRADE_WORDS = (
    ("学生会员",) * 8 + ("会员",) * 62 + ("高级会员",) * 20 + ("会士",) * 8 + ("荣誉会员",) * 2
)
WIDE = str.maketrans("0123456789", "０１２３４５６７８９")


class MemberList:
    """Rows of one society's member list; `dirty` of them need folding, are wrong or repeat."""

    def __init__(self, rng: random.Random, dirty: float) -> None:
        self.rng = rng
        self.dirty = dirty
        self.start = BIRTH_START
        self.days = BIRTH_DAYS
        self.titles = [(word, w) for _, w, words in TITLES for word in words]
        self.title_words = [word for word, w in self.titles for _ in range(w)]
        society = SOCIETIES[2]  # 中国力学学会
        self.disciplines = ["130 力学", "13015", "130", "力学", "13020"]
        self.fields = list(society[4])
        self.numbers: set[str] = set()
        self.recent: list[list[str]] = []

    def resident_id(self, birth: date, male: bool) -> str:
        while True:
            order = self.rng.randrange(500) * 2 + (1 if male else 0)
            body = f"{self.rng.choice(BIRTH_REGIONS)}{birth:%Y%m%d}{order:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def clean(self, n: int) -> list[str]:
        rng = self.rng
        male = rng.random() < 0.58
        birth = self.start + timedelta(days=rng.randrange(self.days))
        institution, _, domain = rng.choice(INSTITUTIONS)
        joined = date(1995, 1, 1) + timedelta(days=rng.randrange(10_000))
        has_id = rng.random() < 0.92
        return [
            chinese_name(rng, "male" if male else "female"),
            "男" if male else "女",
            birth.isoformat(),
            self.resident_id(birth, male) if has_id else "",
            f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            f"m{n}@{domain}" if rng.random() < 0.7 else "",
            institution,
            rng.choice(self.title_words),
            rng.choice(self.disciplines),
            "、".join(rng.sample(self.fields, k=1 + rng.randrange(2))),
            rng.choice(GRADE_WORDS),
            f"CSTAM{n:08d}",
            joined.isoformat(),
            (joined + timedelta(days=5 * 365)).isoformat(),
        ]

    def row(self, n: int) -> list[str]:
        rng = self.rng
        if rng.random() >= self.dirty:
            row = self.clean(n)
            if len(self.recent) < 1000:
                self.recent.append(row)
            elif rng.random() < 0.01:
                self.recent[rng.randrange(1000)] = row
            return row
        kind = rng.random()
        row = self.clean(n)
        if kind < 0.12 and self.recent:  # the same person listed again
            return list(rng.choice(self.recent))
        if kind < 0.30:
            row[4] = row[4][:3] + " " + row[4][3:7] + " " + row[4][7:]  # 138 1234 5678
            row[4] = row[4].translate(WIDE)
        elif kind < 0.45:
            y, m, d = row[2].split("-")
            row[2] = rng.choice(
                [f"{y}/{int(m)}/{int(d)}", f"{y}年{int(m)}月{int(d)}日", f"{y}{m}{d}"]
            )
        elif kind < 0.55:
            row[0] = f" {row[0]} "
            row[5] = row[5].upper()
        elif kind < 0.62:
            row[12] = str((date.fromisoformat(row[12]) - date(1899, 12, 30)).days)  # Excel serial
        elif kind < 0.75 and row[3]:  # wrong check digit
            digits = "0123456789X"
            row[3] = row[3][:17] + digits[(digits.index(row[3][17]) + 1) % 11]
        elif kind < 0.85:
            row[4] = row[4][:7]  # a phone number cut short
        elif kind < 0.92:
            row[13] = "2030-02-30"
        else:
            row[0] = ""  # no name
        return row


def generate(path: Path, rows: int, dirty: float, seed: int) -> float:
    started = time.perf_counter()
    members = MemberList(random.Random(seed), dirty)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for n in range(rows):
            writer.writerow(members.row(n))
    return time.perf_counter() - started


def renumber(path: Path, out: Path) -> float:
    """The member list with every member number moved along by one, as `--renumbered` says."""
    started = time.perf_counter()
    # Streamed in two passes: the file held in this process would be inherited, for a moment,
    # by the import's child process and counted in its peak memory.
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        column = next(reader).index("会员编号")
        # Each number becomes the next one of the list, so a person listed twice keeps one.
        numbers = list(dict.fromkeys(row[column] for row in reader if row[column].strip()))
    moved = dict(zip(numbers, [*numbers[1:], "RENUMBERED-LAST"], strict=True))
    del numbers
    with (
        path.open(encoding="utf-8", newline="") as source,
        out.open("w", encoding="utf-8", newline="") as target,
    ):
        writer = csv.writer(target)
        for row in csv.reader(source):
            row[column] = moved.get(row[column], row[column])
            writer.writerow(row)
    return time.perf_counter() - started


def raw_copy(url: str, path: Path) -> float:
    columns = ", ".join(f"c{i} text" for i in range(len(HEADER)))
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE raw_member_list ({columns})")
        started = time.perf_counter()
        with (
            conn.transaction(),
            conn.cursor() as cur,
            path.open("rb") as handle,
            cur.copy("COPY raw_member_list FROM STDIN (FORMAT csv, HEADER true)") as copy,
        ):
            while block := handle.read(1 << 20):
                copy.write(block)
        seconds = time.perf_counter() - started
        conn.execute("DROP TABLE raw_member_list")
    return seconds


def run_import(env: dict[str, str], path: Path) -> tuple[float, int, float, dict[str, Any]]:
    """Seconds, peak resident memory (bytes), CPU seconds and the summary of one
    `registry import members` run as a child process."""
    registry = Path(sys.executable).with_name("registry")
    command = [str(registry), "import", "members", str(path), "--org", "BENCH", "--json"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, errors = process.communicate()
    seconds = time.perf_counter() - started
    # Children's rusage: the peak is the maximum over every child waited for so far (the
    # imports are this script's only children), the CPU time adds up.
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (usage.ru_utime - before.ru_utime) + (usage.ru_stime - before.ru_stime)
    if process.returncode != 0:
        raise SystemExit(f"import failed ({process.returncode}):\n{errors.decode()[-3000:]}")
    summary = json.loads(out.decode().strip().splitlines()[-1])
    return seconds, usage.ru_maxrss * 1024, cpu, summary


def file_side(path: Path) -> dict[str, Any]:
    """Read, validate and prepare `path` as `registry import members` does, without a
    database: seconds (wall and CPU) by step."""
    from services.registry.core.security import PiiCipher
    from services.registry.onboarding import members
    from services.registry.onboarding.columns import MEMBER_COLUMNS, map_header
    from services.registry.onboarding.readers import open_table
    from services.registry.onboarding.service import CHUNK_ROWS
    from services.registry.onboarding.validate import MemberValidator

    pii = PiiCipher(os.urandom(32), os.urandom(32))
    wall = dict.fromkeys(("open", "read", "validate", "prepare"), 0.0)
    cpu = dict(wall)
    marks = (time.perf_counter(), time.process_time())

    def lap(step: str) -> None:
        nonlocal marks
        now = (time.perf_counter(), time.process_time())
        wall[step] += now[0] - marks[0]
        cpu[step] += now[1] - marks[1]
        marks = now

    table = open_table(path)
    header = map_header(table.header, MEMBER_COLUMNS, required=("name",), file_name=path.name)
    validator = MemberValidator(header, pads=table.format == "xlsx")
    lap("open")
    rows = staged = rejected = 0
    for chunk in table.chunks(CHUNK_ROWS):
        lap("read")
        checked = validator.check(chunk)
        lap("validate")
        prepared = members.prepare(checked, pii, header.labels)
        lap("prepare")
        rows += len(chunk)
        staged += prepared.rows
        rejected += len(prepared.rejected)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "rows": rows,
        "staged": staged,
        "rejected_before_database": rejected,
        "seconds": round(sum(wall.values()), 2),
        "cpu_seconds": round(sum(cpu.values()), 2),
        "seconds_by_step": {k: round(v, 2) for k, v in wall.items()},
        "cpu_seconds_by_step": {k: round(v, 2) for k, v in cpu.items()},
        "peak_memory_mib": round(usage.ru_maxrss / 1024),
        "load_average_1m": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dirty", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--server-url", default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL)
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and the file")
    parser.add_argument(
        "--renumbered",
        action="store_true",
        help="then import the list with every member number moved along by one",
    )
    parser.add_argument(
        "--file", type=Path, help="import this member list (one written by --keep) instead"
    )
    parser.add_argument(
        "--file-side-only",
        action="store_true",
        help="only read, validate and prepare the file, in this process (no database)",
    )
    args = parser.parse_args()
    if args.file_side_only:
        with tempfile.TemporaryDirectory(prefix="registry-onboarding-bench-") as scratch_dir:
            path = args.file or Path(scratch_dir) / "members.csv"
            if not args.file:
                generate(path, args.rows, args.dirty, args.seed)
            figures = file_side(path)
        print(json.dumps(figures, ensure_ascii=False))
        return
    scratch = Path(tempfile.mkdtemp(prefix="registry-onboarding-bench-"))
    figures: dict[str, Any] = {"rows": args.rows, "dirty": args.dirty}
    try:
        if args.file:
            path = args.file
            with path.open("rb") as handle:
                args.rows = sum(1 for _ in handle) - 1
            figures["rows"] = args.rows
        else:
            path = scratch / "members.csv"
            seconds = generate(path, args.rows, args.dirty, args.seed)
            print(f"generated {args.rows:,} rows in {seconds:.1f} s: {path}")
        size = path.stat().st_size
        figures["file_bytes"] = size
        print(f"member list: {args.rows:,} rows, {size / 1e6:.0f} MB")
        with bench_database(args.server_url, scratch, keep=args.keep) as url:
            with psycopg.connect(libpq(url), autocommit=True) as conn:
                conn.execute(
                    "INSERT INTO organisation (id, code, name, kind, path, status, version) "
                    "VALUES (gen_random_uuid(), 'BENCH', '中国力学学会（测试）', "
                    "'national_society', '', 'active', 1)"
                )
                conn.execute("UPDATE organisation SET path = replace(id::text, '-', '') || '/'")
            copy_s = raw_copy(url, path)
            copy_rate = args.rows / copy_s
            print(f"raw COPY into 14 text columns: {copy_s:.2f} s, {copy_rate:,.0f} rows/s")
            env = {
                **os.environ,
                "DATABASE_URL": url,
                "REGISTRY_DATA_DIR": str(scratch / "data"),
                "REGISTRY_ENV": "development",
            }
            load_before = os.getloadavg()[0]
            first_s, first_rss, first_cpu, first = run_import(env, path)
            import_rate = args.rows / first_s
            print(
                f"registry import members: {first_s:.2f} s, {import_rate:,.0f} rows/s, "
                f"peak memory {first_rss / 2**20:.0f} MiB, importer CPU {first_cpu:.1f} s, "
                f"steps {first['seconds_by_step']}"
            )
            print("  " + ", ".join(f"{k} {first[k]:,}" for k in (
                "created_people", "created_memberships", "rejected", "duplicate_rows",
                "possible_duplicates")))  # fmt: skip
            again_s, again_rss, again_cpu, again = run_import(env, path)
            print(
                f"re-import of the unchanged file: {again_s:.2f} s, "
                f"{args.rows / again_s:,.0f} rows/s (matched {again['matched_people']:,}, "
                f"unchanged {again['unchanged']:,}, created {again['created_people']})"
            )
            if args.renumbered:
                moved = scratch / "members-renumbered.csv"
                renumber(path, moved)
                moved_s, moved_rss, _, moved_summary = run_import(env, moved)
                print(
                    f"import of the renumbered list: {moved_s:.2f} s, "
                    f"{args.rows / moved_s:,.0f} rows/s, peak memory {moved_rss / 2**20:.0f} MiB "
                    f"(updated memberships {moved_summary['updated_memberships']:,}, rejected "
                    f"{moved_summary['rejected']:,}), steps {moved_summary['seconds_by_step']}"
                )
                figures |= {
                    "renumbered_seconds": round(moved_s, 2),
                    "renumbered_updated_memberships": moved_summary["updated_memberships"],
                    "renumbered_rejected": moved_summary["rejected"],
                    "renumbered_seconds_by_step": moved_summary["seconds_by_step"],
                }
            ratio = import_rate / copy_rate
            print(f"import / raw COPY throughput: {ratio:.3f}")
            figures |= {
                "raw_copy_seconds": round(copy_s, 2),
                "raw_copy_rows_per_s": round(copy_rate),
                "import_seconds": round(first_s, 2),
                "import_rows_per_s": round(import_rate),
                "ratio": round(ratio, 3),
                "peak_memory_mib": round(max(first_rss, again_rss) / 2**20),
                "import_cpu_seconds": round(first_cpu, 1),
                "import_seconds_by_step": first["seconds_by_step"],
                "reimport_seconds": round(again_s, 2),
                "reimport_cpu_seconds": round(again_cpu, 1),
                "reimport_seconds_by_step": again["seconds_by_step"],
                "load_average_1m": [round(load_before, 1), round(os.getloadavg()[0], 1)],
                "reimport_rows_per_s": round(args.rows / again_s),
                "created_people": first["created_people"],
                "created_memberships": first["created_memberships"],
                "rejected": first["rejected"],
                "duplicate_rows": first["duplicate_rows"],
                "possible_duplicates": first["possible_duplicates"],
                "reimport_unchanged": again["unchanged"],
                "reimport_created": again["created_people"] + again["created_memberships"],
            }
    finally:
        if args.keep:
            print(f"kept {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
