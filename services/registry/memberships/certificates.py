"""Verifiable membership certificates (会员认证): a compact JWS signed with the service's keys.

The token is an RS256 JWT signed by the same key set as access tokens (one JWKS at
`/.well-known/jwks.json`) but with its own audience, so a certificate is never accepted as an
access token nor the other way round. Anyone can check it offline with the JWKS (signature,
`aud`, `iss`, `exp`); `POST /api/v1/certificates/verify` also answers whether the membership
is in good standing now, which a signature alone cannot say.
"""

from __future__ import annotations

import hashlib
import io
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta

import segno
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..auth.tokens import CLOCK_SKEW, InvalidToken, KeySet
from ..core import history
from ..core.clock import ZONE
from ..core.config import Settings
from ..core.errors import NotFound, ProblemError
from ..orgs import service as org_service
from ..orgs.models import Organisation, OrgStatus
from ..people.models import Person
from .models import (
    GOOD_STANDING,
    Membership,
    MembershipCertificate,
    MembershipStatus,
    MembershipType,
)
from .schemas import CertificateRead, CertificateVerification

AUDIENCE = "registry-certificate"
TOKEN_USE = "membership_certificate"  # noqa: S105 - a claim value, not a secret
# A certificate of a membership without an end date is re-issued at least yearly.
OPEN_ENDED = timedelta(days=365)

_REASONS = {
    "malformed token": "not a certificate: the token is malformed",
    "unexpected algorithm": "not signed the way this registry signs (RS256)",
    "unknown key id": "signed by a key this registry does not know",
    "ExpiredSignatureError": "the certificate has expired",
    "NotYetValid": "the certificate is not valid yet (nbf)",
    "JWTClaimsError": "not a membership certificate of this registry (audience or issuer)",
    "JWTError": "the signature does not match: the certificate was altered or forged",
}


