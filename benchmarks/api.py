"""Load 100,000 people with memberships, serve them with `registry serve`, and measure reads.

    python benchmarks/api.py [--people 100000] [--duration 20] [--concurrency 32] [--workers 2]

The data is generated in Python (names, institutions, titles, disciplines, phones and valid
GB 11643 resident ID numbers encrypted with the service's own PiiCipher) and written with
COPY into a fresh database `registry_bench_<hex>` on TEST_DATABASE_URL's server (a throwaway
pgserver instance when no server answers), or into --database-url. The real server then runs
as a subprocess sharing the benchmark's data directory, so its keys match the encrypted
documents and the access tokens minted here. Each scenario drives the server with keep-alive
HTTP/1.1 connections from asyncio client processes for a fixed duration; only 200 responses
count as successes. Besides requests/s and latency percentiles it reports what one request
costs the server: CPU time of the API processes (from /proc), PostgreSQL's time executing
statements and the connections it had to open (from pg_stat_database). Those stay meaningful
when other work shares the machine. The last line printed is one JSON object with every
figure. Linux only (fork, /proc); PostgreSQL 14+.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import multiprocessing
import os
import random
import resource
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import uvloop
from sqlalchemy.engine import make_url
from stdnum.cn import ric

from services.registry import migrate
from services.registry.auth.models import Account, Role, RoleGrant
from services.registry.auth.passwords import hash_secret
from services.registry.core.config import Settings
from services.registry.core.db import transaction
from services.registry.core.ids import parse_resident_id, uuid7
from services.registry.core.runtime import Runtime
from services.registry.core.security import PiiCipher, mask_document

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # run as a script or a module
from benchmarks.common import (
    BIRTH_DAYS,
    BIRTH_START,
    DEFAULT_SERVER_URL,
    DEGREES,
    GRADES,
    INSTITUTIONS,
    JOIN_DAYS,
    JOIN_START,
    MEMBERSHIP_STATUS,
    TALENT_TAGS,
    TITLES,
    bench_database,
    chinese_name,
    copy_rows,
    expand,
    libpq,
    percentile,
)

HOST = "127.0.0.1"

# code, Chinese name, English name, GB/T 13745 discipline codes, research fields, relative size
SOCIETIES: list[tuple[str, str, str, tuple[str, ...], tuple[str, ...], int]] = [
    ("CMS", "中国数学会", "Chinese Mathematical Society",
     ("110", "11014", "11061"), ("代数几何", "偏微分方程", "概率论", "数值分析"), 5),
    ("CPS", "中国物理学会", "Chinese Physical Society",
     ("140", "14020", "14070"), ("凝聚态物理", "量子信息", "光学", "粒子物理"), 6),
    ("CSTAM", "中国力学学会", "Chinese Society of Theoretical and Applied Mechanics",
     ("130", "13015", "13020"), ("计算流体力学", "湍流", "固体力学", "冲击动力学"), 5),
    ("CCS", "中国化学会", "Chinese Chemical Society",
     ("150", "15010", "15035"), ("高分子化学", "催化", "界面化学", "有机合成"), 7),
    ("CHAS", "中国天文学会", "Chinese Astronomical Society",
     ("160", "16030"), ("星系形成", "射电天文", "太阳物理"), 1),
    ("GSC", "中国地质学会", "Geological Society of China",
     ("170", "17050"), ("构造地质", "矿床学", "地球化学"), 3),
    ("CGS", "中国地理学会", "Geographical Society of China",
     ("170", "17030"), ("城市地理", "遥感", "自然地理"), 2),
    ("CSBMB", "中国生物化学与分子生物学会", "Chinese Society of Biochemistry and Molecular Biology",
     ("180", "18021"), ("蛋白质结构", "基因调控", "代谢组学"), 4),
    ("CZS", "中国动物学会", "China Zoological Society",
     ("180", "18064"), ("动物行为", "保护生物学", "进化生物学"), 2),
    ("CAASS", "中国农学会", "China Association of Agricultural Science Societies",
     ("210", "21030"), ("作物育种", "土壤肥料", "植物保护"), 5),
    ("CMA", "中华医学会", "Chinese Medical Association",
     ("310", "320", "32021"), ("心血管病学", "肿瘤学", "神经病学", "公共卫生"), 12),
    ("CMES", "中国机械工程学会", "Chinese Mechanical Engineering Society",
     ("460", "46020"), ("智能制造", "机器人", "摩擦学"), 6),
    ("CSEE", "中国电机工程学会", "Chinese Society for Electrical Engineering",
     ("470", "47040"), ("电力系统", "新能源并网", "高电压技术"), 6),
    ("CIE", "中国电子学会", "Chinese Institute of Electronics",
     ("510", "51020"), ("集成电路", "雷达信号处理", "微波技术"), 7),
    ("CIC", "中国通信学会", "China Institute of Communications",
     ("510", "51050"), ("移动通信", "光纤通信", "网络安全"), 4),
    ("CCF", "中国计算机学会", "China Computer Federation",
     ("520", "52010", "52040"), ("分布式系统", "数据库", "编译器", "计算机视觉"), 12),
    ("CAAI", "中国人工智能学会", "Chinese Association for Artificial Intelligence",
     ("520", "52020"), ("机器学习", "自然语言处理", "知识图谱"), 6),
    ("CAA", "中国自动化学会", "Chinese Association of Automation",
     ("410", "41330"), ("控制理论", "模式识别", "智能交通"), 4),
    ("CSAA", "中国航空学会", "Chinese Society of Aeronautics and Astronautics",
     ("590", "59020"), ("飞行器设计", "航空发动机", "复合材料"), 4),
    ("CCES", "中国土木工程学会", "China Civil Engineering Society",
     ("560", "56020"), ("桥梁工程", "隧道工程", "结构抗震"), 5),
]  # fmt: skip

# Birthplace codes that python-stdnum accepts for every birth year drawn below (1955-2000).
BIRTH_REGIONS = (
    "110101", "110102", "110105", "110106", "110108", "120101", "120103", "120104", "310101",
    "310104", "310105", "310110", "140121", "150121", "330122", "340121", "350121", "360121",
    "430121", "510121", "620121", "640121", "650121", "222401",
)  # fmt: skip
PERSON_COLUMNS = (
    "id", "name", "gender", "birth_date", "id_type", "id_number_enc", "id_number_bidx",
    "id_number_masked", "phone", "email", "nationality", "region_of_origin", "region_code",
    "institution", "title_level", "position", "highest_degree", "discipline_codes",
    "research_fields", "talent_tags", "expert_opt_in", "status", "source_org_id", "version",
)  # fmt: skip
MEMBERSHIP_COLUMNS = (
    "id", "org_id", "person_id", "grade", "status", "member_no", "joined_on", "valid_until",
    "version",
)  # fmt: skip
ORG_COLUMNS = (
    "id", "code", "name", "name_en", "kind", "parent_id", "path", "region_code", "status",
    "version",
)  # fmt: skip


@dataclass(frozen=True)
class Society:
    id: uuid.UUID
    code: str
    disciplines: tuple[str, ...]
    fields: tuple[str, ...]
    size: int  # relative number of members


@dataclass
class Dataset:
    """What the load left behind that the scenarios need."""

    person_ids: list[uuid.UUID] = field(default_factory=list)
    members: dict[str, list[uuid.UUID]] = field(default_factory=dict)
    societies: dict[str, Society] = field(default_factory=dict)
    memberships: int = 0
    seconds: float = 0.0  # generating and copying
    analyze_seconds: float = 0.0


@dataclass(frozen=True)
class Scenario:
    name: str
    token: str
    targets: tuple[str, ...]


@dataclass(frozen=True)
class ClientSpec:
    port: int
    scenario: Scenario
    connections: int
    start_at: float  # wall clock, shared by every client process
    warmup: float
    duration: float
    seed: int


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    database_url: str


@dataclass
class ClientResult:
    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    cpu_seconds: float = 0.0


# --- data ---------------------------------------------------------------------------------


class PeopleGenerator:
    """Realistic profiles with unique, valid resident IDs and 1-3 memberships each.

    Called 100,000 times, so weighted draws use `rng.choice` over expanded tuples and birth
    dates come with their YYYYMMDD form precomputed: both are several times faster than
    `random.choices` and `strftime`.
    """

    def __init__(self, rng: random.Random, pii: PiiCipher, societies: list[Society]) -> None:
        self.rng = rng
        self.pii = pii
        self.societies = expand([(s, s.size) for s in societies])
        self.society_counts = expand([(1, 6), (2, 3), (3, 1)])
        self.titles = expand([((level, positions), w) for level, w, positions in TITLES])
        self.grades = expand(GRADES)
        self.statuses = expand(MEMBERSHIP_STATUS)
        births = (BIRTH_START + timedelta(days=n) for n in range(BIRTH_DAYS))
        self.births = [(day, day.strftime("%Y%m%d")) for day in births]
        self.joins = [JOIN_START + timedelta(days=n) for n in range(JOIN_DAYS)]
        self.numbers: set[str] = set()
        self.member_seq: Counter[str] = Counter()

    def name(self, gender: str) -> str:
        return chinese_name(self.rng, gender)

    def resident_id(self, birth: str, gender: str) -> str:
        """A GB 11643 number no other generated person has: odd sequence digit for men."""
        while True:
            order = self.rng.randrange(500) * 2 + (1 if gender == "male" else 0)
            body = f"{self.rng.choice(BIRTH_REGIONS)}{birth}{order:03d}"
            number = body + ric.calc_check_digit(body + "0")
            if number not in self.numbers:
                self.numbers.add(number)
                return number

    def pick_societies(self) -> list[Society]:
        wanted = self.rng.choice(self.society_counts)
        picked: list[Society] = []
        while len(picked) < wanted:
            society = self.rng.choice(self.societies)
            if society not in picked:
                picked.append(society)
        return picked

    def person(self) -> tuple[tuple[Any, ...], list[tuple[Any, ...]]]:
        """One person row (PERSON_COLUMNS) and their membership rows (MEMBERSHIP_COLUMNS)."""
        rng = self.rng
        person_id = uuid7()
        gender = "female" if rng.random() < 0.42 else "male"
        birth, birth_digits = rng.choice(self.births)
        number = self.resident_id(birth_digits, gender)
        societies = self.pick_societies()
        home = societies[0]
        institution, region_code, domain = rng.choice(INSTITUTIONS)
        level, positions = rng.choice(self.titles)
        tags = [rng.choice(TALENT_TAGS)] if level == "senior" and rng.random() < 0.1 else []
        disciplines = [rng.choice(home.disciplines)]
        second = rng.choice(self.societies).disciplines[0]  # a neighbouring field, sometimes
        if rng.random() < 0.3 and second not in disciplines:
            disciplines.append(second)
        row = (
            person_id,
            self.name(gender),
            gender,
            birth,
            "resident_id",
            self.pii.encrypt(number, context=person_id.bytes),
            self.pii.blind_index("resident_id", number),
            mask_document(number),
            f"1{rng.choice('3578')}{rng.randrange(10**9):09d}",
            f"{person_id.hex[-10:]}@{domain}" if rng.random() < 0.7 else None,
            "CN",
            "mainland",
            region_code,
            institution,
            level,
            rng.choice(positions),
            rng.choice(DEGREES),
            disciplines,
            list(home.fields[: 1 + rng.randrange(3)]),
            tags,
            rng.random() < 0.3,
            "inactive" if rng.random() < 0.03 else "active",
            home.id,
            1,
        )
        memberships = []
        for society in societies:
            self.member_seq[society.code] += 1
            joined = rng.choice(self.joins)
            memberships.append(
                (
                    uuid7(),
                    society.id,
                    person_id,
                    rng.choice(self.grades),
                    rng.choice(self.statuses),
                    f"{society.code}{self.member_seq[society.code]:07d}",
                    joined,
                    joined + timedelta(days=5 * 365),
                    1,
                )
            )
        return row, memberships


def organisation_rows() -> tuple[list[tuple[Any, ...]], list[Society]]:
    """The federation and the societies under it, with materialized paths."""
    root = uuid7()
    root_path = root.hex + "/"
    rows: list[tuple[Any, ...]] = [
        (
            root,
            "CAST",
            "中国科学技术协会",
            "China Association for Science and Technology",
            "federation",
            None,
            root_path,
            "110000",
            "active",
            1,
        )
    ]
    societies = []
    for code, name, name_en, disciplines, fields, size in SOCIETIES:
        org_id = uuid7()
        path = f"{root_path}{org_id.hex}/"
        rows.append(
            (org_id, code, name, name_en, "national_society", root, path, "110000", "active", 1)
        )
        societies.append(Society(org_id, code, disciplines, fields, size))
    return rows, societies


def load(url: str, pii: PiiCipher, people: int, seed: int) -> Dataset:
    """Generate and COPY organisations, people and memberships in one transaction."""
    rng = random.Random(seed)
    data = Dataset()
    org_rows, societies = organisation_rows()
    data.societies = {s.code: s for s in societies}
    data.members = {s.code: [] for s in societies}
    generator = PeopleGenerator(rng, pii, societies)
    memberships: list[tuple[Any, ...]] = []

    def person_rows() -> Iterator[tuple[Any, ...]]:
        for _ in range(people):
            row, rows = generator.person()
            data.person_ids.append(row[0])
            memberships.extend(rows)
            yield row

    started = time.perf_counter()
    with psycopg.connect(libpq(url)) as conn, conn.cursor() as cur:
        copy_rows(cur, "organisation", ORG_COLUMNS, org_rows)
        copy_rows(cur, "person", PERSON_COLUMNS, person_rows())
        copy_rows(cur, "membership", MEMBERSHIP_COLUMNS, memberships)
    data.seconds = time.perf_counter() - started
    by_id = {s.id: s.code for s in societies}
    for membership in memberships:
        data.members[by_id[membership[1]]].append(membership[2])
    data.memberships = len(memberships)
    # The service must accept what was generated: check a sample with its own validator.
    for number in rng.sample(sorted(generator.numbers), k=min(200, people)):
        parse_resident_id(number)
    started = time.perf_counter()
    with psycopg.connect(libpq(url), autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) organisation, person, membership")
    data.analyze_seconds = time.perf_counter() - started
    return data


LATE_SOCIETY = "BENCHLATE"


def add_late_society(url: str, data: Dataset, size: int) -> None:
    """A society of `size` members who were the last people registered (a society onboarded
    late in the registry's life): their profiles' ids are the newest, next to each other."""
    members = data.person_ids[-size:]
    with psycopg.connect(libpq(url)) as conn:
        root_id, root_path = conn.execute(
            "SELECT id, path FROM organisation WHERE code = 'CAST'"
        ).fetchone()  # type: ignore[misc]
        org_id = uuid7()
        conn.execute(
            "INSERT INTO organisation (id, code, name, kind, parent_id, path, region_code,"
            " status, version) VALUES (%s, %s, '后来学会', 'national_society', %s, %s,"
            " '110000', 'active', 1)",
            (org_id, LATE_SOCIETY, root_id, f"{root_path}{org_id.hex}/"),
        )
        with conn.cursor() as cur:
            copy_rows(
                cur,
                "membership",
                MEMBERSHIP_COLUMNS,
                (
                    (uuid7(), org_id, person_id, "member", "active", f"L{i:07d}",
                     JOIN_START, JOIN_START + timedelta(days=5 * 365), 1)
                    for i, person_id in enumerate(members)
                ),
            )  # fmt: skip
    data.societies[LATE_SOCIETY] = Society(org_id, LATE_SOCIETY, (), (), 0)


def create_accounts(runtime: Runtime, *societies: Society) -> list[uuid.UUID]:
    """A platform admin and an org admin of each society; returns their account ids."""
    secret_hash = hash_secret(secrets.token_urlsafe(24))
    platform = Account(username="bench-platform-admin", secret_hash=secret_hash)
    admins = [
        Account(username=f"bench-{society.code.lower()}-admin", secret_hash=secret_hash)
        for society in societies
    ]
    with transaction(runtime.sessions) as session:
        session.add_all([platform, *admins])
        session.flush()
        session.add(RoleGrant(account_id=platform.id, role=Role.platform_admin))
        session.add_all(
            RoleGrant(account_id=admin.id, role=Role.org_admin, org_id=society.id)
            for admin, society in zip(admins, societies, strict=True)
        )
    return [platform.id, *(admin.id for admin in admins)]


# --- server -------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def get(port: int, target: str, token: str | None = None) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"http://{HOST}:{port}{target}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - local URL
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@contextlib.contextmanager
def running_server(url: str, data_dir: Path, workers: int) -> Iterator[Server]:
    """`registry serve` on a free port, ready; stopped on leaving."""
    registry = Path(sys.executable).with_name("registry")
    if not registry.exists():
        raise SystemExit(f"{registry} not found: run with the project's virtual environment")
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "REGISTRY_DATA_DIR": str(data_dir),
        "REGISTRY_ENV": "development",
    }
    log_path = data_dir / f"server-{port}.log"
    command = [str(registry), "serve", "--host", HOST, "--port", str(port)]
    with log_path.open("wb") as log:
        server = subprocess.Popen(
            [*command, "--workers", str(workers)],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server exited:\n{log_path.read_text()[-3000:]}")
            with contextlib.suppress(OSError):
                if get(port, "/readyz")[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise SystemExit(f"the server was not ready in 60 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        print(f"server ready on port {port} with {workers} worker(s), pid {server.pid}")
        yield Server(port, server.pid, url)
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, 9)
            server.wait()


# --- server-side cost ------------------------------------------------------------------
# Requests/s depend on whatever else shares the machine; the cost of one request does not.
# The API's CPU time is read from /proc (Linux, same machine). PostgreSQL backends come and go
# as the API's pool opens overflow connections, so the database's side is read from
# pg_stat_database instead: sessions opened and time spent executing statements.


@dataclass(frozen=True)
class Usage:
    api_cpu: float  # seconds, the server process and its workers
    db_sessions: int
    db_active_ms: float


def cpu_seconds(pid: int) -> float:
    """User plus system time of one process; 0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rpartition(")")[2].split()  # fields from the third on: utime is the 14th
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_tree(pid: int) -> list[int]:
    """The process and all its descendants (uvicorn's supervisor and its workers)."""
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
    return found


def usage(server: Server) -> Usage:
    with psycopg.connect(libpq(server.database_url)) as conn:
        row = conn.execute(
            "SELECT sessions, active_time FROM pg_stat_database WHERE datname = current_database()"
        ).fetchone()
    assert row is not None
    return Usage(sum(cpu_seconds(pid) for pid in process_tree(server.pid)), row[0], row[1])


# --- load client --------------------------------------------------------------------------


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Status and keep-alive of one HTTP/1.1 response, its body read and discarded."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length, chunked, keep_alive = 0, False, True
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            keep_alive = b"close" not in value.lower()
    if chunked:
        while size := int((await reader.readline()).split(b";")[0], 16):
            await reader.readexactly(size + 2)
        await reader.readline()
    elif length:
        await reader.readexactly(length)
    return status, keep_alive


async def drive_connection(spec: ClientSpec, rng: random.Random, result: ClientResult) -> None:
    """One keep-alive connection sending requests back to back until the window closes."""
    scenario = spec.scenario
    window_start = spec.start_at + spec.warmup
    window_end = window_start + spec.duration
    prefix = f"Host: {HOST}:{spec.port}\r\nAuthorization: Bearer {scenario.token}\r\n"
    writer: asyncio.StreamWriter | None = None
    while (sent_at := time.time()) < window_end:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, spec.port)
            target = rng.choice(scenario.targets)
            started = time.perf_counter()
            writer.write(f"GET {target} HTTP/1.1\r\n{prefix}\r\n".encode())
            status, keep_alive = await read_response(reader)
            elapsed_ms = (time.perf_counter() - started) * 1000
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            if writer is not None:
                writer.close()
                writer = None
            if sent_at >= window_start:
                result.errors[type(exc).__name__] += 1
            await asyncio.sleep(0.05)
            continue
        if sent_at >= window_start and time.time() <= window_end:
            if status == 200:
                result.latencies_ms.append(elapsed_ms)
            else:
                result.errors[str(status)] += 1
        if not keep_alive:
            writer.close()
            writer = None
    if writer is not None:
        writer.close()


