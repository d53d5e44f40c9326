"""HTTP: a member's certificate, and public, rate-limited verification of any certificate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import ratelimit
from ..core.deps import PUBLIC, RuntimeDep, SessionDep, require_any
from ..core.errors import InvalidField
from ..core.problem_docs import problems
from ..core.runtime import Runtime
from . import certificates
from .schemas import CertificateRead, CertificateVerification, VerifyBody

router = APIRouter(prefix="/api/v1", tags=["certificates"])


@router.get(
    "/memberships/{membership_id}/certificate",
    response_model=CertificateRead,
    responses=problems(409),
)
def get_certificate(
    session: SessionDep,
    runtime: RuntimeDep,
    principal: Annotated[
        Principal, Depends(require_any(Permission.memberships_read, Permission.self_read))
    ],
    membership_id: uuid.UUID,
) -> CertificateRead:
    """The member's own certificate, or one of a membership in the caller's scope: 409 unless
    the membership is in good standing (active or in grace)."""
    return certificates.issue(
        session,
        principal=principal,
        keys=runtime.keys,
        settings=runtime.settings,
        membership_id=membership_id,
        now=datetime.now(UTC),
    )


def _limit(request: Request, runtime: Runtime) -> None:
    """A public endpoint must not become an oracle for bulk checks."""
    ratelimit.limit_address(
        runtime,
        request,
        name="certificates-verify",
        limit=runtime.settings.verify_rate_limit,
        window=runtime.settings.verify_rate_window_seconds,
        detail="too many verifications from this address; try later",
    )


@router.post(
    "/certificates/verify",
    response_model=CertificateVerification,
    dependencies=[PUBLIC],
    responses=problems(429),
)
def verify_certificate(
    request: Request, session: SessionDep, runtime: RuntimeDep, body: VerifyBody
) -> CertificateVerification:
    """Anyone, no sign-in: is this certificate genuine and its membership in good standing
    now? Always 200 with `valid` and a `status` (and a `reason` when not valid); 429 with
    `Retry-After` beyond the rate limit per client address."""
    _limit(request, runtime)
    return certificates.verify(
        session, keys=runtime.keys, settings=runtime.settings, token=body.token
    )


@router.get(
    "/certificates/verify",
    response_model=CertificateVerification,
    dependencies=[PUBLIC],
    responses=problems(429),
)
def verify_certificate_link(
    request: Request,
    session: SessionDep,
    runtime: RuntimeDep,
    id: Annotated[uuid.UUID | None, Query(description="certificate id (the QR link)")] = None,
    token: Annotated[str | None, Query(min_length=1, max_length=8192)] = None,
) -> CertificateVerification:
    """The same check for the link in the certificate's QR code (`verify_url`, which names
    the certificate by its id), or for a token given as `?token=`."""
    if (id is None) == (token is None):
        raise InvalidField("id", "give either the certificate id or its token")
    _limit(request, runtime)
    if id is not None:
        return certificates.verify_by_id(
            session, keys=runtime.keys, settings=runtime.settings, certificate_id=id
        )
    assert token is not None
    return certificates.verify(session, keys=runtime.keys, settings=runtime.settings, token=token)
