"""Demo awards: the four CAST awards with their real age and gender rules, and an open cycle."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from ..core import clock
from . import service
from .schemas import CycleCreate, ProgrammeCreate

# code, name, English name, rules (DOMAIN.md: the rules worth modelling as data)
WOMEN_UNDER_45 = {"max_age": 45, "gender": "female"}
TEAMS = {"teams_allowed": True, "max_team_size": 10}
PROGRAMMES: list[tuple[str, str, str, dict[str, Any]]] = [
    ("QNKJ", "中国青年科技奖", "China Youth Science and Technology Award", {"max_age": 40}),
    ("QNNKXJ", "中国青年女科学家奖", "China Young Women Scientists Award", WOMEN_UNDER_45),
    ("JCGCS", "全国杰出工程师奖", "National Outstanding Engineer Award", {}),
    ("CXZX", "全国创新争先奖", "National Innovation Award", TEAMS),
]  # fmt: skip

CHANNELS = [("CSTAM", 3), ("CCF", 3), ("CCS", 2), ("BAST", 2)]
CRITERIA = [
    {"code": "innovation", "name": "创新性", "weight": 0.4},
    {"code": "contribution", "name": "科学价值与贡献", "weight": 0.4},
    {"code": "potential", "name": "发展潜力", "weight": 0.2},
]


def load_awards(session: Session) -> None:
    """Programmes owned by CAST, each with this year's cycle open for nominations."""
    today = clock.today()
    for code, name, name_en, rules in PROGRAMMES:
        service.create_programme(
            session,
            principal=None,
            data=ProgrammeCreate(
                code=code, name=name, name_en=name_en, owner_org_code="CAST", rules=rules
            ),
        )
        service.create_cycle(
            session,
            principal=None,
            programme=service.programme_by_code(session, code),
            data=CycleCreate(
                year=today.year,
                nominations_open=today - timedelta(days=7),
                nominations_close=today + timedelta(days=60),
                age_cutoff_date=today + timedelta(days=60),
                channels=[{"org_code": org, "quota": quota} for org, quota in CHANNELS],
                reviewers_per_nomination=3,
                max_load=5,
                max_per_institution=1,
                criteria=CRITERIA,
                review_due=today + timedelta(days=90),
                review_deadline=today + timedelta(days=97),
            ),
        )