async def drive(spec: ClientSpec) -> ClientResult:
    result = ClientResult()
    await asyncio.sleep(max(0.0, spec.start_at - time.time()))
    rng = random.Random(spec.seed)
    await asyncio.gather(
        *(
            drive_connection(spec, random.Random(rng.random()), result)
            for _ in range(spec.connections)
        )
    )
    return result


def client_process(spec: ClientSpec) -> ClientResult:
    before = resource.getrusage(resource.RUSAGE_SELF)
    result = uvloop.run(drive(spec))
    after = resource.getrusage(resource.RUSAGE_SELF)
    result.cpu_seconds = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return result


def run_scenario(args: argparse.Namespace, server: Server, scenario: Scenario) -> dict[str, Any]:
    """Drive one scenario from --client-processes processes; return its figures."""
    status, body = get(server.port, scenario.targets[0], scenario.token)
    if status != 200:
        raise SystemExit(
            f"{scenario.name}: {scenario.targets[0]} answered {status}: {body[:300]!r}"
        )
    processes = min(args.client_processes, args.concurrency)
    start_at = time.time() + 1.0
    specs = [
        ClientSpec(
            port=server.port,
            scenario=scenario,
            connections=args.concurrency // processes + (i < args.concurrency % processes),
            start_at=start_at,
            warmup=args.warmup,
            duration=args.duration,
            seed=args.seed + i,
        )
        for i in range(processes)
    ]
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("fork")) as pool:
        pending = [pool.submit(client_process, spec) for spec in specs]
        time.sleep(max(0.0, start_at + args.warmup - time.time()))
        before = usage(server)
        time.sleep(max(0.0, start_at + args.warmup + args.duration - time.time()))
        after = usage(server)
        results = [future.result() for future in pending]
    latencies = [ms for r in results for ms in r.latencies_ms]
    errors = sum((r.errors for r in results), Counter())
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else []
    done = max(1, len(latencies) + sum(errors.values()))
    figures = {
        "rps": round(len(latencies) / args.duration, 1),
        "p50_ms": percentile(cuts, 50),
        "p95_ms": percentile(cuts, 95),
        "p99_ms": percentile(cuts, 99),
        "errors": sum(errors.values()),
        "api_cpu_ms": round(1000 * (after.api_cpu - before.api_cpu) / done, 2),
        "db_active_ms": round((after.db_active_ms - before.db_active_ms) / done, 2),
        "db_connects_per_request": round((after.db_sessions - before.db_sessions) / done, 3),
    }
    client_cpu = sum(r.cpu_seconds for r in results) / (args.warmup + args.duration)
    print(
        f"{scenario.name:<18} {figures['rps']:>7.1f} req/s  p50 {figures['p50_ms']:>6.1f} ms"
        f"  p95 {figures['p95_ms']:>6.1f} ms  p99 {figures['p99_ms']:>6.1f} ms"
        f"  errors {figures['errors']}{' ' + str(dict(errors)) if errors else ''}"
        f"\n{'':18} per request: API CPU {figures['api_cpu_ms']:.2f} ms,"
        f" PostgreSQL active {figures['db_active_ms']:.2f} ms,"
        f" new PostgreSQL connections {figures['db_connects_per_request']:.3f};"
        f" API used {(after.api_cpu - before.api_cpu) / args.duration:.2f} cores,"
        f" client {client_cpu:.2f}"
    )
    return {f"{scenario.name}_{key}": value for key, value in figures.items()}


