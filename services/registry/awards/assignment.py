"""Reviewer assignment for an award cycle: an integer programme (HiGHS) and a greedy baseline.

Pure computation, no database and no HTTP: the awards service gathers the nominations, the
reviewer pool, the affinities, the conflicts and the committee's forced and forbidden pairs,
calls `solve`, and stores or returns what it gets.

Formulation. One binary x[n, r] per candidate pair (a pair listed in `affinity`, or a forced
pair, that is neither conflicted nor forbidden and whose reviewer has some capacity), and one
continuous slack s[n, t] per panel minimum:

    seats        sum_r x[n, r]             <= k[n]          every nomination n
    load         sum_n x[n, r]             <= max_load[r]   every reviewer r
    institution  sum_{r of i} x[n, r]      <= m             every nomination n, institution i
    minimum      sum_{r has t} x[n, r] + s[n, t] >= w[n, t] = min(count[t], k[n])
    forced       x[n, r] = 1

The goal is lexicographic: first fill as many seats as possible, then miss as few minimum places
as possible (a minimum that cannot be met is reported, it does not make the cycle infeasible),
then maximise total affinity. A single objective with weights large enough to make that order
strict would span a dozen orders of magnitude at cycle scale, more than double precision and the
solver's tolerances resolve, so the order is kept by solving in phases instead:

- fast path: when every panel could in principle be filled and meet its minimums, maximise
  affinity with seats == k and the minimums hard (no slacks). If that is feasible its answer is
  optimal for the whole order, since the first two criteria sit at their bounds;
- otherwise phase 1 maximises W * seats - shortfall with W = (total minimum places) + 1, an
  integral objective the solver proves exactly, and phase 2 maximises affinity with
  seats >= seats* and shortfall <= shortfall* added as constraints.

Without minimums the constraints are a flow network (nomination -> nomination x institution ->
reviewer), totally unimodular, so the LP relaxation is integral; the minimums cut across the
institution groups and break that only slightly. Each step therefore solves the LP relaxation
by dual simplex first and takes its vertex when it is integral (then it is optimal for the
integer programme too); only a fractional vertex goes to HiGHS's branch and bound. At cycle
scale the LP takes about a second where the MIP solver spends several on presolve and
heuristics before it even looks at the LP.

`objective` is total affinity; compare it with `greedy_objective` only together with
`seats_filled` and `minimum_shortfall`: a greedy baseline that leaves seats empty can have the
higher affinity total, and the solver's answer is still the better one.

Forced pairs are checked before solving, in order of affinity (highest kept first): a forced pair
that is conflicted, forbidden, names an unknown nomination or reviewer, or would exceed k, the
reviewer's load or the institution cap together with the forced pairs kept before it, is
rejected with a reason in `rejected_forced`; the rest are fixed to 1 and are jointly feasible.

Determinism: nominations and reviewers are put in id order (ids must be mutually orderable:
all str, all int or all UUID), so the model, and HiGHS's answer to it, do not depend on the
order of the input; the greedy baseline breaks affinity ties by nomination id, then reviewer id.
"""

from __future__ import annotations

import math
import time
import uuid
from collections import Counter
from collections.abc import Collection, Hashable, Mapping, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Any

import numpy as np
from scipy import sparse
from scipy.optimize import Bounds, LinearConstraint, linprog, milp

Id = Hashable
Pair = tuple[Id, Id]

# Why a seat or a minimum place stays empty (Unmet.code).
TOO_FEW_CANDIDATES = "too_few_candidates"  # fewer eligible candidates than places, full stop
INSTITUTION_CAP = "institution_cap"  # enough candidates, but too many from one institution
LOAD_EXHAUSTED = "load_exhausted"  # the candidates left are at full load elsewhere (or capped)
FORCED_PAIRS = "forced_pairs"  # a minimum blocked because forced reviewers hold the seats
MINIMUMS_COMPETE = "minimums_compete"  # meeting this minimum would miss another one
SOLVER_LIMIT = "solver_limit"  # the answer is not proven optimal (time limit, fallback)


class AssignmentInputError(ValueError):
    """The problem itself is malformed (the API answers 422 with this message)."""


@dataclass(frozen=True, slots=True)
class Nomination:
    id: Id
    k: int | None = None  # reviewers wanted; None: the problem's reviewers_per_nomination


@dataclass(frozen=True, slots=True)
class Reviewer:
    id: Id
    institution_key: str | None = None  # normalised name or USCC; None: never capped
    gender: str | None = None
    max_load: int | None = None  # None: the problem's max_load
    traits: frozenset[str] = frozenset()  # further labels panel minimums may ask for

    def has_trait(self, trait: str) -> bool:
        return trait == self.gender or trait in self.traits


