"""Signing in, refreshing, throttling failed attempts, and creating accounts with grants."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, case, delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.orm import Session, sessionmaker

from ..audit import service as audit
from ..core import history
from ..core.db import transaction
from ..core.errors import Conflict, InvalidField, NotFound, TooManyRequests, Unauthorized
from ..core.runtime import Runtime
from ..orgs import service as org_service
from ..orgs.models import Organisation
from . import passwords
from .models import Account, AccountKind, LoginThrottle, RefreshToken, Role, RoleGrant
from .permissions import ORG_ROLES
from .principals import Grant, Principal

FAILURE_WINDOW = timedelta(minutes=15)
MAX_LOCK = timedelta(hours=1)
_MAX_DOUBLINGS = 20  # 30 s * 2**7 already passes MAX_LOCK


@dataclass(frozen=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str | None


def load_principal(session: Session, account_id: uuid.UUID) -> Principal | None:
    """The active account with its grants and the paths of the granted organisations."""
    rows = session.execute(
        select(
            Account.id,
            Account.username,
            Account.kind,
            Account.person_id,
            RoleGrant.role,
            RoleGrant.org_id,
            Organisation.path,
        )
        .outerjoin(RoleGrant, RoleGrant.account_id == Account.id)
        .outerjoin(Organisation, Organisation.id == RoleGrant.org_id)
        .where(Account.id == account_id, Account.is_active.is_(True))
    ).all()
    if not rows:
        return None
    first = rows[0]
    grants = tuple(
        Grant(Role(r.role), r.org_id, r.path)
        for r in rows
        # An organisation role without its organisation would read as platform-wide: ignore it.
        if r.role is not None and not (r.role in ORG_ROLES and r.org_id is None)
    )
    return Principal(first.id, first.username, first.kind, first.person_id, grants)


def _now() -> datetime:
    return datetime.now(UTC)


def username_key(name: str) -> str:
    """An account name as it is stored and looked up: trimmed, lower case."""
    return name.strip().lower()


def _throttle_key(kind: str, name: str) -> str:
    return f"{kind}:{username_key(name)}"[:160]


@dataclass
class Attempt:
    """The outcome of a guarded attempt (`attempt`): the block sets `succeeded`."""

    succeeded: bool = False


@contextmanager
def attempt(sessions: sessionmaker[Session], key: str, max_failures: int) -> Iterator[Attempt]:
    """Guard an attempt to prove something on `key` (a login name, a claim): attempts on
    one key take turns (a transaction-scoped advisory lock), so that attempts made at once
    are checked one after the other, each counted before the next; while the key is locked
    the attempt is refused (429) unchecked. A success forgets the key's failures; from
    `max_failures` failures on, the key is locked for a period that doubles with each
    failure, up to `MAX_LOCK`, and the count starts afresh only after `FAILURE_WINDOW`
    without a failure or a lock. A block that raises counts as no attempt."""
    with transaction(sessions) as session:
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 7))"), {"key": key}
        )
        now = _now()
        locked_until = session.scalar(
            select(LoginThrottle.locked_until).where(LoginThrottle.key == key)
        )
        if locked_until is not None and locked_until > now:
            wait = int((locked_until - now).total_seconds()) + 1
            raise TooManyRequests("too many failed attempts; try again later", wait)
        outcome = Attempt()
        yield outcome
        if outcome.succeeded:
            clear_attempts(session, key)
        else:
            _count_failure(session, key, max_failures, _now())


def _count_failure(session: Session, key: str, max_failures: int, now: datetime) -> None:
    recent = func.greatest(LoginThrottle.last_failure_at, LoginThrottle.locked_until) > (
        now - FAILURE_WINDOW
    )
    stmt = insert(LoginThrottle).values(key=key, failures=1, last_failure_at=now)
    stmt = stmt.on_conflict_do_update(
        index_elements=[LoginThrottle.key],
        set_={
            "failures": case((recent, LoginThrottle.failures + 1), else_=1),
            "last_failure_at": now,
        },
    ).returning(LoginThrottle.failures)
    failures = session.execute(stmt).scalar_one()
    if failures >= max_failures:
        # The doubling stops at the cap (and its exponent well before it overflows).
        doublings = min(failures - max_failures, _MAX_DOUBLINGS)
        lock = min(timedelta(seconds=30 * 2**doublings), MAX_LOCK)
        session.execute(
            update(LoginThrottle).where(LoginThrottle.key == key).values(locked_until=now + lock)
        )
        account_id = _locked_account(session, key)
        audit.record(
            session,
            principal=None,
            action="lockout",
            object_type="account" if account_id else None,
            object_id=account_id,
            # The name as typed is not kept: people type passwords and phone numbers there.
            detail={
                "attempt": key.split(":", 1)[0],
                "failures": failures,
                "seconds": int(lock.total_seconds()),
            },
        )


def _locked_account(session: Session, key: str) -> uuid.UUID | None:
    """The account a throttle key is about: the claimant's, or the one signing in under
    that name (None for a name no account has)."""
    kind, _, rest = key.partition(":")
    if kind == "claim":
        try:
            return uuid.UUID(rest)
        except ValueError:
            return None
    if kind not in {k.value for k in AccountKind}:
        return None
    return session.scalar(
        select(Account.id).where(Account.username == rest, Account.kind == AccountKind(kind))
    )


def clear_attempts(session: Session, key: str) -> None:
    """A success forgets the key's failures and lock."""
    session.execute(delete(LoginThrottle).where(LoginThrottle.key == key))