# --- main ---------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=100_000)
    parser.add_argument(
        "--duration", type=float, default=20.0, help="seconds measured per scenario"
    )
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds before measuring")
    parser.add_argument("--concurrency", type=int, default=32, help="open connections")
    parser.add_argument("--client-processes", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2, help="server worker processes")
    parser.add_argument("--database-url", help="an empty, existing database to load into")
    parser.add_argument(
        "--server-url",
        default=os.environ.get("TEST_DATABASE_URL", DEFAULT_SERVER_URL),
        help="PostgreSQL server on which the benchmark database is created",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database and data directory")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument(
        "--late-society",
        type=int,
        default=500,
        help="members of a society whose members are the last people registered",
    )
    return parser.parse_args()


def scenarios(
    runtime: Runtime, data: Dataset, accounts: list[uuid.UUID], org: str
) -> list[Scenario]:
    """Fresh tokens (they live 15 minutes) for each of the scenarios, in the order they run."""
    platform, scoped, late = (runtime.access_tokens.issue(a, kind="user") for a in accounts)
    people = "/api/v1/people"
    senior_women = f"{people}?title_level=senior&gender=female&limit=20"
    senior_in_org = f"{people}?org_code={org}&title_level=senior&limit=20"
    return [
        Scenario("get_person", platform, tuple(f"{people}/{i}" for i in data.person_ids)),
        Scenario("get_person_scoped", scoped, tuple(f"{people}/{i}" for i in data.members[org])),
        Scenario("list_filtered", platform, (senior_women,)),
        Scenario("list_org_filtered", platform, (senior_in_org,)),
        Scenario("list_late_society", late, (f"{people}?limit=20",)),
    ]  # fmt: skip


