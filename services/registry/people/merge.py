"""Possible duplicates and merging two profiles into one, losing nothing.

Merging OTHER into KEEP: KEEP's empty fields take OTHER's values and list fields are united;
OTHER's document number moves to KEEP when KEEP has none (two different documents are two
people: refused); OTHER's memberships move to KEEP, and where both belong to the same
organisation the two memberships become one (gaps filled, earliest join date, latest expiry)
whose history includes the other's; OTHER's history and sign-in accounts move to KEEP; then
OTHER's profile is removed, and the duplicate record says `merged`. KEEP is also known by
OTHER's name and contacts from then on (`PersonAlias`): imports match them as KEEP's own.
A combined membership keeps KEEP's member number (OTHER's is kept in its history) and takes
a suspension or a status set by hand on OTHER's when it has none.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import any_, delete, func, or_, select, update
from sqlalchemy.orm import Session

from services.search.outbox import enqueue_people

from ..auth.models import Account
from ..core import clock, history
from ..core.errors import Conflict, NotFound
from ..core.models import ChangeRecord
from ..core.security import PiiCipher
from ..governance.models import BodySeat
from ..memberships import lifecycle
from ..memberships.models import (
    ClaimCode,
    Membership,
    MembershipApplication,
    MembershipCertificate,
    MembershipStatus,
    TerminationReason,
)
from ..orgs.models import Organisation
from .models import DuplicateStatus, Person, PersonAlias, PersonDuplicate
from .service import SENSITIVE, resident_disagreement

_FILL = (
    "name_en", "gender", "birth_date", "phone", "email", "orcid", "nationality",
    "region_of_origin", "region_code", "institution", "institution_uscc", "title_level",
    "position", "highest_degree", "biography", "source_org_id",
)  # fmt: skip
_UNITE = ("discipline_codes", "research_fields", "talent_tags")


def list_duplicates(session: Session, *, status: str = "open", limit: int = 100) -> list[dict]:
    rows = session.scalars(
        select(PersonDuplicate)
        .where(PersonDuplicate.status == status)
        .order_by(PersonDuplicate.id)
        .limit(limit)
    ).all()
    ids = {r.person_id for r in rows} | {r.other_id for r in rows}
    people = {
        p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))
    } if ids else {}  # fmt: skip
    out = []
    for r in rows:
        a, b = people.get(r.person_id), people.get(r.other_id)
        out.append(
            {
                "id": r.id,
                "person_id": r.person_id,
                "person_name": a.name if a else None,
                "other_id": r.other_id,
                "other_name": b.name if b else None,
                "birth_date": (a or b).birth_date if (a or b) else None,
                "reason": r.reason,
                "source": r.source,
                "status": r.status,
                "created_at": r.created_at,
            }
        )
    return out


def merge_people(
    session: Session,
    *,
    pii: PiiCipher,
    keep_id: uuid.UUID,
    other_id: uuid.UUID,
    actor: str,
    reason: str | None = None,
) -> dict[str, Any]:
    if keep_id == other_id:
        raise Conflict("a person cannot be merged into itself")
    people = {
        p.id: p
        for p in session.scalars(
            select(Person).where(Person.id.in_([keep_id, other_id])).with_for_update()
        )
    }
    if keep_id not in people:
        raise NotFound(f"person {keep_id}")
    if other_id not in people:
        raise NotFound(f"person {other_id}")
    keep, other = people[keep_id], people[other_id]
    _refuse_award_records(session, other.id)
    changes: list[tuple[str, Any, Any]] = [("merged", None, str(other.id))]

    if other.id_number_enc is not None:
        if keep.id_number_enc is not None:
            if keep.id_number_bidx != other.id_number_bidx:
                raise Conflict("both people have document numbers and they differ")
        else:
            number = pii.decrypt(other.id_number_enc, context=other.id.bytes)
            if other.id_type == "resident_id":
                _refuse_contradicting_resident_id(keep, number)
            masked, kind, bidx = other.id_number_masked, other.id_type, other.id_number_bidx
            other.id_number_enc = other.id_number_bidx = None
            other.id_number_masked = other.id_type = None
            session.flush()  # the blind index is unique: free it first
            keep.id_type, keep.id_number_bidx, keep.id_number_masked = kind, bidx, masked
            keep.id_number_enc = pii.encrypt(number, context=keep.id.bytes)
            changes += [("id_type", None, kind), ("id_number", None, masked)]
    for name in _FILL:
        if getattr(keep, name) is None and getattr(other, name) is not None:
            value = getattr(other, name)
            setattr(keep, name, value)
            mask = SENSITIVE.get(name)
            changes.append((name, None, mask(value) if mask else value))
    for name in _UNITE:
        united = list(dict.fromkeys([*getattr(keep, name), *getattr(other, name)]))
        if united != getattr(keep, name):
            changes.append((name, getattr(keep, name), united))
            setattr(keep, name, united)
    if other.expert_opt_in and not keep.expert_opt_in:
        changes.append(("expert_opt_in", False, True))
        keep.expert_opt_in = True

    _aliases(session, keep, other)
    moved, combined = _memberships(session, keep, other, actor)
    # The kept person's `created` entry is read from its oldest changes: store it as a row
    # before the other's history joins them, so the merge cannot change how it reads.
    history.keep_created_by_import(session, "person", keep.id)
    keep.import_batch_id = None
    history.keep_created_by_import(session, "person", other.id)
    moved_history = session.execute(
        update(ChangeRecord)
        .where(ChangeRecord.entity == "person", ChangeRecord.entity_id == other.id)
        .values(entity_id=keep.id)
    ).rowcount
    session.execute(update(Account).where(Account.person_id == other.id).values(person_id=keep.id))
    # Codes a society handed the member still let them claim the (kept) profile.
    session.execute(
        update(ClaimCode).where(ClaimCode.person_id == other.id).values(person_id=keep.id)
    )
    _applications(session, keep.id, other.id)
    _seats(session, keep.id, other.id)
    now = datetime.now(UTC)
    _resolve_pairs(session, keep.id, other.id, actor, now)
    keep.updated_at = now
    keep.version += 1
    session.flush()
    session.execute(delete(Person).where(Person.id == other.id))
    history.record(
        session, entity="person", entity_id=keep.id, changes=changes, actor=actor,
        source="merge", reason=reason,
    )  # fmt: skip
    enqueue_people(session, [keep.id, other.id])
    return {
        "kept": keep.id,
        "merged": other.id,
        "moved_memberships": moved,
        "merged_memberships": combined,
        "moved_history": moved_history,
        "changed_fields": [name for name, _, _ in changes if name != "merged"],
    }


def _aliases(session: Session, keep: Person, other: Person) -> None:
    """KEEP is also known by OTHER's name and contacts (and by those OTHER was known by), so
    that imports listing OTHER find KEEP (onboarding/members.py)."""
    session.execute(
        update(PersonAlias).where(PersonAlias.person_id == other.id).values(person_id=keep.id)
    )
    own = (keep.name, keep.birth_date, keep.phone, keep.email)
    if (other.name, other.birth_date, other.phone, other.email) != own:
        session.add(
            PersonAlias(
                person_id=keep.id,
                name=other.name,
                birth_date=other.birth_date,
                phone=other.phone,
                email=other.email,
                source=f"merge:{other.id}",
            )
        )
    session.flush()


def _resolve_pairs(
    session: Session, keep: uuid.UUID, other: uuid.UUID, actor: str, now: datetime
) -> None:
    """The merged pair says `merged`; the other's open pairs now concern the kept person."""
    low, high = sorted([keep, other])
    pairs = session.scalars(
        select(PersonDuplicate).where(
            or_(PersonDuplicate.person_id == other, PersonDuplicate.other_id == other)
        )
    ).all()
    for pair in pairs:
        if (pair.person_id, pair.other_id) == (low, high):
            pair.status, pair.resolved_at, pair.resolved_by = DuplicateStatus.merged, now, actor
            continue
        if pair.status != DuplicateStatus.open:
            continue  # a record of what was decided, about the people as they were then
        third = pair.other_id if pair.person_id == other else pair.person_id
        a, b = sorted([keep, third])
        exists = session.scalar(
            select(PersonDuplicate.id).where(
                PersonDuplicate.person_id == a, PersonDuplicate.other_id == b
            )
        )
        if exists:
            session.delete(pair)
            continue
        pair.person_id, pair.other_id = a, b
        if _both_documented(session, a, b):  # two different documents: never the same person
            pair.status, pair.resolved_at, pair.resolved_by = DuplicateStatus.dismissed, now, actor
    session.flush()


