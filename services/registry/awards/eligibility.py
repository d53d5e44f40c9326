"""Eligibility: a programme's rules (data) checked against a nominee at the cycle's cutoff date."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..core.clock import age_on
from ..memberships.models import GOOD_STANDING, Membership
from ..orgs.models import Organisation, OrgStatus
from ..people.models import Person, PersonStatus
from .models import Cycle, Nomination, NominationStatus, Programme
from .schemas import ProgrammeRules

_GENDER_WORDS = {"male": "men", "female": "women"}


@dataclass(frozen=True)
class Failure:
    """One rule the nominee does not meet, and why, in words a channel can act on."""

    rule: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"rule": self.rule, "reason": self.reason}


def check_person(
    rules: ProgrammeRules, person: Person, cutoff: date, memberships: list[tuple[str, str]]
) -> list[Failure]:
    """The rules about the nominee themself; `memberships` are (org code, grade), those in
    good standing."""
    failures: list[Failure] = []
    if person.status != PersonStatus.active:
        failures.append(Failure("nominee_active", f"the nominee's profile is {person.status}"))
    if rules.max_age is not None:
        if person.birth_date is None:
            failures.append(
                Failure(
                    "max_age", "the nominee's birth date is not recorded; the age limit needs it"
                )
            )
        else:
            age = age_on(person.birth_date, cutoff)
            if age >= rules.max_age:
                failures.append(
                    Failure(
                        "max_age",
                        f"aged {age} on the cutoff date {cutoff.isoformat()}; "
                        f"the programme requires under {rules.max_age}",
                    )
                )
    if rules.gender is not None:
        wanted = _GENDER_WORDS.get(rules.gender, rules.gender)
        if person.gender is None:
            failures.append(
                Failure(
                    "gender", f"the nominee's gender is not recorded; the programme is for {wanted}"
                )
            )
        elif person.gender != rules.gender:
            failures.append(Failure("gender", f"the programme is for {wanted} only"))
    if rules.region_of_origin:
        allowed = ", ".join(rules.region_of_origin)
        if person.region_of_origin is None:
            failures.append(
                Failure(
                    "region_of_origin",
                    f"the nominee's region of origin is not recorded; allowed: {allowed}",
                )
            )
        elif person.region_of_origin not in rules.region_of_origin:
            failures.append(
                Failure(
                    "region_of_origin",
                    f"region of origin {person.region_of_origin} is not among {allowed}",
                )
            )
    need = rules.requires_membership
    if need is not None:
        held = [
            (org, grade)
            for org, grade in memberships
            if (need.org_code is None or org == need.org_code)
            and (not need.grades or grade in need.grades)
        ]
        if not held:
            where = f"of {need.org_code}" if need.org_code else "of a member society"
            grades = f" in grade {' or '.join(need.grades)}" if need.grades else ""
            failures.append(
                Failure(
                    "requires_membership",
                    f"needs a membership in good standing (active or in grace) {where}{grades}",
                )
            )
    if rules.discipline_codes:
        scope = tuple(rules.discipline_codes)
        if not any(code.startswith(scope) for code in person.discipline_codes):
            failures.append(
                Failure(
                    "discipline_scope",
                    "none of the nominee's disciplines "
                    f"({', '.join(person.discipline_codes) or 'none recorded'}) "
                    f"lies under {', '.join(scope)}",
                )
            )
    return failures


def check_team(rules: ProgrammeRules, team: list[Person]) -> list[Failure]:
    if not team:
        return []
    if not rules.teams_allowed:
        return [Failure("teams_allowed", "the programme accepts individual nominees only")]
    failures = []
    if len(team) + 1 > rules.max_team_size:
        failures.append(
            Failure(
                "max_team_size",
                f"a team of {len(team) + 1} exceeds the limit of {rules.max_team_size}",
            )
        )
    for member in team:
        if member.status != PersonStatus.active:
            failures.append(
                Failure("team_member_active", f"team member {member.name} is {member.status}")
            )
    return failures


def memberships_in_good_standing(session: Session, person_id: uuid.UUID) -> list[tuple[str, str]]:
    """(org code, grade) of each membership in good standing (active or in grace), as the
    membership platform keeps its status and as a certificate is judged: a society that has
    exited the federation certifies no one, so its memberships do not count (a suspended
    society's still do)."""
    rows = session.execute(
        select(Organisation.code, Membership.grade)
        .join(Organisation, Organisation.id == Membership.org_id)
        .where(
            Membership.person_id == person_id,
            Membership.status.in_(GOOD_STANDING),
            Organisation.status != OrgStatus.exited,
        )
        .order_by(Organisation.code)
    ).all()
    return [(code, grade) for code, grade in rows]


def past_wins(
    session: Session, programme: Programme, cycle: Cycle, people: list[uuid.UUID]
) -> list[Failure]:
    """Earlier awards of the same programme to the nominee (alone or in a team)."""
    rows = session.execute(
        select(Nomination.nomination_no, Cycle.year)
        .join(Cycle, Cycle.id == Nomination.cycle_id)
        .where(
            Cycle.programme_id == programme.id,
            Cycle.id != cycle.id,
            Nomination.status == NominationStatus.awarded,
            or_(
                Nomination.nominee_person_id.in_(people),
                Nomination.team_person_ids.overlap(people),
            ),
        )
        .order_by(Cycle.year)
    ).all()
    return [
        Failure(
            "exclude_past_winners",
            f"already awarded this programme in {year} ({number}); past winners are excluded",
        )
        for number, year in rows
    ]


def check(
    session: Session,
    *,
    programme: Programme,
    cycle: Cycle,
    nominee: Person,
    team: list[Person],
) -> list[Failure]:
    """Every failed rule, in the order the programme lists them (empty: eligible)."""
    rules = ProgrammeRules.model_validate(programme.rules)
    failures = check_person(
        rules, nominee, cycle.age_cutoff_date, memberships_in_good_standing(session, nominee.id)
    )
    failures += check_team(rules, team)
    if rules.exclude_past_winners:
        failures += past_wins(session, programme, cycle, [nominee.id, *(p.id for p in team)])
    return failures


SNAPSHOT_FIELDS = (
    "name", "name_en", "gender", "birth_date", "nationality", "region_of_origin", "region_code",
    "institution", "institution_uscc", "title_level", "position", "highest_degree", "biography",
    "discipline_codes", "research_fields", "talent_tags",
)  # fmt: skip


def snapshot(
    nominee: Person, team: list[Person], cycle: Cycle, memberships: list[tuple[str, str]]
) -> dict[str, Any]:
    """The nominee's public profile as submitted (no documents, phones or e-mails)."""
    data: dict[str, Any] = {}
    for name in SNAPSHOT_FIELDS:
        value = getattr(nominee, name)
        data[name] = value.isoformat() if isinstance(value, date) else value
    data["age_at_cutoff"] = (
        age_on(nominee.birth_date, cycle.age_cutoff_date) if nominee.birth_date else None
    )
    data["memberships"] = [{"org_code": org, "grade": grade} for org, grade in memberships]
    data["team"] = [
        {"person_id": str(p.id), "name": p.name, "institution": p.institution} for p in team
    ]
    return data
