"""Reviews: a reviewer's own assignments and scores, conflicts declared on them, and results.

Results rank nominations by the mean of their reviewers' z-scores: each reviewer's weighted
totals in the cycle are standardised against that reviewer's own mean and spread, so a harsh
and a lenient reviewer count alike. A reviewer who gave several nominations the same total
ranks them alike and no higher or lower than their own mean (z = 0), whatever that total; only a
reviewer with a single review is standardised against the whole cycle instead. Equal normalised
scores share a rank.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
import uuid
from collections import defaultdict
from datetime import UTC, date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.search.protocol import SearchBackend

from ..auth.principals import Principal
from ..core import history, spreadsheet
from ..core.errors import Conflict, FieldError, NotFound, ProblemError
from ..orgs.models import Organisation
from ..people.models import Person
from . import credibility, panels
from .models import (
    Assignment,
    AssignmentStatus,
    Channel,
    ConflictSide,
    Cycle,
    DeclaredConflict,
    EventKind,
    Nomination,
    NominationStatus,
    Programme,
    Review,
)
from .schemas import (
    AssignmentRow,
    CloseReviewRead,
    ConflictOnAssignment,
    Criterion,
    EventCreate,
    EventRead,
    MyAssignment,
    MyAssignmentDetail,
    ResultRow,
    Results,
    ReviewRead,
    ReviewSubmit,
)
from .service import move

OUTLIER_SHARE = 0.3  # a total further than this share of the scale from the panel's median
UNDER_REVIEW = (NominationStatus.in_review, NominationStatus.scored)  # reviews may still change
RANKED = (
    NominationStatus.in_review,
    NominationStatus.scored,
    NominationStatus.shortlisted,
    NominationStatus.awarded,
    NominationStatus.not_awarded,
)


def _own(
    session: Session, principal: Principal, assignment_id: uuid.UUID, *, for_update: bool = False
) -> Assignment:
    """The caller's own assignment; anyone else's answers 404, as if it did not exist.
    `for_update` locks its nomination, then the seat."""
    a = session.get(Assignment, assignment_id)
    if a is None or principal.person_id is None or a.reviewer_person_id != principal.person_id:
        raise NotFound("assignment among your own")
    if for_update:
        lock_nomination(session, a.nomination_id)
        session.refresh(a, with_for_update=True)
    return a


def lock_nomination(session: Session, nomination_id: uuid.UUID) -> Nomination:
    """The nomination, locked until commit, then read afresh. Whatever changes its seats or
    decides its status takes this lock first (the seats after it, as assignment and withdrawal
    do), so two last reviews arriving together are counted one after the other."""
    n = session.scalar(
        select(Nomination)
        .where(Nomination.id == nomination_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    assert n is not None
    return n


def _context(session: Session, a: Assignment) -> tuple[Nomination, Cycle, Programme]:
    n = session.get(Nomination, a.nomination_id)
    c = session.get(Cycle, a.cycle_id)
    p = session.get(Programme, c.programme_id) if c else None
    assert n is not None
    assert c is not None
    assert p is not None
    return n, c, p


def _mine(session: Session, a: Assignment) -> MyAssignment:
    return _mine_of(a, *_context(session, a))


def _mine_of(a: Assignment, n: Nomination, c: Cycle, p: Programme) -> MyAssignment:
    return MyAssignment(
        id=a.id,
        status=a.status,
        cycle_id=c.id,
        programme_name=p.name,
        year=c.year,
        nomination_no=n.nomination_no,
        nominee_name=(n.snapshot or {}).get("name", ""),
        review_due=c.review_due,
        review_deadline=c.review_deadline,
    )


def list_mine(session: Session, principal: Principal) -> list[MyAssignment]:
    if principal.person_id is None:
        return []
    # One statement for every assignment with its nomination, cycle and programme.
    rows = session.execute(
        select(Assignment, Nomination, Cycle, Programme)
        .join(Nomination, Nomination.id == Assignment.nomination_id)
        .join(Cycle, Cycle.id == Assignment.cycle_id)
        .join(Programme, Programme.id == Cycle.programme_id)
        .where(Assignment.reviewer_person_id == principal.person_id)
        .order_by(Assignment.created_at.desc(), Assignment.id)
    ).all()
    return [_mine_of(a, n, c, p) for a, n, c, p in rows]


def get_mine(
    session: Session, principal: Principal, assignment_id: uuid.UUID
) -> MyAssignmentDetail:
    a = _own(session, principal, assignment_id)
    n, c, _ = _context(session, a)
    review = session.scalar(select(Review).where(Review.assignment_id == a.id))
    return MyAssignmentDetail(
        **_mine(session, a).model_dump(),
        summary=n.summary,
        nominee=n.snapshot or {},
        criteria=[Criterion.model_validate(x) for x in c.criteria],
        score_min=c.score_min,
        score_max=c.score_max,
        my_scores=review.scores if review else None,
        my_comment=review.comment if review else None,
    )


def weighted_total(criteria: list[dict], scores: dict[str, float]) -> float:
    weight = sum(float(c["weight"]) for c in criteria)
    return round(sum(float(c["weight"]) * scores[c["code"]] for c in criteria) / weight, 6)


def _check_scores(c: Cycle, scores: dict[str, float]) -> None:
    codes = [x["code"] for x in c.criteria]
    errors = [
        FieldError(f"scores.{code}", "missing: every criterion needs a score")
        for code in codes
        if code not in scores
    ]
    errors += [
        FieldError(f"scores.{code}", f"unknown criterion; this cycle has {', '.join(codes)}")
        for code in scores
        if code not in codes
    ]
    errors += [
        FieldError(
            f"scores.{code}",
            f"{value:g} is outside the scale {c.score_min} to {c.score_max}",
        )
        for code, value in scores.items()
        if code in codes and not (math.isfinite(value) and c.score_min <= value <= c.score_max)
    ]
    if errors:
        raise ProblemError(
            "; ".join(f"{e.field}: {e.reason}" for e in errors), 422, "validation-error", errors
        )


def submit_review(
    session: Session,
    *,
    principal: Principal,
    assignment_id: uuid.UUID,
    data: ReviewSubmit,
    today: date,
) -> ReviewRead:
    """Scores per criterion within the scale, by the deadline; may be revised until then."""
    a = _own(session, principal, assignment_id, for_update=True)
    n, c, _ = _context(session, a)
    if a.status not in (AssignmentStatus.assigned, AssignmentStatus.reviewed):
        raise Conflict(f"this assignment is {a.status}; it takes no scores")
    if c.review_closed_at is not None:
        raise ProblemError("the review of this cycle is closed", 409, "review-closed")
    if n.status not in UNDER_REVIEW:
        # Decided (or withdrawn): the scores the committee went by stay as they were.
        raise ProblemError(
            f"the nomination is {n.status}; its reviews no longer change", 409, "review-closed"
        )
    if c.review_deadline is not None and today > c.review_deadline:
        raise ProblemError(
            f"the review deadline {c.review_deadline.isoformat()} has passed",
            409,
            "review-deadline",
        )
    _check_scores(c, data.scores)
    total = weighted_total(c.criteria, data.scores)
    review = session.scalar(select(Review).where(Review.assignment_id == a.id))
    now = datetime.now(UTC)
    if review is None:
        late = c.review_due is not None and today > c.review_due
        review = Review(
            assignment_id=a.id,
            scores=dict(data.scores),
            weighted_total=total,
            comment=data.comment,
            late=late,
        )
        session.add(review)
        a.status = AssignmentStatus.reviewed
        a.updated_at = now
        credibility.record(
            session,
            reviewer_person_id=a.reviewer_person_id,
            kind=EventKind.late if late else EventKind.on_time,
            recorded_by="system",
            cycle_id=c.id,
            nomination_id=n.id,
            assignment_id=a.id,
        )
    else:
        review.scores, review.weighted_total = dict(data.scores), total
        review.comment, review.updated_at = data.comment, now
    session.flush()
    _maybe_scored(session, n)
    return ReviewRead(
        assignment_id=a.id,
        scores=review.scores,
        weighted_total=review.weighted_total,
        late=review.late,
        submitted_at=review.submitted_at or now,
    )


def _maybe_scored(session: Session, n: Nomination) -> None:
    """in_review -> scored once every seat still open has its review (the caller holds the
    nomination's lock, so the seats it counts include every committed review)."""
    if n.status != NominationStatus.in_review:
        return
    statuses = list(
        session.scalars(select(Assignment.status).where(Assignment.nomination_id == n.id))
    )
    if AssignmentStatus.reviewed in statuses and AssignmentStatus.assigned not in statuses:
        move(session, n, NominationStatus.scored, actor="system", source="reviews")


def declare_conflict(
    session: Session,
    backend: SearchBackend,
    *,
    principal: Principal,
    assignment_id: uuid.UUID,
    reason: str,
    today: date,
) -> ConflictOnAssignment:
    """The reviewer steps aside: the conflict is recorded and the seat goes to someone else."""
    a = _own(session, principal, assignment_id, for_update=True)
    if a.status != AssignmentStatus.assigned:
        raise Conflict(f"this assignment is {a.status}; a conflict is declared before scoring")
    n, c, _ = _context(session, a)
    session.add(
        DeclaredConflict(
            reviewer_person_id=a.reviewer_person_id,
            nominee_person_id=n.nominee_person_id,
            nomination_id=n.id,
            side=ConflictSide.reviewer,
            reason=reason,
            declared_on=today,
            declared_by=history.actor_of(principal),
        )
    )
    credibility.record(
        session,
        reviewer_person_id=a.reviewer_person_id,
        kind=EventKind.declared_conflict,
        recorded_by=history.actor_of(principal),
        cycle_id=c.id,
        nomination_id=n.id,
        assignment_id=a.id,
        note=reason,
    )
    replacement = vacate(session, backend, assignment=a, nomination=n, cycle=c, today=today)
    return ConflictOnAssignment(
        assignment_id=a.id,
        status=a.status,
        replacement="assigned" if replacement else "none_available",
    )


def vacate(
    session: Session,
    backend: SearchBackend,
    *,
    assignment: Assignment,
    nomination: Nomination,
    cycle: Cycle,
    today: date,
) -> Assignment | None:
    """Take a conflicted reviewer off a panel and seat the best free replacement."""
    assignment.status = AssignmentStatus.conflict_declared
    assignment.updated_at = datetime.now(UTC)
    session.flush()
    replacement = panels.replace(
        session, backend, assignment=assignment, nomination=nomination, cycle=cycle, today=today
    )
    if replacement is None:
        _maybe_scored(session, nomination)
    return replacement


def close_review(session: Session, *, cycle: Cycle, actor: str) -> CloseReviewRead:
    """Missing reviews become `missed`, outlying totals are recorded, reviewed ones `scored`."""
    # The cycle, then its nominations, as a review locks its nomination: a review in flight
    # is counted or comes after and is refused, and two closings do not both count.
    session.refresh(cycle, with_for_update=True)
    session.execute(
        select(Nomination.id)
        .where(Nomination.cycle_id == cycle.id)
        .order_by(Nomination.id)
        .with_for_update()
    )
    if cycle.review_closed_at is not None:
        raise ProblemError("the review of this cycle is already closed", 409, "review-closed")
    missed = 0
    for a in session.scalars(
        select(Assignment).where(
            Assignment.cycle_id == cycle.id, Assignment.status == AssignmentStatus.assigned
        )
    ):
        a.status = AssignmentStatus.missed
        credibility.record(
            session,
            reviewer_person_id=a.reviewer_person_id,
            kind=EventKind.missed,
            recorded_by=actor,
            cycle_id=cycle.id,
            nomination_id=a.nomination_id,
            assignment_id=a.id,
        )
        missed += 1
    # Reviews of a withdrawn nomination stay on record but are not judged: the nomination is
    # not ranked, and a total far from the others' may be why it was withdrawn.
    by_nomination: dict[uuid.UUID, list[tuple[Assignment, Review]]] = defaultdict(list)
    for a, r in session.execute(
        select(Assignment, Review)
        .join(Review, Review.assignment_id == Assignment.id)
        .join(Nomination, Nomination.id == Assignment.nomination_id)
        .where(Assignment.cycle_id == cycle.id, Nomination.status != NominationStatus.withdrawn)
    ).all():
        by_nomination[a.nomination_id].append((a, r))
    outliers = 0
    limit = OUTLIER_SHARE * (cycle.score_max - cycle.score_min)
    for nid, pairs in sorted(by_nomination.items()):
        if len(pairs) < 3:
            continue
        # From the panel's median: two totals that agree are not outliers because a third
        # stands apart from them.
        middle = statistics.median(x.weighted_total for _, x in pairs)
        for a, r in pairs:
            if abs(r.weighted_total - middle) > limit:
                credibility.record(
                    session,
                    reviewer_person_id=a.reviewer_person_id,
                    kind=EventKind.outlier_scores,
                    recorded_by=actor,
                    cycle_id=cycle.id,
                    nomination_id=nid,
                    assignment_id=a.id,
                    note=f"total {r.weighted_total:g}, the panel's median {middle:g}",
                )
                outliers += 1
    scored = 0
    for n in session.scalars(
        select(Nomination).where(
            Nomination.cycle_id == cycle.id, Nomination.status == NominationStatus.in_review
        )
    ):
        if n.id in by_nomination:
            move(session, n, NominationStatus.scored, actor=actor, source="close-review")
            scored += 1
    cycle.review_closed_at = datetime.now(UTC)
    session.flush()
    return CloseReviewRead(missed=missed, scored=scored, outliers=outliers)


def z_scores(
    totals: list[tuple[uuid.UUID, uuid.UUID, float]],
) -> dict[tuple[uuid.UUID, uuid.UUID], float]:
    """(reviewer, nomination, total) -> z within the reviewer (or the cycle, for a reviewer with
    a single total)."""
    values = [t for _, _, t in totals]
    g_mean = statistics.fmean(values) if values else 0.0
    g_sd = statistics.pstdev(values) if len(values) > 1 else 0.0
    mine: dict[uuid.UUID, list[float]] = defaultdict(list)
    for reviewer, _, t in totals:
        mine[reviewer].append(t)
    out = {}
    for reviewer, nomination, t in totals:
        own = mine[reviewer]
        sd = statistics.pstdev(own) if len(own) > 1 else 0.0
        if sd > 0:
            z = (t - statistics.fmean(own)) / sd
        elif len(own) > 1:
            z = 0.0  # all alike: at this reviewer's own mean, as a harsh or lenient level is
        elif g_sd > 0:
            z = (t - g_mean) / g_sd
        else:
            z = 0.0
        out[(reviewer, nomination)] = z
    return out


def results(session: Session, *, cycle: Cycle) -> Results:
    rows = session.execute(
        select(Assignment.reviewer_person_id, Assignment.nomination_id, Review)
        .join(Review, Review.assignment_id == Assignment.id)
        .join(Nomination, Nomination.id == Assignment.nomination_id)
        .where(Assignment.cycle_id == cycle.id, Nomination.status.in_(RANKED))
    ).all()
    z = z_scores([(rv, nid, r.weighted_total) for rv, nid, r in rows])
    per: dict[uuid.UUID, list[tuple[uuid.UUID, Review]]] = defaultdict(list)
    for rv, nid, r in rows:
        per[nid].append((rv, r))
    noms = {
        n.id: (n, code)
        for n, code in session.execute(
            select(Nomination, Organisation.code)
            .join(Channel, Channel.id == Nomination.channel_id)
            .join(Organisation, Organisation.id == Channel.org_id)
            .where(Nomination.id.in_(list(per)))
        ).all()
    }
    codes = [c["code"] for c in cycle.criteria]
    scored = []
    for nid, reviews in per.items():
        n, channel = noms[nid]
        normalised = round(statistics.fmean(z[(rv, nid)] for rv, _ in reviews), 6)
        scored.append(
            (
                normalised,
                n,
                channel,
                len(reviews),
                round(statistics.fmean(r.weighted_total for _, r in reviews), 4),
                {
                    c: round(statistics.fmean(float(r.scores[c]) for _, r in reviews), 4)
                    for c in codes
                },
            )
        )
    scored.sort(key=lambda s: (-s[0], s[1].nomination_no))
    counts: dict[float, int] = defaultdict(int)
    for s in scored:
        counts[s[0]] += 1
    out, rank = [], 0
    for i, (normalised, n, channel, count, mean, crit) in enumerate(scored):
        if i == 0 or normalised != scored[i - 1][0]:
            rank = i + 1  # competition ranking: 1, 2, 2, 4
        out.append(
            ResultRow(
                rank=rank,
                tied=counts[normalised] > 1,
                nomination_id=n.id,
                nomination_no=n.nomination_no,
                nominee_name=(n.snapshot or {}).get("name") or _name(session, n),
                channel_org_code=channel,
                status=n.status,
                reviews=count,
                mean_total=mean,
                normalised=normalised,
                criteria=crit,
            )
        )
    return Results(cycle_id=cycle.id, rows=out)


def _name(session: Session, n: Nomination) -> str:
    p = session.get(Person, n.nominee_person_id)
    return p.name if p else ""


def results_csv(data: Results, criteria: list[str]) -> str:
    """UTF-8 with BOM so that spreadsheet programs read the Chinese names."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        spreadsheet.row([
            "rank", "tied", "nomination_no", "nominee_name", "channel_org_code", "status",
            "reviews", "mean_total", "normalised", *criteria,
        ])
    )  # fmt: skip
    for r in data.rows:
        writer.writerow(
            spreadsheet.row([
                r.rank, "yes" if r.tied else "no", r.nomination_no, r.nominee_name,
                r.channel_org_code, r.status.value, r.reviews, r.mean_total, r.normalised,
                *(r.criteria.get(c, "") for c in criteria),
            ])
        )  # fmt: skip
    return "\ufeff" + buffer.getvalue()


def vacate_declared(
    session: Session, backend: SearchBackend, *, conflict_id: uuid.UUID, today: date
) -> Assignment | None:
    """A conflict declared by the nominee's side or the committee frees the seat it concerns."""
    conflict = session.get(DeclaredConflict, conflict_id)
    if conflict is None or conflict.nomination_id is None:
        return None
    return vacate_seat(
        session,
        backend,
        nomination_id=conflict.nomination_id,
        reviewer_person_id=conflict.reviewer_person_id,
        today=today,
    )


def vacate_seat(
    session: Session,
    backend: SearchBackend,
    *,
    nomination_id: uuid.UUID,
    reviewer_person_id: uuid.UUID,
    today: date,
) -> Assignment | None:
    """The reviewer's unreviewed seat on the nomination's panel goes to someone else."""
    lock_nomination(session, nomination_id)
    a = session.scalar(
        select(Assignment)
        .where(
            Assignment.nomination_id == nomination_id,
            Assignment.reviewer_person_id == reviewer_person_id,
            Assignment.status == AssignmentStatus.assigned,
        )
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if a is None:
        return None
    n, c, _ = _context(session, a)
    return vacate(session, backend, assignment=a, nomination=n, cycle=c, today=today)


def record_event(
    session: Session,
    backend: SearchBackend,
    *,
    principal: Principal,
    person_id: uuid.UUID,
    data: EventCreate,
    today: date,
) -> EventRead:
    """A committee's entry on a reviewer's record. An undeclared conflict found on a nomination
    also takes the reviewer off its panel, as a conflict declared on the nomination does."""
    event = credibility.add_event(
        session,
        principal=principal,
        person_id=person_id,
        data=data,
        today=today,
    )
    if event.kind == EventKind.undeclared_conflict and event.nomination_id is not None:
        vacate_seat(
            session,
            backend,
            nomination_id=event.nomination_id,
            reviewer_person_id=person_id,
            today=today,
        )
    return event


def panel_rows(session: Session, cycle: Cycle) -> list[AssignmentRow]:
    rows = session.execute(
        select(Assignment, Nomination.nomination_no, Person.name)
        .join(Nomination, Nomination.id == Assignment.nomination_id)
        .join(Person, Person.id == Assignment.reviewer_person_id)
        .where(Assignment.cycle_id == cycle.id)
        .order_by(Nomination.nomination_no, Person.name, Assignment.id)
    ).all()
    return [
        AssignmentRow(
            id=a.id,
            nomination_id=a.nomination_id,
            nomination_no=number,
            reviewer_person_id=a.reviewer_person_id,
            reviewer_name=name,
            status=a.status,
            source=a.source,
            affinity=a.affinity,
        )
        for a, number, name in rows
    ]
