"""Text analysis shared by both backends: Chinese segmentation, folding, pinyin for names.

Both backends index the tokens produced here (PostgreSQL as tsvector lexemes, OpenSearch with
a whitespace analyzer), so a query matches the same way whichever backend answers it.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

import rjieba
from pypinyin import Style, lazy_pinyin
from pypinyin.constants import PHRASES_DICT, PINYIN_DICT

from services.registry.core.normalize import CJK

_RUNS = re.compile(rf"[{CJK}]+|[a-z0-9]+(?:[.\-+#][a-z0-9]+)*")
_IS_CJK = re.compile(rf"^[{CJK}]+$")

_STOP = "的 了 和 与 及 或 在 等 对 为 是 之 其 中 以 由 并 从"
_STOP_EN = "a an and are as at be by for from in into is of on or the to with via"
STOP_WORDS = frozenset(f"{_STOP} {_STOP_EN}".split(" "))
PHRASE_PREFIX = "p_"


def fold(text: str) -> str:
    """Full-width to half-width, lower case, accents dropped (ü is u), single spaces.

    Words are runs of a-z and digits: an accent left on a letter cut the word in two (Müller
    was `m` and `ller`), and people type foreign names both with and without accents.
    """
    folded = unicodedata.normalize("NFKC", text).lower()
    # Chinese text has nothing to decompose: the quick check spares it the two normalisations.
    if not folded.isascii() and not unicodedata.is_normalized("NFKD", folded):
        folded = _without_accents(folded)
    return " ".join(folded.split())


def _without_accents(text: str) -> str:
    """The text without combining marks, recomposed (Hangul and the like stay as they were)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return unicodedata.normalize(
        "NFC", "".join(c for c in decomposed if not unicodedata.combining(c))
    )


@lru_cache(maxsize=1 << 17)
def _words(run: str, for_search: bool) -> tuple[str, ...]:
    """The words of one run of Chinese, stop words dropped.

    Segmentation is the costly step of analysis and the same runs recur across profiles
    (institutions, field phrases, the clauses of biographies), so each is segmented once.
    """
    words = rjieba.cut_for_search(run) if for_search else rjieba.cut(run)
    return tuple(w for w in words if w.strip() and w not in STOP_WORDS)


@lru_cache(maxsize=1 << 16)
def _cut(run: str) -> tuple[str, ...]:
    return tuple(rjieba.cut(run))


def _segment(text: str, *, for_search: bool) -> list[str]:
    tokens: list[str] = []
    for run in _RUNS.findall(fold(text)):
        if _IS_CJK.match(run):
            tokens.extend(_words(run, for_search))
        elif run not in STOP_WORDS:
            tokens.append(run)
    return tokens


def index_tokens(text: str | None) -> list[str]:
    """Tokens of free text for the index: search-mode segmentation (words and their parts)."""
    return dedupe(_segment(text, for_search=True)) if text else []


def query_tokens(text: str | None) -> list[str]:
    """Tokens a query must all match: precise-mode segmentation, stop words dropped."""
    return dedupe(_segment(text, for_search=False)) if text else []


def _cover(word: str) -> tuple[str, ...]:
    """Shorter dictionary words that spell `word` end to end: 流体力学 -> (流体, 力学)."""
    if not _IS_CJK.match(word) or len(word) < 3:
        return ()
    parts = [w for w in rjieba.cut_for_search(word) if w != word]
    cover: list[str] = []
    position = 0
    while position < len(word):
        starting = [w for w in parts if word.startswith(w, position)]
        if not starting:
            return ()
        best = max(starting, key=len)
        cover.append(best)
        position += len(best)
    return tuple(cover) if len(cover) > 1 else ()


def query_terms(text: str | None) -> list[tuple[str, tuple[str, ...]]]:
    """Each query word with the shorter words that may stand for it when written apart.

    A document matches a term when it has the word itself, or all of its parts: 计算流体力学
    finds profiles listing 流体 and 力学 separately, below those with the exact phrase.
    """
    return [(word, _cover(word)) for word in query_tokens(text)]


def phrase_token(text: str) -> str | None:
    """One token for a whole phrase, so an exact phrase match can rank above scattered words."""
    compact = "".join(_RUNS.findall(fold(text)))
    return PHRASE_PREFIX + compact if compact else None


def phrase_tokens(phrases: list[str]) -> list[str]:
    return dedupe([t for t in (phrase_token(p) for p in phrases) if t])


@lru_cache(maxsize=1 << 14)  # bounded by the characters in use
def _char_pinyin(char: str) -> tuple[str, ...]:
    return tuple(lazy_pinyin(char, style=Style.NORMAL, errors="ignore"))


