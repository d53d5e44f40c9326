"""HTTP: expert search for committees and society staff."""

from __future__ import annotations

from fastapi import APIRouter

from services.registry.auth.permissions import Permission
from services.registry.core.clock import TodayDep
from services.registry.core.deps import RuntimeDep, SessionDep, authorize

from . import service
from .schemas import ExpertSearchRequest, ExpertSearchResponse

router = APIRouter(prefix="/api/v1/search", tags=["search"])


@router.post("/experts", response_model=ExpertSearchResponse)
def search_experts(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.experts_search),
    body: ExpertSearchRequest,
    today: TodayDep,
) -> ExpertSearchResponse:
    """Find experts who opted in to be found: text, filters, facets, conflicts removed."""
    return service.search_experts(session, runtime.search, body, today)