def _both_documented(session: Session, a: uuid.UUID, b: uuid.UUID) -> bool:
    session.flush()
    documented = session.scalar(
        select(func.count())
        .select_from(Person)
        .where(Person.id.in_([a, b]), Person.id_number_bidx.is_not(None))
    )
    return documented == 2


def _refuse_contradicting_resident_id(keep: Person, number: str) -> None:
    """A resident ID number states a birth date and a gender: the kept person must not hold
    it under others (empty ones are filled from the merged person, whose number agrees)."""
    differing = resident_disagreement(keep, number)
    if differing is not None:
        what = "birth date" if differing == "birth_date" else "gender"
        raise Conflict(
            f"the resident ID number of the person to merge away gives another {what} than"
            " the kept person's; correct one of them first"
        )


def _memberships(session: Session, keep: Person, other: Person, actor: str) -> tuple[int, int]:
    mine = {
        m.org_id: m
        for m in session.scalars(select(Membership).where(Membership.person_id == keep.id))
    }
    moved = combined = 0
    for theirs in session.scalars(select(Membership).where(Membership.person_id == other.id)):
        ours = mine.get(theirs.org_id)
        if ours is None:
            theirs.person_id = keep.id
            history.record(
                session, entity="membership", entity_id=theirs.id,
                changes=[("person_id", str(other.id), str(keep.id))], actor=actor, source="merge",
            )  # fmt: skip
            moved += 1
            continue
        code = session.scalar(select(Organisation.code).where(Organisation.id == ours.org_id))
        changes: list[tuple[str, Any, Any]] = [("merged", None, _described(theirs))]
        number = theirs.member_no
        theirs.member_no = None  # unique per organisation: free it before it moves
        session.flush()
        if _runs_instead(ours, theirs):
            changes += _take_running(ours, theirs, number)
        else:
            changes += _carry_hold(ours, theirs)
        if ours.member_no is None and number is not None:
            changes.append(("member_no", None, number))
            ours.member_no = number
        if theirs.joined_on and (ours.joined_on is None or theirs.joined_on < ours.joined_on):
            changes.append(("joined_on", ours.joined_on, theirs.joined_on))
            ours.joined_on = theirs.joined_on
        if theirs.valid_until and (
            ours.valid_until is None or theirs.valid_until > ours.valid_until
        ):
            changes.append(("valid_until", ours.valid_until, theirs.valid_until))
            ours.valid_until = theirs.valid_until
        history.keep_created_by_import(session, "membership", ours.id)
        ours.import_batch_id = None
        history.keep_created_by_import(session, "membership", theirs.id)
        session.execute(
            update(ChangeRecord)
            .where(ChangeRecord.entity == "membership", ChangeRecord.entity_id == theirs.id)
            .values(entity_id=ours.id)
        )
        # Certificates already handed out keep verifying, now against the combined membership.
        for table in (MembershipCertificate, MembershipApplication):
            session.execute(
                update(table).where(table.membership_id == theirs.id).values(membership_id=ours.id)
            )
        session.delete(theirs)
        session.flush()
        status = lifecycle.computed_status(session, ours, clock.today())
        if status != ours.status:  # the combined dates may put it in good standing again
            changes.append(("status", ours.status, status))
            ours.status = status
        ours.version += 1
        ours.updated_at = datetime.now(UTC)
        history.record(
            session, entity="membership", entity_id=ours.id, changes=changes, actor=actor,
            source="merge", reason=f"combined with the membership in {code} of a merged profile",
        )  # fmt: skip
        combined += 1
    session.flush()
    return moved, combined


