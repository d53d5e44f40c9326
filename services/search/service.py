"""Expert search: validate and analyse the request, apply conflict rules, ask the backend."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registry.core import clock
from services.registry.core.clock import years_before
from services.registry.core.disciplines import first_level
from services.registry.core.errors import InvalidField, ProblemError
from services.registry.core.ids import region_name, region_prefix
from services.registry.orgs.models import Organisation
from services.registry.people.models import Person

from . import analysis, conflicts
from .highlight import highlights
from .protocol import FACETS, ExpertQuery, SearchBackend, SearchUnavailable
from .schemas import ExpertHitRead, ExpertSearchRequest, ExpertSearchResponse, Facets


def _fingerprint(body: ExpertSearchRequest) -> str:
    canonical = body.model_dump(mode="json", exclude={"cursor", "limit"})
    digest = hashlib.sha256(json.dumps(canonical, sort_keys=True).encode()).hexdigest()
    return digest[:16]


def encode_cursor(score: float, person_id: uuid.UUID, fingerprint: str) -> str:
    raw = json.dumps({"s": score, "id": str(person_id), "f": fingerprint}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str) -> tuple[float, uuid.UUID]:
    try:
        data = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        score, person_id, owner = float(data["s"]), uuid.UUID(data["id"]), data["f"]
        if not math.isfinite(score):
            raise ValueError("not a score")
    except (binascii.Error, ValueError, KeyError, TypeError, AttributeError, OverflowError):
        raise InvalidField("cursor", "malformed cursor; pass next_cursor back unchanged") from None
    if owner != fingerprint:
        raise InvalidField("cursor", "the cursor belongs to a different query")
    return score, person_id


def build_query(session: Session, body: ExpertSearchRequest, today: date) -> ExpertQuery | None:
    """The backend query, or None when the text has nothing searchable (only punctuation).
    Every filter is checked first, so a bad one is refused whatever the text."""
    for i, code in enumerate(body.discipline_codes):
        if code[:3] not in first_level():
            raise InvalidField(f"discipline_codes.{i}", "unknown GB/T 13745 discipline")
    regions = tuple(_region_prefix(i, code) for i, code in enumerate(body.region_codes))
    if body.age_min is not None and body.age_max is not None and body.age_min > body.age_max:
        raise InvalidField("age_min", "must not exceed age_max")
    if body.org_codes:
        known = set(
            session.scalars(select(Organisation.code).where(Organisation.code.in_(body.org_codes)))
        )
        for i, code in enumerate(body.org_codes):
            if code not in known:
                raise InvalidField(f"org_codes.{i}", "no organisation has this code")
    exclusions = conflicts.excluded_ids(body.exclude_person_ids)
    if body.conflicts_with is not None:
        person = session.get(Person, body.conflicts_with)
        if person is None:
            raise InvalidField("conflicts_with", "no person has this id")
        exclusions = conflicts.merge(exclusions, conflicts.exclusions_for(session, person))
    terms = tuple(analysis.query_terms(body.q))
    if body.q and body.q.strip() and not terms:
        return None
    return ExpertQuery(
        terms=terms,
        phrase=analysis.phrase_token(body.q) if body.q else None,
        discipline_codes=tuple(body.discipline_codes),
        region_codes=tuple(dict.fromkeys(regions)),
        title_levels=tuple(body.title_levels),
        gender=body.gender,
        born_after=years_before(today, body.age_max + 1) if body.age_max is not None else None,
        born_on_or_before=years_before(today, body.age_min) if body.age_min is not None else None,
        org_codes=tuple(body.org_codes),
        exclusions=exclusions,
        limit=body.limit,
    )


def _region_prefix(index: int, code: str) -> str:
    """The prefix a GB/T 2260 code stands for (`region_prefix`); refused when no region has it."""
    prefix = region_prefix(code)
    if region_name(prefix.ljust(6, "0")) is None:
        raise InvalidField(f"region_codes.{index}", "unknown GB/T 2260 region")
    return prefix


def search_experts(
    session: Session,
    backend: SearchBackend,
    body: ExpertSearchRequest,
    today: date | None = None,
) -> ExpertSearchResponse:
    fingerprint = _fingerprint(body)
    after = decode_cursor(body.cursor, fingerprint) if body.cursor else None
    query = build_query(session, body, today or clock.today())
    empty = Facets(**{name: {} for name in FACETS})
    if query is None:
        return ExpertSearchResponse(total=0, hits=[], facets=empty, next_cursor=None)
    if after is not None:
        query = ExpertQuery(**{**query.__dict__, "after": after})
    try:
        result = backend.search(session, query)
    except SearchUnavailable:
        raise ProblemError(
            "expert search is temporarily unavailable; try again shortly",
            503,
            "search-unavailable",
            headers={"Retry-After": "10"},
        ) from None
    hits = result.hits[: body.limit]
    next_cursor = None
    if len(result.hits) > body.limit and hits:
        next_cursor = encode_cursor(hits[-1].score, hits[-1].person_id, fingerprint)
    return ExpertSearchResponse(
        total=result.total,
        hits=[
            ExpertHitRead(
                person_id=h.person_id,
                name=h.document.name,
                institution=h.document.institution,
                title_level=h.document.title_level,
                discipline_codes=list(h.document.discipline_codes),
                research_fields=list(h.document.research_fields),
                region_code=h.document.region_code,
                score=round(h.score, 6),
                highlights=highlights(h.document, query.tokens),
            )
            for h in hits
        ],
        facets=Facets(**result.facets),
        next_cursor=next_cursor,
        approximate=result.approximate or None,
    )
