"""Award rules: programmes and cycles, nominations through channels, the status machine."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidField,
    NotFound,
    ProblemError,
    register_unique,
)
from ..orgs import service as org_service
from ..orgs.models import Organisation, OrgStatus
from ..people import service as people_service
from ..people.models import Person
from . import eligibility
from .models import (
    Assignment,
    AssignmentStatus,
    Channel,
    ConflictSide,
    Cycle,
    DeclaredConflict,
    Nomination,
    NominationStatus,
    Programme,
)
from .schemas import (
    ChannelRead,
    ConflictDeclare,
    Criterion,
    CycleCreate,
    CycleRead,
    DeclaredConflictRead,
    FailedRule,
    NominationCreate,
    NominationRead,
    ProgrammeCreate,
    ProgrammeRead,
    ProgrammeRules,
)

register_unique("uq_award_programme_code", "code", "a programme with this code exists")
register_unique("uq_award_cycle_programme_id_year", "year", "the programme has a cycle this year")
register_unique(
    "uq_nomination_cycle_id_nominee_person_id",
    "nominee_person_id",
    "the nominee is already nominated in this cycle (one nomination per nominee per cycle)",
)

S = NominationStatus
# Where each status may go next; the service checks every change against this table.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.draft: frozenset({S.submitted, S.withdrawn}),
    S.submitted: frozenset({S.eligible, S.ineligible}),
    S.ineligible: frozenset({S.submitted, S.withdrawn}),
    S.eligible: frozenset({S.in_review, S.withdrawn}),
    S.in_review: frozenset({S.scored, S.eligible, S.withdrawn}),
    S.scored: frozenset({S.shortlisted, S.not_awarded, S.withdrawn}),
    S.shortlisted: frozenset({S.awarded, S.not_awarded, S.withdrawn}),
    S.awarded: frozenset(),
    S.not_awarded: frozenset(),
    S.withdrawn: frozenset(),
}
DECISIONS = frozenset({S.shortlisted, S.awarded, S.not_awarded})
LIVE = [s for s in NominationStatus if s != S.withdrawn]


def move(
    session: Session,
    nomination: Nomination,
    to: str,
    *,
    actor: str,
    reason: str | None = None,
    source: str = "api",
) -> None:
    """Change status along the table, or refuse naming both ends (409)."""
    if to not in TRANSITIONS[nomination.status]:
        allowed = ", ".join(sorted(TRANSITIONS[nomination.status])) or "nothing (final)"
        raise ProblemError(
            f"a nomination that is {nomination.status} cannot become {to}; allowed: {allowed}",
            409,
            "invalid-transition",
        )
    changes = history.assign(nomination, {"status": to})
    if to in {S.awarded, S.not_awarded}:
        nomination.decided_at = datetime.now(UTC)
    history.save_changes(
        session,
        nomination,
        entity="nomination",
        changes=changes,
        actor=actor,
        source=source,
        reason=reason,
    )


# --- programmes ---------------------------------------------------------------------------


def _org_code(session: Session, org_id: uuid.UUID) -> str:
    return session.scalar(select(Organisation.code).where(Organisation.id == org_id)) or ""


def programme_read(
    session: Session, p: Programme, owner_org_code: str | None = None
) -> ProgrammeRead:
    """`owner_org_code` when already read (a list reads its owners with the programmes)."""
    return ProgrammeRead(
        code=p.code,
        name=p.name,
        name_en=p.name_en,
        owner_org_code=(
            _org_code(session, p.owner_org_id) if owner_org_code is None else owner_org_code
        ),
        kind=p.kind,
        rules=ProgrammeRules.model_validate(p.rules),
        created_at=p.created_at,
        updated_at=p.updated_at,
    )


def programme_by_code(session: Session, code: str) -> Programme:
    p = session.scalar(select(Programme).where(Programme.code == code.strip().upper()))
    if p is None:
        raise NotFound("programme")
    return p


def create_programme(
    session: Session, *, principal: Principal | None, data: ProgrammeCreate
) -> ProgrammeRead:
    owner = org_service.by_code(session, data.owner_org_code)
    if owner is None or (
        principal is not None and not principal.covers_path(Permission.awards_manage, owner.path)
    ):
        raise InvalidField("owner_org_code", "no organisation with this code in your scope")
    need = data.rules.requires_membership
    if need and need.org_code and org_service.by_code(session, need.org_code) is None:
        raise InvalidField("rules.requires_membership.org_code", "no organisation has this code")
    if session.scalar(select(Programme.id).where(Programme.code == data.code)):
        raise Conflict("a programme with this code exists", "code")
    p = Programme(
        code=data.code,
        name=data.name,
        name_en=data.name_en,
        owner_org_id=owner.id,
        kind=data.kind,
        rules=data.rules.model_dump(mode="json"),
    )
    session.add(p)
    session.flush()
    history.record(
        session,
        entity="programme",
        entity_id=p.id,
        changes=[("created", None, p.code)],
        actor=history.actor_of(principal),
        source="api",
    )
    return programme_read(session, p)


def list_programmes(session: Session) -> list[ProgrammeRead]:
    return [
        programme_read(session, p, owner)
        for p, owner in session.execute(
            select(Programme, Organisation.code)
            .join(Organisation, Organisation.id == Programme.owner_org_id)
            .order_by(Programme.code)
        ).all()
    ]


def _owner_path(session: Session, programme: Programme) -> str:
    return (
        session.scalar(select(Organisation.path).where(Organisation.id == programme.owner_org_id))
        or ""
    )


def managed_programme(session: Session, principal: Principal, code: str) -> Programme:
    """A programme the caller manages (its owner organisation is in scope); else 404."""
    p = programme_by_code(session, code)
    if not principal.covers_path(Permission.awards_manage, _owner_path(session, p)):
        raise NotFound("programme")
    return p


# --- cycles -------------------------------------------------------------------------------


def cycle_read(session: Session, c: Cycle) -> CycleRead:
    return cycle_reads(session, [c])[0]


def cycle_reads(session: Session, cycles: list[Cycle]) -> list[CycleRead]:
    """CycleRead of each cycle, with its programme, channels and their places used read for
    all of them at once (a list of cycles costs what one does)."""
    if not cycles:
        return []
    ids = [c.id for c in cycles]
    programmes = {
        p.id: p
        for p in session.scalars(
            select(Programme).where(Programme.id.in_({c.programme_id for c in cycles}))
        )
    }
    used: dict[uuid.UUID, int] = {
        channel_id: int(count)
        for channel_id, count in session.execute(
            select(Nomination.channel_id, func.count())
            .where(Nomination.cycle_id.in_(ids), Nomination.status != S.withdrawn)
            .group_by(Nomination.channel_id)
        ).all()
    }
    channels: dict[uuid.UUID, list[ChannelRead]] = {c.id: [] for c in cycles}
    for ch, code, name in session.execute(
        select(Channel, Organisation.code, Organisation.name)
        .join(Organisation, Organisation.id == Channel.org_id)
        .where(Channel.cycle_id.in_(ids))
        .order_by(Organisation.code)
    ).all():
        channels[ch.cycle_id].append(
            ChannelRead(org_code=code, org_name=name, quota=ch.quota, used=used.get(ch.id, 0))
        )
    return [
        CycleRead(
            id=c.id,
            programme_code=programmes[c.programme_id].code,
            programme_name=programmes[c.programme_id].name,
            year=c.year,
            nominations_open=c.nominations_open,
            nominations_close=c.nominations_close,
            age_cutoff_date=c.age_cutoff_date,
            channels=channels[c.id],
            reviewers_per_nomination=c.reviewers_per_nomination,
            max_load=c.max_load,
            max_per_institution=c.max_per_institution,
            min_per_panel=c.min_per_panel,
            conflict_years=c.conflict_years,
            criteria=[Criterion.model_validate(x) for x in c.criteria],
            score_min=c.score_min,
            score_max=c.score_max,
            review_due=c.review_due,
            review_deadline=c.review_deadline,
            review_closed_at=c.review_closed_at,
            created_at=c.created_at,
        )
        for c in cycles
    ]


def create_cycle(
    session: Session, *, principal: Principal | None, programme: Programme, data: CycleCreate
) -> CycleRead:
    if session.scalar(
        select(Cycle.id).where(Cycle.programme_id == programme.id, Cycle.year == data.year)
    ):
        raise Conflict(f"the programme has a cycle for {data.year}", "year")
    orgs = {
        o.code: o
        for o in session.scalars(
            select(Organisation).where(Organisation.code.in_([ch.org_code for ch in data.channels]))
        )
    }
    errors = [
        FieldError(f"channels.{i}.org_code", "no organisation has this code")
        if ch.org_code not in orgs
        else FieldError(f"channels.{i}.org_code", "the society has exited the federation")
        for i, ch in enumerate(data.channels)
        if ch.org_code not in orgs or orgs[ch.org_code].status == OrgStatus.exited
    ]
    if errors:
        raise ProblemError(
            "; ".join(f"{e.field}: {e.reason}" for e in errors), 422, "validation-error", errors
        )
    cycle = Cycle(
        programme_id=programme.id,
        year=data.year,
        nominations_open=data.nominations_open,
        nominations_close=data.nominations_close,
        age_cutoff_date=data.age_cutoff_date,
        reviewers_per_nomination=data.reviewers_per_nomination,
        max_load=data.max_load,
        max_per_institution=data.max_per_institution,
        min_per_panel=dict(data.min_per_panel),
        conflict_years=data.conflict_years,
        criteria=[c.model_dump() for c in data.criteria],
        score_min=data.score_min,
        score_max=data.score_max,
        review_due=data.review_due,
        review_deadline=data.review_deadline,
    )
    session.add(cycle)
    session.flush()
    session.add_all(
        Channel(cycle_id=cycle.id, org_id=orgs[ch.org_code].id, quota=ch.quota)
        for ch in data.channels
    )
    session.flush()
    history.record(
        session,
        entity="cycle",
        entity_id=cycle.id,
        changes=[("created", None, f"{programme.code} {cycle.year}")],
        actor=history.actor_of(principal),
        source="api",
    )
    return cycle_read(session, cycle)


def get_cycle(session: Session, cycle_id: uuid.UUID) -> Cycle:
    c = session.get(Cycle, cycle_id)
    if c is None:
        raise NotFound("cycle")
    return c


def committee_cycle(session: Session, principal: Principal, cycle_id: uuid.UUID) -> Cycle:
    """A cycle whose programme's owner organisation is in the caller's committee scope."""
    c = get_cycle(session, cycle_id)
    p = session.get(Programme, c.programme_id)
    if p is None or not principal.covers_path(Permission.awards_committee, _owner_path(session, p)):
        raise NotFound("cycle")
    return c


def list_cycles(session: Session, programme: Programme) -> list[CycleRead]:
    cycles = session.scalars(
        select(Cycle).where(Cycle.programme_id == programme.id).order_by(Cycle.year.desc())
    )
    return cycle_reads(session, list(cycles))


# --- nominations --------------------------------------------------------------------------


def nomination_read(session: Session, n: Nomination) -> NominationRead:
    return nomination_reads(session, [n])[0]


def nomination_reads(session: Session, nominations: list[Nomination]) -> list[NominationRead]:
    """NominationRead of each nomination, with its programme, year, channel and nominee's name
    read for all of them in one statement (a page of them costs what one does)."""
    if not nominations:
        return []
    context = {
        row.id: row
        for row in session.execute(
            select(
                Nomination.id,
                Programme.code.label("programme_code"),
                Cycle.year,
                Organisation.code.label("org_code"),
                Person.name.label("nominee_name"),
            )
            .join(Cycle, Cycle.id == Nomination.cycle_id)
            .join(Programme, Programme.id == Cycle.programme_id)
            .join(Channel, Channel.id == Nomination.channel_id)
            .join(Organisation, Organisation.id == Channel.org_id)
            .join(Person, Person.id == Nomination.nominee_person_id)
            .where(Nomination.id.in_([n.id for n in nominations]))
        )
    }
    reads = []
    for n in nominations:
        found = context[n.id]
        reads.append(
            NominationRead(
                id=n.id,
                nomination_no=n.nomination_no,
                cycle_id=n.cycle_id,
                programme_code=found.programme_code,
                year=found.year,
                channel_org_code=found.org_code,
                nominee_person_id=n.nominee_person_id,
                nominee_name=(n.snapshot or {}).get("name") or found.nominee_name,
                team_person_ids=list(n.team_person_ids),
                summary=n.summary,
                status=n.status,
                failed_rules=[FailedRule(**f) for f in n.failures],
                snapshot=n.snapshot,
                submitted_at=n.submitted_at,
                decided_at=n.decided_at,
                created_at=n.created_at,
                updated_at=n.updated_at,
            )
        )
    return reads


def _window(cycle: Cycle, today: date) -> None:
    if not cycle.nominations_open <= today <= cycle.nominations_close:
        when = "not open yet" if today < cycle.nominations_open else "closed"
        raise ProblemError(
            f"nominations are {when}: the window of this cycle is "
            f"{cycle.nominations_open.isoformat()} to {cycle.nominations_close.isoformat()}",
            409,
            "nomination-window",
        )


def _refuse_closed_channel(org: Organisation) -> None:
    """A suspended or exited society nominates no one, as it admits and renews no one."""
    org_service.refuse_closed(org, f"the society {org.code} is {org.status} and nominates no one")


def _visible_person(
    session: Session, principal: Principal, person_id: uuid.UUID, field: str
) -> Person:
    try:
        return people_service.get_visible(
            session, principal=principal, person_id=person_id, permission=Permission.people_read
        )
    except NotFound:
        raise InvalidField(field, "no person with this id in your scope") from None


def create_nomination(
    session: Session,
    *,
    principal: Principal,
    cycle_id: uuid.UUID,
    data: NominationCreate,
    today: date,
) -> NominationRead:
    cycle = get_cycle(session, cycle_id)
    org = org_service.by_code(session, data.channel_org_code)
    channel = (
        session.scalar(
            select(Channel)
            .where(Channel.cycle_id == cycle.id, Channel.org_id == org.id)
            .with_for_update()  # nominations of one channel queue here: the quota holds
        )
        if org
        else None
    )
    if org is None or channel is None:
        raise InvalidField("channel_org_code", "not a nominating channel of this cycle")
    if not principal.covers_path(Permission.awards_nominate, org.path):
        raise Forbidden(f"only staff of {org.code} nominate through its channel")
    _refuse_closed_channel(org)
    _window(cycle, today)
    nominee = _visible_person(session, principal, data.nominee_person_id, "nominee_person_id")
    for i, pid in enumerate(data.team_person_ids):
        if pid == nominee.id or data.team_person_ids.index(pid) != i:
            raise InvalidField(f"team_person_ids.{i}", "listed twice (the nominee leads the team)")
        _visible_person(session, principal, pid, f"team_person_ids.{i}")
    # Cycle-wide: lock the cycle row so that two channels neither put one person in two
    # nominations nor take the same number.
    session.execute(select(Cycle.id).where(Cycle.id == cycle.id).with_for_update())
    if session.scalar(
        select(Nomination.id).where(
            Nomination.cycle_id == cycle.id,
            Nomination.nominee_person_id == nominee.id,
            Nomination.status != S.withdrawn,
        )
    ):
        raise Conflict(
            "the nominee is already nominated in this cycle (one nomination per nominee per cycle)",
            "nominee_person_id",
        )
    _refuse_people_already_nominated(session, cycle, nominee.id, data.team_person_ids)
    used = session.scalar(
        select(func.count()).where(
            Nomination.channel_id == channel.id, Nomination.status != S.withdrawn
        )
    )
    if (used or 0) >= channel.quota:
        raise ProblemError(
            f"the channel {org.code} has used its quota of {channel.quota} "
            f"nomination{'s' if channel.quota != 1 else ''} in this cycle",
            409,
            "quota-exhausted",
            [FieldError("channel_org_code", "quota exhausted")],
        )
    programme = session.get(Programme, cycle.programme_id)
    assert programme is not None
    seq = (session.scalar(select(func.count()).where(Nomination.cycle_id == cycle.id)) or 0) + 1
    n = Nomination(
        nomination_no=f"{programme.code}-{cycle.year}-{seq:04d}",
        cycle_id=cycle.id,
        channel_id=channel.id,
        nominee_person_id=nominee.id,
        team_person_ids=list(data.team_person_ids),
        summary=data.summary,
        created_by=history.actor_of(principal),
    )
    session.add(n)
    session.flush()
    history.record(
        session,
        entity="nomination",
        entity_id=n.id,
        changes=[("created", None, n.status)],
        actor=history.actor_of(principal),
        source="api",
    )
    return nomination_read(session, n)


def _refuse_people_already_nominated(
    session: Session, cycle: Cycle, nominee_id: uuid.UUID, team_ids: list[uuid.UUID]
) -> None:
    """One live nomination per person per cycle, as the nominee or in a team: 409 naming each
    field whose person already is in one (the caller holds the cycle's lock)."""
    people = [nominee_id, *team_ids]
    rows = session.execute(
        select(Nomination.nomination_no, Nomination.nominee_person_id, Nomination.team_person_ids)
        .where(
            Nomination.cycle_id == cycle.id,
            Nomination.status != S.withdrawn,
            or_(
                Nomination.nominee_person_id.in_(people),
                Nomination.team_person_ids.overlap(people),
            ),
        )
        .order_by(Nomination.nomination_no)
    ).all()
    where: dict[uuid.UUID, str] = {}
    for number, lead, team in rows:
        where.setdefault(lead, f"the nominee of {number}")
        for pid in team:
            where.setdefault(pid, f"in the team of {number}")
    fields = [("nominee_person_id", nominee_id)]
    fields += [(f"team_person_ids.{i}", pid) for i, pid in enumerate(team_ids)]
    errors = [
        FieldError(field, f"already {where[pid]} in this cycle (one nomination per person)")
        for field, pid in fields
        if pid in where
    ]
    if errors:
        raise ProblemError(
            "; ".join(f"{e.field}: {e.reason}" for e in errors), 409, "conflict", errors
        )


def _channel_org(session: Session, n: Nomination) -> Organisation:
    org = session.scalar(
        select(Organisation)
        .join(Channel, Channel.org_id == Organisation.id)
        .where(Channel.id == n.channel_id)
    )
    assert org is not None
    return org


def visible_nomination(
    session: Session, principal: Principal, nomination_id: uuid.UUID, *, for_update: bool = False
) -> Nomination:
    """Channel staff see their channel's nominations, committees those of their programmes."""
    query = select(Nomination).where(Nomination.id == nomination_id)
    n = session.scalar(query.with_for_update() if for_update else query)
    if n is None:
        raise NotFound("nomination")
    if principal.covers_path(Permission.awards_nominate, _channel_org(session, n).path):
        return n
    cycle = session.get(Cycle, n.cycle_id)
    programme = session.get(Programme, cycle.programme_id) if cycle else None
    if programme and principal.covers_path(
        Permission.awards_committee, _owner_path(session, programme)
    ):
        return n
    raise NotFound("nomination")


def channel_nomination(
    session: Session, principal: Principal, nomination_id: uuid.UUID
) -> Nomination:
    """A nomination the caller may act on as staff of its channel (else 404)."""
    n = session.scalar(select(Nomination).where(Nomination.id == nomination_id).with_for_update())
    if n is None or not principal.covers_path(
        Permission.awards_nominate, _channel_org(session, n).path
    ):
        raise NotFound("nomination")
    return n


def committee_nomination(
    session: Session, principal: Principal, nomination_id: uuid.UUID
) -> tuple[Nomination, Cycle]:
    n = session.scalar(select(Nomination).where(Nomination.id == nomination_id).with_for_update())
    if n is None:
        raise NotFound("nomination")
    try:
        return n, committee_cycle(session, principal, n.cycle_id)
    except NotFound:
        raise NotFound("nomination") from None


def list_nominations(
    session: Session,
    *,
    principal: Principal,
    cycle_id: uuid.UUID,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> list[Nomination]:
    cycle = get_cycle(session, cycle_id)
    query = select(Nomination).where(Nomination.cycle_id == cycle.id)
    programme = session.get(Programme, cycle.programme_id)
    assert programme is not None
    if not principal.covers_path(Permission.awards_committee, _owner_path(session, programme)):
        channel_ids = [
            ch.id
            for ch, path in session.execute(
                select(Channel, Organisation.path)
                .join(Organisation, Organisation.id == Channel.org_id)
                .where(Channel.cycle_id == cycle.id)
            ).all()
            if principal.covers_path(Permission.awards_nominate, path)
        ]
        query = query.where(Nomination.channel_id.in_(channel_ids))
    if status:
        query = query.where(Nomination.status == status)
    if after:
        query = query.where(Nomination.id > after)
    return list(session.scalars(query.order_by(Nomination.id).limit(limit + 1)))


def submit(
    session: Session, *, principal: Principal, nomination_id: uuid.UUID, today: date
) -> tuple[NominationRead, list[eligibility.Failure]]:
    """Freeze the nominee's profile and run every eligibility rule: eligible or ineligible."""
    n = channel_nomination(session, principal, nomination_id)
    if n.status not in (S.draft, S.ineligible):
        raise ProblemError(
            f"only a draft or ineligible nomination can be submitted; this one is {n.status}",
            409,
            "invalid-transition",
        )
    cycle = session.get(Cycle, n.cycle_id)
    programme = session.get(Programme, cycle.programme_id) if cycle else None
    assert cycle is not None
    assert programme is not None
    _refuse_closed_channel(_channel_org(session, n))
    _window(cycle, today)
    actor = history.actor_of(principal)
    nominee = session.get(Person, n.nominee_person_id, with_for_update=True)
    assert nominee is not None
    team = []
    if n.team_person_ids:
        team = list(session.scalars(select(Person).where(Person.id.in_(n.team_person_ids))))
    team.sort(key=lambda p: n.team_person_ids.index(p.id))
    move(session, n, S.submitted, actor=actor)
    failures = eligibility.check(
        session, programme=programme, cycle=cycle, nominee=nominee, team=team
    )
    n.snapshot = eligibility.snapshot(
        nominee, team, cycle, eligibility.memberships_in_good_standing(session, nominee.id)
    )
    n.snapshot["profile_version"] = nominee.version
    n.submitted_at = datetime.now(UTC)
    n.failures = [f.as_dict() for f in failures]
    move(
        session,
        n,
        S.ineligible if failures else S.eligible,
        actor=actor,
        reason="; ".join(f"{f.rule}: {f.reason}" for f in failures) or None,
        source="eligibility",
    )
    return nomination_read(session, n), failures


def withdraw(
    session: Session, *, principal: Principal, nomination_id: uuid.UUID, reason: str
) -> NominationRead:
    n = channel_nomination(session, principal, nomination_id)
    move(session, n, S.withdrawn, actor=history.actor_of(principal), reason=reason)
    # Seats not yet reviewed are freed; reviews already given stay on record.
    session.execute(
        delete(Assignment).where(
            Assignment.nomination_id == n.id, Assignment.status == AssignmentStatus.assigned
        )
    )
    return nomination_read(session, n)


def decide(
    session: Session,
    *,
    principal: Principal,
    nomination_id: uuid.UUID,
    status: str,
    reason: str | None,
) -> NominationRead:
    n, _ = committee_nomination(session, principal, nomination_id)
    if status not in DECISIONS:
        raise InvalidField("status", "a decision is shortlisted, awarded or not_awarded")
    move(session, n, status, actor=history.actor_of(principal), reason=reason)
    return nomination_read(session, n)


# --- declared conflicts -------------------------------------------------------------------


def conflict_read(c: DeclaredConflict) -> DeclaredConflictRead:
    return DeclaredConflictRead.model_validate(c, from_attributes=True)


def declare_for_nominee(
    session: Session,
    *,
    principal: Principal,
    nomination_id: uuid.UUID,
    data: ConflictDeclare,
    today: date,
) -> DeclaredConflictRead:
    """The nominee's side (channel staff) or the committee names a reviewer to avoid."""
    n = visible_nomination(session, principal, nomination_id)
    if n.status == S.withdrawn:
        raise Conflict("the nomination is withdrawn")
    if data.reviewer_person_id == n.nominee_person_id:
        raise InvalidField("reviewer_person_id", "the nominee is always excluded from review")
    if session.get(Person, data.reviewer_person_id) is None:
        raise InvalidField("reviewer_person_id", "no person has this id")
    cycle = session.get(Cycle, n.cycle_id)
    programme = session.get(Programme, cycle.programme_id) if cycle else None
    committee = programme is not None and principal.covers_path(
        Permission.awards_committee, _owner_path(session, programme)
    )
    row = DeclaredConflict(
        reviewer_person_id=data.reviewer_person_id,
        nominee_person_id=n.nominee_person_id,
        nomination_id=n.id,
        side=ConflictSide.committee if committee else ConflictSide.nominee,
        reason=data.reason,
        declared_on=today,
        declared_by=history.actor_of(principal),
    )
    session.add(row)
    session.flush()
    return conflict_read(row)


def conflicts_of(session: Session, n: Nomination) -> list[DeclaredConflictRead]:
    rows = session.scalars(
        select(DeclaredConflict)
        .where(DeclaredConflict.nominee_person_id == n.nominee_person_id)
        .order_by(DeclaredConflict.created_at)
    )
    return [conflict_read(r) for r in rows]
