"""Demo data for the embedded default: real societies, a provincial tree, people, accounts."""

from __future__ import annotations

import json
import secrets
from datetime import date
from typing import Any

from sqlalchemy import select
from stdnum.cn import ric

from .auth import service as auth_service
from .auth.models import Account, Role
from .auth.passwords import hash_secret
from .core.config import Settings, _write_private
from .core.db import make_engine, make_sessionmaker, transaction
from .core.security import PiiCipher
from .memberships.models import Membership
from .orgs.models import Organisation
from .people import service as people_service
from .people.schemas import PersonCreate

ORGS = [
    ("CAST", "中国科学技术协会", "China Association for Science and Technology", "federation", None, "110000"),
    ("CSTAM", "中国力学学会", "Chinese Society of Theoretical and Applied Mechanics", "national_society", "CAST", "110000"),
    ("CCF", "中国计算机学会", "China Computer Federation", "national_society", "CAST", "110000"),
    ("CCS", "中国化学会", "Chinese Chemical Society", "national_society", "CAST", "110000"),
    ("BAST", "北京市科学技术协会", "Beijing Association for Science and Technology", "provincial_association", "CAST", "110000"),
    ("BAST-HD", "北京市海淀区科学技术协会", "Haidian District Association for Science and Technology", "local_association", "BAST", "110108"),
]  # fmt: skip

# name, gender, birth, region, institution, title, disciplines, fields, societies (org, grade)
PEOPLE: list[tuple[Any, ...]] = [
    ("张伟", "male", date(1978, 3, 2), "110108", "清华大学", "senior", ["130"], ["计算流体力学", "湍流"], [("CSTAM", "fellow")]),
    ("王芳", "female", date(1985, 7, 19), "110108", "北京大学", "associate_senior", ["130", "520"], ["固体力学", "机器学习"], [("CSTAM", "senior"), ("CCF", "member")]),
    ("李娜", "female", date(1990, 1, 8), "110105", "中国科学院计算技术研究所", "intermediate", ["520"], ["分布式系统", "数据库"], [("CCF", "member")]),
    ("刘洋", "male", date(1969, 11, 30), "110108", "中国科学院力学研究所", "senior", ["130"], ["爆炸力学", "冲击动力学"], [("CSTAM", "fellow")]),
    ("陈静", "female", date(1982, 5, 14), "310104", "上海交通大学", "senior", ["520"], ["计算机视觉", "深度学习"], [("CCF", "senior")]),
    ("杨帆", "male", date(1995, 9, 3), "440305", "南方科技大学", "junior", ["520"], ["编译器", "程序分析"], [("CCF", "student")]),
    ("赵磊", "male", date(1975, 12, 21), "110108", "北京化工大学", "senior", ["150"], ["高分子化学", "催化"], [("CCS", "fellow")]),
    ("黄丽", "female", date(1988, 4, 27), "320102", "南京大学", "associate_senior", ["150", "130"], ["界面化学", "流变学"], [("CCS", "member"), ("CSTAM", "member")]),
    ("周杰", "male", date(1980, 8, 9), "110108", "北京航空航天大学", "senior", ["130"], ["飞行器结构力学", "复合材料"], [("CSTAM", "senior")]),
    ("吴敏", "female", date(1992, 2, 16), "110108", "海淀区第一实验小学", "intermediate", ["520"], ["科普教育", "信息技术教育"], [("BAST-HD", "member")]),
    ("徐强", "male", date(1972, 6, 5), "110102", "北京市科学技术研究院", "senior", ["130", "520"], ["工程力学", "数值模拟"], [("BAST", "senior"), ("CSTAM", "member")]),
    ("孙悦", "female", date(1998, 10, 12), "110108", "清华大学", "none", ["520"], ["自然语言处理"], [("CCF", "student")]),
]  # fmt: skip

FOREIGN = [
    ("陳家明", "Chan Ka Ming", "male", date(1983, 3, 3), "hk_macao_permit", "H12345678", "香港科技大学", ["520"], [("CCF", "member")]),
    ("Anna Schmidt", "Anna Schmidt", "female", date(1979, 9, 9), "passport", "C01X00T47", "Technische Universität München", ["130"], [("CSTAM", "member")]),
]  # fmt: skip

ACCOUNTS = [
    ("admin", Role.platform_admin, None),
    ("cstam-admin", Role.org_admin, "CSTAM"),
    ("ccf-staff", Role.org_staff, "CCF"),
    ("bast-admin", Role.org_admin, "BAST"),
    ("committee", Role.committee, "CAST"),
]


