"""Reviewer assignment: optimal against brute force, hard rules kept, unmet demand explained."""

from __future__ import annotations

import itertools
import math
import random
import uuid
from collections import Counter
from collections.abc import Mapping

import numpy as np
import pytest

from services.registry.awards import assignment
from services.registry.awards.assignment import (
    FORCED_PAIRS,
    INSTITUTION_CAP,
    LOAD_EXHAUSTED,
    MINIMUMS_COMPETE,
    TOO_FEW_CANDIDATES,
    AssignmentInputError,
    AssignmentProblem,
    AssignmentResult,
    Nomination,
    Reviewer,
    greedy_assignment,
    solve,
)

# --- helpers ------------------------------------------------------------------------------


def random_problem(seed: int, *, three_minimums: bool = False) -> AssignmentProblem:
    """3-4 nominations, 5-7 reviewers, k = 2, loads 1-2, conflicts, a cap, a minimum, forced.

    With `three_minimums`, panels want a woman, a senior and a young reviewer under a cap:
    minimums that cut across institutions and each other make the LP relaxation fractional now
    and then, so branch and bound gets checked too.
    """
    rng = random.Random(seed)
    noms = [f"n{i}" for i in range(rng.randint(3, 4))]
    revs = [
        Reviewer(
            f"r{j}",
            institution_key=rng.choice(["pku", "tsinghua", "cas", None]),
            gender=rng.choice(["female", "male", "male"]),
            max_load=rng.randint(1, 2),
            traits=frozenset(t for t in ("senior", "young") if rng.random() < 0.4),
        )
        for j in range(rng.randint(5, 7))
    ]
    density = 0.7 if three_minimums else rng.uniform(0.4, 0.8)
    affinity = {
        (n, r.id): round(rng.uniform(0, 1), 3) for n in noms for r in revs if rng.random() < density
    }
    conflicts = {pair for pair in affinity if rng.random() < 0.15}
    forbidden = {pair for pair in affinity if rng.random() < 0.05}
    forced = set()
    if rng.random() < 0.5:  # one forced pair, sometimes unlisted, sometimes conflicted
        forced.add((rng.choice(noms), rng.choice(revs).id))
    return AssignmentProblem(
        nominations=[Nomination(n) for n in noms],
        reviewers=revs,
        affinity=affinity,
        reviewers_per_nomination=2,
        max_load=2,
        conflicts=conflicts,
        forbidden=forbidden,
        forced=forced,
        max_per_institution=rng.choice([1, 2] if three_minimums else [None, 1, 2]),
        min_per_panel=(
            {"female": 1, "senior": 1, "young": 1}
            if three_minimums
            else rng.choice([{}, {"female": 1}])
        ),
    )


def score(problem: AssignmentProblem, panels: Mapping[str, tuple[str, ...]]) -> tuple:
    """(seats filled, minimum places missed, affinity), computed from the problem's own terms."""
    reviewers = {r.id: r for r in problem.reviewers}
    seats = sum(len(rs) for rs in panels.values())
    missed = 0
    for rs in panels.values():
        for trait, count in problem.min_per_panel.items():
            want = min(count, problem.reviewers_per_nomination)
            missed += max(0, want - sum(reviewers[r].has_trait(trait) for r in rs))
    affinity = math.fsum(problem.affinity.get((n, r), 0.0) for n, rs in panels.items() for r in rs)
    return seats, missed, affinity


