"""Relevance: labelled queries over a 520-expert corpus, scored by precision@5 and nDCG@10.

The corpus (relevance/corpus.py) is written once into a database of its own and indexed into
each backend (relevance/world.py, through the session fixtures of conftest.py); every query
(relevance/queries.py) goes through the HTTP API as a committee secretary's tool would send
it. The figures are printed per query and on average, and repeated in the assertion message,
so they show with or without `-s`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import mean
from typing import Any

import pytest

from services.search import analysis

from .relevance.corpus import Expert, by_key, experts
from .relevance.queries import QUERIES, Query
from .relevance.world import RelevanceWorld

BACKENDS = ("postgres", "opensearch")
P_AT, NDCG_AT = 5, 10

# Thresholds, set after judging the labels first and running the queries second.
#
# Both backends rank the 71 queries identically today: mean P@5 0.747 and nDCG@10 0.877.
# The search matches words: every query word, or all the dictionary words that spell it, must
# occur in the profile. So it is exact where the profile uses the query's words (names,
# pinyin, institutions, field phrases: 1.0 on those) and it cannot find an expert who
# describes the same work in other words, which the labels still count because a secretary
# would: the English query and the Chinese-only profile (all of e01-e07, and David Miller,
# Kevin Chan, Sarah Lee and Oliver Grant under Chinese queries), the abbreviation 锂电池 for
# 锂离子电池 (p04) and field synonyms (固态锂电池 or 磷酸铁锂 for 锂离子电池, 量子信息 for
# 量子通信, 草甸 for 草地; f05, x04, f10, f12). That gap costs about 0.25 of P@5 and 0.12 of
# nDCG on average, and the report to the lead proposes the fixes (a bilingual field glossary,
# an abbreviation table). The thresholds sit two lost queries (about 0.03) under today's
# means, so a change to analysis or ranking that breaks a couple of queries fails, while the
# known vocabulary gap does not. Exact lookups are held higher: a name, its pinyin or an
# institution has one right answer and the search has no excuse to miss it.
MIN_MEAN_PRECISION = 0.72
MIN_MEAN_NDCG = 0.85
EXACT_KINDS = ("pinyin", "name", "institution")
MIN_EXACT_NDCG = 0.95
# The figures above are mostly earned by matching: most queries match a handful of profiles,
# so the same hits in any order score nearly as well (in person-id order, the order of a
# ranking that gives every hit one score: P@5 0.747, nDCG@10 0.850, exact kinds 0.988, all
# above the thresholds). What ranking adds is held apart: nDCG@10 of the answers over that of
# their own hits in person-id order, 0.027 on average today (up to 0.26 on one query).
MIN_RANKING_GAIN = 0.02


# -- the metrics ---------------------------------------------------------------------------


def precision_at(ranked: Sequence[str], judgements: Mapping[str, int], k: int = P_AT) -> float:
    """Relevant results (grade >= 1) among the first k, over min(k, number relevant).

    Dividing by min(k, R) rather than k lets a query with two relevant people (a name, a
    narrow field) reach 1.0 when both come first, instead of capping it at 0.4.
    """
    relevant = {key for key, grade in judgements.items() if grade > 0}
    if not relevant:
        raise ValueError("a labelled query needs at least one relevant person")
    found = sum(1 for key in ranked[:k] if key in relevant)
    return found / min(k, len(relevant))


def dcg(grades: Sequence[int]) -> float:
    """Discounted cumulative gain with graded gains: sum of (2^g - 1) / log2(rank + 1)."""
    return sum((2**grade - 1) / math.log2(rank + 1) for rank, grade in enumerate(grades, 1))


def ndcg_at(ranked: Sequence[str], judgements: Mapping[str, int], k: int = NDCG_AT) -> float:
    """DCG of the first k results over the DCG of the best possible first k."""
    ideal = dcg(sorted(judgements.values(), reverse=True)[:k])
    if ideal == 0:
        raise ValueError("a labelled query needs at least one relevant person")
    return dcg([judgements.get(key, 0) for key in ranked[:k]]) / ideal


def test_metrics_on_a_hand_computed_example() -> None:
    judgements = {"a": 3, "b": 2, "c": 1}
    ranked = ["b", "x", "a", "y"]
    # P@5: b and a are relevant, out of min(5, 3) = 3 that could be.
    assert precision_at(ranked, judgements) == pytest.approx(2 / 3)
    # DCG  = (2^2-1)/log2(2) + 0 + (2^3-1)/log2(4)          = 3 + 3.5            = 6.5
    # IDCG = (2^3-1)/log2(2) + (2^2-1)/log2(3) + 1/log2(4)  = 7 + 1.892789 + 0.5 = 9.392789
    assert dcg([2, 0, 3]) == pytest.approx(6.5)
    assert dcg([3, 2, 1]) == pytest.approx(9.392789, abs=1e-6)
    assert ndcg_at(ranked, judgements) == pytest.approx(0.692021, abs=1e-6)
    assert ndcg_at(["a", "b", "c"], judgements) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], judgements) == 0.0
    # With more relevant people than k, precision divides by k.
    many = dict.fromkeys("abcdefg", 1)
    assert precision_at(["a", "x", "b", "c", "d", "e"], many) == pytest.approx(4 / 5)
    # Only the first k count.
    assert ndcg_at(["x"] * 10 + ["a"], judgements) == 0.0


# -- the corpus and the labels ---------------------------------------------------------------


def test_corpus_and_labels_are_well_formed() -> None:
    corpus = experts()
    assert len(corpus) >= 500
    assert experts() is corpus
    keys = by_key()
    abroad = [e for e in corpus if e.origin in ("foreign", "hong_kong")]
    assert len(abroad) >= 20
    assert {"zhang_wei_thu", "zhang_wei_nwipb"} <= set(keys)  # same pinyin, other characters
    assert len(QUERIES) >= 40
    assert len({q.qid for q in QUERIES}) == len(QUERIES)
    kinds = {q.kind for q in QUERIES}
    assert kinds >= {"field", "partial", "english", "pinyin", "name", "institution", "filter"}
    for query in QUERIES:
        assert query.relevant, query.qid
        named = [*query.judgements, *query.forbidden, *query.body.get("exclude_person_ids", [])]
        if query.body.get("conflicts_with"):
            named.append(query.body["conflicts_with"])
        for key in named:
            assert key in keys, f"{query.qid}: no expert {key}"
            assert keys[key].target, f"{query.qid}: {key} is background, judge targets only"
        assert all(grade in (1, 2, 3) for grade in query.judgements.values()), query.qid
        assert not set(query.forbidden) & query.relevant, query.qid


def _matches(expert: Expert, query: Query) -> bool:
    """Whether every word of the query occurs in the profile, as both backends match words."""
    label_tokens = [t for code in expert.discipline_codes for t in _discipline_tokens(code)]
    texts = [*expert.research_fields, expert.institution, expert.bio, expert.position, *expert.tags]
    tokens = set(analysis.name_tokens(expert.name, expert.name_en)) | set(label_tokens)
    tokens |= {t for text in texts for t in analysis.index_tokens(text)}
    return all(
        word in tokens or (parts and set(parts) <= tokens)
        for word, parts in analysis.query_terms(query.body.get("q"))
    )


def _discipline_tokens(code: str) -> list[str]:
    from services.registry.core.disciplines import name_of

    return [code, *analysis.index_tokens(name_of(code))]


def test_background_stays_off_topic() -> None:
    """No background profile has all the words of a labelled query: the labels are complete."""
    background = [e for e in experts() if not e.target]
    stray = {
        query.qid: [e.key for e in background if _matches(e, query)]
        for query in QUERIES
        if query.body.get("q")
    }
    assert not {qid: keys for qid, keys in stray.items() if keys}


# -- one world per backend -------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def relevance(request: pytest.FixtureRequest) -> RelevanceWorld:
    """The corpus indexed into one backend (the shared fixtures of conftest.py)."""
    return request.getfixturevalue(f"relevance_{request.param}")


def top_keys(world: RelevanceWorld, query: Query) -> list[str]:
    """Corpus keys of the first NDCG_AT hits of a labelled query."""
    body: dict[str, Any] = {**query.body, "limit": NDCG_AT}
    if "exclude_person_ids" in body:
        body["exclude_person_ids"] = [world.ids[k] for k in body["exclude_person_ids"]]
    if "conflicts_with" in body:
        body["conflicts_with"] = world.ids[body["conflicts_with"]]
    return [world.keys[hit["person_id"]] for hit in world.post(body)["hits"]]


# -- the figures -----------------------------------------------------------------------------


@dataclass
class Figures:
    query: Query
    ranked: list[str]
    precision: float
    ndcg: float

    @property
    def misses(self) -> list[str]:
        """Non-relevant people in the first k (what the secretary would have to skip)."""
        return [key for key in self.ranked[:P_AT] if self.query.judgements.get(key, 0) == 0]

    @property
    def grades(self) -> str:
        """The grades of the results in order, `.` for not relevant: `332.1`."""
        return "".join(str(self.query.judgements.get(k, 0) or ".") for k in self.ranked[:NDCG_AT])

    @property
    def missed(self) -> list[str]:
        """Clearly relevant people (grade >= 2) the first k results leave out."""
        shown = set(self.ranked[:NDCG_AT])
        return [k for k, g in self.query.judgements.items() if g >= 2 and k not in shown]


def _table(world: RelevanceWorld, figures: list[Figures]) -> str:
    keys = by_key()
    lines = [
        f"relevance, {world.backend} backend: {len(figures)} queries over {len(keys)} experts"
        f" (written in {world.write_seconds:.1f} s, indexed in {world.index_seconds:.1f} s)",
        f"{'query':<6}{'kind':<12}{'P@5':>6}{'nDCG@10':>9}  {'grades':<10}  text {{filters}}"
        " [non-relevant in the top 5] (grade 2-3 missing from the top 10)",
    ]
    for f in figures:
        body = {k: v for k, v in f.query.body.items() if k != "q"}
        text = f.query.body.get("q", "") + (f" {body}" if body else "")
        misses = " ".join(keys[k].name for k in f.misses)
        missed = " ".join(keys[k].name for k in f.missed)
        lines.append(
            f"{f.query.qid:<6}{f.query.kind:<12}{f.precision:>6.2f}{f.ndcg:>9.3f}"
            f"  {f.grades:<10}  {text}"
            + (f" [{misses}]" if misses else "")
            + (f" ({missed})" if missed else "")
        )
    for kind in dict.fromkeys(f.query.kind for f in figures):
        some = [f for f in figures if f.query.kind == kind]
        lines.append(
            f"{'':<6}{kind:<12}{mean(f.precision for f in some):>6.2f}"
            f"{mean(f.ndcg for f in some):>9.3f}  mean of {len(some)}"
        )
    lines.append(
        f"{'MEAN':<18}{mean(f.precision for f in figures):>6.3f}"
        f"{mean(f.ndcg for f in figures):>9.3f}  thresholds: P@5 >= {MIN_MEAN_PRECISION},"
        f" nDCG@10 >= {MIN_MEAN_NDCG}; nDCG@10 of {'/'.join(EXACT_KINDS)} >= {MIN_EXACT_NDCG}"
    )
    return "\n".join(lines)


def test_relevance_of_labelled_queries(relevance: RelevanceWorld) -> None:
    figures: list[Figures] = []
    leaks: list[str] = []
    unranked: list[float] = []  # nDCG@10 of each answer's hits in person-id order
    for query in QUERIES:
        ranked = top_keys(relevance, query)
        by_id = sorted(ranked, key=lambda key: uuid.UUID(relevance.ids[key]), reverse=True)
        unranked.append(ndcg_at(by_id, query.judgements))
        leaks += [f"{query.qid}: {key}" for key in ranked if key in query.forbidden]
        figures.append(
            Figures(
                query,
                ranked,
                precision_at(ranked, query.judgements),
                ndcg_at(ranked, query.judgements),
            )
        )
    table = _table(relevance, figures)
    print("\n" + table)  # noqa: T201 - the figures are this test's report
    assert not leaks, f"excluded or conflicted experts were returned: {leaks}\n{table}"
    mean_precision = mean(f.precision for f in figures)
    mean_ndcg = mean(f.ndcg for f in figures)
    assert mean_precision >= MIN_MEAN_PRECISION, table
    assert mean_ndcg >= MIN_MEAN_NDCG, table
    exact = mean(f.ndcg for f in figures if f.query.kind in EXACT_KINDS)
    assert exact >= MIN_EXACT_NDCG, f"name, pinyin and institution queries: {exact:.3f}\n{table}"
    gain = mean_ndcg - mean(unranked)
    assert gain >= MIN_RANKING_GAIN, (
        f"nDCG@10 {mean_ndcg:.3f} is only {gain:.3f} above the same hits in person-id order"
        f" ({mean(unranked):.3f})\n{table}"
    )