def main() -> None:
    args = parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="registry-bench-"))
    figures: dict[str, Any] = {"people": args.people}
    try:
        with contextlib.ExitStack() as stack:
            url = args.database_url or stack.enter_context(
                bench_database(args.server_url, scratch, keep=args.keep)
            )
            if args.database_url:
                migrate.upgrade(url)
            data_dir = scratch / "data"
            runtime = Runtime.build(Settings(env="development", data_dir=data_dir), url)
            print(f"loading {args.people:,} people into {make_url(url).database} ...")
            data = load(url, runtime.pii, args.people, args.seed)
            rows = args.people + data.memberships + len(data.societies) + 1
            figures |= {
                "memberships": data.memberships,
                "load_seconds": round(data.seconds, 2),
                "load_rows_per_s": round(rows / data.seconds),
            }
            print(
                f"loaded {args.people:,} people and {data.memberships:,} memberships in "
                f"{data.seconds:.1f} s: {rows / data.seconds:,.0f} rows/s "
                f"({args.people / data.seconds:,.0f} people/s); "
                f"VACUUM ANALYZE {data.analyze_seconds:.1f} s"
            )
            org = max(data.members, key=lambda code: len(data.members[code]))
            add_late_society(url, data, args.late_society)
            accounts = create_accounts(runtime, data.societies[org], data.societies[LATE_SOCIETY])
            runtime.engine.dispose()  # no pooled connections inherited by the client processes
            server = stack.enter_context(running_server(url, data_dir, args.workers))
            figures |= {"workers": args.workers, "concurrency": args.concurrency}
            figures |= {"duration_s": args.duration, "scoped_org": org}
            print(f"{args.concurrency} connections, {args.duration:g} s per scenario")
            for scenario in scenarios(runtime, data, accounts, org):
                figures |= run_scenario(args, server, scenario)
    finally:
        if args.keep:
            print(f"kept data directory {scratch}")
        else:
            shutil.rmtree(scratch, ignore_errors=True)
    print(json.dumps(figures, ensure_ascii=False))


if __name__ == "__main__":
    main()
