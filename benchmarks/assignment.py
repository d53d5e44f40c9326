"""Assign reviewers to a national award cycle: 2,000 nominations, 5 reviewers each, 20,000 experts.

    python benchmarks/assignment.py [--nominations 2000] [--experts 20000] [--k 5]
        [--candidates 75] [--institutions 400] [--cap 2] [--seed 7]

Generates a cycle the way the awards service would hand it to the solver, with no database:

- experts in about 60 discipline areas of 8 fields each (Zipf-like sizes), a topic vector each
  (area + field + personal), 22% women, a maximum load of 3, 4 or 5, at `--institutions`
  institutions with Zipf-like sizes (the largest holds about 8% of the pool); a prominence
  score per expert (lognormal) that puts the best-known experts on many suggestion lists;
- nominations whose nominees work in a field (more concentrated in the large areas than the
  experts are) and at an institution drawn the same way; 40% of the nominees are themselves
  in the expert pool;
- affinity: cosine of topic vectors, plus bonuses for the same field and a senior title, plus
  prominence and noise; only the `--candidates` best experts per nomination are candidates,
  as reviewer suggestions would list them;
- conflicts among those candidates: the nominee themself, the nominee's institution, and about
  two declared conflicts per nomination (co-authors, former students) among its closest experts;
- at most `--cap` reviewers from one institution per panel, at least one woman per panel.

Times `solve` (model building, greedy baseline, HiGHS and the explanation of unmet demand) and,
separately, the greedy baseline alone; checks the answer independently (no conflicted pair,
loads, seats, caps, objective >= greedy); prints the figures, the peak resident memory of the
process, and as the last line one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.registry.awards.assignment import (  # noqa: E402
    AssignmentProblem,
    Nomination,
    Reviewer,
    greedy_assignment,
    solve,
)


def _status_mib(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident) of this process, from /proc."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _reset_peak() -> bool:
    """Start the peak-RSS count afresh (Linux: write 5 to clear_refs), so it covers the solve."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def generate(args: argparse.Namespace) -> tuple[AssignmentProblem, dict[str, float]]:
    rng = random.Random(args.seed)
    np_rng = np.random.default_rng(args.seed)
    areas, fields_per_area, dim = 60, 8, 32
    n_fields = areas * fields_per_area

    def zipf(size: int, exponent: float) -> np.ndarray:
        weight = 1 / np.arange(1, size + 1) ** exponent
        return weight / weight.sum()

    expert_areas, nominated_areas = zipf(areas, 0.8), zipf(areas, 1.1)
    inst_weight = zipf(args.institutions, 0.8)
    area_vec = np_rng.normal(size=(areas, dim))
    field_vec = np.repeat(area_vec, fields_per_area, axis=0) + 0.6 * np_rng.normal(
        size=(n_fields, dim)
    )

    def draw_fields(count: int, area_weight: np.ndarray) -> np.ndarray:
        area = np_rng.choice(areas, size=count, p=area_weight)
        return area * fields_per_area + np_rng.integers(0, fields_per_area, size=count)

    # Experts.
    e_field = draw_fields(args.experts, expert_areas)
    e_vec = field_vec[e_field] + 0.5 * np_rng.normal(size=(args.experts, dim))
    e_vec /= np.linalg.norm(e_vec, axis=1, keepdims=True)
    e_inst = np_rng.choice(args.institutions, size=args.experts, p=inst_weight)
    e_female = np_rng.random(args.experts) < 0.22
    e_senior = np_rng.random(args.experts) < 0.6
    # Prominent experts (credibility, seniority, visibility) top many suggestion lists.
    e_prominence = np.minimum(0.05 * np_rng.lognormal(0.0, 0.8, size=args.experts), 0.3)
    e_load = np_rng.integers(3, 6, size=args.experts)
    e_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(args.experts)]

    # Nominations: 40% of nominees are in the pool (and so conflicted with themselves).
    in_pool = np_rng.random(args.nominations) < 0.4
    pool_nominee = np_rng.choice(args.experts, size=args.nominations, replace=False)
    n_field = np.where(
        in_pool, e_field[pool_nominee], draw_fields(args.nominations, nominated_areas)
    )
    n_vec = field_vec[n_field] + 0.5 * np_rng.normal(size=(args.nominations, dim))
    n_vec = np.where(in_pool[:, None], e_vec[pool_nominee], n_vec)
    n_vec /= np.linalg.norm(n_vec, axis=1, keepdims=True)
    n_inst = np.where(
        in_pool,
        e_inst[pool_nominee],
        np_rng.choice(args.institutions, size=args.nominations, p=inst_weight),
    )
    n_ids = [uuid.UUID(int=rng.getrandbits(128)) for _ in range(args.nominations)]

    affinity: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    conflicts: set[tuple[uuid.UUID, uuid.UUID]] = set()
    why: Counter[str] = Counter()
    chunk = 250
    for lo in range(0, args.nominations, chunk):
        hi = min(lo + chunk, args.nominations)
        score = n_vec[lo:hi] @ e_vec.T
        score += 0.15 * (n_field[lo:hi, None] == e_field[None, :])
        score += 0.05 * e_senior[None, :] + e_prominence[None, :]
        score += np_rng.normal(scale=0.03, size=score.shape)
        top = np.argpartition(-score, args.candidates, axis=1)[:, : args.candidates]
        for row, n in enumerate(range(lo, hi)):
            nid = n_ids[n]
            cands = top[row][np.argsort(-score[row, top[row]], kind="stable")]
            for rank, e in enumerate(cands.tolist()):
                pair = (nid, e_ids[e])
                affinity[pair] = round(float(score[row, e]), 6)
                if in_pool[n] and e == pool_nominee[n]:
                    conflicts.add(pair)
                    why["self"] += 1
                elif e_inst[e] == n_inst[n]:
                    conflicts.add(pair)
                    why["same institution"] += 1
                elif rank < 30 and rng.random() < 2 / 30:
                    conflicts.add(pair)
                    why["declared"] += 1

    problem = AssignmentProblem(
        nominations=[Nomination(i) for i in n_ids],
        reviewers=[
            Reviewer(
                e_ids[e],
                institution_key=f"inst-{e_inst[e]:04d}",
                gender="female" if e_female[e] else "male",
                max_load=int(e_load[e]),
            )
            for e in range(args.experts)
        ],
        affinity=affinity,
        reviewers_per_nomination=args.k,
        max_load=5,
        conflicts=conflicts,
        max_per_institution=args.cap,
        min_per_panel={"female": 1},
    )
    per_nom = Counter(n for n, _ in affinity)
    free = Counter(n for n, _ in affinity.keys() - conflicts)
    stats = {
        "candidate_pairs": len(affinity),
        "conflicted_pairs": len(conflicts),
        "conflicts_self": why["self"],
        "conflicts_same_institution": why["same institution"],
        "conflicts_declared": why["declared"],
        "min_conflict_free_candidates": min(free.values()),
        "median_candidates": float(np.median(list(per_nom.values()))),
        "largest_institution_share": round(float(np.bincount(e_inst).max() / args.experts), 4),
    }
    return problem, stats