def brute_force(problem: AssignmentProblem) -> tuple:
    """The best score over every assignment that keeps the hard rules (forced pairs included)."""
    k = problem.reviewers_per_nomination
    reviewers = {r.id: r for r in problem.reviewers}
    load = {r.id: problem.max_load if r.max_load is None else r.max_load for r in problem.reviewers}
    banned = set(problem.conflicts) | set(problem.forbidden)
    noms = [n.id for n in problem.nominations]
    forced = {p for p in problem.forced if p not in banned}

    def allowed(panel: tuple[str, ...]) -> bool:
        if problem.max_per_institution is None:
            return True
        per = Counter(reviewers[r].institution_key or f"alone:{r}" for r in panel)
        return max(per.values(), default=0) <= problem.max_per_institution

    options = []  # per nomination: (panel, its score)
    for n in noms:
        cands = sorted(
            r
            for r in reviewers
            if ((n, r) in problem.affinity or (n, r) in forced) and (n, r) not in banned
        )
        must = {r for (m, r) in forced if m == n}
        options.append(
            [
                (panel, score(problem, {n: panel}))
                for size in range(k + 1)
                for panel in itertools.combinations(cands, size)
                if must <= set(panel) and allowed(panel)
            ]
        )
    best = (-1, 0, 0.0)
    used: Counter[str] = Counter()

    def walk(i: int, seats: int, missed: int, affinity: float) -> None:
        nonlocal best
        if i == len(noms):
            if (seats, -missed, affinity) > (best[0], -best[1], best[2]):
                best = (seats, missed, affinity)
            return
        for panel, (s, m, a) in options[i]:
            if all(used[r] < load[r] for r in panel):
                used.update(panel)
                walk(i + 1, seats + s, missed + m, affinity + a)
                used.subtract(panel)

    walk(0, 0, 0, 0.0)
    return best


def assert_hard_rules(problem: AssignmentProblem, panels: Mapping) -> None:
    reviewers = {r.id: r for r in problem.reviewers}
    k = {
        n.id: problem.reviewers_per_nomination if n.k is None else n.k for n in problem.nominations
    }
    load = Counter()
    for n, rs in panels.items():
        assert len(rs) <= k[n]
        assert len(set(rs)) == len(rs)
        assert list(rs) == sorted(rs)
        for r in rs:
            assert (n, r) not in set(problem.conflicts), f"conflicted pair {(n, r)} assigned"
            assert (n, r) not in set(problem.forbidden), f"forbidden pair {(n, r)} assigned"
            assert (n, r) in problem.affinity or (n, r) in set(problem.forced)
            load[r] += 1
        if problem.max_per_institution is not None:
            per = Counter(reviewers[r].institution_key for r in rs if reviewers[r].institution_key)
            assert max(per.values(), default=0) <= problem.max_per_institution
    for r, used in load.items():
        cap = problem.max_load if reviewers[r].max_load is None else reviewers[r].max_load
        assert used <= cap


def result_fingerprint(result: AssignmentResult) -> tuple:
    return (
        result.assignments,
        result.objective,
        result.greedy_objective,
        result.unmet,
        result.rejected_forced,
        result.solver,
        result.seats_filled,
        result.minimum_shortfall,
    )


def problem(
    affinity: dict,
    *,
    reviewers: list[Reviewer] | None = None,
    nominations: list[str] | None = None,
    **kw,
) -> AssignmentProblem:
    noms = nominations or sorted({n for n, _ in affinity})
    revs = reviewers or [Reviewer(r) for r in sorted({r for _, r in affinity})]
    kw.setdefault("reviewers_per_nomination", 1)
    kw.setdefault("max_load", 1)
    return AssignmentProblem([Nomination(n) for n in noms], revs, affinity, **kw)


def codes(result: AssignmentResult) -> list[tuple]:
    return [(u.nomination_id, u.missing, u.code, u.trait) for u in result.unmet]


# --- optimality ---------------------------------------------------------------------------


def assert_matches_brute_force(p: AssignmentProblem, result: AssignmentResult, seed: int) -> None:
    expected = brute_force(p)
    got = score(p, result.assignments)
    assert got[:2] == expected[:2], f"seed {seed}: seats/minimums {got} != {expected}"
    assert got[2] == pytest.approx(expected[2], abs=1e-9), f"seed {seed}"
    assert result.optimal
    assert (result.seats_filled, result.minimum_shortfall) == got[:2]
    assert result.objective == pytest.approx(got[2], abs=1e-9)


@pytest.mark.parametrize("first_seed", range(0, 240, 40))
def test_solver_matches_brute_force_on_small_random_instances(first_seed: int) -> None:
    for seed in range(first_seed, first_seed + 40):
        p = random_problem(seed)
        assert_matches_brute_force(p, solve(p), seed)


def test_solver_matches_brute_force_when_branch_and_bound_is_needed() -> None:
    solvers = Counter()
    for seed in range(240):
        p = random_problem(seed, three_minimums=True)
        result = solve(p)
        assert_matches_brute_force(p, result, seed)
        solvers[result.solver] += 1
    assert any("milp" in name for name in solvers), solvers  # a fractional relaxation came up
    assert any("2 phases" in name for name in solvers), solvers
    assert "highs-lp" in solvers, solvers


