"""Conflicts of interest between a nomination and candidate reviewers: a list of rules with reasons.

Each rule takes the nomination (as a `Subject`) and the candidates and answers, for the
candidates it rules out, why. `RULES` is the list; `register` adds to it. The rules that only
need the nominee (declared conflicts, institutions shared within the last years, seats held
together now) are also registered with expert search, so `conflicts_with` there honours them.

Another module adds a rule with `@register("code")`; a rule answers {person_id: "why"}.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time

from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session, aliased

from services.search import conflicts as search_conflicts
from services.search.analysis import institution_key
from services.search.protocol import Exclusions

from ..auth.models import Account, Role, RoleGrant
from ..core import clock
from ..core.clock import ZONE, years_before
from ..core.models import ChangeRecord
from ..governance.models import BodySeat, GovernanceBody
from ..orgs.models import Organisation
from ..people.models import Person
from .models import DeclaredConflict, Nomination, NominationStatus

DEFAULT_YEARS = 3


@dataclass(frozen=True)
class Subject:
    """A nomination as the conflict rules see it."""

    nomination_id: uuid.UUID | None
    people: tuple[Person, ...]  # the nominee first, then team members
    channel_org_id: uuid.UUID | None
    today: date
    years: int = DEFAULT_YEARS
    cycle_id: uuid.UUID | None = None  # rival nominations are those of the same cycle

    @property
    def ids(self) -> frozenset[uuid.UUID]:
        return frozenset(p.id for p in self.people)


# A rule answers {candidate id: reason} for the candidates it rules out.
NominationRule = Callable[[Session, Subject, Sequence[Person]], dict[uuid.UUID, str]]
RULES: list[tuple[str, NominationRule]] = []
Found = dict[uuid.UUID, str]


def register(code: str) -> Callable[[NominationRule], NominationRule]:
    """Add a rule under `code` (the name a reason is reported with)."""

    def add(rule: NominationRule) -> NominationRule:
        RULES.append((code, rule))
        return rule

    return add


def find(
    session: Session, subject: Subject, candidates: Sequence[Person]
) -> dict[uuid.UUID, list[tuple[str, str]]]:
    """Every candidate with a conflict, and each (rule, reason) that applies."""
    found: dict[uuid.UUID, list[tuple[str, str]]] = defaultdict(list)
    if not candidates:
        return {}
    for code, rule in RULES:
        for person_id, reason in rule(session, subject, candidates).items():
            found[person_id].append((code, reason))
    return dict(found)


# --- the rules ----------------------------------------------------------------------------


@register("self")
def _self(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    lead = subject.people[0].id if subject.people else None
    return {
        c.id: "is the nominee" if c.id == lead else "is a member of the nominated team"
        for c in candidates
        if c.id in subject.ids
    }


@register("competing_nominee")
def _competing_nominee(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    """Nominees and team members of the cycle's other live nominations: rivals for the same
    award do not judge each other."""
    ids = [c.id for c in candidates if c.id not in subject.ids]
    if subject.cycle_id is None or not ids:
        return {}
    query = select(
        Nomination.nomination_no, Nomination.nominee_person_id, Nomination.team_person_ids
    ).where(
        Nomination.cycle_id == subject.cycle_id,
        Nomination.status != NominationStatus.withdrawn,
        or_(Nomination.nominee_person_id.in_(ids), Nomination.team_person_ids.overlap(ids)),
    )
    if subject.nomination_id is not None:
        query = query.where(Nomination.id != subject.nomination_id)
    wanted, out = set(ids), {}
    for number, lead, team in session.execute(query.order_by(Nomination.nomination_no)).all():
        if lead in wanted:
            out.setdefault(lead, f"is the nominee of {number}, a rival nomination in this cycle")
        for pid in team:
            if pid in wanted:
                out.setdefault(pid, f"is on the team of {number}, a rival nomination in this cycle")
    return out


def _keys(person: Person) -> set[str]:
    keys = set()
    if key := institution_key(person.institution):
        keys.add("name:" + key)
    if person.institution_uscc:
        keys.add("uscc:" + person.institution_uscc)
    return keys


@register("same_institution")
def _same_institution(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    theirs: dict[str, Person] = {}
    for p in subject.people:
        for key in _keys(p):
            theirs.setdefault(key, p)
    out = {}
    for c in candidates:
        if c.id in subject.ids:
            continue
        for key in sorted(_keys(c)):
            if key in theirs:
                who = theirs[key]
                how = "by USCC" if key.startswith("uscc:") else "by name"
                out[c.id] = f"works at {c.institution or who.institution} like {who.name} ({how})"
                break
    return out


def _since(today: date, years: int) -> datetime:
    """The start (midnight in Beijing, as `today` is a Beijing date) of the same calendar day
    `years` before `today`."""
    return datetime.combine(years_before(today, years), time.min, tzinfo=ZONE)


def past_institutions(
    session: Session, person_ids: Sequence[uuid.UUID], since: datetime
) -> dict[uuid.UUID, set[str]]:
    """Institutions (as keys) people left after `since`, from the profile's change history."""
    out: dict[uuid.UUID, set[str]] = defaultdict(set)
    ids = list(dict.fromkeys(person_ids))
    for start in range(0, len(ids), 5_000):
        rows = session.execute(
            select(ChangeRecord.entity_id, ChangeRecord.field, ChangeRecord.old_value).where(
                ChangeRecord.entity == "person",
                ChangeRecord.entity_id.in_(ids[start : start + 5_000]),
                ChangeRecord.field.in_(("institution", "institution_uscc")),
                ChangeRecord.changed_at >= since,
                ChangeRecord.old_value.is_not(None),
            )
        ).all()
        for person_id, field, old in rows:
            if field == "institution":
                if key := institution_key(old):
                    out[person_id].add("name:" + key)
            else:
                out[person_id].add("uscc:" + old)
    return out


