"""The rebuild's bitmap postings: what each stream notes, and what merging the streams keeps."""

from __future__ import annotations

from array import array

import pytest

from services.search.backends.postgres import BitmapBuilder
from services.search.documents import ExpertDocument

from ..factories import expert_document


def _doc(words: list[str], *, gender: str, region: str) -> ExpertDocument:
    """A document whose only text tokens are `words` (as research-field tokens)."""
    return expert_document(
        gender=gender,
        region_code=region,
        discipline_codes=("13015",),
        research_fields=tuple(words),
        org_codes=("SOC",),
        field_tokens=tuple(words),
    )


def _builder(
    first: int, words: list[list[str]], region: str, common: set[str] | None = None
) -> BitmapBuilder:
    """A stream of documents from ordinal `first`, noting `common` words (None: every token);
    genders alternate by ordinal."""
    builder = BitmapBuilder(first, None if common is None else frozenset(common))
    for i, doc_words in enumerate(words):
        gender = "female" if (first + i) % 2 == 0 else "male"
        assert builder.add(_doc(doc_words, gender=gender, region=region)) == first + i
    return builder


# Ordinals 0-5, noting `both` and `upper_rare`; ordinals 6-11, noting `both` and `lower_rare`.
LOWER = [
    ["both", "upper_rare"],
    ["both", "upper_rare", "lower_rare"],
    [],
    [],
    ["both", "upper_rare", "lower_rare"],
    ["both"],
]
LOWER_COMMON = {"both", "upper_rare"}
UPPER_COMMON = {"both", "lower_rare"}
UPPER = [
    ["both", "lower_rare"],
    ["lower_rare", "upper_rare"],
    ["both"],
    [],
    ["both", "upper_rare", "lower_rare"],
    ["lower_rare"],
]


def test_merged_postings_keep_only_tokens_every_stream_noted_in_full() -> None:
    lower = _builder(0, LOWER, "110108", LOWER_COMMON)
    upper = _builder(6, UPPER, "310104", UPPER_COMMON)

    # Each stream's view: a word it does not note is incomplete there; facet values are always
    # complete; other filter tokens are not (they are never noted).
    assert lower.complete("both")
    assert upper.complete("both")
    assert lower.complete("upper_rare")
    assert not upper.complete("upper_rare")
    assert upper.complete("lower_rare")
    assert not lower.complete("lower_rare")
    for facet in ("G:female", "G:male", "R:11", "R:31", "T:senior", "D:130", "Y:1980"):
        assert lower.complete(facet)
        assert upper.complete(facet)
    assert not lower.complete("R:1101")
    assert not upper.complete("O:SOC")
    # What merging has to drop: each stream holds a word the other did not note.
    assert lower.postings["upper_rare"] == array("i", [0, 1, 4])
    assert upper.postings["lower_rare"] == array("i", [6, 7, 10, 11])
    assert "lower_rare" not in lower.postings
    assert "upper_rare" not in upper.postings

    merged = BitmapBuilder.merge([lower, upper])

    assert merged is lower
    assert (merged.first, merged.count) == (0, 12)
    assert (upper.postings, upper.count) == ({}, 0)  # moved, not held twice
    # Common in both samples: the union of both streams' ordinals, in order.
    assert merged.postings["both"] == array("i", [0, 1, 4, 5, 6, 8, 10])
    # Noted by one stream only: no postings at all (its queries take the exact row path).
    assert "upper_rare" not in merged.postings
    assert "lower_rare" not in merged.postings
    # Facet values (and years of birth) keep every document of both streams.
    assert merged.postings["G:female"] == array("i", range(0, 12, 2))
    assert merged.postings["G:male"] == array("i", range(1, 12, 2))
    assert merged.postings["R:11"] == array("i", range(0, 6))
    assert merged.postings["R:31"] == array("i", range(6, 12))
    assert merged.postings["T:senior"] == array("i", range(12))
    assert merged.postings["D:130"] == array("i", range(12))
    assert merged.postings["Y:1980"] == array("i", range(12))  # years of birth, as facets
    # Filter tokens that are no facet value are not noted.
    assert not {"R:1101", "R:3101", "D:13015", "O:SOC"} & merged.postings.keys()
    # The merged builder says what it holds in full: no more the first stream's own view.
    assert merged.complete("both")
    assert not merged.complete("upper_rare")
    assert not merged.complete("lower_rare")
    assert merged.complete("G:female")
    assert not merged.complete("R:1101")
    keys = {key: df for key, _, _, df in merged.keys(min_docs=1)}
    assert keys == {
        "*": 12,
        "both": 7,
        "G:female": 6,
        "G:male": 6,
        "R:11": 6,
        "R:31": 6,
        "T:senior": 12,
        "D:130": 12,
        "Y:1980": 12,
    }


def test_a_stream_without_common_words_notes_every_token() -> None:
    lower = _builder(0, LOWER, "110108", LOWER_COMMON)
    upper = _builder(6, [["upper_rare"], ["lower_rare", "only_upper"], []], "310104")
    assert upper.postings["O:SOC"] == array("i", [6, 7, 8])
    assert upper.complete("upper_rare")
    assert upper.complete("anything")

    merged = BitmapBuilder.merge([lower, upper])

    # Complete in both streams: the lower one found it common, the upper one noted all.
    assert merged.postings["upper_rare"] == array("i", [0, 1, 4, 6])
    assert merged.postings["both"] == array("i", [0, 1, 4, 5])
    # The lower stream did not note every document of these: dropped with the upper's postings.
    assert "lower_rare" not in merged.postings
    assert "only_upper" not in merged.postings
    assert merged.postings["R:31"] == array("i", [6, 7, 8])


def test_streams_noting_every_token_merge_into_the_single_stream() -> None:
    words = [["甲", "乙"], ["乙"], ["丙"], ["甲", "丁"], ["乙", "丙"], ["丁"]]
    single = _builder(0, words, "110108")
    parts = [_builder(0, words[:3], "110108"), _builder(3, words[3:], "110108")]

    merged = BitmapBuilder.merge(parts)

    assert merged.count == single.count == len(words)
    assert merged.postings == single.postings
    assert merged.postings["乙"] == array("i", [0, 1, 4])
    assert merged.postings["O:SOC"] == array("i", range(6))  # every token, filters too


def test_streams_that_do_not_follow_each_other_are_refused() -> None:
    lower = _builder(0, LOWER, "110108", LOWER_COMMON)
    upper = _builder(7, UPPER, "310104", UPPER_COMMON)
    with pytest.raises(ValueError, match="not consecutive"):
        BitmapBuilder.merge([lower, upper])