def _revoke_refresh_tokens(session: Session, which: ColumnElement[bool]) -> None:
    """Revoke, for good, the refresh tokens `which` selects that are not revoked yet."""
    session.execute(
        update(RefreshToken)
        .where(which, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=_now())
    )


def _hash_refresh(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _new_refresh(
    session: Session,
    runtime: Runtime,
    account_id: uuid.UUID,
    family: uuid.UUID,
    signed_in_at: datetime | None = None,
) -> str:
    """A refresh token of the sign-in `family`, valid for the refresh lifetime but never past
    the sign-in's own end (`session_max_age_seconds` after `signed_in_at`, now for a new one)."""
    now = _now()
    settings = runtime.settings
    ends = _session_end(runtime, signed_in_at or now)
    token = secrets.token_urlsafe(32)
    session.add(
        RefreshToken(
            account_id=account_id,
            family_id=family,
            token_hash=_hash_refresh(token),
            issued_at=now,
            expires_at=min(now + timedelta(seconds=settings.refresh_token_ttl_seconds), ends),
        )
    )
    return token


def sign_in(runtime: Runtime, *, kind: AccountKind, name: str, secret: str) -> IssuedTokens:
    """Password or client-credentials grant; failures are counted and eventually locked out."""
    key = _throttle_key(kind.value, name)
    with attempt(runtime.sessions, key, runtime.settings.login_max_failures) as outcome:
        with runtime.sessions() as session:
            account = session.scalar(
                select(Account).where(Account.username == username_key(name), Account.kind == kind)
            )
            hashed = account.secret_hash if account and account.is_active else None
        outcome.succeeded = passwords.verify_secret(secret, hashed) and account is not None
    if not outcome.succeeded or account is None:
        raise Unauthorized("wrong credentials")
    signed_in_at = _now()
    with transaction(runtime.sessions) as session:
        # Still active: an account disabled while the password was checked gets no sign-in (a
        # refresh token written after the disabling revoked the others would outlive it).
        if (
            session.scalar(
                update(Account)
                .where(Account.id == account.id, Account.is_active)
                .values(last_login_at=signed_in_at)
                .returning(Account.id)
            )
            is None
        ):
            raise Unauthorized("wrong credentials")
        refresh = (
            _new_refresh(session, runtime, account.id, uuid.uuid4(), signed_in_at)
            if kind is AccountKind.user
            else None
        )
    return _with_access(runtime, account.id, kind, signed_in_at, refresh)


def _session_end(runtime: Runtime, signed_in_at: datetime) -> datetime:
    return signed_in_at + timedelta(seconds=runtime.settings.session_max_age_seconds)


def _with_access(
    runtime: Runtime,
    account_id: uuid.UUID,
    kind: AccountKind,
    signed_in_at: datetime,
    refresh: str | None,
) -> IssuedTokens:
    """An access token for the sign-in, expiring no later than the sign-in itself."""
    ends = _session_end(runtime, signed_in_at) if kind is AccountKind.user else None
    access, lifetime = runtime.access_tokens.issue_until(
        account_id, kind=kind.value, not_after=ends.timestamp() if ends else None
    )
    return IssuedTokens(access, lifetime, refresh)


def rotate_refresh(runtime: Runtime, token: str) -> IssuedTokens:
    """Exchange a refresh token for a new pair; a token used twice revokes its whole family."""
    reused: RefreshToken | None = None
    with transaction(runtime.sessions) as session:
        row = session.scalar(
            select(RefreshToken)
            .where(RefreshToken.token_hash == _hash_refresh(token))
            .with_for_update()
        )
        if row is None:
            raise Unauthorized("unknown refresh token")
        if row.used_at is not None or row.revoked_at is not None:
            reused = row
            _revoke_refresh_tokens(session, RefreshToken.family_id == row.family_id)
            audit.record(
                session,
                principal=None,
                action="refresh_token.reused",
                object_type="account",
                object_id=row.account_id,
                detail={"family_id": str(row.family_id)},
            )
        elif row.expires_at <= _now():
            raise Unauthorized("the refresh token has expired")
        else:
            active = session.scalar(select(Account.is_active).where(Account.id == row.account_id))
            if not active:
                raise Unauthorized("the account is disabled")
            row.used_at = _now()
            signed_in_at = session.scalar(
                select(func.min(RefreshToken.issued_at)).where(
                    RefreshToken.family_id == row.family_id
                )
            )
            new_token = _new_refresh(session, runtime, row.account_id, row.family_id, signed_in_at)
            account_id = row.account_id
    if reused is not None:
        raise Unauthorized("refresh token reuse detected; sign in again")
    return _with_access(runtime, account_id, AccountKind.user, signed_in_at, new_token)


def create_account(
    session: Session,
    *,
    username: str,
    secret: str,
    role: Role,
    org_code: str | None = None,
    kind: AccountKind = AccountKind.user,
    person_id: uuid.UUID | None = None,
    display_name: str | None = None,
    actor: str = "cli",
) -> Account:
    """A new account holding one role; organisation roles name their organisation."""
    name = username_key(username)
    if not name or len(name) > 128 or any(c.isspace() for c in name):
        raise InvalidField("username", "must be 1 to 128 characters without spaces")
    if kind is AccountKind.user:
        try:
            passwords.check_strength(secret)
        except ValueError as exc:
            raise InvalidField("password", str(exc)) from None
    if session.scalar(select(Account.id).where(Account.username == name)):
        raise InvalidField("username", "already taken")
    if person_id is not None:
        _check_unlinked_profile(session, person_id)
    account = Account(
        username=name,
        kind=kind,
        secret_hash=passwords.hash_secret(secret),
        person_id=person_id,
        display_name=display_name,
    )
    session.add(account)
    session.flush()
    grant(session, account_id=account.id, role=role, org_code=org_code)
    if person_id is not None:  # as a link made through the API is
        history.record(
            session,
            entity="person",
            entity_id=person_id,
            changes=[("account", None, name)],
            actor=actor,
            source=actor,
            reason="linked when the account was created",
        )
    audit.record(
        session,
        principal=None,
        actor=actor,
        action="account.created",
        object_type="account",
        object_id=account.id,
        detail={
            "username": name,
            "kind": kind.value,
            "role": role.value,
            "org": org_code,
            **({"person_id": str(person_id)} if person_id else {}),
        },
    )
    return account


def set_active(
    session: Session,
    *,
    username: str,
    active: bool,
    kind: AccountKind | None = None,
    actor: str = "cli",
) -> Account:
    """Disable an account (its sign-ins end: access tokens are refused once the principal
    cache expires, and every refresh token is revoked for good, so enabling it again needs a
    new sign-in) or enable it again."""
    query = select(Account).where(Account.username == username_key(username))
    if kind is not None:
        query = query.where(Account.kind == kind)
    account = session.scalar(query.with_for_update())
    if account is None:
        raise NotFound("account")
    account.is_active = active
    if not active:
        _revoke_refresh_tokens(session, RefreshToken.account_id == account.id)
    audit.record(
        session,
        principal=None,
        actor=actor,
        action="account.enable" if active else "account.disable",
        object_type="account",
        object_id=account.id,
        detail={"username": account.username, "kind": account.kind},
    )
    session.flush()
    return account


def list_accounts(
    session: Session,
    *,
    org_code: str | None = None,
    role: Role | None = None,
    kind: AccountKind | None = None,
    limit: int = 200,
) -> list[dict[str, object]]:
    """Accounts by name, each with its grants (role and organisation code), whether it is
    active, its profile and its last sign-in; `org_code` keeps those holding a role there."""
    grants = (
        select(
            RoleGrant.account_id,
            func.array_agg(
                func.concat(RoleGrant.role, func.coalesce(" in " + Organisation.code, ""))
            ).label("grants"),
        )
        .outerjoin(Organisation, Organisation.id == RoleGrant.org_id)
        .group_by(RoleGrant.account_id)
        .subquery()
    )
    query = (
        select(Account, grants.c.grants)
        .outerjoin(grants, grants.c.account_id == Account.id)
        .order_by(Account.username)
        .limit(limit)
    )
    held = select(RoleGrant.account_id).outerjoin(Organisation, Organisation.id == RoleGrant.org_id)
    if org_code is not None:
        code = org_service.canonical_code(org_code)
        query = query.where(Account.id.in_(held.where(Organisation.code == code)))
    if role is not None:
        query = query.where(Account.id.in_(held.where(RoleGrant.role == role)))
    if kind is not None:
        query = query.where(Account.kind == kind)
    return [
        {
            "username": account.username,
            "kind": account.kind,
            "active": account.is_active,
            "grants": sorted(found or []),
            "person_id": str(account.person_id) if account.person_id else None,
            "last_login_at": account.last_login_at.isoformat() if account.last_login_at else None,
        }
        for account, found in session.execute(query)
    ]


def _check_unlinked_profile(session: Session, person_id: uuid.UUID) -> None:
    """One profile, one account (as linking through the API keeps it)."""
    from ..people.models import Person

    if session.scalar(select(Person.id).where(Person.id == person_id)) is None:
        raise InvalidField("person_id", "no profile has this id")
    if session.scalar(select(Account.id).where(Account.person_id == person_id).limit(1)):
        raise Conflict("the profile is linked to an account already", "person_id")


def grant(
    session: Session, *, account_id: uuid.UUID, role: Role, org_code: str | None
) -> RoleGrant:
    org_id = None
    if role in ORG_ROLES and not org_code:
        raise InvalidField("org", f"the {role.value} role needs an organisation")
    if role is Role.platform_admin and org_code:
        raise InvalidField("org", "the platform_admin role is platform-wide")
    if org_code:
        org_id = session.scalar(select(Organisation.id).where(Organisation.code == org_code))
        if org_id is None:
            raise InvalidField("org", "no organisation has this code")
    row = RoleGrant(account_id=account_id, role=role, org_id=org_id)
    session.add(row)
    session.flush()
    return row