def test_optimal_is_never_worse_than_greedy_and_both_keep_every_hard_rule() -> None:
    for seed in range(200):
        p = random_problem(seed, three_minimums=seed % 2 == 1)
        result = solve(p)
        greedy = greedy_assignment(p)
        assert_hard_rules(p, result.assignments)
        assert_hard_rules(p, greedy)
        opt, base = score(p, result.assignments), score(p, greedy)
        assert (opt[0], -opt[1]) >= (base[0], -base[1]), f"seed {seed}"
        if opt[:2] == base[:2]:
            assert opt[2] >= base[2] - 1e-9, f"seed {seed}"
        assert result.greedy_objective == pytest.approx(base[2], abs=1e-9)
        assert result.greedy_seats_filled == base[0]


def test_optimum_beats_greedy_when_the_best_pair_blocks_two_good_ones() -> None:
    # Greedy takes (a, x) = 10 and then b gets y = 1: 11. Optimal: (a, y) 9 + (b, x) 9 = 18.
    p = problem({("a", "x"): 10, ("a", "y"): 9, ("b", "x"): 9, ("b", "y"): 1})
    result = solve(p)
    assert result.assignments == {"a": ("y",), "b": ("x",)}
    assert result.objective == 18
    assert result.greedy_objective == 11


def test_every_seat_is_filled_before_affinity_counts() -> None:
    # Greedy takes (a, x) = 10 and leaves b empty; filling both seats is worth less affinity.
    p = problem({("a", "x"): 10, ("a", "y"): 0.1, ("b", "x"): 9})
    result = solve(p)
    assert result.assignments == {"a": ("y",), "b": ("x",)}
    assert result.seats_filled == 2
    assert result.greedy_seats_filled == 1
    assert result.objective == pytest.approx(9.1)
    assert result.greedy_objective == 10  # higher, but with a seat left empty
    assert result.unmet == []


def test_branch_and_bound_takes_over_when_the_relaxation_is_fractional() -> None:
    # max x1 + x2 + x3 with pairwise sums <= 1: the LP vertex is (1/2, 1/2, 1/2).
    a = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1]], dtype=float)
    from scipy import sparse

    status, x, method = assignment._optimise(
        -np.ones(3),
        sparse.csr_matrix(a),
        np.full(3, -np.inf),
        np.ones(3),
        np.zeros(3),
        np.ones(3),
        np.ones(3, dtype=bool),
        None,
    )
    assert (status, method) == (0, "highs-milp")
    assert x is not None
    assert round(float(x.sum())) == 1


# --- conflicts, forced and forbidden pairs ------------------------------------------------


def test_conflicted_pair_is_never_assigned_even_as_the_only_candidate() -> None:
    p = problem({("a", "x"): 1.0, ("a", "y"): 0.5}, conflicts={("a", "x"), ("a", "y")})
    result = solve(p)
    assert result.assignments == {"a": ()}
    assert greedy_assignment(p) == {"a": ()}
    assert codes(result) == [("a", 1, TOO_FEW_CANDIDATES, None)]
    assert "2 conflicted" in result.unmet[0].reason


def test_forbidden_pair_is_never_assigned() -> None:
    p = problem({("a", "x"): 1.0, ("a", "y"): 0.5}, forbidden={("a", "x")})
    assert solve(p).assignments == {"a": ("y",)}


def test_forced_pair_is_assigned_against_affinity_even_when_unlisted() -> None:
    p = problem(
        {("a", "x"): 1.0, ("a", "y"): 0.9, ("b", "x"): 0.1},
        nominations=["a", "b"],
        reviewers=[Reviewer("x"), Reviewer("y"), Reviewer("z")],
        reviewers_per_nomination=2,
        max_load=2,
        forced={("b", "z"), ("a", "y")},
    )
    result = solve(p)
    assert "z" in result.assignments["b"]
    assert "y" in result.assignments["a"]
    assert result.rejected_forced == []


def test_forced_pair_with_a_conflict_is_rejected_and_reported() -> None:
    p = problem({("a", "x"): 1.0, ("a", "y"): 0.5}, conflicts={("a", "x")}, forced={("a", "x")})
    result = solve(p)
    assert result.assignments == {"a": ("y",)}
    assert [(r.nomination_id, r.reviewer_id) for r in result.rejected_forced] == [("a", "x")]
    assert "conflict" in result.rejected_forced[0].reason


