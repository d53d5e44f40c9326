"""Highlights: where the query's words occur in a hit's public fields, marked with <em>."""

from __future__ import annotations

import html
import re

from .analysis import fold, name_tokens
from .documents import ExpertDocument

_SNIPPET = 80


def _mark(text: str, tokens: tuple[str, ...]) -> str | None:
    """The text with every occurrence of a token wrapped in <em>, or None if none occurs."""
    words = sorted({t for t in tokens if t and not t.startswith("p_")}, key=len, reverse=True)
    if not words:
        return None
    folded = fold(text)
    if len(folded) != len(text):
        text = folded  # offsets must line up; the folded form is what matched
    pattern = re.compile("|".join(re.escape(w) for w in words), re.IGNORECASE)
    spans = [m.span() for m in pattern.finditer(text)]
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
    name_words = set(name_tokens(doc.name, doc.name_en))
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
