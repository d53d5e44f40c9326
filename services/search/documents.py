"""The expert document: built in this one place from database rows, for both backends."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from json.encoder import encode_basestring  # what json.dumps(..., ensure_ascii=False) uses
from typing import NamedTuple

from sqlalchemy import text
from sqlalchemy.orm import Session

from services.registry.core.clock import age_on
from services.registry.core.disciplines import first_level, labels_of, prefixes

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
        return region_prefixes(self.region_code)

    @property
    def discipline_prefixes(self) -> tuple[str, ...]:
        return discipline_prefixes(self.discipline_codes)

    @property
    def province(self) -> str | None:
        return self.region_code[:2] + "0000" if self.region_code else None

    @property
    def disciplines_l1(self) -> tuple[str, ...]:
        return _first_levels(self.discipline_codes)


def region_prefixes(code: str | None) -> tuple[str, ...]:
    """`110108` -> (`11`, `1101`, `110108`): what a region filter may name."""
    return tuple(code[:n] for n in (2, 4, 6)) if code else ()


@lru_cache(maxsize=1 << 14)
def _first_levels(codes: tuple[str, ...]) -> tuple[str, ...]:
    """The first-level disciplines the codes fall under, as facet values: those of the GB/T
    13745 table (a filter can name no other), so every backend and path counts the same."""
    table = first_level()
    return tuple(dict.fromkeys(c[:3] for c in codes if c[:3] in table))


@lru_cache(maxsize=1 << 14)
def discipline_prefixes(codes: tuple[str, ...]) -> tuple[str, ...]:
    """What a discipline filter may name of these codes: `13015` -> `130`, `13015`."""
    return tuple(dict.fromkeys(p for code in codes for p in prefixes(code)))


class ExpertSource(NamedTuple):
    """One person as the document needs them: a row of SOURCE_SQL, the same for every reader.

    The outbox drain and the rebuild both read people through SOURCE_SQL and build through
    `build`, so a document cannot depend on which of them wrote it.
    """

    person_id: uuid.UUID
    name: str
    name_en: str | None
    gender: str | None
    birth_date: date | None
    title_level: str | None
    position: str | None
    institution: str | None
    institution_uscc: str | None
    region_code: str | None
    biography: str | None
    discipline_codes: list[str] | None
    research_fields: list[str] | None
    talent_tags: list[str] | None
    expert_opt_in: bool
    status: str
    org_codes: list[str] | None  # memberships in good standing: organisation codes ...
    grades: list[str] | None  # ... and the grade of each, in the same order


# Columns in ExpertSource order; memberships in good standing (active, or within their grace
# period) aggregated per person. `{where}` selects the people (searchable ones, or by id). Each
# membership's organisation code is looked up by key: joined, the few hundred organisations
# were hashed again for every person (at 1M experts, 14.8 s of the server's time against 3.3 s).
SOURCE_SQL = """
SELECT p.id, p.name, p.name_en, p.gender, p.birth_date, p.title_level, p.position,
       p.institution, p.institution_uscc, p.region_code, p.biography,
       p.discipline_codes, p.research_fields, p.talent_tags, p.expert_opt_in, p.status,
       m.org_codes, m.grades