def _end_of_day(day: date) -> datetime:
    """The first instant after `day` in Beijing time, as UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=ZONE).astimezone(UTC)


def _load(
    session: Session, membership_id: uuid.UUID
) -> tuple[Membership, Organisation, Person, MembershipType | None] | None:
    row = session.execute(
        select(Membership, Organisation, Person, MembershipType)
        .join(Organisation, Organisation.id == Membership.org_id)
        .join(Person, Person.id == Membership.person_id)
        .outerjoin(MembershipType, MembershipType.id == Membership.type_id)
        .where(Membership.id == membership_id)
    ).first()
    return (row[0], row[1], row[2], row[3]) if row else None


def _visible(session: Session, principal: Principal, membership_id: uuid.UUID):  # type: ignore[no-untyped-def]
    """The membership for its member, or for staff whose scope covers its organisation."""
    found = _load(session, membership_id)
    if found is None:
        raise NotFound("membership")
    membership, org, _person, _kind = found
    own = principal.person_id is not None and principal.person_id == membership.person_id
    if not own and not principal.covers_path(Permission.memberships_read, org.path):
        raise NotFound("membership")
    return found


def issue(
    session: Session,
    *,
    principal: Principal,
    keys: KeySet,
    settings: Settings,
    membership_id: uuid.UUID,
    now: datetime,
) -> CertificateRead:
    """The membership's current certificate: the same one while what it asserts is unchanged,
    it is unexpired and its key still signs, a new one (new id) otherwise (after a key rotation
    the retired key may be dropped from the JWKS before the old certificate would have
    expired). Only a membership in good standing has one."""
    membership, org, person, kind = _visible(session, principal, membership_id)
    org_service.refuse_closed(
        org,
        "the society has left the federation: its memberships are no longer certified",
        org_service.EXITED,
    )
    if membership.status not in GOOD_STANDING:
        raise ProblemError(
            f"the membership is {membership.status}: only a membership in good standing"
            " (active or in grace) has a certificate",
            409,
            "not-in-good-standing",
        )
    asserted = {
        "org": org.code,
        "org_name": org.name,
        "name": person.name,
        "grade": membership.grade,
        "member_no": membership.member_no,
        "valid_until": membership.valid_until.isoformat() if membership.valid_until else None,
    }
    digest = hashlib.sha256(
        json.dumps(asserted, sort_keys=True, ensure_ascii=False).encode()
    ).hexdigest()
    if membership.valid_until is not None:
        grace = timedelta(days=kind.grace_days if kind else 0)
        expires = _end_of_day(membership.valid_until + grace)
        # It ends with the membership: the one that does is kept to the last day.
        fresh = MembershipCertificate.expires_at == expires
    else:
        expires = now + OPEN_ENDED
        fresh = MembershipCertificate.expires_at > now + timedelta(days=1)
    current = session.scalar(
        select(MembershipCertificate)
        .where(
            MembershipCertificate.membership_id == membership.id,
            MembershipCertificate.digest == digest,
            fresh,
        )
        .order_by(MembershipCertificate.issued_at.desc())
        .limit(1)
    )
    if current is None or not keys.signs_now(current.token):
        certificate_id = uuid.uuid4()
        issued = int(now.timestamp())
        token = keys.sign(
            {
                "iss": settings.issuer,
                "aud": AUDIENCE,
                "sub": str(membership.id),
                "jti": str(certificate_id),
                "iat": issued,
                "nbf": issued - CLOCK_SKEW,
                "exp": int(expires.timestamp()),
                "token_use": TOKEN_USE,
                **asserted,
            }
        )
        current = MembershipCertificate(
            id=certificate_id,
            membership_id=membership.id,
            digest=digest,
            token=token,
            issued_at=datetime.fromtimestamp(issued, UTC),
            expires_at=expires,
            issued_by=history.actor_of(principal),
        )
        session.add(current)
        session.flush()
    # The link names the certificate rather than carrying its token: a token with long names
    # outgrows a QR code, and a short link gives a small code that scans from paper.
    verify_url = f"{settings.public_url.rstrip('/')}/api/v1/certificates/verify?id={current.id}"
    return CertificateRead(
        certificate_id=current.id,
        token=current.token,
        verify_url=verify_url,
        qr_svg=qr_svg(verify_url),
        issued_at=current.issued_at,
        expires_at=current.expires_at,
        **{k: asserted[k] for k in ("name", "grade", "member_no")},
        org_code=org.code,
        org_name=org.name,
        valid_until=membership.valid_until,
    )


def qr_svg(url: str) -> str:
    """A standalone SVG QR code of `url` (error correction M, or L when M cannot hold it; a
    quiet zone of 4 modules)."""
    buffer = io.BytesIO()
    try:
        code = segno.make(url, error="m")
    except segno.DataOverflowError:  # long names: the low level holds a quarter more
        code = segno.make(url, error="l")
    code.save(buffer, kind="svg", scale=4, xmldecl=False)
    return buffer.getvalue().decode()


def verify_by_id(
    session: Session, *, keys: KeySet, settings: Settings, certificate_id: uuid.UUID
) -> CertificateVerification:
    """The check of `verify` on the certificate this registry issued under that id (loaded
    once: `verify` finds it again in the session)."""
    certificate = session.get(MembershipCertificate, certificate_id)
    if certificate is None:
        return CertificateVerification(
            valid=False,
            status="unknown",
            reason="this registry has no record of the certificate",
            certificate_id=certificate_id,
        )
    return verify(session, keys=keys, settings=settings, token=certificate.token)


def verify(
    session: Session, *, keys: KeySet, settings: Settings, token: str
) -> CertificateVerification:
    """Genuine, current, and the membership in good standing now: `valid`. Otherwise
    `valid` is false with the membership's status (`revoked` when terminated) or what is wrong
    with the token (`invalid`, `expired`, `unknown`) and a reason."""
    try:
        claims = keys.verify(token, audience=AUDIENCE, issuer=settings.issuer)
    except InvalidToken as exc:
        reason = _REASONS.get(str(exc), "not a valid certificate")
        status = "expired" if str(exc) == "ExpiredSignatureError" else "invalid"
        return CertificateVerification(valid=False, status=status, reason=reason)
    if claims.get("token_use") != TOKEN_USE:
        return CertificateVerification(
            valid=False, status="invalid", reason="not a membership certificate"
        )
    try:
        certificate_id = uuid.UUID(str(claims.get("jti")))
    except ValueError:
        return CertificateVerification(valid=False, status="invalid", reason="malformed claims")
    certificate = session.get(MembershipCertificate, certificate_id)
    found = _load(session, certificate.membership_id) if certificate else None
    # The certificate's record, not its `sub`, names the membership: a merge of two profiles
    # moves certificates to the membership that remains.
    if certificate is None or found is None:
        return CertificateVerification(
            valid=False,
            status="unknown",
            reason="this registry has no record of the certificate",
            certificate_id=certificate_id,
        )
    membership, org, person, _kind = found
    status = "revoked" if membership.status == MembershipStatus.terminated else membership.status
    # A society that exited no longer certifies anyone; one suspended still has its members.
    valid = membership.status in GOOD_STANDING and org.status != OrgStatus.exited
    reason = None
    if org.status == OrgStatus.exited:
        reason = f"{org.name} has left the federation (exited): no membership of it is certified"
    elif not valid:
        reason = {
            "revoked": f"the membership ended ({membership.termination_reason or 'terminated'})",
            MembershipStatus.suspended: "the membership is suspended",
            MembershipStatus.lapsed: "the membership has lapsed",
            MembershipStatus.pending: "the membership is not yet approved",
        }.get(status, f"the membership is {status}")
    return CertificateVerification(
        valid=valid,
        status=status,
        reason=reason,
        certificate_id=certificate.id,
        issued_at=certificate.issued_at,
        org_code=org.code,
        org_name=org.name,
        member_no=membership.member_no,
        grade=membership.grade,
        name=person.name,
        valid_until=membership.valid_until,
    )
