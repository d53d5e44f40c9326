"""HTTP: programmes, cycles, nominations, panels, reviews and reviewer credibility records."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.clock import TodayDep
from ..core.deps import RuntimeDep, SessionDep, authorize, require_any
from ..core.errors import PROBLEM_JSON, TYPE_BASE, NotFound
from ..core.pagination import Page, PageDep, page_of
from . import credibility, panels, reviews, service
from .models import NominationStatus
from .schemas import (
    AssignmentRequest,
    AssignmentResponse,
    AssignmentRow,
    CloseReviewRead,
    ConflictDeclare,
    ConflictOnAssignment,
    CredibilityRecord,
    CycleCreate,
    CycleRead,
    Decision,
    DeclaredConflictRead,
    EventCreate,
    EventRead,
    MyAssignment,
    MyAssignmentDetail,
    NominationCreate,
    NominationRead,
    ProgrammeCreate,
    ProgrammeRead,
    Reason,
    Results,
    ReviewRead,
    ReviewSubmit,
    Suggestions,
)

router = APIRouter(prefix="/api/v1/awards", tags=["awards"])

NominatorOrCommittee = Annotated[
    Principal, Depends(require_any(Permission.awards_nominate, Permission.awards_committee))
]
CommitteeOrReviewer = Annotated[
    Principal, Depends(require_any(Permission.awards_committee, Permission.awards_review))
]
INELIGIBLE = {
    422: {
        "description": "the nominee fails one or more rules; the nomination is kept as "
        "`ineligible` with `failed_rules`, to be fixed and submitted again or withdrawn",
        "content": {PROBLEM_JSON: {}},
    }
}


# --- programmes and cycles ----------------------------------------------------------------


@router.post("/programmes", response_model=ProgrammeRead, status_code=status.HTTP_201_CREATED)
def create_programme(
    session: SessionDep, principal: authorize(Permission.awards_manage), body: ProgrammeCreate
) -> ProgrammeRead:
    """A programme of an organisation in the caller's scope, with its eligibility rules."""
    return service.create_programme(session, principal=principal, data=body)


@router.get("/programmes", response_model=list[ProgrammeRead])
def list_programmes(
    session: SessionDep, principal: authorize(Permission.awards_read)
) -> list[ProgrammeRead]:
    """Every programme, by code."""
    return service.list_programmes(session)


@router.get("/programmes/{code}", response_model=ProgrammeRead)
def get_programme(
    session: SessionDep, principal: authorize(Permission.awards_read), code: str
) -> ProgrammeRead:
    """One programme and its rules."""
    return service.programme_read(session, service.programme_by_code(session, code))


@router.post(
    "/programmes/{code}/cycles", response_model=CycleRead, status_code=status.HTTP_201_CREATED
)
def create_cycle(
    session: SessionDep,
    principal: authorize(Permission.awards_manage),
    code: str,
    body: CycleCreate,
) -> CycleRead:
    """Open a year's cycle: window, age cutoff, channels with quotas, review settings."""
    programme = service.managed_programme(session, principal, code)
    return service.create_cycle(session, principal=principal, programme=programme, data=body)


@router.get("/programmes/{code}/cycles", response_model=list[CycleRead])
def list_cycles(
    session: SessionDep, principal: authorize(Permission.awards_read), code: str
) -> list[CycleRead]:
    """A programme's cycles, newest first."""
    return service.list_cycles(session, service.programme_by_code(session, code))


@router.get("/cycles/{cycle_id}", response_model=CycleRead)
def get_cycle(
    session: SessionDep, principal: authorize(Permission.awards_read), cycle_id: uuid.UUID
) -> CycleRead:
    """One cycle, with each channel's quota and how much of it is used."""
    return service.cycle_read(session, service.get_cycle(session, cycle_id))


# --- nominations --------------------------------------------------------------------------


@router.post(
    "/cycles/{cycle_id}/nominations",
    response_model=NominationRead,
    status_code=status.HTTP_201_CREATED,
)
def create_nomination(
    session: SessionDep,
    principal: authorize(Permission.awards_nominate),
    cycle_id: uuid.UUID,
    body: NominationCreate,
    today: TodayDep,
) -> NominationRead:
    """A draft nomination through a channel the caller acts for: window, quota, one per nominee."""
    return service.create_nomination(
        session, principal=principal, cycle_id=cycle_id, data=body, today=today
    )


@router.get("/cycles/{cycle_id}/nominations", response_model=Page[NominationRead])
def list_nominations(
    session: SessionDep,
    principal: NominatorOrCommittee,
    cycle_id: uuid.UUID,
    page: PageDep,
    status: NominationStatus | None = None,
) -> Page[NominationRead]:
    """The committee sees every nomination of the cycle; channel staff their channel's."""
    rows = service.list_nominations(
        session,
        principal=principal,
        cycle_id=cycle_id,
        status=status,
        after=page.after_uuid(),
        limit=page.limit,
    )
    page_rows = rows[: page.limit]
    reads = {r.id: r for r in service.nomination_reads(session, page_rows)}
    return page_of(rows, page.limit, key=lambda n: n.id, render=lambda n: reads[n.id])