@register("shared_institution")
def _shared_institution(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    """Colleagues within `years`: either side's former institution is the other's, current or
    former, by the affiliation history the profiles keep."""
    since = _since(subject.today, subject.years)
    others = [c for c in candidates if c.id not in subject.ids]
    history = past_institutions(session, [*subject.ids, *(c.id for c in others)], since)
    theirs_now = set().union(*(_keys(p) for p in subject.people))
    theirs_past = set().union(*(history.get(p.id, set()) for p in subject.people))
    out = {}
    for c in others:
        mine_now, mine_past = _keys(c), history.get(c.id, set())
        shared = (theirs_past & (mine_now | mine_past)) | (mine_past & theirs_now)
        if shared:
            what = sorted(shared)[0].split(":", 1)[1]
            out[c.id] = f"shared institution {what} within the last {subject.years} years"
    return out


@register("channel_staff")
def _channel_staff(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    """Staff of the nominating organisation (or of one above it, who may act for it)."""
    if subject.channel_org_id is None:
        return {}
    channel = session.get(Organisation, subject.channel_org_id)
    if channel is None:
        return {}
    ids = [c.id for c in candidates]
    rows = session.execute(
        select(Account.person_id, Organisation.code)
        .join(RoleGrant, RoleGrant.account_id == Account.id)
        .join(Organisation, Organisation.id == RoleGrant.org_id)
        .where(
            Account.person_id.in_(ids),
            Account.is_active.is_(True),
            RoleGrant.role.in_((Role.org_admin, Role.org_staff)),
        )
    ).all()
    orgs = {
        o.code: o.path for o in session.scalars(select(Organisation).where(
            Organisation.code.in_({code for _, code in rows})
        ))
    } if rows else {}  # fmt: skip
    out = {}
    for person_id, code in sorted(rows, key=lambda r: (str(r[0]), r[1])):
        if channel.path.startswith(orgs[code]) and person_id not in out:
            out[person_id] = f"staff of {code}, which nominates through {channel.code}"
    return out


@register("same_council")
def _same_council(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    """Seats held now on the same council, standing council or board of supervisors."""
    ours, theirs = aliased(BodySeat), aliased(BodySeat)
    today = subject.today
    rows = session.execute(
        select(theirs.person_id, ours.person_id, GovernanceBody.kind, Organisation.code)
        .join(ours, ours.body_id == theirs.body_id)
        .join(GovernanceBody, GovernanceBody.id == theirs.body_id)
        .join(Organisation, Organisation.id == GovernanceBody.org_id)
        .where(
            theirs.person_id.in_([c.id for c in candidates if c.id not in subject.ids]),
            ours.person_id.in_(list(subject.ids)),
            _seated(ours, today),
            _seated(theirs, today),
            GovernanceBody.term_start <= today,
            or_(GovernanceBody.term_end.is_(None), GovernanceBody.term_end >= today),
        )
        .order_by(theirs.person_id, Organisation.code)
    ).all()
    names = {p.id: p.name for p in subject.people}
    out: Found = {}
    for candidate_id, member_id, kind, org_code in rows:
        body = kind.replace("_", " ")
        out.setdefault(candidate_id, f"sits on the {body} of {org_code} with {names[member_id]}")
    return out


@register("declared")
def _declared(session: Session, subject: Subject, candidates: Sequence[Person]) -> Found:
    ids = list(subject.ids)
    cands = [c.id for c in candidates]
    rows = session.scalars(
        select(DeclaredConflict)
        .where(
            or_(
                and_(
                    DeclaredConflict.nominee_person_id.in_(ids),
                    DeclaredConflict.reviewer_person_id.in_(cands),
                ),
                and_(
                    DeclaredConflict.reviewer_person_id.in_(ids),
                    DeclaredConflict.nominee_person_id.in_(cands),
                ),
            )
        )
        .order_by(DeclaredConflict.created_at)
    ).all()
    out = {}
    for row in rows:
        other = (
            row.reviewer_person_id
            if row.nominee_person_id in subject.ids
            else row.nominee_person_id
        )
        out.setdefault(
            other, f"declared by the {row.side} side on {row.declared_on.isoformat()}: {row.reason}"
        )
    return out


# --- the same facts for expert search (`conflicts_with`) -----------------------------------


def _declared_for_search(session: Session, person: Person) -> Exclusions:
    rows = session.execute(
        select(DeclaredConflict.reviewer_person_id, DeclaredConflict.nominee_person_id).where(
            or_(
                DeclaredConflict.nominee_person_id == person.id,
                DeclaredConflict.reviewer_person_id == person.id,
            )
        )
    ).all()
    return Exclusions(person_ids=frozenset(a if b == person.id else b for a, b in rows))


def _past_institutions_for_search(session: Session, person: Person) -> Exclusions:
    since = _since(clock.today(), DEFAULT_YEARS)
    keys = past_institutions(session, [person.id], since).get(person.id, set())
    return Exclusions(
        institution_keys=frozenset(k[5:] for k in keys if k.startswith("name:")),
        institution_usccs=frozenset(k[5:] for k in keys if k.startswith("uscc:")),
    )


def _same_council_for_search(session: Session, person: Person) -> Exclusions:
    """Those seated now on a council, standing council or board the person sits on now (the
    `same_council` rule, as of today)."""
    today = clock.today()
    ours, theirs = aliased(BodySeat), aliased(BodySeat)
    ids = session.scalars(
        select(theirs.person_id)
        .join(ours, ours.body_id == theirs.body_id)
        .join(GovernanceBody, GovernanceBody.id == theirs.body_id)
        .where(
            ours.person_id == person.id,
            theirs.person_id != person.id,
            *(_seated(seat, today) for seat in (ours, theirs)),
            GovernanceBody.term_start <= today,
            or_(GovernanceBody.term_end.is_(None), GovernanceBody.term_end >= today),
        )
    ).all()
    return Exclusions(person_ids=frozenset(ids))


def _seated(seat: type[BodySeat], today: date) -> ColumnElement[bool]:
    return and_(
        or_(seat.started_on.is_(None), seat.started_on <= today),
        or_(seat.ended_on.is_(None), seat.ended_on >= today),
    )


search_conflicts.register(_declared_for_search)
search_conflicts.register(_past_institutions_for_search)
search_conflicts.register(_same_council_for_search)