def test_forced_pairs_beyond_seats_load_or_cap_are_rejected_keeping_the_best() -> None:
    revs = [Reviewer("x", "pku"), Reviewer("y", "pku"), Reviewer("z", "thu", max_load=1)]
    p = problem(
        {("a", "x"): 0.9, ("a", "y"): 0.8, ("a", "z"): 0.7, ("b", "z"): 0.6, ("c", "x"): 0.5},
        reviewers=revs,
        nominations=["a", "b", "c"],
        max_load=3,
        reviewers_per_nomination=2,
        max_per_institution=1,
        forced={("a", "x"), ("a", "y"), ("a", "z"), ("b", "z"), ("c", "q")},
    )
    result = solve(p)
    assert result.assignments["a"] == ("x", "z")
    rejected = {(r.nomination_id, r.reviewer_id): r.reason for r in result.rejected_forced}
    assert set(rejected) == {("a", "y"), ("b", "z"), ("c", "q")}
    assert "institution cap" in rejected[("a", "y")]
    assert "maximum load" in rejected[("b", "z")]
    assert "not in the pool" in rejected[("c", "q")]
    assert_hard_rules(p, result.assignments)


def test_forced_and_forbidden_pair_is_not_assigned() -> None:
    p = problem({("a", "x"): 1.0}, forced={("a", "x")}, forbidden={("a", "x")})
    result = solve(p)
    assert result.assignments == {"a": ()}
    assert "forbade" in result.rejected_forced[0].reason


# --- loads, caps and minimums -------------------------------------------------------------


def test_reviewer_load_and_institution_cap_are_honoured() -> None:
    revs = [Reviewer(f"r{i}", "pku" if i < 4 else f"u{i}", max_load=1) for i in range(8)]
    affinity = {(n, r.id): 1.0 if r.institution_key == "pku" else 0.1 for n in "ab" for r in revs}
    p = problem(
        affinity,
        reviewers=revs,
        reviewers_per_nomination=3,
        max_per_institution=1,
    )
    result = solve(p)
    assert_hard_rules(p, result.assignments)
    for rs in result.assignments.values():
        assert len(rs) == 3
        assert sum(r in {"r0", "r1", "r2", "r3"} for r in rs) == 1


def test_minimum_is_met_at_the_cost_of_affinity_when_a_candidate_allows_it() -> None:
    revs = [
        Reviewer("m1", gender="male"),
        Reviewer("m2", gender="male"),
        Reviewer("f", gender="female"),
    ]
    p = problem(
        {("a", "m1"): 1.0, ("a", "m2"): 0.9, ("a", "f"): 0.1},
        reviewers=revs,
        reviewers_per_nomination=2,
        min_per_panel={"female": 1},
    )
    result = solve(p)
    assert result.assignments == {"a": ("f", "m1")}
    assert result.minimum_shortfall == 0
    assert result.unmet == []


def test_minimum_that_cannot_be_met_is_reported_and_the_panel_still_filled() -> None:
    revs = [
        Reviewer("m1", gender="male"),
        Reviewer("m2", gender="male"),
        Reviewer("f", gender="female"),
    ]
    p = problem(
        {("a", "m1"): 1.0, ("a", "m2"): 0.9, ("a", "f"): 0.5},
        reviewers=revs,
        reviewers_per_nomination=2,
        conflicts={("a", "f")},
        min_per_panel={"female": 1},
    )
    result = solve(p)
    assert result.assignments == {"a": ("m1", "m2")}
    assert codes(result) == [("a", 1, TOO_FEW_CANDIDATES, "female")]
    assert "female" in result.unmet[0].reason


def test_minimum_lost_to_load_elsewhere_is_explained() -> None:
    # One woman, load 1, two panels wanting one each: one panel misses its minimum.
    revs = [Reviewer("f", gender="female")] + [Reviewer(f"m{i}", gender="male") for i in range(4)]
    affinity = {(n, r.id): 0.5 for n in "ab" for r in revs}
    p = problem(affinity, reviewers=revs, reviewers_per_nomination=2, min_per_panel={"female": 1})
    result = solve(p)
    assert result.seats_filled == 4
    assert result.minimum_shortfall == 1
    [unmet] = result.unmet
    assert (unmet.missing, unmet.code, unmet.trait) == (1, LOAD_EXHAUSTED, "female")


