"""HTTP: talent profiles, their history, and audited access to unmasked identity data."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.deps import RuntimeDep, SessionDep, authorize
from ..core.pagination import Page, PageDep, list_scope, page_of
from ..core.runtime import Runtime
from ..core.types import DisciplineCode
from ..orgs.router import render_change
from ..orgs.schemas import ChangeRead
from . import service
from .models import Gender, PersonStatus, TitleLevel
from .schemas import PersonCreate, PersonIdentity, PersonRead, PersonUpdate

router = APIRouter(prefix="/api/v1/people", tags=["people"])


# FastAPI tries routes in order, at a cost per route: the busiest reads come first.
@router.get("/{person_id}", response_model=PersonRead)
async def get_person(
    request: Request, principal: authorize(Permission.people_read), person_id: uuid.UUID
) -> Response:
    """One profile in the caller's scope; document numbers masked."""
    # The runtime is taken from the app rather than through a dependency (each costs), and the
    # model, valid by construction, is serialised once here instead of checked again.
    runtime: Runtime = request.app.state.runtime
    person = await service.read(runtime.reads, principal=principal, person_id=person_id)
    return Response(person.model_dump_json(), media_type="application/json")


@router.get("", response_model=Page[PersonRead])
async def list_people(
    session: SessionDep,
    principal: authorize(Permission.people_read),
    page: PageDep,
    q: Annotated[str | None, Query(max_length=100, description="start of the name")] = None,
    org_code: Annotated[str | None, Query(max_length=32, description="member of")] = None,
    gender: Gender | None = None,
    title_level: TitleLevel | None = None,
    discipline_code: Annotated[DisciplineCode | None, Query(description="code prefix")] = None,
    region_code: Annotated[str | None, Query(pattern=r"^\d{2,6}$", description="prefix")] = None,
    institution: Annotated[str | None, Query(max_length=100)] = None,
    expert_opt_in: bool | None = None,
    status: PersonStatus | None = None,
) -> Response:
    """Profiles in the caller's scope, oldest first."""
    filters = {
        "q": q,
        "org_code": org_code,
        "gender": gender,
        "title_level": title_level,
        "discipline_code": discipline_code,
        "region_code": region_code,
        "institution": institution,
        "expert_opt_in": expert_opt_in,
        "status": status,
    }
    scope = list_scope(**filters)
    # The busiest reads are async and make one trip to the thread pool for all their
    # blocking work; the page, valid by construction, is serialised once on the event loop.
    result = await run_in_threadpool(
        _list_people,
        session,
        principal,
        scope,
        after=page.after_uuid(scope),
        limit=page.limit,
        **filters,
    )
    return Response(result.model_dump_json(), media_type="application/json")


def _list_people(
    session: Session, principal: Principal, scope: bytes, **filters: Any
) -> Page[PersonRead]:
    limit = filters["limit"]
    rows = service.list_people(session, principal=principal, **filters)
    return page_of(
        rows,
        limit,
        key=lambda p: p["id"],
        render=lambda p: service.render(p, contact_visible=p.pop(service.CONTACT_VISIBLE)),
        scope=scope,
    )


@router.post("", response_model=PersonRead, status_code=status.HTTP_201_CREATED)
def create_person(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.people_write),
    body: PersonCreate,
) -> PersonRead:
    """Record a talent profile; a document number already registered answers 409."""
    person = service.create(session, principal=principal, pii=runtime.pii, data=body)
    shown = service.contact_visible(session, principal, person.id)
    return service.to_read(person, contact_visible=shown)


@router.patch("/{person_id}", response_model=PersonRead)
def update_person(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.people_write),
    person_id: uuid.UUID,
    body: PersonUpdate,
) -> PersonRead:
    """Change fields of a profile; every change is kept in its history."""
    person = service.update(
        session, principal=principal, pii=runtime.pii, person_id=person_id, data=body
    )
    shown = service.contact_visible(session, principal, person.id)
    return service.to_read(person, contact_visible=shown)


@router.get("/{person_id}/history", response_model=Page[ChangeRead])
def person_history(
    session: SessionDep,
    principal: authorize(Permission.people_read),
    person_id: uuid.UUID,
    page: PageDep,
) -> Page[ChangeRead]:
    """Who changed what, when, from which source; sensitive values masked."""
    service.get_visible(
        session, principal=principal, person_id=person_id, permission=Permission.people_read
    )
    rows = history.list_for(
        session, entity="person", entity_id=person_id, after=page.after_int(), limit=page.limit
    )
    return page_of(rows, page.limit, key=lambda r: r.id, render=render_change)


@router.get("/{person_id}/identity", response_model=PersonIdentity)
def person_identity(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: authorize(Permission.people_identity),
    person_id: uuid.UUID,
) -> PersonIdentity:
    """The unmasked document number and contact data; each read is written to the audit log."""
    return service.identity(session, principal=principal, pii=runtime.pii, person_id=person_id)
