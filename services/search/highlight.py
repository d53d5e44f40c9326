"""Highlights: where the query's words occur in a hit's public fields, marked with <em>."""

from __future__ import annotations

import html
import re
from functools import lru_cache

from . import analysis
from .documents import ExpertDocument, name_tokens

_SNIPPET = 80


# A query's tokens are the same for every hit of its page: its pattern is made once.
@lru_cache(maxsize=256)
def _pattern(tokens: tuple[str, ...]) -> re.Pattern[str] | None:
    """The longest words first, so that 流体力学 is marked whole rather than as 流体."""
    words = sorted({t for t in tokens if t and not t.startswith("p_")}, key=len, reverse=True)
    if not words:
        return None
    return re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)


def _folded(text: str) -> tuple[str, list[int] | None]:
    """The text as analysis folds it (full-width forms, case, accents), character by character, and
    where each folded character came from in the text (None: the same places)."""
    if text.isascii():
        return text.lower(), None
    parts: list[str] = []
    origin: list[int] = []
    for i, char in enumerate(text):
        folded = analysis.fold(char) if not char.isspace() else char.lower()
        parts.append(folded)
        origin.extend([i] * len(folded))
    return "".join(parts), origin


def _mark(text: str, tokens: tuple[str, ...]) -> str | None:
    """The text with every occurrence of a token wrapped in <em>, or None if none occurs.
    Tokens are matched on the folded text (ＧＰＵ is gpu) and marked on the text as written."""
    pattern = _pattern(tokens)
    if pattern is None:
        return None
    folded, origin = _folded(text)
    spans = [m.span() for m in pattern.finditer(folded)]
    if origin is not None:
        spans = [(origin[a], origin[b - 1] + 1) for a, b in spans]
    if not spans:
        return None
    start = max(0, spans[0][0] - _SNIPPET // 2)
    end = min(len(text), start + _SNIPPET)
    out, cursor = [], start
    for a, b in spans:
        if a < cursor or b > end:
            continue
        out.append(html.escape(text[cursor:a]))
        out.append("<em>" + html.escape(text[a:b]) + "</em>")
        cursor = b
    out.append(html.escape(text[cursor:end]))
    return ("…" if start else "") + "".join(out) + ("…" if end < len(text) else "")


def highlights(doc: ExpertDocument, tokens: tuple[str, ...]) -> dict[str, list[str]]:
    """Field name -> marked snippets; a pinyin match on a name highlights the whole name."""
    if not tokens:
        return {}
    found: dict[str, list[str]] = {}
    name_words = name_tokens(doc.name, doc.name_en)
    if any(t in name_words for t in tokens):
        found["name"] = ["<em>" + html.escape(doc.name) + "</em>"]
    for field_name, values in (
        ("research_fields", doc.research_fields),
        ("institution", (doc.institution,) if doc.institution else ()),
        ("biography", (doc.biography,) if doc.biography else ()),
    ):
        marked = [m for m in (_mark(v, tokens) for v in values) if m]
        if marked:
            found[field_name] = marked
    return found
