"""HTTP: membership statistics as JSON or as a CSV download."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from ..auth.permissions import Permission
from ..core.clock import TodayDep
from ..core.deps import SessionDep, authorize
from ..core.problem_docs import problems
from . import statistics
from .models import Grade, MembershipStatus
from .schemas import StatisticsRead

router = APIRouter(prefix="/api/v1", tags=["statistics"])


@router.get(
    "/statistics/memberships",
    response_model=StatisticsRead,
    responses={
        200: {"content": {"text/csv": {}}, "description": "JSON, or CSV with format=csv"},
        **problems(404),
    },
)
def membership_statistics(
    session: SessionDep,
    principal: authorize(Permission.statistics_read),
    today: TodayDep,
    org_code: Annotated[
        str | None, Query(max_length=32, description="this organisation and those below it")
    ] = None,
    status: Annotated[list[MembershipStatus] | None, Query()] = None,
    grade: Annotated[list[Grade] | None, Query()] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> StatisticsRead | Response:
    """Memberships in the caller's scope by society, grade, status, gender, age band, region
    of origin and province, and joined/ended/members by year; `format=csv` downloads one
    `dimension,key,label,count` table."""
    stats = statistics.compute(
        session,
        principal=principal,
        today=today,
        org_code=org_code,
        statuses=status or (),
        grades=grade or (),
    )
    if format == "csv":
        return Response(
            statistics.to_csv(stats),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="{statistics.csv_filename(stats)}"'
            },
        )
    return stats
