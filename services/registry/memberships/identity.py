"""One identity, many societies: linking a member's sign-in account to their talent profile.

Two ways, both leaving an audit event and a history entry on the profile:

- **by staff**: a society administrator links a member account to a profile in their scope.
  Accounts holding staff roles anywhere are linked only by the platform administrator, so a
  society cannot attach someone else's staff account to a profile it controls.
- **by the member**: the society hands the member a one-time claim code (printed, by SMS, at
  its desk); the member sends the code and their document number. Both must match the same
  profile: the code proves the society vouches for this hand-over, the document that the
  claimant is the person (a leaked ID number alone is not enough, and neither is a code
  found on someone's desk). Codes are stored as hashes, expire after 14 days, work once, and a
  new code voids the older ones; failed claims count against the account and lock it out for
  a doubling period after five, as sign-ins do.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy import select, union, update
from sqlalchemy.orm import Session, sessionmaker

from ..audit import service as audit
from ..auth import service as auth_service
from ..auth.models import Account, AccountKind, Role, RoleGrant
from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.errors import Conflict, Forbidden, InvalidField, ProblemError
from ..core.security import PiiCipher
from ..orgs.models import Organisation
from ..people import service as people_service
from ..people.models import Person
from .models import ClaimCode, Membership, MembershipApplication
from .schemas import AccountLinkRead, ClaimCodeRead, ClaimRequest

CODE_TTL = timedelta(days=14)
MAX_CLAIM_FAILURES = 5
# Crockford's base32 without the letters people confuse (I, L, O, U).
_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_MEMBER_ROLES = {Role.member, Role.reviewer}


def _normalise_code(code: str) -> str:
    text = code.upper().replace("-", "").replace(" ", "")
    return text.translate(str.maketrans({"O": "0", "I": "1", "L": "1"}))


def _hash(code: str) -> bytes:
    return hashlib.sha256(_normalise_code(code).encode()).digest()


def _require_whole_profile_in_scope(session: Session, principal: Principal, person: Person) -> None:
    """A linked account reads and changes the person's whole profile, every membership and
    application: society staff link (or issue a claim code for) only people all of whose
    organisations they look after; a profile shared with another society is linked by the
    platform."""
    if principal.is_global(Permission.accounts_link):
        return
    # Every organisation the account would see the person in: memberships and applications.
    orgs = union(
        select(Membership.org_id).where(Membership.person_id == person.id),
        select(MembershipApplication.org_id).where(MembershipApplication.person_id == person.id),
    ).subquery()
    paths = session.scalars(
        select(Organisation.path).where(Organisation.id.in_(select(orgs.c.org_id)))
    ).all()
    if not all(principal.covers_path(Permission.accounts_link, path) for path in paths):
        raise Forbidden(
            "this profile is shared with organisations outside your scope: the member claims "
            "it with a claim code, or the platform administrator links it"
        )


def _roles(session: Session, account_id: uuid.UUID) -> set[Role]:
    return {
        Role(r)
        for r in session.scalars(select(RoleGrant.role).where(RoleGrant.account_id == account_id))
    }


def _linked_account(session: Session, person_id: uuid.UUID) -> Account | None:
    return session.scalar(select(Account).where(Account.person_id == person_id).limit(1))


def link(
    session: Session, *, principal: Principal, person_id: uuid.UUID, username: str
) -> AccountLinkRead:
    person = people_service.get_visible(
        session, principal=principal, person_id=person_id, permission=Permission.accounts_link
    )
    account = session.scalar(
        select(Account)
        .where(Account.username == auth_service.username_key(username))
        .with_for_update()
    )
    if account is None or account.kind != AccountKind.user or not account.is_active:
        raise InvalidField("username", "no active user account with this name")
    if account.person_id == person.id:
        return AccountLinkRead(person_id=person.id, username=account.username)
    if account.person_id is not None:
        raise Conflict("the account is linked to another profile", "username")
    other = _linked_account(session, person.id)
    if other is not None:
        raise Conflict("the profile is linked to another account", "person_id")
    roles = _roles(session, account.id)
    if not roles <= _MEMBER_ROLES and not principal.is_global(Permission.accounts_link):
        raise Forbidden("accounts with staff roles are linked by the platform administrator")
    _require_whole_profile_in_scope(session, principal, person)
    _attach(session, account, person, actor=history.actor_of(principal), how="staff")
    audit.record(
        session,
        principal=principal,
        action="account.link",
        object_type="person",
        object_id=person.id,
        detail={"username": account.username},
    )
    return AccountLinkRead(person_id=person.id, username=account.username)


def unlink(session: Session, *, principal: Principal, person_id: uuid.UUID) -> AccountLinkRead:
    person = people_service.get_visible(
        session, principal=principal, person_id=person_id, permission=Permission.accounts_link
    )
    account = _linked_account(session, person.id)
    if account is not None:
        _require_whole_profile_in_scope(session, principal, person)
        account.person_id = None
        history.record(
            session,
            entity="person",
            entity_id=person.id,
            changes=[("account", account.username, None)],
            actor=history.actor_of(principal),
            source="api",
        )
        audit.record(
            session,
            principal=principal,
            action="account.unlink",
            object_type="person",
            object_id=person.id,
            detail={"username": account.username},
        )
    return AccountLinkRead(person_id=person.id, username=None)


def _attach(session: Session, account: Account, person: Person, *, actor: str, how: str) -> None:
    account.person_id = person.id
    session.flush()
    history.record(
        session,
        entity="person",
        entity_id=person.id,
        changes=[("account", None, account.username)],
        actor=actor,
        source="api",
        reason=f"linked by {how}",
    )


def issue_claim_code(
    session: Session, *, principal: Principal, person_id: uuid.UUID, now: datetime
) -> ClaimCodeRead:
    person = people_service.get_visible(
        session, principal=principal, person_id=person_id, permission=Permission.accounts_link
    )
    _require_whole_profile_in_scope(session, principal, person)
    if person.id_number_bidx is None:
        raise ProblemError(
            "the profile has no document number to check a claim against; record it first,"
            " or link the account directly",
            409,
            "no-document",
        )
    if _linked_account(session, person.id) is not None:
        raise Conflict("the profile is linked to an account already")
    session.execute(
        update(ClaimCode)
        .where(ClaimCode.person_id == person.id, ClaimCode.used_at.is_(None))
        .values(expires_at=now)
    )
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(12))
    code = f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"
    expires = now + CODE_TTL
    session.add(
        ClaimCode(
            person_id=person.id,
            code_hash=_hash(code),
            created_by=history.actor_of(principal),
            expires_at=expires,
        )
    )
    audit.record(
        session,
        principal=principal,
        action="account.claim_code",
        object_type="person",
        object_id=person.id,
    )
    return ClaimCodeRead(code=code, expires_at=expires)


def claim(
    session: Session,
    *,
    principal: Principal,
    sessions: sessionmaker[Session],
    pii: PiiCipher,
    data: ClaimRequest,
    now: datetime,
) -> None:
    """Link the caller's account to the profile the code was issued for, if the document
    number is that profile's. A mismatch says nothing about which of the two was wrong."""
    if principal.person_id is not None:
        raise Conflict("this account is linked to a profile already")
    if not _roles(session, principal.account_id) <= _MEMBER_ROLES:
        raise Forbidden("accounts with staff roles are linked by the platform administrator")
    key = f"claim:{principal.account_id}"
    # Claims of one account take turns; each failure is counted in its own transaction (the
    # request's is rolled back with the error), and a success forgets them.
    with auth_service.attempt(sessions, key, MAX_CLAIM_FAILURES) as outcome:
        identity = people_service.resolve_identity(
            data.id_type, data.id_number.get_secret_value(), birth_date=None, gender=None
        )
        row = session.execute(
            select(ClaimCode, Person)
            .join(Person, Person.id == ClaimCode.person_id)
            .where(
                ClaimCode.code_hash == _hash(data.code),
                ClaimCode.used_at.is_(None),
                ClaimCode.expires_at > now,
            )
            .with_for_update(of=ClaimCode)
        ).first()
        outcome.succeeded = row is not None and row[1].id_number_bidx == pii.blind_index(
            identity.id_type, identity.number
        )
    if not outcome.succeeded or row is None:
        raise InvalidField("code", "the code and the document number do not match a profile")
    code, person = row
    if _linked_account(session, person.id) is not None:
        raise Conflict("the profile is linked to another account")
    account = session.get(Account, principal.account_id, with_for_update=True)
    assert account is not None
    code.used_at = now
    code.used_by = account.id
    _attach(session, account, person, actor=history.actor_of(principal), how="claim code")
    audit.record(
        session,
        principal=principal,
        action="account.claim",
        object_type="person",
        object_id=person.id,
    )