FROM person p
LEFT JOIN LATERAL (
    SELECT array_agg((SELECT o.code FROM organisation o WHERE o.id = ms.org_id)) AS org_codes,
           array_agg(ms.grade) AS grades
    FROM membership ms
    WHERE ms.person_id = p.id AND ms.status IN ('active', 'grace')
) m ON true
WHERE {where}
"""
# Only experts who opted in and whose profile is active are searchable.
SEARCHABLE = "p.expert_opt_in AND p.status = 'active'"


def is_indexed(source: ExpertSource) -> bool:
    """Only experts who opted in and whose profile is active are searchable."""
    return bool(source.expert_opt_in) and source.status == "active"


def _age_band(birth: date | None, today: date) -> str | None:
    if birth is None:
        return None
    low = max(0, age_on(birth, today) // 10 * 10)
    return f"{low}-{low + 9}"


# Institutions, research-field phrases, discipline codes and names repeat across profiles far
# more than they differ: each distinct one is analysed once (bounded, so memory stays flat).
CACHED = 1 << 16


@lru_cache(maxsize=CACHED)
def _field_analysis(phrase: str) -> tuple[tuple[str, ...], str | None]:
    return tuple(analysis.index_tokens(phrase)), analysis.phrase_token(phrase)


@lru_cache(maxsize=CACHED)
def _institution_analysis(name: str | None) -> tuple[tuple[str, ...], str | None]:
    return tuple(analysis.index_tokens(name)), analysis.institution_key(name)


@lru_cache(maxsize=4096)
def _discipline_words(code: str) -> tuple[str, ...]:
    words = [code]
    for label in labels_of(code):
        words.extend(analysis.index_tokens(label))
    return tuple(words)


@lru_cache(maxsize=1 << 14)
def _discipline_tokens(codes: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(word for code in codes for word in _discipline_words(code)))


@lru_cache(maxsize=1 << 17)
def name_tokens(name: str, name_en: str | None) -> tuple[str, ...]:
    """`analysis.name_tokens`, each name analysed once (documents and highlights ask again)."""
    return tuple(analysis.name_tokens(name, name_en))


@lru_cache(maxsize=1 << 16)
def _text_tokens(text: str) -> tuple[str, ...]:
    """Biography tokens: most profiles have only a position and tags, which repeat."""
    return tuple(analysis.index_tokens(text))


# Contact data and document numbers people write into the free text of a profile ("联系电话
# 139…, 邮箱 …"): never indexed, found or shown by the search. Mobiles (with or without +86),
# landlines with an area code, e-mail addresses and resident ID numbers.
_CONTACT = re.compile(
    r"(?<![0-9A-Za-z])(?:"
    r"\d{6}[- ]?\d{4}[- ]?\d{4}[- ]?\d{3}[0-9Xx]"  # a resident ID number, maybe in groups
    r"|(?:\+?86[- ]?)?1[3-9]\d(?:[- ]?\d{4}){2}"  # a mainland mobile
    r"|0\d{2,3}[- ]?\d{7,8}"  # a landline with its area code
    r")(?![0-9A-Za-z])"
    r"|[\w.+-]+@[\w-]+(?:\.[\w-]+)+",  # an e-mail address
    re.ASCII,
)


# Full-width ASCII forms (`１３９`, `＠`, `－`, `．`) and the ideographic space, one character for
# one: the index folds them to ASCII (analysis.fold), so contact data typed in them is looked for
# as it will be indexed, and cut out where it stands in the text as written.
_HALF_WIDTH = {0xFF01 + i: 0x21 + i for i in range(94)} | {0x3000: 0x20}


_MAY_HOLD_CONTACT = re.compile(r"[\d@＠]").search


def redacted(text: str | None) -> str | None:
    """Free text with phone numbers, e-mail addresses and ID numbers taken out."""
    if not text or not _MAY_HOLD_CONTACT(text):
        return text
    plain = text.translate(_HALF_WIDTH)
    if plain == text:
        return _CONTACT.sub("", text)
    kept, start = [], 0
    for found in _CONTACT.finditer(plain):
        kept.append(text[start : found.start()])
        start = found.end()
    kept.append(text[start:])
    return "".join(kept)


def _short(text: str | None) -> str | None:
    """A one-line field (a name, an institution, a research field) with contact data taken
    out, as `redacted` takes it out of prose; None when nothing else is left."""
    kept = redacted(text)
    if kept is text or kept is None:
        return kept
    return " ".join(kept.split()) or None


_short_cached = lru_cache(maxsize=CACHED)(_short)


def build(source: ExpertSource, version: int, today: date) -> ExpertDocument:
    """The one document of a person, with their memberships in good standing. Contact data
    typed into any of its text (a list whose columns slipped) is taken out."""
    disciplines = tuple(source.discipline_codes or ())
    fields = tuple(f for f in map(_short_cached, source.research_fields or ()) if f)
    name, name_en = _short(source.name) or "", _short(source.name_en)
    institution = _short_cached(source.institution)
    talent_tags = tuple(redacted(tag) for tag in source.talent_tags or ())
    position, biography = redacted(source.position), redacted(source.biography)
    org_codes = source.org_codes or ()
    grades = source.grades or ()
    field_words: list[str] = []
    phrases: list[str] = []
    for phrase in fields:
        words, phrase_token = _field_analysis(phrase)
        field_words.extend(words)
        if phrase_token:
            phrases.append(phrase_token)
    institution_tokens, institution_key = _institution_analysis(institution)
    prior = _TITLE_PRIOR.get(source.title_level or "", 0.1)
    prior += max((_GRADE_PRIOR.get(grade, 0.0) for grade in grades), default=0.0)
    prior += 0.1 * min(len(org_codes), 3) + 0.05 * min(len(fields), 4)
    bio_text = " ".join(p for p in (position, biography, *talent_tags) if p)
    return ExpertDocument(
        person_id=source.person_id,
        version=version,
        name=name,
        name_en=name_en,
        gender=source.gender,
        birth_date=source.birth_date,
        age_band=_age_band(source.birth_date, today),
        title_level=source.title_level,
        position=position,
        institution=institution,
        institution_key=institution_key,
        institution_uscc=source.institution_uscc,
        region_code=source.region_code,
        discipline_codes=disciplines,
        research_fields=fields,
        talent_tags=talent_tags,
        biography=biography,
        org_codes=tuple(sorted(set(org_codes))),
        prior=round(prior, 4),
        name_tokens=name_tokens(name, name_en),
        field_tokens=tuple(analysis.dedupe(field_words + phrases)),
        discipline_tokens=_discipline_tokens(disciplines),
        institution_tokens=institution_tokens,
        bio_tokens=_text_tokens(bio_text),
    )


def load(
    session: Session, versions: dict[uuid.UUID, int], today: date | None = None
) -> tuple[list[ExpertDocument], list[tuple[uuid.UUID, int]]]:
    """Current documents for these people, and tombstones for those no longer searchable."""
    today = today or date.today()
    statement = text(SOURCE_SQL.format(where="p.id = ANY(CAST(:ids AS uuid[]))"))
    people = {
        row[0]: ExpertSource(*row) for row in session.execute(statement, {"ids": list(versions)})
    }
    docs, tombstones = [], []
    for person_id, version in versions.items():
        source = people.get(person_id)
        if source is not None and is_indexed(source):
            docs.append(build(source, version, today))
        else:
            tombstones.append((person_id, version))
    return docs, tombstones


# The JSON document is joined from fragments: the members that repeat across profiles
# (institution, title, position, region, disciplines, societies, tags) are encoded once each.
def _json_str(value: str | None) -> str:
    return "null" if value is None else encode_basestring(value)


_json_str_cached = lru_cache(maxsize=CACHED)(_json_str)


def _json_strings(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(map(_json_str_cached, values)) + "]"


# Codes, societies and tags repeat across profiles; research fields seldom do.
_json_list = lru_cache(maxsize=CACHED)(_json_strings)


@lru_cache(maxsize=1 << 15)
def _json_date(value: date | None) -> str:
    return "null" if value is None else '"' + value.isoformat() + '"'


@lru_cache(maxsize=CACHED)
def _json_profile(
    title_level: str | None,
    position: str | None,
    institution: str | None,
    institution_key: str | None,
    institution_uscc: str | None,
    region_code: str | None,
) -> str:
    return (
        f', "title_level": {_json_str(title_level)}, "position": {_json_str(position)}'
        f', "institution": {_json_str(institution)}'
        f', "institution_key": {_json_str(institution_key)}'
        f', "institution_uscc": {_json_str(institution_uscc)}'
        f', "region_code": {_json_str(region_code)}'
    )


def json_number(value: float | int) -> str:
    return float.__repr__(value) if type(value) is float else int.__repr__(value)


def to_json(doc: ExpertDocument) -> str:
    """The stored form of a document's public fields, as `json.dumps(..., ensure_ascii=False)`
    writes them in field order (tokens are rebuilt, never stored twice)."""
    return "".join(
        (
            '{"person_id": "',
            str(doc.person_id),
            '", "version": ',
            int.__repr__(doc.version),
            ', "name": ',
            encode_basestring(doc.name),
            ', "name_en": ',
            _json_str(doc.name_en),
            ', "gender": ',
            _json_str_cached(doc.gender),
            ', "birth_date": ',
            _json_date(doc.birth_date),
            ', "age_band": ',
            _json_str_cached(doc.age_band),
            _json_profile(
                doc.title_level,
                doc.position,
                doc.institution,
                doc.institution_key,
                doc.institution_uscc,
                doc.region_code,
            ),
            ', "discipline_codes": ',
            _json_list(doc.discipline_codes),
            ', "research_fields": ',
            _json_strings(doc.research_fields),
            ', "talent_tags": ',
            _json_list(doc.talent_tags),
            ', "biography": ',
            _json_str(doc.biography),
            ', "org_codes": ',
            _json_list(doc.org_codes),
            ', "prior": ',
            json_number(doc.prior),
            "}",
        )
    )


def from_json(text_: str) -> ExpertDocument:
    data = json.loads(text_)
    data["person_id"] = uuid.UUID(data["person_id"])
    data["birth_date"] = date.fromisoformat(data["birth_date"]) if data["birth_date"] else None
    for key in ("discipline_codes", "research_fields", "talent_tags", "org_codes"):
        data[key] = tuple(data[key])
    return ExpertDocument(**data)
