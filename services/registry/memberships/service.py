"""Membership rules: scoped by organisation, member numbers unique in it, history kept."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from services.search.outbox import enqueue_people

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.errors import (
    Conflict,
    Forbidden,
    InvalidField,
    NotFound,
    ProblemError,
    register_unique,
)
from ..core.security import PiiCipher
from ..orgs import service as org_service
from ..orgs.models import Organisation, OrgStatus
from ..people import service as people_service
from ..people.models import Person
from .models import Membership
from .schemas import MembershipCreate, MembershipCreated, MembershipRead, MembershipUpdate

register_unique(
    "uq_membership_org_id_member_no", "member_no", "this member number is taken in the organisation"
)
register_unique(
    "uq_membership_org_id_person_id",
    "person_id",
    "the person is already a member of the organisation",
)

Row = tuple[Membership, str, str, str]


def _query() -> Select[tuple[Membership, str, str, str]]:
    return (
        select(Membership, Organisation.code, Organisation.name, Person.name)
        .join(Organisation, Organisation.id == Membership.org_id)
        .join(Person, Person.id == Membership.person_id)
    )


def to_read(row: Row) -> MembershipRead:
    m, org_code, org_name, person_name = row
    return MembershipRead(
        id=m.id,
        org_code=org_code,
        org_name=org_name,
        person_id=m.person_id,
        person_name=person_name,
        grade=m.grade,
        status=m.status,
        member_no=m.member_no,
        joined_on=m.joined_on,
        valid_until=m.valid_until,
        created_at=m.created_at,
        updated_at=m.updated_at,
    )


def create(
    session: Session,
    *,
    principal: Principal,
    pii: PiiCipher,
    org_code: str,
    data: MembershipCreate,
) -> MembershipCreated:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_write
    )
    if org.status in {OrgStatus.suspended, OrgStatus.exited}:
        raise Conflict(f"the organisation is {org.status} and cannot accept members")
    matched = False
    if data.person_id is not None:
        try:
            person = people_service.get_visible(
                session,
                principal=principal,
                person_id=data.person_id,
                permission=Permission.people_read,
            )
        except NotFound:
            # A reference in the body, not the addressed resource: name the field.
            raise InvalidField("person_id", "no person with this id in your scope") from None
    else:
        assert data.person is not None
        try:
            person, matched = _match_or_create(session, principal, pii, org, data)
        except ProblemError as exc:
            for error in exc.errors:  # the inline person's fields sit under `person.`
                if not error.field.startswith("person."):
                    error.field = f"person.{error.field}"
            raise
    if session.scalar(
        select(Membership.id).where(Membership.org_id == org.id, Membership.person_id == person.id)
    ):
        raise Conflict("the person is already a member of the organisation", "person_id")
    if data.member_no and session.scalar(
        select(Membership.id).where(
            Membership.org_id == org.id, Membership.member_no == data.member_no
        )
    ):
        raise Conflict("this member number is taken in the organisation", "member_no")
    membership = Membership(
        org_id=org.id,
        person_id=person.id,
        grade=data.grade,
        status=data.status,
        member_no=data.member_no,
        joined_on=data.joined_on,
        valid_until=data.valid_until,
    )
    session.add(membership)
    session.flush()  # a racing duplicate member_no fails here, on the unique constraint
    history.record(
        session,
        entity="membership",
        entity_id=membership.id,
        changes=[("created", None, membership.status)],
        actor=history.actor_of(principal),
        source="api",
    )
    enqueue_people(session, [person.id])
    read = to_read((membership, org.code, org.name, person.name))
    return MembershipCreated(**read.model_dump(), person_matched=matched)


def _match_or_create(
    session: Session,
    principal: Principal,
    pii: PiiCipher,
    org: Organisation,
    data: MembershipCreate,
) -> tuple[Person, bool]:
    """The person with the same document number, or a new profile recorded by this organisation."""
    inline = data.person
    assert inline is not None
    if inline.id_number is not None:
        identity = people_service.resolve_identity(
            inline.id_type,
            inline.id_number.get_secret_value(),
            birth_date=inline.birth_date,
            gender=inline.gender,
        )
        existing = people_service.find_by_document(session, pii, identity)
        if existing is not None:
            if existing.name != inline.name:
                raise InvalidField(
                    "person.name", "differs from the name registered with this document number"
                )
            return existing, True
    person = people_service.create(
        session, principal=principal, pii=pii, data=inline, source="api", source_org_id=org.id
    )
    return person, False


def get_scoped(
    session: Session, *, principal: Principal, membership_id: uuid.UUID, permission: Permission
) -> Row:
    row = session.execute(
        _query().where(
            Membership.id == membership_id,
            principal.path_filter(permission, Organisation.path),
        )
    ).first()
    if row is None:
        raise NotFound("membership")
    return (row[0], row[1], row[2], row[3])


def update(
    session: Session,
    *,
    principal: Principal,
    membership_id: uuid.UUID,
    data: MembershipUpdate,
) -> MembershipRead:
    membership, org_code, org_name, person_name = get_scoped(
        session,
        principal=principal,
        membership_id=membership_id,
        permission=Permission.memberships_write,
    )
    session.refresh(membership, with_for_update=True)
    values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"reason"})
    for name in ("grade", "status"):
        if name in values and values[name] is None:
            raise InvalidField(name, "cannot be cleared")
    changes = history.assign(membership, values)
    if (
        membership.joined_on
        and membership.valid_until
        and membership.valid_until < membership.joined_on
    ):
        raise InvalidField("valid_until", "must not be before joined_on")
    if (
        "member_no" in values
        and values["member_no"]
        and session.scalar(
            select(Membership.id).where(
                Membership.org_id == membership.org_id,
                Membership.member_no == values["member_no"],
                Membership.id != membership.id,
            )
        )
    ):
        raise Conflict("this member number is taken in the organisation", "member_no")
    if history.save_changes(
        session,
        membership,
        entity="membership",
        changes=changes,
        actor=history.actor_of(principal),
        source="api",
        reason=data.reason,
    ):
        enqueue_people(session, [membership.person_id])
    return to_read((membership, org_code, org_name, person_name))


def list_for_org(
    session: Session,
    *,
    principal: Principal,
    org_code: str,
    after: uuid.UUID | None,
    limit: int,
    status: str | None = None,
    grade: str | None = None,
    member_no: str | None = None,
    q: str | None = None,
) -> list[Row]:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_read
    )
    query = _query().where(Membership.org_id == org.id).order_by(Membership.id).limit(limit + 1)
    if after is not None:
        query = query.where(Membership.id > after)
    if status:
        query = query.where(Membership.status == status)
    if grade:
        query = query.where(Membership.grade == grade)
    if member_no:
        query = query.where(Membership.member_no == member_no)
    if q:
        query = query.where(Person.name.startswith(q, autoescape=True))
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(query).all()]


def list_for_person(session: Session, *, principal: Principal, person_id: uuid.UUID) -> list[Row]:
    """All of them for platform administrators and the person; the caller's scope for staff."""
    own = principal.person_id == person_id
    if not own and not principal.can(Permission.memberships_read):
        raise Forbidden(f"this needs the {Permission.memberships_read.value} permission")
    if not own:
        people_service.get_visible(
            session, principal=principal, person_id=person_id, permission=Permission.people_read
        )
    query = _query().where(Membership.person_id == person_id).order_by(Membership.id)
    if not own:
        query = query.where(principal.path_filter(Permission.memberships_read, Organisation.path))
    return [(r[0], r[1], r[2], r[3]) for r in session.execute(query).all()]
