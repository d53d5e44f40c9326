"""The text of an `expert_doc` row (its tsvector and COPY line) and of its JSON document
(`expert_doc_body`), assembled from fragments rendered once per distinct value.

Most experts share institutions, regions, disciplines, societies, titles and positions with
many others, so what those values contribute to a row (JSON members, lexemes with their
positions, filter tokens, COPY fields) is rendered the first time a value is seen and joined
afterwards. The outbox drain (`postgres.row`) and the rebuild's COPY stream both render rows
here, so a document reads the same whichever of them wrote it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from functools import lru_cache

from ..documents import (
    CACHED,
    ExpertDocument,
    discipline_prefixes,
    json_number,
    region_prefixes,
    to_json,
)
from . import facet_codes

# -- COPY text


def _copy_escape(value: str) -> str:
    if "\\" in value:
        value = value.replace("\\", "\\\\")
    if "\t" in value or "\n" in value or "\r" in value:
        value = value.replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return value


def _array_element(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _array(values: Sequence[str]) -> str:
    """A text array literal, every element quoted: `{"a","b c"}`."""
    if not values:
        return "{}"
    inner = '","'.join(values)
    if "\\" in inner or inner.count('"') != 2 * (len(values) - 1):  # quotes inside elements
        return "{" + ",".join(map(_array_element, values)) + "}"
    return '{"' + inner + '"}'


_LAST_POSITION = 16383  # PostgreSQL's largest position: later tokens are left out
_LONGEST_LEXEME = 2000  # bytes; longer tokens are left out and take no position
# "':1A '", "':2A '", ... for each weight: what follows a token at each position, rendered once.
_AFTER = {w: [f"':{p}{w} '" for p in range(_LAST_POSITION + 1)] for w in "ABCD"}
_LONGEST_PLAIN = _LONGEST_LEXEME // 4  # characters: a token up to this long fits in any case


def lexeme(token: str) -> str:
    """A token as a quoted tsvector/tsquery lexeme."""
    return "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"


def _positioned(tokens: tuple[str, ...], weight: str, start: int) -> tuple[str, int]:
    """The lexemes of one group of tokens with positions from `start`, and the next position.

    Tokens too long to index are left out and take no position; positions stop at 16383.
    """
    if not tokens:
        return "", start
    plain = "".join(tokens)
    if "'" in plain or "\\" in plain or max(map(len, tokens)) > _LONGEST_PLAIN:
        tokens = tuple(t.replace("\\", "\\\\").replace("'", "''") for t in tokens if fits(t))
    after = _AFTER[weight][start : start + len(tokens)]
    if not after:
        return "", start
    # `'a':1A 'b':2A ` without its last space: each token followed by its closing quote,
    # position, weight, and the next token's opening quote.
    return "'" + "".join(map(str.__add__, tokens, after))[:-2], start + len(after)


def fits(token: str) -> bool:
    """Whether a token is short enough to be a lexeme of the index (longer ones are left out)."""
    return len(token.encode()) <= _LONGEST_LEXEME


# Discipline and institution tokens repeat across profiles; their positions depend only on how
# many lexemes come before them, which takes few distinct values. Biographies are not cached:
# real ones are nearly all unique, never found again, and each would hold kilobytes.
_positioned_cached = lru_cache(maxsize=CACHED)(_positioned)


def tsvector_text(doc: ExpertDocument) -> str:
    """Weighted lexemes with positions (PostgreSQL keeps weights only on positions): name (A),
    research fields and disciplines (B), institution (C), biography, position and tags (D)."""
    name, position = _positioned(doc.name_tokens, "A", 1)
    fields, position = _positioned(doc.field_tokens, "B", position)
    disciplines, position = _positioned_cached(doc.discipline_tokens, "B", position)
    institution, position = _positioned_cached(doc.institution_tokens, "C", position)
    bio, position = _positioned(doc.bio_tokens, "D", position)
    return " ".join([p for p in (name, fields, disciplines, institution, bio) if p])


@lru_cache(maxsize=CACHED)
def _discipline_filters(codes: tuple[str, ...]) -> str:
    return " ".join(lexeme("D:" + p) for p in discipline_prefixes(codes))


@lru_cache(maxsize=CACHED)
def _region_filters(region_code: str | None) -> str:
    return " ".join(lexeme("R:" + p) for p in dict.fromkeys(region_prefixes(region_code)))


@lru_cache(maxsize=CACHED)
def _org_filters(codes: tuple[str, ...]) -> str:
    return " ".join(lexeme("O:" + c) for c in dict.fromkeys(codes))


@lru_cache(maxsize=CACHED)
def _profile_filters(title_level: str | None, gender: str | None, year: int | None) -> str:
    parts = (
        lexeme("T:" + title_level) if title_level else "",
        lexeme("G:" + gender) if gender else "",
        lexeme(f"Y:{year}") if year is not None else "",
    )
    return " ".join([p for p in parts if p])


def filter_text(doc: ExpertDocument) -> str:
    """The filters as tsvector tokens without positions (no indexed word has upper case):
    `D:` discipline prefixes, `R:` region prefixes, `O:` societies, `T:` title, `G:` gender,
    `Y:` year of birth. Each part is rendered once per distinct value it depends on."""
    birth = doc.birth_date
    parts = (
        _discipline_filters(doc.discipline_codes),
        _region_filters(doc.region_code),
        _org_filters(doc.org_codes),
        _profile_filters(doc.title_level, doc.gender, None if birth is None else birth.year),
    )
    return " ".join([p for p in parts if p])


def tsv_text(doc: ExpertDocument) -> str:
    """The `tsv` column's input: the text lexemes, then the filter tokens."""
    return f"{tsvector_text(doc)} {filter_text(doc)}"


