"""Membership types: what each society offers (grade, period, grace, renewal window, approval,
member-number format), configured by its administrators."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.errors import Conflict, InvalidField, NotFound, register_unique
from ..orgs import service as org_service
from ..orgs.models import Organisation
from .models import MembershipType, PeriodKind
from .schemas import MembershipTypeCreate, MembershipTypeRead, MembershipTypeUpdate

register_unique(
    "uq_membership_type_org_id_code", "code", "the society has a membership type with this code"
)


def to_read(kind: MembershipType, org_code: str) -> MembershipTypeRead:
    return MembershipTypeRead(
        org_code=org_code,
        **{
            name: getattr(kind, name)
            for name in MembershipTypeRead.model_fields
            if name != "org_code"
        },
    )


def by_code(session: Session, org_id: object, code: str) -> MembershipType | None:
    return session.scalar(
        select(MembershipType).where(
            MembershipType.org_id == org_id, MembershipType.code == code.strip().lower()
        )
    )


def resolve(
    session: Session, org: Organisation, code: str, field: str = "type_code"
) -> MembershipType:
    """A type of this society named in a request body: an unknown one is that field's error."""
    kind = by_code(session, org.id, code)
    if kind is None:
        raise InvalidField(field, "the society has no membership type with this code")
    if not kind.is_active:
        raise InvalidField(field, "this membership type is no longer offered")
    return kind


def create(
    session: Session, *, principal: Principal, org_code: str, data: MembershipTypeCreate
) -> MembershipTypeRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_configure
    )
    if by_code(session, org.id, data.code):
        raise Conflict("the society has a membership type with this code", "code")
    kind = MembershipType(org_id=org.id, **data.model_dump())
    session.add(kind)
    session.flush()
    history.record(
        session,
        entity="membership_type",
        entity_id=kind.id,
        changes=[("created", None, kind.code)],
        actor=history.actor_of(principal),
        source="api",
    )
    return to_read(kind, org.code)


def list_for_org(
    session: Session, *, principal: Principal, org_code: str
) -> list[MembershipTypeRead]:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_read
    )
    kinds = session.scalars(
        select(MembershipType).where(MembershipType.org_id == org.id).order_by(MembershipType.code)
    )
    return [to_read(k, org.code) for k in kinds]


def update(
    session: Session,
    *,
    principal: Principal,
    org_code: str,
    code: str,
    data: MembershipTypeUpdate,
) -> MembershipTypeRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_configure
    )
    kind = by_code(session, org.id, code)
    if kind is None:
        raise NotFound("membership type")
    session.refresh(kind, with_for_update=True)
    values = data.model_dump(exclude_unset=True)
    for name in ("name", "grade", "period", "grace_days", "approval_required", "is_active"):
        if name in values and values[name] is None:
            raise InvalidField(name, "cannot be cleared")
    if values.get("period") not in (None, PeriodKind.rolling) and "period_months" not in values:
        values["period_months"] = None  # leaving a rolling period drops its length
    changes = history.assign(kind, values)
    if (kind.period == PeriodKind.rolling) != (kind.period_months is not None):
        raise InvalidField("period_months", "required for a rolling period, and only for it")
    history.save_changes(
        session,
        kind,
        entity="membership_type",
        changes=changes,
        actor=history.actor_of(principal),
        source="api",
    )
    return to_read(kind, org.code)
