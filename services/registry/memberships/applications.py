"""Applications to join a society (入会申请): a signed-in member applies, staff approve (the
membership is created or re-admitted, with the next member number) or reject with a reason,
and the applicant sees the outcome."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.search.outbox import enqueue_people

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.errors import Conflict, InvalidField, NotFound, ProblemError, register_unique
from ..orgs import service as org_service
from ..orgs.models import Organisation
from ..people.models import Person
from . import lifecycle, types
from .models import (
    ApplicationStatus,
    Grade,
    Membership,
    MembershipApplication,
    MembershipStatus,
    MembershipType,
    TerminationReason,
)
from .schemas import ApplicationApproval, ApplicationCreate, ApplicationDecision, ApplicationRead

register_unique(
    "uq_membership_application_org_id_person_id_submitted",
    "org_code",
    "an application to this society is already waiting for a decision",
)

Row = tuple[MembershipApplication, str, str, str, str | None, str | None]


def _query() -> Select[tuple[MembershipApplication, str, str, str, str | None, str | None]]:
    return (
        select(
            MembershipApplication,
            Organisation.code,
            Organisation.name,
            Person.name,
            MembershipType.code,
            Membership.member_no,
        )
        .join(Organisation, Organisation.id == MembershipApplication.org_id)
        .join(Person, Person.id == MembershipApplication.person_id)
        .outerjoin(MembershipType, MembershipType.id == MembershipApplication.type_id)
        .outerjoin(Membership, Membership.id == MembershipApplication.membership_id)
    )


def to_read(row: Row) -> ApplicationRead:
    a, org_code, org_name, person_name, type_code, member_no = row
    return ApplicationRead(
        id=a.id,
        org_code=org_code,
        org_name=org_name,
        person_id=a.person_id,
        person_name=person_name,
        type_code=type_code,
        grade=a.grade,
        statement=a.statement,
        status=a.status,
        submitted_at=a.submitted_at,
        decided_at=a.decided_at,
        decided_by=a.decided_by,
        decision_reason=a.decision_reason,
        membership_id=a.membership_id,
        member_no=member_no,
    )


def _read(session: Session, application_id: uuid.UUID) -> ApplicationRead:
    row = session.execute(_query().where(MembershipApplication.id == application_id)).one()
    return to_read((row[0], row[1], row[2], row[3], row[4], row[5]))


def submit(
    session: Session, *, principal: Principal, org_code: str, data: ApplicationCreate, today: date
) -> ApplicationRead:
    """A signed-in member linked to a profile applies; applying again while an application
    waits, or while a member, is a 409."""
    if principal.person_id is None:
        raise ProblemError(
            "this account is not linked to a profile: ask your society, or claim your profile"
            " with POST /api/v1/me/claim",
            409,
            "account-not-linked",
        )
    org = org_service.by_code(session, org_code)
    if org is None:
        raise NotFound("organisation")
    org_service.refuse_closed(org, f"the society is {org.status} and cannot accept members")
    kind = types.resolve(session, org, data.type_code) if data.type_code else None
    membership = session.scalar(
        select(Membership).where(
            Membership.org_id == org.id, Membership.person_id == principal.person_id
        )
    )
    if membership is not None and membership.status != MembershipStatus.terminated:
        raise Conflict(f"you are already a member of this society ({membership.status})")
    if session.scalar(
        select(MembershipApplication.id).where(
            MembershipApplication.org_id == org.id,
            MembershipApplication.person_id == principal.person_id,
            MembershipApplication.status == ApplicationStatus.submitted,
        )
    ):
        raise Conflict("an application to this society is already waiting for a decision")
    application = MembershipApplication(
        org_id=org.id,
        person_id=principal.person_id,
        account_id=principal.account_id,
        type_id=kind.id if kind else None,
        grade=data.grade or (kind.grade if kind else Grade.member),
        statement=data.statement,
    )
    session.add(application)
    session.flush()  # a racing second application fails here, on the partial unique index
    history.record(
        session,
        entity="membership_application",
        entity_id=application.id,
        changes=[("created", None, application.status)],
        actor=history.actor_of(principal),
        source="api",
    )
    # A type without approval admits at its own grade only: another grade (a student type
    # asked to make its applicant a fellow) is the society's staff's decision, and so is
    # taking back a member the society expelled.
    expelled = (
        membership is not None and membership.termination_reason == TerminationReason.expulsion
    )
    if (
        kind is not None
        and not kind.approval_required
        and application.grade == kind.grade
        and not expelled
    ):
        _approve(
            session,
            application,
            org,
            kind,
            member_no=None,
            today=today,
            actor="system",
            reason="the membership type needs no approval",
        )
    return _read(session, application.id)


def _locked_for_staff(
    session: Session, principal: Principal, application_id: uuid.UUID
) -> tuple[MembershipApplication, Organisation]:
    row = session.execute(
        select(MembershipApplication, Organisation)
        .join(Organisation, Organisation.id == MembershipApplication.org_id)
        .where(
            MembershipApplication.id == application_id,
            principal.path_filter(Permission.memberships_write, Organisation.path),
        )
        .with_for_update(of=MembershipApplication)
    ).first()
    if row is None:
        raise NotFound("application")
    application, org = row
    if application.status != ApplicationStatus.submitted:
        raise ProblemError(
            f"the application was already {application.status}", 409, "application-decided"
        )
    return application, org


def _decide(
    session: Session,
    application: MembershipApplication,
    status: ApplicationStatus,
    *,
    actor: str,
    reason: str | None,
) -> None:
    changes = history.assign(
        application,
        {
            "status": status,
            "decided_at": datetime.now(UTC),
            "decided_by": actor,
            "decision_reason": reason,
        },
    )
    session.flush()
    history.record(
        session,
        entity="membership_application",
        entity_id=application.id,
        changes=[c for c in changes if c[0] == "status"],
        actor=actor,
        source="api",
        reason=reason,
    )


def _approve(
    session: Session,
    application: MembershipApplication,
    org: Organisation,
    kind: MembershipType | None,
    *,
    member_no: str | None,
    today: date,
    actor: str,
    reason: str | None,
) -> None:
    """Admit the applicant: a new membership, or a terminated one re-opened (keeping its
    number, which is never given to anyone else), from today for one period of the type."""
    valid_until = lifecycle.period_end(kind, today) if kind else date(today.year, 12, 31)
    source = f"application:{application.id}"
    membership = session.scalar(
        select(Membership)
        .where(Membership.org_id == org.id, Membership.person_id == application.person_id)
        .with_for_update()
    )
    if membership is not None and membership.status != MembershipStatus.terminated:
        raise Conflict(f"the applicant is already a member ({membership.status})")
    if membership is not None and membership.termination_reason == TerminationReason.death:
        raise ProblemError(
            "the membership ended by the member's death", 409, "membership-terminated"
        )
    if member_no and session.scalar(
        select(Membership.id).where(
            Membership.org_id == org.id,
            Membership.member_no == member_no,
            Membership.person_id != application.person_id,
        )
    ):
        raise Conflict("this member number is taken in the organisation", "member_no")
    needs_number = member_no is None and (membership is None or membership.member_no is None)
    if needs_number and kind is not None and kind.member_no_format:
        member_no = lifecycle.next_member_no(
            session, org_id=org.id, org_code=org.code, fmt=kind.member_no_format, on=today
        )
    if membership is None:
        membership = Membership(
            org_id=org.id,
            person_id=application.person_id,
            type_id=kind.id if kind else None,
            grade=application.grade,
            member_no=member_no,
            joined_on=today,
            valid_until=valid_until,
        )
        session.add(membership)
        session.flush()
        membership.status = lifecycle.computed_status(session, membership, today)
        session.flush()
        history.record(
            session,
            entity="membership",
            entity_id=membership.id,
            changes=[("created", None, membership.status)],
            actor=actor,
            source=source,
            reason=reason,
        )
        enqueue_people(session, [membership.person_id])
    else:
        membership.override_reason = None
        values = {
            "type_id": kind.id if kind else None,
            "grade": application.grade,
            "joined_on": today,
            "valid_until": valid_until,
            "status_override": None,
            "termination_reason": None,
            "ended_on": None,
            "awaiting_approval": False,
        }
        if member_no:
            values["member_no"] = member_no
        lifecycle.apply(
            session, membership, values, today=today, actor=actor, reason=reason, source=source
        )
    application.membership_id = membership.id
    _decide(session, application, ApplicationStatus.approved, actor=actor, reason=reason)


def approve(
    session: Session,
    *,
    principal: Principal,
    application_id: uuid.UUID,
    data: ApplicationApproval,
    today: date,
) -> ApplicationRead:
    application, org = _locked_for_staff(session, principal, application_id)
    org_service.refuse_closed(org, f"the society is {org.status} and cannot accept members")
    if data.type_code:
        kind = types.resolve(session, org, data.type_code)
        application.type_id = kind.id
        application.grade = kind.grade  # another type, its grade (unless named below)
    else:
        kind = session.get(MembershipType, application.type_id) if application.type_id else None
    if data.grade:
        application.grade = data.grade
    _approve(
        session,
        application,
        org,
        kind,
        member_no=data.member_no,
        today=today,
        actor=history.actor_of(principal),
        reason=data.reason,
    )
    return _read(session, application.id)


def reject(
    session: Session, *, principal: Principal, application_id: uuid.UUID, data: ApplicationDecision
) -> ApplicationRead:
    if not data.reason:
        raise InvalidField("reason", "required to reject an application")
    application, _org = _locked_for_staff(session, principal, application_id)
    _decide(
        session,
        application,
        ApplicationStatus.rejected,
        actor=history.actor_of(principal),
        reason=data.reason,
    )
    return _read(session, application.id)


def withdraw(
    session: Session, *, principal: Principal, application_id: uuid.UUID
) -> ApplicationRead:
    application = session.scalar(
        select(MembershipApplication)
        .where(
            MembershipApplication.id == application_id,
            MembershipApplication.person_id == principal.person_id,
        )
        .with_for_update()
    )
    if application is None or principal.person_id is None:
        raise NotFound("application")
    if application.status != ApplicationStatus.submitted:
        raise ProblemError(
            f"the application was already {application.status}", 409, "application-decided"
        )
    _decide(
        session,
        application,
        ApplicationStatus.withdrawn,
        actor=history.actor_of(principal),
        reason="withdrawn by the applicant",
    )
    return _read(session, application.id)


def get(session: Session, *, principal: Principal, application_id: uuid.UUID) -> ApplicationRead:
    """For the applicant, or for staff whose scope covers the society."""
    row = session.execute(_query().where(MembershipApplication.id == application_id)).first()
    if row is None:
        raise NotFound("application")
    application = row[0]
    own = principal.person_id is not None and application.person_id == principal.person_id
    org_path = session.scalar(
        select(Organisation.path).where(Organisation.id == application.org_id)
    )
    if not own and not principal.covers_path(Permission.memberships_read, org_path or ""):
        raise NotFound("application")
    return to_read((row[0], row[1], row[2], row[3], row[4], row[5]))


def list_for_org(
    session: Session,
    *,
    principal: Principal,
    org_code: str,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Row]:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_read
    )
    query = (
        _query()
        .where(MembershipApplication.org_id == org.id)
        .order_by(MembershipApplication.id)
        .limit(limit + 1)
    )
    if status:
        query = query.where(MembershipApplication.status == status)
    if after is not None:
        query = query.where(MembershipApplication.id > after)
    return [(r[0], r[1], r[2], r[3], r[4], r[5]) for r in session.execute(query).all()]


def list_mine(session: Session, *, principal: Principal) -> list[ApplicationRead]:
    if principal.person_id is None:
        return []
    rows = session.execute(
        _query()
        .where(MembershipApplication.person_id == principal.person_id)
        .order_by(MembershipApplication.id.desc())
    ).all()
    return [to_read((r[0], r[1], r[2], r[3], r[4], r[5])) for r in rows]
