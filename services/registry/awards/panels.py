"""Review panels: affinity through expert search, suggestions, cycle assignment, replacement.

Affinity of an expert to a nomination, in 0..1: 0.6 x text fit + 0.4 x discipline fit when the
nominee lists research fields, the discipline fit alone otherwise. Text fit: one expert search
per research field of the nominee (as submitted), each score divided by that search's best,
averaged over the fields. Discipline fit: 1 for a shared code (or one under the other, from
the second level down), 0.5 for the same first-level discipline. Credibility multiplies it
(`credibility.factor`); suggestions also subtract 0.05 per review the expert still owes.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from services.search import conflicts as search_conflicts
from services.search import service as search_service
from services.search.analysis import institution_key
from services.search.protocol import Exclusions, SearchBackend, SearchUnavailable
from services.search.schemas import ExpertSearchRequest

from ..core import history
from ..core.errors import Conflict, FieldError, ProblemError
from ..people.models import Person, PersonStatus
from . import conflicts, credibility
from .models import (
    Assignment,
    AssignmentSource,
    AssignmentStatus,
    Channel,
    Cycle,
    Nomination,
    NominationStatus,
    Review,
)
from .schemas import (
    AssignmentRequest,
    AssignmentResponse,
    ConflictReason,
    ExcludedReviewer,
    SuggestedReviewer,
    Suggestions,
)

TEXT_WEIGHT = 0.6
LOAD_PENALTY = 0.05
MAX_FIELDS = 8
ASSIGNABLE = (NominationStatus.eligible, NominationStatus.in_review)
OPEN_SEATS = (AssignmentStatus.assigned, AssignmentStatus.reviewed)


@dataclass
class Candidate:
    person_id: uuid.UUID
    affinity: float


def discipline_fit(nominee: Iterable[str], expert: Iterable[str]) -> float:
    best = 0.0
    expert = list(expert)
    for a in nominee:
        for b in expert:
            if a == b or (min(len(a), len(b)) >= 5 and (a.startswith(b) or b.startswith(a))):
                return 1.0
            if a[:3] == b[:3]:
                best = 0.5
    return best


def profile_of(nomination: Nomination, nominee: Person) -> tuple[list[str], list[str]]:
    """Research fields and disciplines as submitted (the live profile before submission)."""
    snap = nomination.snapshot or {}
    fields = snap.get("research_fields", nominee.research_fields) or []
    codes = snap.get("discipline_codes", nominee.discipline_codes) or []
    return list(fields)[:MAX_FIELDS], list(codes)


def _search(
    session: Session,
    backend: SearchBackend,
    body: ExpertSearchRequest,
    limit: int,
    today: date,
    exclude: Exclusions | None = None,
):  # type: ignore[no-untyped-def]
    query = search_service.build_query(session, body, today)
    if query is None:
        return []
    if exclude is not None:
        query = dataclasses.replace(
            query, exclusions=search_conflicts.merge(query.exclusions, exclude)
        )
    try:
        return backend.search(session, dataclasses.replace(query, limit=limit)).hits[:limit]
    except SearchUnavailable:
        raise ProblemError(
            "expert search is temporarily unavailable; try again shortly",
            503,
            "search-unavailable",
            headers={"Retry-After": "10"},
        ) from None


def candidates(
    session: Session,
    backend: SearchBackend,
    *,
    fields: list[str],
    codes: list[str],
    limit: int,
    today: date,
    pool: Collection[uuid.UUID] | None = None,
    exclude: Exclusions | None = None,
) -> dict[uuid.UUID, Candidate]:
    """Experts that fit the nominee's fields and disciplines, by affinity (pool: only those).
    With `exclude` (what the search's conflict rules leave out), each search runs both with and
    without it: a large conflicted institution cannot fill the `limit` ahead of free experts,
    and the strongest conflicted ones are still there for the explanation of who was left out
    and why."""
    text: dict[uuid.UUID, float] = defaultdict(float)
    disciplines: dict[uuid.UUID, tuple[str, ...]] = {}

    def found(body: ExpertSearchRequest) -> list[Any]:
        hits = _search(session, backend, body, limit, today)
        if exclude is not None:
            seen = {h.person_id for h in hits}
            free = _search(session, backend, body, limit, today, exclude)
            hits += [h for h in free if h.person_id not in seen]
        return hits

    for phrase in fields:
        hits = found(ExpertSearchRequest(q=phrase[:200]))
        best = max((h.score for h in hits), default=0.0)
        for h in hits:
            text[h.person_id] += (h.score / best if best > 0 else 0.0) / len(fields)
            disciplines[h.person_id] = h.document.discipline_codes
    if codes:
        first = sorted({c[:3] for c in codes})
        for h in found(ExpertSearchRequest(discipline_codes=first)):
            disciplines[h.person_id] = h.document.discipline_codes
    if pool is not None:
        pool = set(pool)
        disciplines = {pid: d for pid, d in disciplines.items() if pid in pool}
        missing = pool - disciplines.keys()
        if missing:
            for pid, dcodes in session.execute(
                select(Person.id, Person.discipline_codes).where(Person.id.in_(list(missing)))
            ):
                disciplines[pid] = tuple(dcodes)
    out = {}
    for pid, dcodes in disciplines.items():
        fit = discipline_fit(codes, dcodes)
        value = TEXT_WEIGHT * text.get(pid, 0.0) + (1 - TEXT_WEIGHT) * fit if fields else fit
        out[pid] = Candidate(pid, round(value, 6))
    return out


def open_loads(session: Session, person_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, int]:
    """Reviews each person has been assigned and not yet submitted, in every cycle."""
    if not person_ids:
        return {}
    rows = session.execute(
        select(Assignment.reviewer_person_id, func.count())
        .where(
            Assignment.reviewer_person_id.in_(list(person_ids)),
            Assignment.status == AssignmentStatus.assigned,
        )
        .group_by(Assignment.reviewer_person_id)
    ).all()
    return dict(rows)  # type: ignore[arg-type]


def searchable_exclusions(session: Session, subject: conflicts.Subject) -> Exclusions:
    """What the search's conflict rules leave out for the nominee and their team (the rules
    the search cannot express are applied to its hits afterwards: `exclusions`)."""
    return search_conflicts.merge(
        *(search_conflicts.exclusions_for(session, person) for person in subject.people)
    )


def subject_of(
    session: Session, nomination: Nomination, cycle: Cycle, today: date
) -> conflicts.Subject:
    people = [session.get(Person, nomination.nominee_person_id)]
    people += list(
        session.scalars(select(Person).where(Person.id.in_(nomination.team_person_ids)))
    ) if nomination.team_person_ids else []  # fmt: skip
    channel = session.get(Channel, nomination.channel_id)
    return conflicts.Subject(
        nomination_id=nomination.id,
        people=tuple(p for p in people if p is not None),
        channel_org_id=channel.org_id if channel else None,
        today=today,
        years=cycle.conflict_years,
        cycle_id=cycle.id,
    )


def _people(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Person]:
    out: dict[uuid.UUID, Person] = {}
    ids = list(ids)
    for start in range(0, len(ids), 10_000):
        for p in session.scalars(select(Person).where(Person.id.in_(ids[start : start + 10_000]))):
            out[p.id] = p
    return out


def exclusions(
    session: Session,
    subject: conflicts.Subject,
    people: list[Person],
    scores: dict[uuid.UUID, int],
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """Conflicts with reasons, plus people who are not active (deceased, say: a committee's
    pool may name them) and reviewers whose credibility is below the threshold."""
    found = conflicts.find(session, subject, people)
    for p in people:
        if p.status != PersonStatus.active:
            found.setdefault(p.id, []).append(("not_active", f"the profile is {p.status}"))
        if scores.get(p.id, credibility.BASE) < credibility.THRESHOLD:
            found.setdefault(p.id, []).append(
                (
                    "low_credibility",
                    f"credibility {scores[p.id]} is below {credibility.THRESHOLD}",
                )
            )
    return found


def suggest(
    session: Session,
    backend: SearchBackend,
    *,
    nomination: Nomination,
    cycle: Cycle,
    limit: int,
    explain: bool,
    today: date,
) -> Suggestions:
    subject = subject_of(session, nomination, cycle, today)
    fields, codes = profile_of(nomination, subject.people[0])
    found = candidates(
        session, backend, fields=fields, codes=codes, limit=200, today=today,
        exclude=searchable_exclusions(session, subject),
    )  # fmt: skip
    people = _people(session, found)
    scores = credibility.scores(session, people)
    excluded = exclusions(session, subject, list(people.values()), scores)
    loads = open_loads(session, people)
    ranked = []
    for pid, cand in found.items():
        if pid in excluded or pid not in people:
            continue
        p = people[pid]
        load = loads.get(pid, 0)
        value = cand.affinity * credibility.factor(scores[pid]) - LOAD_PENALTY * load
        ranked.append(
            SuggestedReviewer(
                person_id=pid,
                name=p.name,
                institution=p.institution,
                title_level=p.title_level,
                gender=p.gender,
                discipline_codes=p.discipline_codes,
                affinity=cand.affinity,
                credibility=scores[pid],
                load=load,
                score=round(value, 6),
            )
        )
    ranked.sort(key=lambda s: (-s.score, str(s.person_id)))
    out = Suggestions(nomination_id=nomination.id, suggestions=ranked[:limit])
    if explain:
        out.excluded = sorted(
            (
                ExcludedReviewer(
                    person_id=pid,
                    name=people[pid].name,
                    institution=people[pid].institution,
                    reasons=[ConflictReason(rule=r, reason=why) for r, why in reasons],
                )
                for pid, reasons in excluded.items()
                if pid in people
            ),
            key=lambda e: (e.name, str(e.person_id)),
        )
    return out


def _solver_key(person: Person) -> str | None:
    return institution_key(person.institution) or person.institution_uscc


def assign(
    session: Session,
    backend: SearchBackend,
    *,
    cycle: Cycle,
    body: AssignmentRequest,
    actor: str,
    today: date,
) -> AssignmentResponse:
    """Solve the cycle's panels, replace the unreviewed ones, and answer what was done."""
    from . import assignment as solver  # scipy loads slowly: only when a cycle is assigned

    # The cycle, then its nominations, in the order closing the review locks them.
    session.refresh(cycle, with_for_update=True)
    if cycle.review_closed_at is not None:
        raise ProblemError(
            "the review of this cycle is closed; its panels no longer change", 409, "review-closed"
        )
    if cycle.review_deadline is not None and today > cycle.review_deadline:
        raise ProblemError(
            f"the review deadline {cycle.review_deadline.isoformat()} has passed: a reviewer"
            " seated now could not score",
            409,
            "review-deadline",
        )
    noms = list(
        session.scalars(
            select(Nomination)
            .where(Nomination.cycle_id == cycle.id, Nomination.status.in_(ASSIGNABLE))
            .order_by(Nomination.id)
            .with_for_update()
        )
    )
    if not noms:
        raise ProblemError(
            "no nomination of this cycle is eligible and waiting for reviewers",
            409,
            "nothing-to-assign",
        )
    started = session.scalar(
        select(func.count())
        .select_from(Review)
        .join(Assignment, Assignment.id == Review.assignment_id)
        .where(Assignment.cycle_id == cycle.id)
    )
    if started:
        raise ProblemError(
            "reviews of this cycle have started; reviewers are now replaced one at a time "
            "(a reviewer declaring a conflict triggers it)",
            409,
            "assignment-locked",
        )
    by_id = {n.id: n for n in noms}
    forced = {(p.nomination_id, p.reviewer_person_id) for p in body.forced}
    forbidden = {(p.nomination_id, p.reviewer_person_id) for p in body.forbidden}
    for i, (nid, _) in enumerate(sorted(forced, key=str)):
        if nid not in by_id:
            raise ProblemError(
                f"forced.{i}: nomination {nid} is not waiting for reviewers in this cycle",
                422,
                "validation-error",
                [
                    FieldError(
                        f"forced.{i}.nomination_id", "not an assignable nomination of this cycle"
                    )
                ],
            )
    pool = set(body.pool_person_ids) if body.pool_person_ids is not None else None
    affinity: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    raw: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
    per_nomination: dict[uuid.UUID, dict[uuid.UUID, Candidate]] = {}
    for n in noms:
        nominee = session.get(Person, n.nominee_person_id)
        fields, codes = profile_of(n, nominee)  # type: ignore[arg-type]
        per_nomination[n.id] = candidates(
            session,
            backend,
            fields=fields,
            codes=codes,
            limit=body.candidates_per_nomination,
            today=today,
            pool=pool,
            exclude=searchable_exclusions(session, subject_of(session, n, cycle, today)),
        )
    everyone = {pid for c in per_nomination.values() for pid in c} | {r for _, r in forced}
    people = _people(session, everyone)
    scores = credibility.scores(session, people)
    conflicted: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for n in noms:
        cands = per_nomination[n.id]
        mine = [people[pid] for pid in cands if pid in people]
        mine += [people[r] for nid, r in forced if nid == n.id and r in people and r not in cands]
        subject = subject_of(session, n, cycle, today)
        for pid in exclusions(session, subject, mine, scores):
            conflicted.add((n.id, pid))
        for pid, cand in cands.items():
            if pid in people:
                raw[(n.id, pid)] = cand.affinity
                affinity[(n.id, pid)] = round(cand.affinity * credibility.factor(scores[pid]), 6)
    problem = solver.AssignmentProblem(
        nominations=[solver.Nomination(n.id) for n in noms],
        reviewers=[
            solver.Reviewer(p.id, institution_key=_solver_key(p), gender=p.gender)
            for p in people.values()
        ],
        affinity=affinity,
        reviewers_per_nomination=cycle.reviewers_per_nomination,
        max_load=cycle.max_load,
        conflicts=conflicted,
        forced=forced,
        forbidden=forbidden,
        max_per_institution=body.max_per_institution or cycle.max_per_institution,
        min_per_panel=body.min_per_panel if body.min_per_panel is not None else cycle.min_per_panel,
    )
    try:
        result = solver.solve(problem)
    except solver.AssignmentInputError as exc:
        raise ProblemError(str(exc), 422, "validation-error") from None
    if body.strict and (result.unmet or result.rejected_forced):
        numbers = {n.id: n.nomination_no for n in noms}
        errors = [
            FieldError(
                f"nominations.{numbers.get(u.nomination_id, u.nomination_id)}",
                f"{u.code}: {u.reason}",
            )
            for u in result.unmet
        ] + [
            FieldError(
                f"forced.{numbers.get(p.nomination_id, p.nomination_id)}.{p.reviewer_id}",
                f"forced_pair_rejected: {p.reason}",
            )
            for p in result.rejected_forced
        ]
        raise ProblemError(
            f"the panels cannot be filled as asked: {len(errors)} unmet "
            "(strict mode: nothing was saved)",
            422,
            "assignment-unsatisfiable",
            errors,
        )
    _persist(session, cycle, noms, result.assignments, forced, raw, actor)
    contract = result.to_contract()
    return AssignmentResponse(
        **contract,
        solver=result.solver,
        optimal=result.optimal,
        seats_filled=result.seats_filled,
        greedy_seats_filled=result.greedy_seats_filled,
        minimum_shortfall=result.minimum_shortfall,
    )