def test_minimum_blocked_by_forced_reviewers_is_explained() -> None:
    revs = [
        Reviewer("m1", gender="male"),
        Reviewer("m2", gender="male"),
        Reviewer("f", gender="female"),
    ]
    p = problem(
        {("a", "m1"): 0.1, ("a", "m2"): 0.1, ("a", "f"): 1.0},
        reviewers=revs,
        reviewers_per_nomination=2,
        forced={("a", "m1"), ("a", "m2")},
        min_per_panel={"female": 1},
    )
    result = solve(p)
    assert result.assignments == {"a": ("m1", "m2")}
    assert codes(result) == [("a", 1, FORCED_PAIRS, "female")]


def test_minimums_that_compete_for_one_seat_are_explained() -> None:
    revs = [
        Reviewer("m", gender="male", traits=frozenset({"senior"})),
        Reviewer("f", gender="female"),
    ]
    p = problem(
        {("a", "m"): 1.0, ("a", "f"): 0.5},
        reviewers=revs,
        min_per_panel={"female": 1, "senior": 1},
    )
    result = solve(p)
    assert result.assignments == {"a": ("m",)}
    assert codes(result) == [("a", 1, MINIMUMS_COMPETE, "female")]


def test_minimum_applies_to_other_traits_and_is_capped_at_k() -> None:
    revs = [
        Reviewer("s1", traits=frozenset({"senior"})),
        Reviewer("s2", traits=frozenset({"senior"})),
        Reviewer("j"),
    ]
    p = problem(
        {("a", "s1"): 0.1, ("a", "s2"): 0.1, ("a", "j"): 1.0},
        reviewers=revs,
        reviewers_per_nomination=2,
        min_per_panel={"senior": 5},
    )
    result = solve(p)
    assert result.assignments == {"a": ("s1", "s2")}
    assert result.unmet == []


# --- unmet demand -------------------------------------------------------------------------


def test_too_few_conflict_free_candidates_is_reported_with_counts() -> None:
    p = problem(
        {("a", f"r{i}"): 0.5 for i in range(5)},
        reviewers_per_nomination=5,
        conflicts={("a", "r0"), ("a", "r1")},
        forbidden={("a", "r2")},
    )
    result = solve(p)
    assert len(result.assignments["a"]) == 2
    [unmet] = result.unmet
    assert (unmet.missing, unmet.code, unmet.trait) == (3, TOO_FEW_CANDIDATES, None)
    assert unmet.reason == (
        "5 reviewers wanted but only 2 candidates without a conflict"
        " (2 conflicted, 1 forbidden left out)"
    )


def test_nomination_without_any_candidate_gets_an_empty_panel_and_a_reason() -> None:
    p = problem({("a", "x"): 1.0}, nominations=["a", "b"])
    result = solve(p)
    assert result.assignments == {"a": ("x",), "b": ()}
    assert codes(result) == [("b", 1, TOO_FEW_CANDIDATES, None)]


def test_institution_cap_shortfall_is_reported() -> None:
    revs = [Reviewer(f"r{i}", "pku") for i in range(3)] + [Reviewer("t", "thu")]
    p = problem(
        {("a", r.id): 0.5 for r in revs},
        reviewers=revs,
        reviewers_per_nomination=4,
        max_per_institution=2,
    )
    result = solve(p)
    assert len(result.assignments["a"]) == 3
    assert codes(result) == [("a", 1, INSTITUTION_CAP, None)]
    assert "per institution" in result.unmet[0].reason


def test_load_exhausted_shortfall_is_reported() -> None:
    p = problem({("a", "x"): 1.0, ("b", "x"): 0.5})
    result = solve(p)
    assert result.assignments == {"a": ("x",), "b": ()}
    assert codes(result) == [("b", 1, LOAD_EXHAUSTED, None)]
    assert result.unmet[0].reason == (
        "1 reviewer wanted; of 1 candidate, 1 is at full load on other panels"
    )