@router.get("/nominations/{nomination_id}", response_model=NominationRead)
def get_nomination(
    session: SessionDep, principal: NominatorOrCommittee, nomination_id: uuid.UUID
) -> NominationRead:
    """One nomination, with its failed rules and the profile as submitted."""
    return service.nomination_read(
        session, service.visible_nomination(session, principal, nomination_id)
    )


@router.post(
    "/nominations/{nomination_id}/submit", response_model=NominationRead, responses=INELIGIBLE
)
def submit_nomination(
    request: Request,
    session: SessionDep,
    principal: authorize(Permission.awards_nominate),
    nomination_id: uuid.UUID,
    today: TodayDep,
) -> NominationRead | JSONResponse:
    """Freeze the nominee's profile and check every rule: 200 eligible, or 422 with each failure."""
    read, failures = service.submit(
        session, principal=principal, nomination_id=nomination_id, today=today
    )
    if not failures:
        return read
    rules = ", ".join(dict.fromkeys(f.rule for f in failures))
    # Returned, not raised: the request's transaction commits the `ineligible` outcome.
    return JSONResponse(
        {
            "type": TYPE_BASE + "ineligible",
            "title": "Unprocessable Content",
            "status": 422,
            "detail": f"the nominee does not meet the programme's rules: {rules}",
            "instance": request.url.path,
            "errors": [{"field": f"rules.{f.rule}", "reason": f.reason} for f in failures],
            "failed_rules": [f.as_dict() for f in failures],
            "nomination": read.model_dump(mode="json"),
        },
        status_code=422,
        media_type=PROBLEM_JSON,
    )


@router.post("/nominations/{nomination_id}/withdraw", response_model=NominationRead)
def withdraw_nomination(
    session: SessionDep,
    principal: authorize(Permission.awards_nominate),
    nomination_id: uuid.UUID,
    body: Reason,
) -> NominationRead:
    """The channel takes its nomination back; the quota place and the nominee are freed."""
    return service.withdraw(
        session, principal=principal, nomination_id=nomination_id, reason=body.reason
    )


@router.post("/nominations/{nomination_id}/decision", response_model=NominationRead)
def decide_nomination(
    session: SessionDep,
    principal: authorize(Permission.awards_committee),
    nomination_id: uuid.UUID,
    body: Decision,
) -> NominationRead:
    """The committee shortlists a scored nomination, then awards it or not."""
    return service.decide(
        session,
        principal=principal,
        nomination_id=nomination_id,
        status=body.status,
        reason=body.reason,
    )


@router.post(
    "/nominations/{nomination_id}/conflicts",
    response_model=DeclaredConflictRead,
    status_code=status.HTTP_201_CREATED,
)
def declare_nominee_conflict(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: NominatorOrCommittee,
    nomination_id: uuid.UUID,
    body: ConflictDeclare,
    today: TodayDep,
) -> DeclaredConflictRead:
    """The nominee's side or the committee names a reviewer to avoid; a seat they hold is
    given to someone else."""
    read = service.declare_for_nominee(
        session, principal=principal, nomination_id=nomination_id, data=body, today=today
    )
    reviews.vacate_declared(session, runtime.search, conflict_id=read.id, today=today)
    return read


@router.get("/nominations/{nomination_id}/conflicts", response_model=list[DeclaredConflictRead])
def list_nominee_conflicts(
    session: SessionDep, principal: authorize(Permission.awards_committee), nomination_id: uuid.UUID
) -> list[DeclaredConflictRead]:
    """Conflicts declared about the nominee, by any side."""
    n, _ = service.committee_nomination(session, principal, nomination_id)
    return service.conflicts_of(session, n)


# --- panels -------------------------------------------------------------------------------


@router.get("/nominations/{nomination_id}/reviewer-suggestions", response_model=Suggestions)
def reviewer_suggestions(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.awards_committee),
    nomination_id: uuid.UUID,
    today: TodayDep,
    explain: bool = False,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> Suggestions:
    """Experts ranked by affinity x credibility minus load, conflicts removed (`explain`: why)."""
    n, cycle = service.committee_nomination(session, principal, nomination_id)
    return panels.suggest(
        session,
        runtime.search,
        nomination=n,
        cycle=cycle,
        limit=limit,
        explain=explain,
        today=today,
    )


@router.post("/cycles/{cycle_id}/assignments", response_model=AssignmentResponse)
def assign_reviewers(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.awards_committee),
    cycle_id: uuid.UUID,
    today: TodayDep,
    body: AssignmentRequest | None = None,
) -> AssignmentResponse:
    """Optimal panels for every eligible nomination; unmet seats are reported with why."""
    cycle = service.committee_cycle(session, principal, cycle_id)
    return panels.assign(
        session,
        runtime.search,
        cycle=cycle,
        body=body or AssignmentRequest(),
        actor=history.actor_of(principal),
        today=today,
    )