def _described(membership: Membership) -> str:
    """The merged-away membership as its history note keeps it: grade, status, number, hold."""
    held = ""
    if membership.status_override is not None:
        why = membership.termination_reason or membership.override_reason
        held = f"; held {membership.status_override}" + (f": {why}" if why else "")
    return (
        f"{membership.id} ({membership.grade}, {membership.status}, {membership.member_no}{held})"
    )


def _runs_instead(ours: Membership, theirs: Membership) -> bool:
    """The kept profile's membership was terminated (not by death) and the merged-away one
    was not: the person joined again under the second profile, and that membership runs."""
    return (
        ours.status_override == MembershipStatus.terminated
        and ours.termination_reason != TerminationReason.death
        and theirs.status_override != MembershipStatus.terminated
    )


def _take_running(
    ours: Membership, theirs: Membership, number: str | None
) -> list[tuple[str, Any, Any]]:
    """The combined membership is the running one: its standing, grade, type and number (the
    ended membership's number and hold stay in the history)."""
    values: dict[str, Any] = {
        "status_override": theirs.status_override,
        "override_reason": theirs.override_reason,
        "termination_reason": None,
        "ended_on": None,
        "awaiting_approval": theirs.awaiting_approval,
        "grade": theirs.grade,
        "type_id": theirs.type_id,
    }
    if number is not None:
        values["member_no"] = number
    return history.assign(ours, values)


