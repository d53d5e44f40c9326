"""The expert document: built in this one place from database rows, for both backends."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.registry.core.clock import age_on
from services.registry.core.disciplines import labels_of, prefixes
from services.registry.memberships.models import Membership
from services.registry.orgs.models import Organisation
from services.registry.people.models import Person

from . import analysis

_TITLE_PRIOR = {"senior": 1.0, "associate_senior": 0.7, "intermediate": 0.4, "junior": 0.2}
_GRADE_PRIOR = {"fellow": 0.5, "honorary": 0.3, "senior": 0.2}


@dataclass(frozen=True)
class ExpertDocument:
    """What the index knows of an expert: public profile fields and tokens, no contact data."""

    person_id: uuid.UUID
    version: int
    name: str
    name_en: str | None
    gender: str | None
    birth_date: date | None
    age_band: str | None
    title_level: str | None
    position: str | None
    institution: str | None
    institution_key: str | None
    institution_uscc: str | None
    region_code: str | None
    discipline_codes: tuple[str, ...]
    research_fields: tuple[str, ...]
    talent_tags: tuple[str, ...]
    biography: str | None
    org_codes: tuple[str, ...]
    prior: float
    name_tokens: tuple[str, ...] = field(default=(), repr=False)
    field_tokens: tuple[str, ...] = field(default=(), repr=False)
    discipline_tokens: tuple[str, ...] = field(default=(), repr=False)
    institution_tokens: tuple[str, ...] = field(default=(), repr=False)
    bio_tokens: tuple[str, ...] = field(default=(), repr=False)

    @property
    def region_prefixes(self) -> tuple[str, ...]:
        """`110108` -> (`11`, `1101`, `110108`): what a region filter may name."""
        code = self.region_code
        return tuple(code[:n] for n in (2, 4, 6)) if code else ()

    @property
    def discipline_prefixes(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p for code in self.discipline_codes for p in prefixes(code)))

    @property
    def province(self) -> str | None:
        return self.region_code[:2] + "0000" if self.region_code else None

    @property
    def disciplines_l1(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c[:3] for c in self.discipline_codes))


def is_indexed(person: Person) -> bool:
    """Only experts who opted in and whose profile is active are searchable."""
    return bool(person.expert_opt_in) and person.status == "active"


def _age_band(birth: date | None, today: date) -> str | None:
    if birth is None:
        return None
    low = max(0, age_on(birth, today) // 10 * 10)
    return f"{low}-{low + 9}"


def build(
    person: Person, version: int, memberships: list[tuple[str, str]], today: date
) -> ExpertDocument:
    """One document from a person and their active memberships (org code, grade)."""
    disciplines = tuple(person.discipline_codes or ())
    fields = tuple(person.research_fields or ())
    discipline_words: list[str] = []
    for code in disciplines:
        discipline_words.append(code)
        for label in labels_of(code):
            discipline_words.extend(analysis.index_tokens(label))
    prior = _TITLE_PRIOR.get(person.title_level or "", 0.1)
    prior += max((_GRADE_PRIOR.get(grade, 0.0) for _, grade in memberships), default=0.0)
    prior += 0.1 * min(len(memberships), 3) + 0.05 * min(len(fields), 4)
    bio_text = " ".join(p for p in (person.position, person.biography, *person.talent_tags) if p)
    return ExpertDocument(
        person_id=person.id,
        version=version,
        name=person.name,
        name_en=person.name_en,
        gender=person.gender,
        birth_date=person.birth_date,
        age_band=_age_band(person.birth_date, today),
        title_level=person.title_level,
        position=person.position,
        institution=person.institution,
        institution_key=analysis.institution_key(person.institution),
        institution_uscc=person.institution_uscc,
        region_code=person.region_code,
        discipline_codes=disciplines,
        research_fields=fields,
        talent_tags=tuple(person.talent_tags or ()),
        biography=person.biography,
        org_codes=tuple(sorted({code for code, _ in memberships})),
        prior=round(prior, 4),
        name_tokens=tuple(analysis.name_tokens(person.name, person.name_en)),
        field_tokens=tuple(
            analysis.dedupe(
                [t for f in fields for t in analysis.index_tokens(f)]
                + analysis.phrase_tokens(list(fields))
            )
        ),
        discipline_tokens=tuple(dict.fromkeys(discipline_words)),
        institution_tokens=tuple(analysis.index_tokens(person.institution)),
        bio_tokens=tuple(analysis.index_tokens(bio_text)),
    )


def load(
    session: Session, versions: dict[uuid.UUID, int], today: date | None = None
) -> tuple[list[ExpertDocument], list[tuple[uuid.UUID, int]]]:
    """Current documents for these people, and tombstones for those no longer searchable."""
    today = today or date.today()
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(list(versions))))}
    memberships: dict[uuid.UUID, list[tuple[str, str]]] = {}
    rows = session.execute(
        select(Membership.person_id, Organisation.code, Membership.grade)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(
            Membership.person_id.in_(list(people)),
            Membership.status.in_(("active", "grace")),  # in good standing
        )
    )
    for person_id, code, grade in rows:
        memberships.setdefault(person_id, []).append((code, grade))
    docs, tombstones = [], []
    for person_id, version in versions.items():
        person = people.get(person_id)
        if person is not None and is_indexed(person):
            docs.append(build(person, version, memberships.get(person_id, []), today))
        else:
            tombstones.append((person_id, version))
    return docs, tombstones


_TOKEN_FIELDS = (
    "name_tokens",
    "field_tokens",
    "discipline_tokens",
    "institution_tokens",
    "bio_tokens",
)


def to_json(doc: ExpertDocument) -> str:
    """The stored form of a document's public fields (tokens are rebuilt, never stored twice)."""
    data = {k: v for k, v in doc.__dict__.items() if k not in _TOKEN_FIELDS}
    data["person_id"] = str(doc.person_id)
    data["birth_date"] = doc.birth_date.isoformat() if doc.birth_date else None
    return json.dumps(data, ensure_ascii=False)


def from_json(text: str) -> ExpertDocument:
    data = json.loads(text)
    data["person_id"] = uuid.UUID(data["person_id"])
    data["birth_date"] = date.fromisoformat(data["birth_date"]) if data["birth_date"] else None
    for key in ("discipline_codes", "research_fields", "talent_tags", "org_codes"):
        data[key] = tuple(data[key])
    return ExpertDocument(**data)
