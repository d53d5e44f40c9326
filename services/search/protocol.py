"""The search contract: one query model, one answer shape, and the protocol both backends follow."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Protocol

from sqlalchemy.orm import Session, sessionmaker

from .documents import ExpertDocument

FACETS = ("discipline_codes", "region_codes", "title_level", "gender")


class SearchUnavailable(Exception):
    """The search engine cannot answer now; writes still succeed and the outbox keeps them."""


@dataclass(frozen=True)
class Exclusions:
    """Who a query must leave out: named people, and anyone matching a conflict rule."""

    person_ids: frozenset[uuid.UUID] = frozenset()
    institution_keys: frozenset[str] = frozenset()
    institution_usccs: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ExpertQuery:
    """A validated, analysed expert query as both backends receive it."""

    terms: tuple[tuple[str, tuple[str, ...]], ...] = ()  # each word, and parts standing for it
    phrase: str | None = None  # the phrase token of the whole query, for the exact-phrase boost
    discipline_codes: tuple[str, ...] = ()
    region_codes: tuple[str, ...] = ()
    title_levels: tuple[str, ...] = ()
    gender: str | None = None
    born_after: date | None = None  # exclusive bound from age_max
    born_on_or_before: date | None = None  # inclusive bound from age_min
    org_codes: tuple[str, ...] = ()
    exclusions: Exclusions = field(default_factory=Exclusions)
    limit: int = 20
    after: tuple[float, uuid.UUID] | None = None  # (score, person_id) ending the previous page

    @property
    def tokens(self) -> tuple[str, ...]:
        """Every word and part, for highlighting."""
        return tuple(dict.fromkeys(t for word, parts in self.terms for t in (word, *parts)))


@dataclass(frozen=True)
class ExpertHit:
    person_id: uuid.UUID
    score: float
    document: ExpertDocument


@dataclass
class SearchResult:
    total: int
    hits: list[ExpertHit]
    facets: dict[str, dict[str, int]]
    approximate: dict[str, str] = field(default_factory=dict)  # what was estimated, and how


class SearchBackend(Protocol):
    """Where expert documents live and how they are queried."""

    name: str

    def apply(
        self,
        session: Session,
        upserts: list[ExpertDocument],
        deletes: list[tuple[uuid.UUID, int]],
    ) -> None:
        """Write documents and tombstones idempotently: a lower version never wins.

        `session` is the caller's transaction (the outbox drain); a backend in the same
        database writes inside it, so the index and the outbox commit together.
        """
        ...

    def search(self, session: Session, query: ExpertQuery) -> SearchResult: ...

    def count(self, session: Session) -> int:
        """Documents in the live index."""
        ...

    def get(self, session: Session, person_id: uuid.UUID) -> ExpertDocument | None: ...

    def rebuild(self, sessions: sessionmaker[Session]) -> dict[str, Any]:
        """Build a new index from PostgreSQL, swap it in atomically, replay what came meanwhile."""
        ...