@dataclass(frozen=True)
class AssignmentProblem:
    nominations: Sequence[Nomination]
    reviewers: Sequence[Reviewer]
    # Only listed pairs are candidates (forced pairs too, with affinity 0 when unlisted).
    affinity: Mapping[Pair, float]
    reviewers_per_nomination: int = 5
    max_load: int = 5
    conflicts: Collection[Pair] = frozenset()  # never assigned; unknown ids are ignored
    forced: Collection[Pair] = frozenset()  # assigned unless impossible, then rejected_forced
    forbidden: Collection[Pair] = frozenset()  # the committee's "never"; wins over forced
    max_per_institution: int | None = None  # at most m reviewers of one institution per panel
    # At least count[t] reviewers with trait t (a gender or a Reviewer.traits label) per panel,
    # capped at the panel's k; soft: what cannot be met is reported in unmet.
    min_per_panel: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Unmet:
    nomination_id: Id
    missing: int
    code: str
    reason: str
    trait: str | None = None  # None: empty seats; a trait: a panel minimum short by `missing`


@dataclass(frozen=True, slots=True)
class RejectedPair:
    nomination_id: Id
    reviewer_id: Id
    reason: str


@dataclass(frozen=True)
class AssignmentResult:
    assignments: dict[Id, tuple[Id, ...]]  # every nomination, reviewers in id order
    objective: float  # total affinity of the assignment
    greedy_objective: float  # total affinity of the greedy baseline on the same problem
    unmet: list[Unmet]
    rejected_forced: list[RejectedPair]
    solver: str
    seconds: float
    optimal: bool
    seats_filled: int
    greedy_seats_filled: int
    minimum_shortfall: int  # minimum places not met, summed over panels and traits
    greedy_minimum_shortfall: int
    timings: dict[str, float] = field(default_factory=dict)  # seconds by step

    def to_contract(self) -> dict[str, Any]:
        """The CONTRACT.md answer of `POST /api/v1/awards/cycles/{cycle_id}/assignments`."""
        return {
            "assignments": [
                {"nomination_id": n, "reviewer_person_ids": list(rs)}
                for n, rs in self.assignments.items()
            ],
            "objective": self.objective,
            "greedy_objective": self.greedy_objective,
            "unmet": [
                {
                    "nomination_id": u.nomination_id,
                    "missing": u.missing,
                    "code": u.code,
                    "trait": u.trait,
                    "reason": u.reason,
                }
                for u in self.unmet
            ],
            "rejected_forced": [
                {"nomination_id": p.nomination_id, "reviewer_id": p.reviewer_id, "reason": p.reason}
                for p in self.rejected_forced
            ],
        }


# --- the problem in arrays ----------------------------------------------------------------


@dataclass
class _Compiled:
    nominations: list[Id]
    reviewers: list[Reviewer]
    k: np.ndarray  # (N,) seats per nomination
    load: np.ndarray  # (R,) max load per reviewer
    group: np.ndarray  # (R,) institution group; a reviewer without institution is alone
    institution_keys: list[str]
    cap: int | None
    traits: list[str]
    has_trait: np.ndarray  # (T, R) bool
    want: np.ndarray  # (N, T) minimum places per panel and trait
    pn: np.ndarray  # (P,) nomination of each candidate pair, pairs sorted by (pn, pr)
    pr: np.ndarray  # (P,) reviewer
    pa: np.ndarray  # (P,) affinity
    forced: np.ndarray  # (P,) bool
    dropped: list[Counter[str]]  # per nomination: listed pairs left out, by why
    rejected: list[RejectedPair]

    @property
    def n_groups(self) -> int:
        return len(self.institution_keys) + len(self.reviewers)


def _is_count(value: object, minimum: int = 0) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= minimum


def _checked_count(value: object, what: str, *, minimum: int = 0) -> int:
    if not _is_count(value, minimum):
        raise AssignmentInputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return value  # type: ignore[return-value]


def _counts(values: list[int | None], default: int, what: str, ids: list[Id]) -> np.ndarray:
    """Per-item counts (k, max_load) with the problem's default where None."""
    for value, i in zip(values, ids, strict=True):
        if value is not None and not _is_count(value):
            raise AssignmentInputError(f"{what} of {i} must be an integer >= 0, got {value!r}")
    return np.array([default if v is None else v for v in values], dtype=np.int64)