def check(problem: AssignmentProblem, assignments: dict) -> list[str]:
    """Every hard rule, checked from the input rather than from the solver's arrays."""
    problems = []
    conflicts, forbidden = set(problem.conflicts), set(problem.forbidden)
    reviewers = {r.id: r for r in problem.reviewers}
    load: Counter = Counter()
    for n, rs in assignments.items():
        if len(rs) > problem.reviewers_per_nomination:
            problems.append(f"{n}: {len(rs)} reviewers")
        if len(set(rs)) != len(rs):
            problems.append(f"{n}: a reviewer twice")
        per_inst = Counter(reviewers[r].institution_key for r in rs)
        if problem.max_per_institution and max(per_inst.values(), default=0) > (
            problem.max_per_institution
        ):
            problems.append(f"{n}: institution cap")
        for r in rs:
            load[r] += 1
            if (n, r) in conflicts or (n, r) in forbidden:
                problems.append(f"{n}: conflicted reviewer {r}")
            if (n, r) not in problem.affinity:
                problems.append(f"{n}: {r} is not a candidate")
    problems += [f"{r}: load {c}" for r, c in load.items() if c > reviewers[r].max_load]
    return problems


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nominations", type=int, default=2000)
    parser.add_argument("--experts", type=int, default=20000)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--candidates", type=int, default=75)
    parser.add_argument("--institutions", type=int, default=400)
    parser.add_argument("--cap", type=int, default=2)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    print(f"load average before: {os.getloadavg()[0]:.2f}")
    started = time.perf_counter()
    problem, stats = generate(args)
    generate_seconds = time.perf_counter() - started
    print(
        f"generated {args.nominations} nominations, {args.experts} experts, "
        f"{stats['candidate_pairs']} candidate pairs, {stats['conflicted_pairs']} conflicted "
        f"(self {stats['conflicts_self']}, same institution "
        f"{stats['conflicts_same_institution']}, declared {stats['conflicts_declared']}) "
        f"in {generate_seconds:.1f} s"
    )

    started = time.perf_counter()
    greedy = greedy_assignment(problem)
    greedy_seconds = time.perf_counter() - started

    rss_before = _status_mib("VmRSS")
    peak_reset = _reset_peak()
    cpu = time.process_time()
    result = solve(problem)
    solve_cpu = time.process_time() - cpu
    rss_peak = _status_mib("VmHWM")
    violations = check(problem, result.assignments) + check(problem, greedy)
    female = {r.id for r in problem.reviewers if r.gender == "female"}
    panels_without_woman = sum(
        1 for rs in result.assignments.values() if not any(r in female for r in rs)
    )
    seats_wanted = args.nominations * args.k
    gain = (result.objective - result.greedy_objective) / abs(result.greedy_objective)

    print(f"solver: {result.solver} (optimal: {result.optimal})")
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in result.timings.items())
    print(
        f"solve time: {result.seconds:.2f} s wall, {solve_cpu:.2f} s CPU ({steps}); "
        f"greedy_assignment alone: {greedy_seconds:.2f} s"
    )
    print(f"objective: {result.objective:.3f}")
    print(f"greedy objective: {result.greedy_objective:.3f} (optimal is {gain:+.2%})")
    print(
        f"seats filled: {result.seats_filled}/{seats_wanted} "
        f"(greedy {result.greedy_seats_filled}); minimum shortfall: {result.minimum_shortfall} "
        f"(greedy {result.greedy_minimum_shortfall}); no woman: {panels_without_woman} panels"
    )
    print(
        f"unmet entries: {len(result.unmet)}; rule violations found by the check: {len(violations)}"
    )
    print(
        f"peak resident memory {'during solve' if peak_reset else 'of the process'}: "
        f"{rss_peak:.0f} MiB (before solving: {rss_before:.0f} MiB, "
        f"so the solve adds {rss_peak - rss_before:.0f} MiB)"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    for line in violations[:10]:
        print("VIOLATION", line)
    print(
        json.dumps(
            {
                "nominations": args.nominations,
                "experts": args.experts,
                "k": args.k,
                "cap": args.cap,
                **stats,
                "solver": result.solver,
                "optimal": result.optimal,
                "solve_seconds": round(result.seconds, 3),
                "solve_cpu_seconds": round(solve_cpu, 3),
                **{f"step_{k}_seconds": round(v, 3) for k, v in result.timings.items()},
                "greedy_seconds": round(greedy_seconds, 3),
                "objective": round(result.objective, 4),
                "greedy_objective": round(result.greedy_objective, 4),
                "gain_over_greedy": round(gain, 5),
                "seats_filled": result.seats_filled,
                "greedy_seats_filled": result.greedy_seats_filled,
                "minimum_shortfall": result.minimum_shortfall,
                "greedy_minimum_shortfall": result.greedy_minimum_shortfall,
                "unmet": len(result.unmet),
                "violations": len(violations),
                "peak_rss_mib": round(rss_peak),
                "peak_rss_covers": "solve" if peak_reset else "process",
                "rss_before_solve_mib": round(rss_before),
                "objective_at_least_greedy": result.objective >= result.greedy_objective,
                "within_10s": result.seconds <= 10,
            }
        )
    )
    if violations or result.objective < result.greedy_objective:
        sys.exit(1)


if __name__ == "__main__":
    main()
