"""Membership rules: scoped by organisation, member numbers unique in it, history kept."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
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
from ..orgs.models import Organisation
from ..people import service as people_service
from ..people.models import Person
from . import lifecycle, types
from .models import Membership, MembershipStatus, MembershipType, PeriodKind
from .schemas import (
    ActionBody,
    InlinePerson,
    MembershipCreate,
    MembershipCreated,
    MembershipRead,
    MembershipUpdate,
    RenewBody,
    TerminateBody,
)

register_unique(
    "uq_membership_org_id_member_no", "member_no", "this member number is taken in the organisation"
)
register_unique(
    "uq_membership_person_id_org_id",
    "person_id",
    "the person is already a member of the organisation",
)

Row = tuple[Membership, str, str, str, str | None]


def _query() -> Select[tuple[Membership, str, str, str, str | None]]:
    return (
        select(Membership, Organisation.code, Organisation.name, Person.name, MembershipType.code)
        .join(Organisation, Organisation.id == Membership.org_id)
        .join(Person, Person.id == Membership.person_id)
        .outerjoin(MembershipType, MembershipType.id == Membership.type_id)
    )


def to_read(row: Row) -> MembershipRead:
    m, org_code, org_name, person_name, type_code = row
    return MembershipRead(
        id=m.id,
        org_code=org_code,
        org_name=org_name,
        person_id=m.person_id,
        person_name=person_name,
        type_code=type_code,
        grade=m.grade,
        status=m.status,
        status_override=m.status_override,
        override_reason=m.override_reason,
        termination_reason=m.termination_reason,
        awaiting_approval=m.awaiting_approval,
        member_no=m.member_no,
        joined_on=m.joined_on,
        valid_until=m.valid_until,
        ended_on=m.ended_on,
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
    today: date,
) -> MembershipCreated:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_write
    )
    org_service.refuse_closed(org, f"the society is {org.status} and cannot accept members")
    kind = types.resolve(session, org, data.type_code) if data.type_code else None
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
    status, override = lifecycle.initial_status(data.status)
    joined_on, valid_until = data.joined_on, data.valid_until
    grade, member_no = data.grade, data.member_no
    if kind is not None:
        # Joining today, unless it ended before today (an old member entered late, whose
        # joining date is not known): that stays unknown, as for group members.
        if joined_on is None and (valid_until is None or valid_until >= today):
            joined_on = today
        if "valid_until" not in data.model_fields_set:
            valid_until = lifecycle.period_end(kind, joined_on or today)
        if "grade" not in data.model_fields_set:
            grade = kind.grade
        if member_no is None and kind.member_no_format and status != MembershipStatus.pending:
            member_no = lifecycle.next_member_no(
                session,
                org_id=org.id,
                org_code=org.code,
                fmt=kind.member_no_format,
                on=joined_on or today,
            )
    membership = Membership(
        org_id=org.id,
        person_id=person.id,
        type_id=kind.id if kind else None,
        grade=grade,
        status=status,
        status_override=override,
        override_reason="set when the membership was created" if override else None,
        awaiting_approval=status == MembershipStatus.pending,
        member_no=member_no,
        joined_on=joined_on,
        valid_until=valid_until,
    )
    session.add(membership)
    session.flush()  # a racing duplicate member_no fails here, on the unique constraint
    membership.status = lifecycle.computed_status(session, membership, today)
    session.flush()
    history.record(
        session,
        entity="membership",
        entity_id=membership.id,
        changes=[("created", None, membership.status)],
        actor=history.actor_of(principal),
        source="api",
    )
    enqueue_people(session, [person.id])
    read = to_read((membership, org.code, org.name, person.name, kind.code if kind else None))
    return MembershipCreated(**read.model_dump(), person_matched=matched)


def _match_or_create(
    session: Session,
    principal: Principal,
    pii: PiiCipher,
    org: Organisation,
    data: MembershipCreate,
) -> tuple[Person, bool]:
    """The person this is by the import's identity rules (onboarding/members.py): the same
    document, or else the same name and birth date with the same phone or e-mail; otherwise a
    new profile recorded by this organisation."""
    inline = data.person
    assert inline is not None
    identity = None
    if inline.id_number is not None:
        identity = people_service.resolve_identity(
            inline.id_type,
            inline.id_number.get_secret_value(),
            birth_date=inline.birth_date,
            gender=inline.gender,
        )
        existing = _registered(session, pii, identity, inline.name)
        if existing is not None:
            return existing, True
    known = _known_by_contact(session, principal, pii, inline, identity)
    if known is not None:
        return known, True
    try:
        with session.begin_nested():
            person = people_service.create(
                session,
                principal=principal,
                pii=pii,
                data=inline,
                source="api",
                source_org_id=org.id,
            )
    except IntegrityError as exc:
        # Registered meanwhile by another request or an import (the unique blind index,
        # after waiting on it): that is the person, as if they had been found at first.
        if identity is None or _constraint_of(exc) != people_service.DOCUMENT_INDEX:
            raise
        existing = _registered(session, pii, identity, inline.name)
        if existing is None:
            raise
        return existing, True
    return person, False


def _known_by_contact(
    session: Session,
    principal: Principal,
    pii: PiiCipher,
    inline: InlinePerson,
    identity: people_service.Identity | None,
) -> Person | None:
    """The person with this name, birth date and phone or e-mail; a document given here is
    added to them, as an import adds one, when they still have none."""
    found = people_service.find_by_contact(
        session,
        name=inline.name,
        birth_date=inline.birth_date or (identity.birth_date if identity else None),
        phone=inline.phone,
        email=inline.email,
        documented=identity is not None,
    )
    if found is None or identity is None:
        return found
    session.refresh(found, with_for_update=True)
    if found.id_number_bidx is not None:
        return None  # given a document meanwhile: two documents are two people
    people_service.apply_changes(
        session,
        person=found,
        pii=pii,
        values={"id_type": identity.id_type, "id_number": SecretStr(identity.number)},
        actor=history.actor_of(principal),
        source="api",
    )
    return found


def _registered(
    session: Session, pii: PiiCipher, identity: people_service.Identity, name: str
) -> Person | None:
    """The person registered with this document, who must go by this name."""
    existing = people_service.find_by_document(session, pii, identity)
    if existing is not None and not people_service.known_by(session, existing, name):
        raise InvalidField(
            "person.name", "differs from the name registered with this document number"
        )
    return existing


def _constraint_of(exc: IntegrityError) -> str | None:
    return getattr(getattr(exc.orig, "diag", None), "constraint_name", None)


def _refuse_closed(session: Session, membership: Membership, doing: str) -> None:
    """A suspended or exited society admits, renews and reinstates no one, as it accepts no
    one."""
    org = session.get(Organisation, membership.org_id)
    assert org is not None
    org_service.refuse_closed(org, f"the society is {org.status} and cannot {doing}")


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
    return (row[0], row[1], row[2], row[3], row[4])


def update(
    session: Session,
    *,
    principal: Principal,
    membership_id: uuid.UUID,
    data: MembershipUpdate,
    today: date,
) -> MembershipRead:
    """Field changes, a status set by hand (kept until cleared) or the override cleared;
    the status is then what the lifecycle rule says."""
    membership, org_code, org_name, person_name, type_code = get_scoped(
        session,
        principal=principal,
        membership_id=membership_id,
        permission=Permission.memberships_write,
    )
    session.refresh(membership, with_for_update=True)
    values: dict[str, Any] = data.model_dump(
        exclude_unset=True, exclude={"reason", "status", "clear_override", "type_code"}
    )
    for name in ("grade", "status"):
        if name in data.model_fields_set and getattr(data, name) is None:
            raise InvalidField(name, "cannot be cleared")
    if data.clear_override and data.status is not None:
        raise InvalidField("clear_override", "give either status or clear_override")
    if "type_code" in data.model_fields_set:
        kind = None
        if data.type_code is not None:
            org = session.get(Organisation, membership.org_id)
            assert org is not None
            kind = types.resolve(session, org, data.type_code)
        values["type_id"] = kind.id if kind else None
        type_code = kind.code if kind else None
        if kind is not None and kind.period == PeriodKind.lifetime:
            # A life membership has no end (renewal refuses to give it one): the old
            # period's end would make a life member lapse.
            if values.get("valid_until") is not None:
                raise InvalidField("valid_until", "a life membership has no end date")
            values["valid_until"] = None
    joined_on = values.get("joined_on", membership.joined_on)
    valid_until = values.get("valid_until", membership.valid_until)
    if joined_on and valid_until and valid_until < joined_on:
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
    if data.status == MembershipStatus.active and membership.status == MembershipStatus.pending:
        _refuse_closed(session, membership, "admit members")
    actor = history.actor_of(principal)
    if data.clear_override and membership.status_override is not None:
        if membership.status_override == MembershipStatus.terminated:
            raise InvalidField("clear_override", "use POST /memberships/{id}/reinstate")
        values["status_override"] = None
        membership.override_reason = None
    lifecycle.set_override(
        session,
        membership,
        data.status,
        today=today,
        actor=actor,
        reason=data.reason,
        values=values,
    )
    return to_read((membership, org_code, org_name, person_name, type_code))


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
    return [(r[0], r[1], r[2], r[3], r[4]) for r in session.execute(query).all()]


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
    return [(r[0], r[1], r[2], r[3], r[4]) for r in session.execute(query).all()]


def act(
    session: Session,
    *,
    principal: Principal,
    membership_id: uuid.UUID,
    action: str,
    body: ActionBody,
    today: date,
) -> MembershipRead:
    """One lifecycle action (renew, suspend, terminate, reinstate) on a membership in scope."""
    membership, org_code, org_name, person_name, type_code = get_scoped(
        session,
        principal=principal,
        membership_id=membership_id,
        permission=Permission.memberships_write,
    )
    session.refresh(membership, with_for_update=True)
    common: dict[str, Any] = {
        "today": today,
        "actor": history.actor_of(principal),
        "reason": body.reason,
    }
    if action == "renew":
        assert isinstance(body, RenewBody)
        _refuse_closed(session, membership, "renew memberships")
        lifecycle.renew(session, membership, until=body.until, **common)
    elif action == "suspend":
        lifecycle.suspend(session, membership, **common)
    elif action == "terminate":
        assert isinstance(body, TerminateBody)
        assert body.termination_reason is not None
        lifecycle.terminate(session, membership, termination=body.termination_reason, **common)
    elif action == "reinstate":
        _refuse_closed(session, membership, "reinstate members")
        lifecycle.reinstate(session, membership, **common)
    else:  # pragma: no cover - the router names the actions
        raise ValueError(action)
    return to_read((membership, org_code, org_name, person_name, type_code))