def test_reviewer_with_zero_load_is_not_a_candidate() -> None:
    p = problem({("a", "x"): 1.0}, reviewers=[Reviewer("x", max_load=0)])
    result = solve(p)
    assert result.assignments == {"a": ()}
    assert "1 with no capacity" in result.unmet[0].reason


# --- determinism and input ----------------------------------------------------------------


def test_same_input_in_any_order_gives_identical_output() -> None:
    for seed in range(40):
        p = random_problem(seed)
        rng = random.Random(seed)
        items = list(p.affinity.items())
        rng.shuffle(items)
        shuffled = AssignmentProblem(
            nominations=rng.sample(list(p.nominations), len(p.nominations)),
            reviewers=rng.sample(list(p.reviewers), len(p.reviewers)),
            affinity=dict(items),
            reviewers_per_nomination=p.reviewers_per_nomination,
            max_load=p.max_load,
            conflicts=list(p.conflicts),
            forbidden=list(p.forbidden),
            forced=list(p.forced),
            max_per_institution=p.max_per_institution,
            min_per_panel=p.min_per_panel,
        )
        first = result_fingerprint(solve(p))
        assert first == result_fingerprint(solve(p))
        assert first == result_fingerprint(solve(shuffled))


def test_ties_are_broken_the_same_way_every_time() -> None:
    revs = [Reviewer(f"r{i}") for i in range(6)]
    p = problem(
        {(n, r.id): 1.0 for n in "abc" for r in revs},
        reviewers=revs,
        reviewers_per_nomination=2,
    )
    answers = {tuple(solve(p).assignments.items()) for _ in range(5)}
    assert len(answers) == 1


def test_uuid_ids_work_and_panels_list_reviewers_in_id_order() -> None:
    rng = random.Random(1)
    noms = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)]
    revs = [Reviewer(uuid.UUID(int=rng.getrandbits(128))) for _ in range(8)]
    p = AssignmentProblem(
        [Nomination(n) for n in noms],
        revs,
        {(n, r.id): rng.random() for n in noms for r in revs},
        reviewers_per_nomination=3,
        max_load=2,
    )
    result = solve(p)
    assert list(result.assignments) == sorted(noms)
    for rs in result.assignments.values():
        assert len(rs) == 3
        assert list(rs) == sorted(rs)
    contract = result.to_contract()
    assert set(contract) >= {"assignments", "objective", "greedy_objective", "unmet"}
    assert set(contract["assignments"][0]) == {"nomination_id", "reviewer_person_ids"}


def test_per_nomination_k_and_per_reviewer_load_override_the_defaults() -> None:
    revs = [Reviewer("x", max_load=2), Reviewer("y"), Reviewer("z")]
    p = AssignmentProblem(
        [Nomination("a", k=3), Nomination("b", k=1), Nomination("c", k=0)],
        revs,
        {(n, r.id): 1.0 for n in "abc" for r in revs},
        reviewers_per_nomination=2,
        max_load=1,
    )
    result = solve(p)
    assert [len(result.assignments[n]) for n in "abc"] == [3, 1, 0]
    assert result.unmet == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"affinity": {("a", "nobody"): 1.0}}, "unknown"),
        ({"affinity": {("a", "x"): float("nan")}}, "finite"),
        ({"affinity": {("a", "x"): "high"}}, "finite"),
        ({"reviewers_per_nomination": -1}, "reviewers_per_nomination"),
        ({"max_per_institution": 0}, "max_per_institution"),
        ({"min_per_panel": {"female": -1}}, "min_per_panel"),
        ({"reviewers": [Reviewer("x"), Reviewer("x")]}, "duplicate"),
        ({"reviewers": [Reviewer("x", max_load=-2)]}, "max_load of x"),
        ({"nominations": [Nomination("a", k=1.5)]}, "k of a"),  # type: ignore[arg-type]
    ],
)
def test_malformed_problem_is_rejected_with_a_precise_message(change: dict, message: str) -> None:
    base = {
        "nominations": [Nomination("a")],
        "reviewers": [Reviewer("x")],
        "affinity": {("a", "x"): 1.0},
    }
    with pytest.raises(AssignmentInputError, match=message):
        solve(AssignmentProblem(**{**base, **change}))


def test_empty_problem_solves_to_nothing() -> None:
    result = solve(AssignmentProblem([], [], {}))
    assert result.assignments == {}
    assert result.objective == 0
    assert result.unmet == []