def _in_order(ids: list[Id], what: str) -> list[Id]:
    if len(set(ids)) != len(ids):
        dupes = sorted(str(i) for i, c in Counter(ids).items() if c > 1)
        raise AssignmentInputError(f"duplicate {what} ids: {', '.join(dupes[:5])}")
    try:
        if all(isinstance(i, uuid.UUID) for i in ids):
            return sorted(ids, key=attrgetter("int"))  # their order, without Python-level __lt__
        return sorted(ids)  # type: ignore[type-var]
    except TypeError:
        raise AssignmentInputError(f"{what} ids must be mutually orderable") from None


def _compile(problem: AssignmentProblem) -> _Compiled:
    default_k = _checked_count(problem.reviewers_per_nomination, "reviewers_per_nomination")
    default_load = _checked_count(problem.max_load, "max_load")
    cap = problem.max_per_institution
    if cap is not None:
        cap = _checked_count(cap, "max_per_institution", minimum=1)
    minimums = {
        t: _checked_count(c, f"min_per_panel[{t!r}]") for t, c in problem.min_per_panel.items()
    }

    nom_by_id = {n.id: n for n in problem.nominations}
    nominations = _in_order([n.id for n in problem.nominations], "nomination")
    rev_by_id = {r.id: r for r in problem.reviewers}
    reviewers = [rev_by_id[i] for i in _in_order([r.id for r in problem.reviewers], "reviewer")]
    n_index = {n: i for i, n in enumerate(nominations)}
    r_index = {r.id: i for i, r in enumerate(reviewers)}

    k = _counts([nom_by_id[n].k for n in nominations], default_k, "k", nominations)
    load = _counts(
        [r.max_load for r in reviewers], default_load, "max_load", [r.id for r in reviewers]
    )
    institution_keys = sorted({r.institution_key for r in reviewers if r.institution_key})
    i_index = {key: i for i, key in enumerate(institution_keys)}
    group = np.array(
        [
            i_index[r.institution_key] if r.institution_key else len(institution_keys) + j
            for j, r in enumerate(reviewers)
        ],
        dtype=np.int64,
    )
    traits = sorted(t for t, c in minimums.items() if c > 0)
    has_trait = np.array([[r.has_trait(t) for r in reviewers] for t in traits], dtype=bool).reshape(
        len(traits), len(reviewers)
    )
    want = np.minimum(
        np.array([minimums[t] for t in traits], dtype=np.int64)[None, :], k[:, None]
    ).reshape(len(nominations), len(traits))

    def indexed(pairs: Collection[Pair]) -> set[tuple[int, int]]:
        out = set()
        for n, r in pairs:
            ni, ri = n_index.get(n), r_index.get(r)
            if ni is not None and ri is not None:
                out.add((ni, ri))
        return out

    # Pairs as (nomination index, reviewer index): ids may hash slowly (UUID), ints do not.
    conflicts, forbidden = indexed(problem.conflicts), indexed(problem.forbidden)
    no_capacity = (load == 0).tolist()
    dropped: list[Counter[str]] = [Counter() for _ in nominations]
    candidates: dict[tuple[int, int], float] = {}
    for (n, r), value in problem.affinity.items():
        ni, ri = n_index.get(n), r_index.get(r)
        if ni is None or ri is None:
            raise AssignmentInputError(
                f"affinity names an unknown nomination or reviewer: {(n, r)}"
            )
        try:
            a = float(value)
        except (TypeError, ValueError):
            a = math.nan
        if not math.isfinite(a):
            raise AssignmentInputError(f"affinity of {(n, r)} is not a finite number: {value!r}")
        key = (ni, ri)
        if key in conflicts:
            dropped[ni]["conflicted"] += 1
        elif key in forbidden:
            dropped[ni]["forbidden"] += 1
        elif no_capacity[ri]:
            dropped[ni]["with no capacity"] += 1
        else:
            candidates[key] = a

    rejected: list[RejectedPair] = []
    known_forced: list[tuple[float, int, int]] = []
    for pair in set(problem.forced):
        n, r = pair
        if n not in n_index:
            rejected.append(RejectedPair(n, r, "the nomination is not in this cycle"))
        elif r not in r_index:
            rejected.append(RejectedPair(n, r, "the reviewer is not in the pool"))
        else:
            a = float(problem.affinity.get(pair, 0.0))
            known_forced.append((-a, n_index[n], r_index[r]))
    forced_pairs: set[tuple[int, int]] = set()
    seats: Counter[int] = Counter()
    loads: Counter[int] = Counter()
    per_group: Counter[tuple[int, int]] = Counter()
    for _, ni, ri in sorted(known_forced):
        n, reviewer = nominations[ni], reviewers[ri]
        g = int(group[ri])
        why = None
        if (ni, ri) in conflicts:
            why = "conflict of interest"
        elif (ni, ri) in forbidden:
            why = "the committee also forbade this pair"
        elif seats[ni] >= k[ni]:
            why = f"the panel already has {k[ni]} forced reviewers, all the seats it has"
        elif loads[ri] >= load[ri]:
            why = f"the reviewer is already forced onto {load[ri]} panels, their maximum load"
        elif cap is not None and per_group[(ni, g)] >= cap:
            why = (
                f"{cap} forced reviewers from {reviewer.institution_key} already sit on this "
                "panel, the institution cap"
            )
        if why:
            rejected.append(RejectedPair(n, reviewer.id, why))
            continue
        seats[ni] += 1
        loads[ri] += 1
        per_group[(ni, g)] += 1
        forced_pairs.add((ni, ri))
        candidates.setdefault((ni, ri), 0.0)
    rejected.sort(key=lambda p: (str(p.nomination_id), str(p.reviewer_id)))

    keys = sorted(candidates)
    pn = np.array([p[0] for p in keys], dtype=np.int64)
    pr = np.array([p[1] for p in keys], dtype=np.int64)
    pa = np.array([candidates[p] for p in keys], dtype=np.float64)
    forced = np.array([p in forced_pairs for p in keys], dtype=bool)
    return _Compiled(
        nominations=nominations,
        reviewers=reviewers,
        k=k,
        load=load,
        group=group,
        institution_keys=institution_keys,
        cap=cap,
        traits=traits,
        has_trait=has_trait,
        want=want,
        pn=pn,
        pr=pr,
        pa=pa,
        forced=forced,
        dropped=dropped,
        rejected=rejected,
    )