def _has_phrase(run: str) -> bool:
    n = len(run)
    return any(run[i:j] in PHRASES_DICT for i in range(n - 1) for j in range(i + 2, n + 1))


def _by_character(text: str) -> tuple[str, ...] | None:
    """The readings of a text pypinyin reads character by character (every character known,
    no dictionary phrase in it), each character's looked up once and reused: names seldom
    repeat, their characters always do. None for any other text."""
    if all(ord(c) in PINYIN_DICT for c in text) and not _has_phrase(text):
        return tuple(s for c in text for s in _char_pinyin(c))
    return None


@lru_cache(maxsize=1 << 16)
def _pinyin(run: str) -> tuple[str, ...]:
    """`lazy_pinyin` of a run of Chinese; runs holding a phrase ask pypinyin."""
    found = _by_character(run)
    if found is not None:
        return found
    return tuple(lazy_pinyin(run, style=Style.NORMAL, errors="ignore"))


def reading(text: str) -> tuple[str, ...]:
    """`lazy_pinyin(text)` (other characters kept as they are), faster for a name."""
    found = _by_character(text)
    return found if found is not None else tuple(lazy_pinyin(text))


_NAME_SPANS = 4  # up to this many characters, every run of a name is a token of its own

# Surnames read otherwise than their character's everyday reading, which is all pypinyin knows
# of a name outside its phrase list: 曾伟 is zeng wei to everyone who types it, not ceng wei.
# A name starting with one carries the surname reading beside pypinyin's.
SURNAME_READINGS = {
    "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "查": "zha", "翟": "zhai",
    "乐": "yue", "朴": "piao", "覃": "qin", "盖": "ge", "缪": "miao", "召": "shao", "种": "chong",
    "繁": "po", "员": "yun", "秘": "bi", "折": "she", "隗": "wei", "句": "gou", "祭": "zhai",
    "能": "nai", "都": "du", "蔚": "yu", "洗": "xian", "薄": "bo",
}  # fmt: skip


def _spans(parts: list[str]) -> list[str]:
    """Every run of two or more parts, joined: [ou, yang, ming] -> ouyang, yangming, ouyangming.

    A compound surname (欧阳, ouyang) or a given name written as one word (张晓明 as
    `zhang xiaoming`, or `Xiaoming Zhang`) is then a token, as people type names. Longer names
    (transliterated ones) keep only the whole, to bound the tokens.
    """
    if len(parts) > _NAME_SPANS:
        return ["".join(parts)] if len(parts) > 1 else []
    n = len(parts)
    return ["".join(parts[i:j]) for i in range(n) for j in range(i + 2, n + 1)]


def name_tokens(name: str, name_en: str | None = None) -> list[str]:
    """A name, its characters, its words, and its pinyin: `zhang wei` and `zhangwei` find 张伟."""
    folded = fold(name)
    tokens = [folded.replace(" ", "")] if folded else []
    latin: list[str] = []
    for run in _RUNS.findall(folded):
        if _IS_CJK.match(run):
            tokens.extend(run)
            tokens.extend(_cut(run))
            tokens.extend(_spans(list(run)))
            syllables = [s for s in _pinyin(run) if s]
            tokens.extend(syllables)
            tokens.extend(_spans(syllables))
            surname = SURNAME_READINGS.get(run[0]) if folded.startswith(run) else None
            if surname and syllables and syllables[0] != surname:
                as_surname = [surname, *syllables[1:]]
                tokens.append(surname)
                tokens.extend(_spans(as_surname))
        else:
            latin.append(run)
    tokens.extend(_latin_name(latin))
    if name_en:
        tokens.extend(_latin_name(_RUNS.findall(fold(name_en))))
    return dedupe(tokens)


_NAME_JOINS = re.compile(r"[.\-+#]")


def _latin_name(words: list[str]) -> list[str]:
    """A name's Latin words, their parts (`min-jun`: min, jun) and the runs of parts joined,
    as people type them: `Park Min-jun` is found by `minjun`, `Lee Ka Yan` by `kayan`."""
    parts = [part for word in words for part in _NAME_JOINS.split(word) if part]
    return [*words, *parts, *_spans(parts)]


def dedupe(tokens: list[str]) -> list[str]:
    return list(dict.fromkeys(t for t in tokens if t))


def institution_key(name: str | None) -> str | None:
    """How institutions compare for conflicts: folded, lower case, accents dropped, letters and
    digits of every script only (no spaces or punctuation): `Université Laval` is
    `universitelaval`, `清华大学（北京）` is `清华大学北京`, `서울대학교` stays itself."""
    if not name:
        return None
    decomposed = unicodedata.normalize("NFKD", fold(name))
    key = unicodedata.normalize("NFC", "".join(c for c in decomposed if c.isalnum()))
    return key or None
