"""Conflict-of-interest rules: who must not judge a given person. The list is meant to grow."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from services.registry.people.models import Person

from .analysis import institution_key
from .protocol import Exclusions

# A rule looks at the person and says whom (ids, institutions) to leave out.
ConflictRule = Callable[[Session, Person], Exclusions]


def self_rule(session: Session, person: Person) -> Exclusions:
    """Nobody judges themselves."""
    return Exclusions(person_ids=frozenset({person.id}))


def same_institution_rule(session: Session, person: Person) -> Exclusions:
    """Colleagues at the same current institution, by normalised name or by USCC."""
    key = institution_key(person.institution)
    return Exclusions(
        institution_keys=frozenset({key}) if key else frozenset(),
        institution_usccs=frozenset({person.institution_uscc})
        if person.institution_uscc
        else frozenset(),
    )


RULES: list[ConflictRule] = [self_rule, same_institution_rule]


def register(rule: ConflictRule) -> ConflictRule:
    """Add a rule (other modules, such as awards, contribute theirs)."""
    RULES.append(rule)
    return rule


def merge(*parts: Exclusions) -> Exclusions:
    return Exclusions(
        person_ids=frozenset().union(*(p.person_ids for p in parts)),
        institution_keys=frozenset().union(*(p.institution_keys for p in parts)),
        institution_usccs=frozenset().union(*(p.institution_usccs for p in parts)),
    )


def exclusions_for(session: Session, person: Person) -> Exclusions:
    return merge(*(rule(session, person) for rule in RULES))


def excluded_ids(ids: list[uuid.UUID]) -> Exclusions:
    return Exclusions(person_ids=frozenset(ids))
