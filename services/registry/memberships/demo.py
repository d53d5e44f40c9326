"""Demo data of the membership platform: types, a member in grace and one lapsed, a waiting
application, group members under a cap, and a council with its seats."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session
from stdnum.cn import uscc

from ..auth.models import Account
from ..core import clock
from ..governance.models import BodySeat, GovernanceBody
from ..orgs.models import Organisation
from ..people.models import Person
from . import lifecycle
from .models import (
    GroupActivity,
    GroupMembership,
    Membership,
    MembershipApplication,
    MembershipPolicy,
    MembershipType,
)

# org, code, name, grade, period, months, grace days, renewal window, approval required
TYPES: list[tuple[Any, ...]] = [
    ("CSTAM", "regular", "个人会员", "member", "calendar_year", None, 60, 90, True),
    ("CSTAM", "senior", "高级会员", "senior", "calendar_year", None, 60, 90, True),
    ("CCF", "regular", "专业会员", "member", "rolling", 12, 30, 60, True),
    ("CCF", "student", "学生会员", "student", "rolling", 12, 30, 60, False),
    ("CCS", "regular", "个人会员", "member", "calendar_year", None, 60, 90, True),
]  # fmt: skip

# institution, USCC without its check digit, grade, seats, contact, joined
GROUPS: list[tuple[Any, ...]] = [
    ("中国航天科技集团有限公司", "91110000100014071", "council", 2, "陈主任", date(2018, 3, 1)),
    ("中国科学院力学研究所", "12100000400011877", "member", 1, "刘老师", date(2021, 6, 1)),
]  # fmt: skip

# 中国力学学会 第十一届理事会: (name, position)
COUNCIL = [
    ("张伟", "president"),
    ("刘洋", "vice_president"),
    ("周杰", "secretary_general"),
    ("王芳", "member"),
    ("黄丽", "member"),
    ("徐强", "member"),
    ("Anna Schmidt", "member"),
]


def load_membership_platform(session: Session) -> None:
    """Run inside the demo's one transaction, after its people, memberships and accounts."""
    today = clock.today()
    orgs = {o.code: o for o in session.scalars(select(Organisation))}
    people = {p.name: p for p in session.scalars(select(Person))}
    types: dict[tuple[str, str], MembershipType] = {}
    for org, code, name, grade, period, months, grace, window, approval in TYPES:
        kind = MembershipType(
            org_id=orgs[org].id, code=code, name=name, grade=grade, period=period,
            period_months=months, grace_days=grace, renewal_window_days=window,
            approval_required=approval, member_no_format=org + "-{year}-{seq:06d}",
        )  # fmt: skip
        session.add(kind)
        types[(org, grade)] = kind
    session.flush()
    for (org, grade), kind in types.items():
        session.execute(
            update(Membership)
            .where(Membership.org_id == orgs[org].id, Membership.grade == grade)  # type: ignore[arg-type]
            .values(type_id=kind.id)
        )
    # One membership ended last month (in its 30 days of grace), one ended long ago (lapsed).
    for name, org, ended in (("李娜", "CCF", 10), ("杨帆", "CCF", 200)):
        session.execute(
            update(Membership)
            .where(Membership.org_id == orgs[org].id, Membership.person_id == people[name].id)  # type: ignore[arg-type]
            .values(valid_until=today - timedelta(days=ended))
        )
    lifecycle.refresh(session, today=today, actor="demo", source="demo")
    member = session.scalar(select(Account).where(Account.username == "member"))
    assert member is not None
    assert member.person_id is not None
    session.add(
        MembershipApplication(
            org_id=orgs["CCF"].id, person_id=member.person_id, account_id=member.id,
            type_id=types[("CCF", "member")].id, grade="member",
            statement="从事计算流体力学的大规模并行计算，申请加入中国计算机学会。",
        )
    )  # fmt: skip
    cstam = orgs["CSTAM"]
    session.add(MembershipPolicy(org_id=cstam.id, group_member_cap=30))
    for n, (name, body, grade, seats, contact, joined) in enumerate(GROUPS, start=1):
        group = GroupMembership(
            org_id=cstam.id, uscc=body + uscc.calc_check_digit(body), name=name, grade=grade,
            seats=seats, contact_name=contact, member_no=f"CSTAM-G-{n:03d}", joined_on=joined,
            valid_until=date(today.year, 12, 31),
        )  # fmt: skip
        session.add(group)
        session.flush()
        for kind, points, days_ago in (("meeting", 3, 120), ("report", 2, 40))[: 3 - n]:
            session.add(
                GroupActivity(
                    group_membership_id=group.id, kind=kind, points=points,
                    occurred_on=today - timedelta(days=days_ago), recorded_by="demo",
                )
            )  # fmt: skip
    council = GovernanceBody(
        org_id=cstam.id, kind="council", term_no=11, name="中国力学学会第十一届理事会",
        term_start=date(2022, 10, 1), term_end=date(2027, 9, 30), seats=9,
    )  # fmt: skip
    session.add(council)
    session.flush()
    for name, position in COUNCIL:
        session.add(
            BodySeat(
                body_id=council.id, person_id=people[name].id, position=position,
                started_on=council.term_start,
            )
        )  # fmt: skip
    session.flush()