@router.get("/cycles/{cycle_id}/assignments", response_model=list[AssignmentRow])
def list_assignments(
    session: SessionDep, principal: authorize(Permission.awards_committee), cycle_id: uuid.UUID
) -> list[AssignmentRow]:
    """Every panel seat of the cycle (committee only: reviewers never see each other)."""
    cycle = service.committee_cycle(session, principal, cycle_id)
    return reviews.panel_rows(session, cycle)


@router.post("/cycles/{cycle_id}/close-review", response_model=CloseReviewRead)
def close_review(
    session: SessionDep, principal: authorize(Permission.awards_committee), cycle_id: uuid.UUID
) -> CloseReviewRead:
    """End the review: missing reviews count as missed, outlying scores are recorded."""
    cycle = service.committee_cycle(session, principal, cycle_id)
    return reviews.close_review(session, cycle=cycle, actor=history.actor_of(principal))


@router.get("/cycles/{cycle_id}/results", response_model=Results)
def cycle_results(
    session: SessionDep, principal: authorize(Permission.awards_committee), cycle_id: uuid.UUID
) -> Results:
    """Nominations ranked by reviewer-normalised weighted scores; ties share a rank."""
    cycle = service.committee_cycle(session, principal, cycle_id)
    return reviews.results(session, cycle=cycle)


@router.get(
    "/cycles/{cycle_id}/results.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "the results as CSV"}},
)
def cycle_results_csv(
    session: SessionDep, principal: authorize(Permission.awards_committee), cycle_id: uuid.UUID
) -> Response:
    """The results as CSV (UTF-8 with BOM), one row per nomination."""
    cycle = service.committee_cycle(session, principal, cycle_id)
    body = reviews.results_csv(
        reviews.results(session, cycle=cycle), [c["code"] for c in cycle.criteria]
    )
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="results-{cycle.id}.csv"'},
    )


# --- a reviewer's own work ----------------------------------------------------------------


@router.get("/my/assignments", response_model=list[MyAssignment])
def my_assignments(
    session: SessionDep, principal: authorize(Permission.awards_review)
) -> list[MyAssignment]:
    """The caller's own assignments (never who else sits on a panel)."""
    return reviews.list_mine(session, principal)


@router.get("/assignments/{assignment_id}", response_model=MyAssignmentDetail)
def my_assignment(
    session: SessionDep, principal: authorize(Permission.awards_review), assignment_id: uuid.UUID
) -> MyAssignmentDetail:
    """One own assignment: the nominee as submitted, the criteria and scale, one's own scores."""
    return reviews.get_mine(session, principal, assignment_id)


@router.post("/assignments/{assignment_id}/review", response_model=ReviewRead)
def submit_review(
    session: SessionDep,
    principal: authorize(Permission.awards_review),
    assignment_id: uuid.UUID,
    body: ReviewSubmit,
    today: TodayDep,
) -> ReviewRead:
    """Scores per criterion within the cycle's scale, until the review deadline."""
    return reviews.submit_review(
        session,
        principal=principal,
        assignment_id=assignment_id,
        data=body,
        today=today,
    )


@router.post("/assignments/{assignment_id}/conflict", response_model=ConflictOnAssignment)
def declare_reviewer_conflict(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.awards_review),
    assignment_id: uuid.UUID,
    body: Reason,
    today: TodayDep,
) -> ConflictOnAssignment:
    """Step aside from an assignment; the seat goes to the best free reviewer."""
    return reviews.declare_conflict(
        session,
        runtime.search,
        principal=principal,
        assignment_id=assignment_id,
        reason=body.reason,
        today=today,
    )


# --- credibility records ------------------------------------------------------------------


@router.get("/reviewers/{person_id}/record", response_model=CredibilityRecord)
def reviewer_record(
    session: SessionDep, principal: CommitteeOrReviewer, person_id: uuid.UUID
) -> CredibilityRecord:
    """A reviewer's credibility record: committees see anyone's, a reviewer their own."""
    if not principal.can(Permission.awards_committee) and principal.person_id != person_id:
        raise NotFound("reviewer")
    return credibility.read(session, person_id)


@router.post(
    "/reviewers/{person_id}/events", response_model=EventRead, status_code=status.HTTP_201_CREATED
)
def record_event(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.awards_committee),
    person_id: uuid.UUID,
    body: EventCreate,
    today: TodayDep,
) -> EventRead:
    """Record what the committee found: an undeclared conflict (the reviewer leaves the
    nomination's panel), misconduct, and so on."""
    return reviews.record_event(
        session, runtime.search, principal=principal, person_id=person_id, data=body, today=today
    )