def _persist(
    session: Session,
    cycle: Cycle,
    noms: list[Nomination],
    panels: dict[Any, tuple[Any, ...]],
    forced: set[tuple[uuid.UUID, uuid.UUID]],
    raw: dict[tuple[uuid.UUID, uuid.UUID], float],
    actor: str,
) -> None:
    session.execute(
        delete(Assignment).where(
            Assignment.cycle_id == cycle.id, Assignment.status == AssignmentStatus.assigned
        )
    )
    rows = [
        Assignment(
            cycle_id=cycle.id,
            nomination_id=nid,
            reviewer_person_id=rid,
            source=AssignmentSource.forced if (nid, rid) in forced else AssignmentSource.solver,
            affinity=raw.get((nid, rid), 0.0),
        )
        for nid, reviewers in panels.items()
        for rid in reviewers
    ]
    session.add_all(rows)
    session.flush()
    for n in noms:
        target = NominationStatus.in_review if panels.get(n.id) else NominationStatus.eligible
        if n.status != target:
            history.save_changes(
                session,
                n,
                entity="nomination",
                changes=history.assign(n, {"status": target}),
                actor=actor,
                source="assignment",
            )


def replace(
    session: Session,
    backend: SearchBackend,
    *,
    assignment: Assignment,
    nomination: Nomination,
    cycle: Cycle,
    today: date,
) -> Assignment | None:
    """The best free reviewer for a seat a reviewer left (conflict): no conflict, load left,
    institution cap kept, and, when the panel now falls short of one of the cycle's minimums
    (`min_per_panel`, as assignment keeps them), someone who makes it up if anyone free does;
    None when nobody fits (the committee then acts), and once the review deadline has passed
    or the review is closed: a reviewer seated then could never score, and would only have a
    missed review recorded against them."""
    too_late = cycle.review_deadline is not None and today > cycle.review_deadline
    if too_late or cycle.review_closed_at is not None:
        return None
    subject = subject_of(session, nomination, cycle, today)
    fields, codes = profile_of(nomination, subject.people[0])
    found = candidates(
        session, backend, fields=fields, codes=codes, limit=200, today=today,
        exclude=searchable_exclusions(session, subject),
    )  # fmt: skip
    panel = list(
        session.scalars(select(Assignment).where(Assignment.nomination_id == nomination.id))
    )
    on_panel = {a.reviewer_person_id for a in panel}
    people = _people(session, set(found) | on_panel)
    scores = credibility.scores(session, people)
    excluded = exclusions(session, subject, [people[p] for p in found if p in people], scores)
    cycle_load = Counter(
        session.scalars(
            select(Assignment.reviewer_person_id).where(
                Assignment.cycle_id == cycle.id, Assignment.status.in_(OPEN_SEATS)
            )
        )
    )
    open_seats = [
        people[a.reviewer_person_id]
        for a in panel
        if a.status in OPEN_SEATS and a.reviewer_person_id in people
    ]
    seated = Counter(_solver_key(p) for p in open_seats)
    cap = cycle.max_per_institution
    short = {
        trait
        for trait, count in (cycle.min_per_panel or {}).items()
        if sum(p.gender == trait for p in open_seats) < count
    }
    best: tuple[tuple[bool, float, str], uuid.UUID] | None = None
    for pid, cand in found.items():
        if pid in excluded or pid in on_panel or pid not in people:
            continue
        if cycle_load[pid] >= cycle.max_load:
            continue
        key = _solver_key(people[pid])
        if cap is not None and key is not None and seated[key] >= cap:
            continue
        value = cand.affinity * credibility.factor(scores[pid])
        # Making up a minimum comes first, then affinity x credibility.
        rank = (people[pid].gender not in short, -value, str(pid))
        if best is None or rank < best[0]:
            best = (rank, pid)
    if best is None:
        return None
    row = Assignment(
        cycle_id=cycle.id,
        nomination_id=nomination.id,
        reviewer_person_id=best[1],
        source=AssignmentSource.replacement,
        affinity=found[best[1]].affinity,
    )
    session.add(row)
    session.flush()
    return row


def ensure_open(nomination: Nomination) -> None:
    if nomination.status not in ASSIGNABLE:
        raise Conflict(f"the nomination is {nomination.status}, not waiting for reviewers")