# -- COPY text ---------------------------------------------------------------------------------

_NULL = "\\N"


def _copy_text(value: str | None) -> str:
    return _NULL if value is None else _copy_escape(value)


_copy_text_cached = lru_cache(maxsize=CACHED)(_copy_text)


@lru_cache(maxsize=CACHED)
def _copy_array(values: tuple[str, ...]) -> str:
    return _copy_escape(_array(values))


@lru_cache(maxsize=CACHED)
def _copy_profile(
    title_level: str | None, institution_key: str | None, uscc: str | None, province: str | None
) -> str:
    return "\t".join(map(_copy_text, (title_level, institution_key, uscc, province)))


@lru_cache(maxsize=CACHED)
def _copy_facets(
    title_level: str | None, gender: str | None, province: str | None, disciplines: tuple[str, ...]
) -> str:
    """The disciplines array, the facet cell and the disciplines mask."""
    cell, mask = facet_codes.numbers(title_level, gender, province, disciplines)
    return f"{_copy_array(disciplines)}\t{cell}\t{mask}"


@lru_cache(maxsize=1 << 15)
def _copy_date(value: date | None) -> str:
    return _NULL if value is None else value.isoformat()


def copy_line(doc: ExpertDocument, ordinal: int) -> str:
    """The document's row of `COPY_COLUMNS` in COPY's text format, ending in a line break:
    the values of `postgres.row(doc)` (but the JSON document) and the ordinal, as COPY reads
    them."""
    return (
        "\t".join(
            (
                str(doc.person_id),
                int.__repr__(doc.version),
                _copy_text_cached(doc.gender),
                _copy_date(doc.birth_date),
                _copy_profile(
                    doc.title_level, doc.institution_key, doc.institution_uscc, doc.province
                ),
                _copy_facets(doc.title_level, doc.gender, doc.province, doc.disciplines_l1),
                json_number(doc.prior),
                _copy_escape(tsv_text(doc)),
                int.__repr__(ordinal),
            )
        )
        + "\n"
    )


def body_line(doc: ExpertDocument) -> str:
    """The document's row of `BODY_COLUMNS` (`expert_doc_body`) in COPY's text format."""
    return f"{doc.person_id}\t{_copy_escape(to_json(doc))}\n"


ROW_COLUMNS = (
    "person_id",
    "version",
    "gender",
    "birth_date",
    "title_level",
    "institution_key",
    "institution_uscc",
    "province",
    "disciplines_l1",
    "facet_cell",
    "disciplines_mask",
    "prior",
    "tsv",
)
"""The columns of an `expert_doc` row a document gives (`postgres.row`), `tsv` last."""
COPY_COLUMNS = (*ROW_COLUMNS, "ord")
"""The columns of `copy_line`: the document's, then its ordinal (the rebuild numbers them)."""
BODY_COLUMNS = ("person_id", "document")
"""The columns of `body_line`: an `expert_doc_body` row."""