def _capped_capacity(c: _Compiled, mask: np.ndarray) -> np.ndarray:
    """Per nomination: how many of its candidates in `mask` can sit together under the cap."""
    n_nom = len(c.nominations)
    if c.cap is None:
        return np.bincount(c.pn[mask], minlength=n_nom)
    key = c.pn[mask] * c.n_groups + c.group[c.pr[mask]]
    uniq, counts = np.unique(key, return_counts=True)
    return np.bincount(uniq // c.n_groups, weights=np.minimum(counts, c.cap), minlength=n_nom)


# --- the integer programme ----------------------------------------------------------------


@dataclass
class _Rows:
    a: sparse.csr_matrix  # over the P pair variables
    lb: np.ndarray
    ub: np.ndarray
    seat_rows: int  # the first N rows are the seats
    min_rows: np.ndarray  # (S,) row index of each minimum row
    min_want: np.ndarray  # (S,) its right-hand side


def _rows(c: _Compiled) -> _Rows:
    n_nom, n_pairs = len(c.nominations), len(c.pn)
    cols = np.arange(n_pairs)
    rows_i, rows_j, lb, ub = [c.pn], [cols], [np.full(n_nom, -np.inf)], [c.k.astype(float)]
    next_row = n_nom

    # Loads: only reviewers with more candidate pairs than load need a row.
    per_reviewer = np.bincount(c.pr, minlength=len(c.reviewers))
    busy = np.flatnonzero(per_reviewer > c.load)
    row_of = np.full(len(c.reviewers), -1)
    row_of[busy] = next_row + np.arange(len(busy))
    sel = row_of[c.pr] >= 0
    rows_i.append(row_of[c.pr][sel])
    rows_j.append(cols[sel])
    lb.append(np.full(len(busy), -np.inf))
    ub.append(c.load[busy].astype(float))
    next_row += len(busy)

    # Institution cap: only (nomination, institution) groups larger than the cap.
    if c.cap is not None:
        key = c.pn * c.n_groups + c.group[c.pr]
        uniq, inverse, counts = np.unique(key, return_inverse=True, return_counts=True)
        over = counts > c.cap
        row_of_group = np.full(len(uniq), -1)
        row_of_group[over] = next_row + np.arange(int(over.sum()))
        sel = row_of_group[inverse] >= 0
        rows_i.append(row_of_group[inverse][sel])
        rows_j.append(cols[sel])
        lb.append(np.full(int(over.sum()), -np.inf))
        ub.append(np.full(int(over.sum()), float(c.cap)))
        next_row += int(over.sum())

    # Minimums: one row per (nomination, trait) with places wanted.
    min_rows, min_want = [], []
    for t in range(len(c.traits)):
        wanted = np.flatnonzero(c.want[:, t] > 0)
        row_of = np.full(n_nom, -1)
        row_of[wanted] = next_row + np.arange(len(wanted))
        sel = (row_of[c.pn] >= 0) & c.has_trait[t][c.pr]
        rows_i.append(row_of[c.pn][sel])
        rows_j.append(cols[sel])
        lb.append(c.want[wanted, t].astype(float))
        ub.append(np.full(len(wanted), np.inf))
        min_rows.append(row_of[wanted])
        min_want.append(c.want[wanted, t])
        next_row += len(wanted)

    i = np.concatenate(rows_i)
    a = sparse.csr_matrix((np.ones(len(i)), (i, np.concatenate(rows_j))), shape=(next_row, n_pairs))
    return _Rows(
        a=a,
        lb=np.concatenate(lb),
        ub=np.concatenate(ub),
        seat_rows=n_nom,
        min_rows=np.concatenate(min_rows) if min_rows else np.zeros(0, dtype=np.int64),
        min_want=np.concatenate(min_want) if min_want else np.zeros(0, dtype=np.int64),
    )


def _optimise(
    cost: np.ndarray,
    a: sparse.csr_matrix,
    lb: np.ndarray,
    ub: np.ndarray,
    var_lb: np.ndarray,
    var_ub: np.ndarray,
    integral: np.ndarray,
    time_limit: float | None,
) -> tuple[int, np.ndarray | None, str]:
    """Minimise cost @ x under lb <= a @ x <= ub, integral where `integral` says.

    The LP relaxation first, by dual simplex: its answer is a vertex, and on this near-unimodular
    structure it is almost always integral, hence optimal for the integer programme too, at a
    fraction of what branch and bound costs (HiGHS's MIP presolve and primal heuristics alone
    take longer than the LP at cycle scale). Branch and bound only when the vertex is
    fractional. Returns (status, x, method); status 0 optimal, 2 infeasible, other: see scipy.
    """
    options: dict[str, Any] = {} if time_limit is None else {"time_limit": time_limit}
    eq = lb == ub
    upper = ~eq & np.isfinite(ub)
    lower = ~eq & np.isfinite(lb)
    a_ub = sparse.vstack([a[upper], -a[lower]], format="csr")
    res = linprog(
        cost,
        A_ub=a_ub if a_ub.shape[0] else None,
        b_ub=np.concatenate([ub[upper], -lb[lower]]) if a_ub.shape[0] else None,
        A_eq=a[eq] if eq.any() else None,
        b_eq=lb[eq] if eq.any() else None,
        bounds=np.column_stack([var_lb, var_ub]),
        method="highs-ds",
        options=options,
    )
    if res.status == 2:
        return 2, None, "highs-lp"
    if res.status == 0:
        x = np.asarray(res.x)
        if np.all(np.abs(x[integral] - np.round(x[integral])) <= 1e-6):
            return 0, x, "highs-lp"
    res = milp(
        cost,
        integrality=integral.astype(np.int8),
        bounds=Bounds(var_lb, var_ub),
        constraints=LinearConstraint(a, lb, ub),
        options={"mip_rel_gap": 0.0, **options},
    )
    return int(res.status), (None if res.x is None else np.asarray(res.x)), "highs-milp"


def _solve_exact(c: _Compiled, time_limit: float | None) -> tuple[np.ndarray | None, str, bool]:
    """The chosen pairs as a mask, the solver's name, and whether optimality is proven."""
    n_pairs = len(c.pn)
    if n_pairs == 0:
        return np.zeros(0, dtype=bool), "trivial", True
    rows = _rows(c)
    x_lb = c.forced.astype(float)
    x_ub = np.ones(n_pairs)
    every_pair = np.ones(n_pairs, dtype=bool)

    # Necessary conditions only; the LP says whether they suffice.
    reachable_load = np.minimum(c.load, np.bincount(c.pr, minlength=len(c.reviewers))).sum()
    could_fill_everything = (
        reachable_load >= c.k.sum()
        and bool(np.all(_capped_capacity(c, every_pair) >= c.k))
        and all(
            bool(np.all(_capped_capacity(c, c.has_trait[t][c.pr]) >= c.want[:, t]))
            for t in range(len(c.traits))
        )
    )
    if could_fill_everything:
        lb = rows.lb.copy()
        lb[: rows.seat_rows] = c.k  # every seat filled, minimums hard
        status, x, method = _optimise(
            -c.pa, rows.a, lb, rows.ub, x_lb, x_ub, every_pair, time_limit
        )
        if status == 0 and x is not None:
            return x > 0.5, method, True

    # Phase 1: seats first, then minimum places, as one integral objective.
    n_slack = len(rows.min_rows)
    slack = sparse.csr_matrix(
        (np.ones(n_slack), (rows.min_rows, np.arange(n_slack))), shape=(rows.a.shape[0], n_slack)
    )
    a = sparse.hstack([rows.a, slack], format="csr")
    var_lb = np.concatenate([x_lb, np.zeros(n_slack)])
    var_ub = np.concatenate([x_ub, rows.min_want.astype(float)])
    integral = np.concatenate([every_pair, np.zeros(n_slack, dtype=bool)])
    weight = float(rows.min_want.sum() + 1)
    cost = np.concatenate([np.full(n_pairs, -weight), np.ones(n_slack)])
    status, x, method = _optimise(cost, a, rows.lb, rows.ub, var_lb, var_ub, integral, time_limit)
    if x is None:
        return None, f"{method} (phase 1 status {status})", False
    seats = round(float(x[:n_pairs].sum()))
    shortfall = round(float(x[n_pairs:].sum()))

    # Phase 2: the best affinity among assignments that good on seats and minimum places.
    totals = sparse.csr_matrix(
        (
            np.ones(n_pairs + n_slack),
            (np.repeat([0, 1], [n_pairs, n_slack]), np.arange(n_pairs + n_slack)),
        ),
        shape=(2, n_pairs + n_slack),
    )
    status2, x2, method2 = _optimise(
        np.concatenate([-c.pa, np.zeros(n_slack)]),
        sparse.vstack([a, totals], format="csr"),
        np.concatenate([rows.lb, [seats, -np.inf]]),
        np.concatenate([rows.ub, [np.inf, shortfall]]),
        var_lb,
        var_ub,
        integral,
        time_limit,
    )
    if x2 is None:
        return x[:n_pairs] > 0.5, f"{method} (phase 2 status {status2})", False
    return x2[:n_pairs] > 0.5, f"{method}+{method2} in 2 phases", status == 0 and status2 == 0


# --- the greedy baseline ------------------------------------------------------------------


def _greedy(c: _Compiled) -> np.ndarray:
    """Highest affinity first under every hard constraint; forced pairs first.

    A first pass keeps the last seats of a panel for reviewers who meet one of its unmet
    minimums; a second pass fills whatever is still empty with anyone allowed.
    """
    pn, pr, group = c.pn.tolist(), c.pr.tolist(), c.group.tolist()
    k, load = c.k.tolist(), c.load.tolist()
    want = c.want.tolist()
    n_traits = len(c.traits)
    rev_traits = [tuple(t for t, has in enumerate(row) if has) for row in c.has_trait.T.tolist()]
    seats = [0] * len(k)
    used = [0] * len(load)
    have = [[0] * n_traits for _ in k]
    in_group: Counter[tuple[int, int]] = Counter()
    cap = c.cap if c.cap is not None else len(c.reviewers) + 1
    chosen = [False] * len(pn)

    def take(p: int) -> None:
        n, r = pn[p], pr[p]
        chosen[p] = True
        seats[n] += 1
        used[r] += 1
        in_group[(n, group[r])] += 1
        for t in rev_traits[r]:
            have[n][t] += 1

    for p in np.flatnonzero(c.forced).tolist():
        take(p)
    order = np.lexsort((c.pr, c.pn, -c.pa))
    order = order[~c.forced[order]].tolist()
    for reserve in (True, False):
        for p in order:
            n, r = pn[p], pr[p]
            if (
                chosen[p]
                or seats[n] >= k[n]
                or used[r] >= load[r]
                or in_group[(n, group[r])] >= cap
            ):
                continue
            if reserve and n_traits:
                short = [want[n][t] - have[n][t] for t in range(n_traits)]
                needed = sum(x for x in short if x > 0)
                if k[n] - seats[n] <= needed and not any(short[t] > 0 for t in rev_traits[r]):
                    continue  # keep the last seats for someone who meets a minimum
            take(p)
    return np.array(chosen, dtype=bool)


# --- checking and explaining --------------------------------------------------------------


def _violations(c: _Compiled, chosen: np.ndarray) -> list[str]:
    problems = []
    n_nom, n_rev = len(c.nominations), len(c.reviewers)
    if np.any(np.bincount(c.pn[chosen], minlength=n_nom) > c.k):
        problems.append("a panel has more reviewers than seats")
    if np.any(np.bincount(c.pr[chosen], minlength=n_rev) > c.load):
        problems.append("a reviewer is over their maximum load")
    if np.any(c.forced & ~chosen):
        problems.append("a forced pair is missing")
    if c.cap is not None and chosen.any():
        _, counts = np.unique(c.pn[chosen] * c.n_groups + c.group[c.pr[chosen]], return_counts=True)
        if np.any(counts > c.cap):
            problems.append("a panel is over the institution cap")
    return problems


def _have(c: _Compiled, chosen: np.ndarray) -> np.ndarray:
    """(N, T) reviewers with each trait on each panel."""
    if not c.traits:
        return np.zeros((len(c.nominations), 0), dtype=np.int64)
    return np.stack(
        [
            np.bincount(c.pn[chosen & c.has_trait[t][c.pr]], minlength=len(c.nominations))
            for t in range(len(c.traits))
        ],
        axis=1,
    ).reshape(len(c.nominations), len(c.traits))


def _score(c: _Compiled, chosen: np.ndarray) -> tuple[int, int, float]:
    """(seats filled, minimum shortfall, affinity): higher, lower, higher is better."""
    shortfall = int(np.maximum(c.want - _have(c, chosen), 0).sum())
    return int(chosen.sum()), shortfall, math.fsum(c.pa[chosen].tolist())


def _better(a: tuple[int, int, float], b: tuple[int, int, float]) -> bool:
    return (a[0], -a[1]) > (b[0], -b[1]) or (
        (a[0], a[1]) == (b[0], b[1]) and a[2] > b[2] + 1e-9 * max(1.0, abs(b[2]))
    )


def _plural(count: int, one: str) -> str:
    return f"{count} {one if count == 1 else one + 's'}"


def _held_back(n_full: int, n_capped: int) -> str:
    """Why the candidates not on a panel stay off it."""
    parts = []
    if n_full:
        parts.append(f"{n_full} {'is' if n_full == 1 else 'are'} at full load on other panels")
    if n_capped:
        parts.append(
            f"{n_capped} {'is' if n_capped == 1 else 'are'} held back by the institution cap"
        )
    return " and ".join(parts)


def _explain(c: _Compiled, chosen: np.ndarray, proven: bool) -> list[Unmet]:
    n_nom = len(c.nominations)
    seats = np.bincount(c.pn[chosen], minlength=n_nom)
    used = np.bincount(c.pr[chosen], minlength=len(c.reviewers))
    full = used[c.pr] >= c.load[c.pr]  # per pair: its reviewer has no load left
    if c.cap is not None:
        key = c.pn * c.n_groups + c.group[c.pr]
        taken = Counter(key[chosen].tolist())
        capped = np.array([taken[x] >= c.cap for x in key.tolist()], dtype=bool)
    else:
        capped = np.zeros(len(c.pn), dtype=bool)
    capacity = _capped_capacity(c, np.ones(len(c.pn), dtype=bool))
    trait_capacity = [_capped_capacity(c, c.has_trait[t][c.pr]) for t in range(len(c.traits))]
    have = _have(c, chosen)
    starts = np.searchsorted(c.pn, np.arange(n_nom + 1))
    cap_text = f"no more than {c.cap} per institution"

    unmet = []
    for n in range(n_nom):
        lo, hi = starts[n], starts[n + 1]
        eligible = hi - lo
        nid = c.nominations[n]
        k = int(c.k[n])
        missing = k - int(seats[n])
        if missing > 0:
            idle = ~chosen[lo:hi]
            n_full = int((idle & full[lo:hi]).sum())
            n_capped = int((idle & ~full[lo:hi] & capped[lo:hi]).sum())
            if eligible < k:
                left_out = ", ".join(f"{v} {w}" for w, v in sorted(c.dropped[n].items()) if v)
                code, reason = (
                    TOO_FEW_CANDIDATES,
                    f"{_plural(k, 'reviewer')} wanted but only {_plural(eligible, 'candidate')}"
                    " without a conflict" + (f" ({left_out} left out)" if left_out else ""),
                )
            elif capacity[n] < k:
                code, reason = (
                    INSTITUTION_CAP,
                    f"{_plural(k, 'reviewer')} wanted but at most {int(capacity[n])} of the "
                    f"{eligible} candidates can sit together with {cap_text}",
                )
            elif n_full + n_capped == int(idle.sum()) and proven:
                code = LOAD_EXHAUSTED
                reason = (
                    f"{_plural(k, 'reviewer')} wanted; of {_plural(eligible, 'candidate')}, "
                    + _held_back(n_full, n_capped)
                )
            else:
                code, reason = SOLVER_LIMIT, "the solver stopped before filling this seat"
            unmet.append(Unmet(nid, missing, code, reason))

        for t, trait in enumerate(c.traits):
            want = int(c.want[n, t])
            short = want - int(have[n, t])
            if short <= 0:
                continue
            mine = c.has_trait[t][c.pr[lo:hi]]
            n_trait = int(mine.sum())
            idle = mine & ~chosen[lo:hi]
            n_full = int((idle & full[lo:hi]).sum())
            n_capped = int((idle & ~full[lo:hi] & capped[lo:hi]).sum())
            wanted = f"at least {want} {trait} {'reviewer' if want == 1 else 'reviewers'} wanted"
            if n_trait < want:
                code = TOO_FEW_CANDIDATES
                reason = f"{wanted} but only {n_trait} of the {eligible} candidates are {trait}"
            elif trait_capacity[t][n] < want:
                code = INSTITUTION_CAP
                reason = (
                    f"{wanted} but at most {int(trait_capacity[t][n])} of the {n_trait} {trait} "
                    f"candidates can sit together with {cap_text}"
                )
            elif n_full + n_capped == int(idle.sum()) and proven:
                code = LOAD_EXHAUSTED
                reason = f"{wanted}; of {_plural(n_trait, trait + ' candidate')}, " + _held_back(
                    n_full, n_capped
                )
            elif proven and seats[n] == k and (c.forced[lo:hi] & ~mine).sum() >= k - have[n, t]:
                code = FORCED_PAIRS
                reason = f"{wanted} but forced reviewers hold the other seats"
            elif proven:
                code = MINIMUMS_COMPETE
                reason = (
                    f"{wanted} but the seats that could take one are needed for another minimum"
                )
            else:
                code, reason = SOLVER_LIMIT, f"{wanted}; the solver stopped before meeting it"
            unmet.append(Unmet(nid, short, code, reason, trait))
    return unmet


# --- entry points -------------------------------------------------------------------------


def _assignments(c: _Compiled, chosen: np.ndarray) -> dict[Id, tuple[Id, ...]]:
    out: dict[Id, list[Id]] = {n: [] for n in c.nominations}
    for n, r in zip(c.pn[chosen].tolist(), c.pr[chosen].tolist(), strict=True):
        out[c.nominations[n]].append(c.reviewers[r].id)  # pairs are in (n, r) id order
    return {n: tuple(rs) for n, rs in out.items()}


def greedy_assignment(problem: AssignmentProblem) -> dict[Id, tuple[Id, ...]]:
    """The greedy baseline alone: what a committee gets by taking the best pairs first."""
    c = _compile(problem)
    return _assignments(c, _greedy(c))


def solve(problem: AssignmentProblem, *, time_limit: float | None = None) -> AssignmentResult:
    """The optimal assignment for a cycle, with the greedy baseline and what stays unmet.

    `time_limit` (seconds, per solver call) trades determinism for a bound on time: an answer cut
    short depends on the machine's speed. Leave it None for reproducible assignments.
    """
    started = time.perf_counter()
    c = _compile(problem)
    compiled = time.perf_counter()
    greedy = _greedy(c)
    greedy_done = time.perf_counter()
    chosen, solver, proven = _solve_exact(c, time_limit)
    solved = time.perf_counter()
    if chosen is None or _violations(c, chosen):
        why = "no answer" if chosen is None else "; ".join(_violations(c, chosen))
        chosen, solver, proven = greedy, f"greedy (solver {solver}: {why})", False
    elif _better(_score(c, greedy), _score(c, chosen)):
        chosen, solver, proven = greedy, f"greedy (better than {solver}'s answer)", False
    seats, shortfall, objective = _score(c, chosen)
    g_seats, g_shortfall, g_objective = _score(c, greedy)
    unmet = _explain(c, chosen, proven)
    assignments = _assignments(c, chosen)
    finished = time.perf_counter()
    return AssignmentResult(
        assignments=assignments,
        objective=objective,
        greedy_objective=g_objective,
        unmet=unmet,
        rejected_forced=list(c.rejected),
        solver=solver,
        seconds=finished - started,
        optimal=proven,
        seats_filled=seats,
        greedy_seats_filled=g_seats,
        minimum_shortfall=shortfall,
        greedy_minimum_shortfall=g_shortfall,
        timings={
            "compile": compiled - started,
            "greedy": greedy_done - compiled,
            "solver": solved - greedy_done,
            "explain": finished - solved,
        },
    )