def _carry_hold(ours: Membership, theirs: Membership) -> list[tuple[str, Any, Any]]:
    """A suspension or a status set by hand on the merged-away membership holds the combined
    one when it has none: the society decided it about this person, and a merge of two
    profiles does not lift it. A termination does not carry over (the membership that runs
    under the kept profile stands; the note keeps it)."""
    hold = theirs.status_override
    if ours.status_override is not None or hold in (None, MembershipStatus.terminated):
        return []
    ours.status_override, ours.override_reason = hold, theirs.override_reason
    return [("status_override", None, hold)]


def _refuse_award_records(session: Session, other_id: uuid.UUID) -> None:
    """Award nominations and reviews are not moved between people: say so instead of failing."""
    from ..awards.models import Assignment, DeclaredConflict, Nomination, ReviewerEvent

    for table, found in (
        (Nomination, Nomination.nominee_person_id == other_id),
        # A team member's id in a nomination: left behind, it would point at no one, and the
        # conflict checks against the team would miss the kept person.
        (Nomination, other_id == any_(Nomination.team_person_ids)),
        (Assignment, Assignment.reviewer_person_id == other_id),
        (ReviewerEvent, ReviewerEvent.reviewer_person_id == other_id),
        (DeclaredConflict, DeclaredConflict.reviewer_person_id == other_id),
        (DeclaredConflict, DeclaredConflict.nominee_person_id == other_id),
    ):
        if session.scalar(select(table.id).where(found).limit(1)) is not None:
            raise Conflict(
                "the person to merge away has award nominations or reviews; keep that person"
                " as KEEP instead, or settle those records first"
            )


def _applications(session: Session, keep_id: uuid.UUID, other_id: uuid.UUID) -> None:
    """Applications follow the profile; one may wait per society, so OTHER's duplicate of one
    that KEEP has waiting is withdrawn."""
    waiting = MembershipApplication.status == "submitted"
    keep_waiting = select(MembershipApplication.org_id).where(
        MembershipApplication.person_id == keep_id, waiting
    )
    session.execute(
        update(MembershipApplication)
        .where(
            MembershipApplication.person_id == other_id,
            waiting,
            MembershipApplication.org_id.in_(keep_waiting),
        )
        .values(
            status="withdrawn",
            decided_at=datetime.now(UTC),
            decided_by="merge",
            decision_reason="the profile was merged into one with an application waiting",
        )
    )
    session.execute(
        update(MembershipApplication)
        .where(MembershipApplication.person_id == other_id)
        .values(person_id=keep_id)
    )


def _seats(session: Session, keep_id: uuid.UUID, other_id: uuid.UUID) -> None:
    """Council seats follow the profile; a seat of OTHER in a body where KEEP sits is the same
    seat recorded twice and goes."""
    kept_bodies = select(BodySeat.body_id).where(BodySeat.person_id == keep_id)
    session.execute(
        delete(BodySeat).where(BodySeat.person_id == other_id, BodySeat.body_id.in_(kept_bodies))
    )
    session.execute(
        update(BodySeat).where(BodySeat.person_id == other_id).values(person_id=keep_id)
    )