def resident_id(region: str, birth: date, seq: int, gender: str) -> str:
    """A well-formed demo number: odd sequence digit for men, even for women."""
    order = seq * 2 + (1 if gender == "male" else 0)
    body = f"{region}{birth:%Y%m%d}{order % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def load_demo(settings: Settings, url: str) -> dict[str, Any]:
    """Load the demo once per data directory; return the demo sign-in details."""
    path = settings.data_dir / "demo-credentials.json"
    engine = make_engine(url, pool_size=1)
    sessions = make_sessionmaker(engine)
    try:
        with transaction(sessions) as session:
            loaded = session.scalar(select(Organisation.id).where(Organisation.code == "CAST"))
            if loaded and path.exists():
                return json.loads(path.read_text())
            password = "demo-" + secrets.token_urlsafe(9)
            if loaded:
                # The file is gone (deleted, or a start stopped between loading and writing
                # it): the demo accounts get a new password instead of the service not starting.
                _new_password(session, password)
            else:
                pii = PiiCipher(settings.pii_key_bytes, settings.blind_index_key_bytes)
                _load(session, pii, password)
            credentials = {
                "password": password,
                "accounts": [[n, f"{r.value}{' @ ' + o if o else ''}"] for n, r, o in ACCOUNTS]
                + [["member", "member (张伟)"]],
            }
            # Before the data commits: a start stopped in between loads the demo again.
            _write_private(path, json.dumps(credentials, ensure_ascii=False))
        return credentials
    finally:
        engine.dispose()


def _new_password(session: Any, password: str) -> None:
    names = [name for name, _, _ in ACCOUNTS] + ["member"]
    secret_hash = hash_secret(password)
    for account in session.scalars(select(Account).where(Account.username.in_(names))):
        account.secret_hash = secret_hash


def _load(session: Any, pii: PiiCipher, password: str) -> None:
    from .orgs import service as org_service
    from .orgs.schemas import OrgCreate

    for code, name, name_en, kind, parent, region in ORGS:
        org_service.create(
            session,
            principal=None,  # type: ignore[arg-type]
            data=OrgCreate(
                code=code,
                name=name,
                name_en=name_en,
                kind=kind,
                parent_code=parent,
                region_code=region,
            ),
        )
    orgs = {o.code: o for o in session.scalars(select(Organisation))}
    numbers: dict[str, int] = {}
    first_person = None
    for seq, (name, gender, birth, region, inst, title, disc, fields, socs) in enumerate(PEOPLE):
        person = people_service.create(
            session,
            principal=None,
            pii=pii,
            data=PersonCreate(
                name=name,
                gender=gender,
                birth_date=birth,
                id_type="resident_id",
                id_number=resident_id(region, birth, seq + 1, gender),
                phone=f"139{seq:04d}{seq * 7 % 10000:04d}",
                email=f"demo{seq + 1}@example.cn",
                region_code=region,
                institution=inst,
                title_level=title,
                discipline_codes=disc,
                research_fields=fields,
                expert_opt_in=seq % 4 != 3,
            ),
            source="demo",
            source_org_id=orgs[socs[0][0]].id,
        )
        first_person = first_person or person
        _join(session, orgs, numbers, person.id, socs)
    for name, name_en, gender, birth, id_type, number, inst, disc, socs in FOREIGN:
        person = people_service.create(
            session,
            principal=None,
            pii=pii,
            data=PersonCreate(
                name=name,
                name_en=name_en,
                gender=gender,
                birth_date=birth,
                id_type=id_type,
                id_number=number,
                institution=inst,
                title_level="senior",
                discipline_codes=disc,
                nationality="CN" if id_type == "hk_macao_permit" else "DE",
                region_of_origin="hong_kong" if id_type == "hk_macao_permit" else "foreign",
                expert_opt_in=True,
            ),
            source="demo",
            source_org_id=orgs[socs[0][0]].id,
        )
        _join(session, orgs, numbers, person.id, socs)
    for username, role, org in ACCOUNTS:
        auth_service.create_account(
            session, username=username, secret=password, role=role, org_code=org, actor="demo"
        )
    auth_service.create_account(
        session,
        username="member",
        secret=password,
        role=Role.member,
        person_id=first_person.id if first_person else None,
        actor="demo",
    )
    from .awards.demo import load_awards
    from .memberships.demo import load_membership_platform

    load_awards(session)
    load_membership_platform(session)


def _join(
    session: Any,
    orgs: dict[str, Organisation],
    numbers: dict[str, int],
    person_id: Any,
    socs: list[tuple[str, str]],
) -> None:
    for code, grade in socs:
        numbers[code] = numbers.get(code, 0) + 1
        session.add(
            Membership(
                org_id=orgs[code].id,
                person_id=person_id,
                grade=grade,
                member_no=f"{code}-2024-{numbers[code]:06d}",
                joined_on=date(2024, 1, 1),
                valid_until=date(2026, 12, 31),
            )
        )
    session.flush()
