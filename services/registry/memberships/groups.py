"""Group members (团体会员): institutions keyed by USCC, under the rule 「总量控制、适度增加、
动态调整、末位淘汰」: a cap per society that new group members may not exceed, activity recorded
by staff, and a report that ranks group members by activity and flags the bottom N for review.

The same table as the bulk import (`onboarding/groups.py`), which refuses new group members
beyond the cap row by row, as the API does (the report shows how far over it a society is
whose cap was lowered below its count)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import Date, Uuid

from ..auth.permissions import Permission
from ..auth.principals import Principal
from ..core import history
from ..core.errors import Conflict, InvalidField, NotFound, ProblemError, register_unique
from ..core.security import mask_email, mask_phone
from ..orgs import service as org_service
from ..orgs.models import Organisation
from . import lifecycle
from .lifecycle import add_months
from .models import (
    ACTIVITY_POINTS,
    GroupActivity,
    GroupMembership,
    MembershipPolicy,
    MembershipStatus,
)
from .schemas import (
    GroupActivityCreate,
    GroupActivityRead,
    GroupMemberCreate,
    GroupMemberRead,
    GroupMemberUpdate,
    GroupRanking,
    GroupReport,
    MembershipPolicyRead,
    MembershipPolicyUpdate,
)

register_unique(
    "uq_group_membership_org_id_uscc", "uscc", "this institution is a group member already"
)
register_unique(
    "uq_group_membership_org_id_member_no",
    "member_no",
    "this member number is taken by another group member",
)

# A group member's contact person's phone and e-mail, kept masked in its history as a
# person's are.
CONTACT_MASKS = {"contact_phone": mask_phone, "contact_email": mask_email}


def masked_contacts(changes: list[tuple[str, Any, Any]]) -> list[tuple[str, Any, Any]]:
    """History changes with the contact phone and e-mail masked."""
    return [
        (name, CONTACT_MASKS[name](old), CONTACT_MASKS[name](new)) if name in CONTACT_MASKS
        else (name, old, new)
        for name, old, new in changes
    ]  # fmt: skip


# Counted against the cap: every group member not lapsed or terminated.
COUNTED = (
    MembershipStatus.pending,
    MembershipStatus.active,
    MembershipStatus.grace,
    MembershipStatus.suspended,
)
# Each individual member in good standing from the institution adds this much, up to a limit,
# so a large employer cannot stand in for taking part.
PER_INDIVIDUAL, INDIVIDUALS_COUNTED = 2, 10
SCORE_RULE = (
    f"sum of activity points in the window + {PER_INDIVIDUAL} per individual member in good"
    f" standing working there (at most {INDIVIDUALS_COUNTED}); ties: fewer activities, then"
    " the longest-standing member, rank lower"
)


def to_read(group: GroupMembership, org_code: str) -> GroupMemberRead:
    return GroupMemberRead(
        org_code=org_code,
        **{
            name: getattr(group, name)
            for name in GroupMemberRead.model_fields
            if name != "org_code"
        },
    )


def count_against_cap(session: Session, org_id: uuid.UUID) -> int:
    """Group members of the society that count against its cap."""
    return (
        session.scalar(
            select(func.count())
            .select_from(GroupMembership)
            .where(GroupMembership.org_id == org_id, GroupMembership.status.in_(COUNTED))
        )
        or 0
    )


def policy_locked(session: Session, org_id: uuid.UUID) -> MembershipPolicy:
    """The society's policy row, locked: group members are added one at a time per society,
    so two additions at once cannot both take the last place under the cap."""
    session.execute(
        text(
            "INSERT INTO membership_policy (org_id, version) VALUES (:org, 1)"
            " ON CONFLICT (org_id) DO NOTHING"
        ).bindparams(bindparam("org", type_=Uuid)),
        {"org": org_id},
    )
    policy = session.scalar(
        select(MembershipPolicy).where(MembershipPolicy.org_id == org_id).with_for_update()
    )
    assert policy is not None
    return policy


def get_policy(session: Session, *, principal: Principal, org_code: str) -> MembershipPolicyRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_read
    )
    policy = session.get(MembershipPolicy, org.id)
    return MembershipPolicyRead(
        org_code=org.code,
        group_member_cap=policy.group_member_cap if policy else None,
        group_members=count_against_cap(session, org.id),
    )


def set_policy(
    session: Session, *, principal: Principal, org_code: str, data: MembershipPolicyUpdate
) -> MembershipPolicyRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_configure
    )
    policy = policy_locked(session, org.id)
    changes = history.assign(policy, data.model_dump(exclude_unset=True))
    if changes:
        policy.version += 1
        policy.updated_at = datetime.now(UTC)
        session.flush()
        history.record(
            session,
            entity="membership_policy",
            entity_id=org.id,
            changes=changes,
            actor=history.actor_of(principal),
            source="api",
        )
    return MembershipPolicyRead(
        org_code=org.code,
        group_member_cap=policy.group_member_cap,
        group_members=count_against_cap(session, org.id),
    )


def create(
    session: Session, *, principal: Principal, org_code: str, data: GroupMemberCreate, today: date
) -> GroupMemberRead:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_write
    )
    org_service.refuse_closed(org, f"the society is {org.status} and cannot accept members")
    policy = policy_locked(session, org.id)
    if session.scalar(
        select(GroupMembership.id).where(
            GroupMembership.org_id == org.id, GroupMembership.uscc == data.uscc
        )
    ):
        raise Conflict("this institution is a group member already", "uscc")
    lapsed = data.valid_until is not None and data.valid_until < today
    # One that ended before today is entered lapsed and takes no place under the cap (as the
    # import treats it).
    if not lapsed and policy.group_member_cap is not None:
        counted = count_against_cap(session, org.id)
        if counted >= policy.group_member_cap:
            raise ProblemError(
                f"the society has {counted} group members and its cap is"
                f" {policy.group_member_cap} (总量控制): end one first or raise the cap",
                409,
                "group-member-cap",
            )
    values = data.model_dump()
    if values["joined_on"] is None and not lapsed:
        values["joined_on"] = today
    if values["joined_on"] and data.valid_until and data.valid_until < values["joined_on"]:
        raise InvalidField("valid_until", "must not be before joined_on")
    group = GroupMembership(
        org_id=org.id,
        status=MembershipStatus.lapsed if lapsed else MembershipStatus.active,
        **values,
    )
    session.add(group)
    session.flush()
    history.record(
        session,
        entity="group_membership",
        entity_id=group.id,
        changes=[("created", None, group.name)],
        actor=history.actor_of(principal),
        source="api",
    )
    return to_read(group, org.code)


def get_scoped(
    session: Session, *, principal: Principal, group_id: uuid.UUID, permission: Permission
) -> tuple[GroupMembership, Organisation]:
    row = session.execute(
        select(GroupMembership, Organisation)
        .join(Organisation, Organisation.id == GroupMembership.org_id)
        .where(GroupMembership.id == group_id, principal.path_filter(permission, Organisation.path))
    ).first()
    if row is None:
        raise NotFound("group member")
    return row[0], row[1]


def update(
    session: Session,
    *,
    principal: Principal,
    group_id: uuid.UUID,
    data: GroupMemberUpdate,
    today: date,
) -> GroupMemberRead:
    """Field changes; the status is then what the group rule says (a status set by hand,
    or the dates), and one that comes to count against the cap must fit under it."""
    group, org = get_scoped(
        session, principal=principal, group_id=group_id, permission=Permission.memberships_write
    )
    session.refresh(group, with_for_update=True)
    values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"reason"})
    for name in ("name", "grade", "status", "seats"):
        if name in values and values[name] is None:
            raise InvalidField(name, "cannot be cleared")
    if "status" in values and values["status"] != group.status and not data.reason:
        raise InvalidField("reason", "required when the status changes")
    joined = values.get("joined_on", group.joined_on)
    until = values.get("valid_until", group.valid_until)
    if joined and until and until < joined:
        raise InvalidField("valid_until", "must not be before joined_on")
    status = lifecycle.group_status(
        session, status=values.get("status", group.status), valid_until=until, today=today
    )
    if "status" in values and status != values["status"]:
        raise InvalidField(
            "status", f"the dates make it {status}: change valid_until, or hold it by hand"
        )
    values["status"] = status
    if status in COUNTED and group.status not in COUNTED:
        # Reactivated, by hand or by new dates: under the cap, as an addition is.
        policy = policy_locked(session, org.id)
        counted = count_against_cap(session, org.id)
        if policy.group_member_cap is not None and counted >= policy.group_member_cap:
            raise ProblemError(
                f"the society's cap of {policy.group_member_cap} group members is reached",
                409,
                "group-member-cap",
            )
    if values.get("member_no") and session.scalar(
        select(GroupMembership.id).where(
            GroupMembership.org_id == org.id,
            GroupMembership.member_no == values["member_no"],
            GroupMembership.id != group.id,
        )
    ):
        raise Conflict("this member number is taken by another group member", "member_no")
    changes = masked_contacts(history.assign(group, values))
    history.save_changes(
        session,
        group,
        entity="group_membership",
        changes=changes,
        actor=history.actor_of(principal),
        source="api",
        reason=data.reason,
    )
    return to_read(group, org.code)


def list_for_org(
    session: Session,
    *,
    principal: Principal,
    org_code: str,
    status: str | None,
    after: uuid.UUID | None,
    limit: int,
) -> tuple[list[GroupMembership], str]:
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_read
    )
    query = (
        select(GroupMembership)
        .where(GroupMembership.org_id == org.id)
        .order_by(GroupMembership.id)
        .limit(limit + 1)
    )
    if status:
        query = query.where(GroupMembership.status == status)
    if after is not None:
        query = query.where(GroupMembership.id > after)
    return list(session.scalars(query)), org.code


def record_activity(
    session: Session, *, principal: Principal, group_id: uuid.UUID, data: GroupActivityCreate
) -> GroupActivityRead:
    group, _org = get_scoped(
        session, principal=principal, group_id=group_id, permission=Permission.memberships_write
    )
    activity = GroupActivity(
        group_membership_id=group.id,
        kind=data.kind,
        occurred_on=data.occurred_on,
        points=data.points if data.points is not None else ACTIVITY_POINTS[data.kind],
        note=data.note,
        recorded_by=history.actor_of(principal),
    )
    session.add(activity)
    session.flush()
    return _activity_read(activity)


def _activity_read(activity: GroupActivity) -> GroupActivityRead:
    return GroupActivityRead(
        **{name: getattr(activity, name) for name in GroupActivityRead.model_fields}
    )


def list_activities(
    session: Session, *, principal: Principal, group_id: uuid.UUID
) -> list[GroupActivityRead]:
    group, _org = get_scoped(
        session, principal=principal, group_id=group_id, permission=Permission.memberships_read
    )
    rows = session.scalars(
        select(GroupActivity)
        .where(GroupActivity.group_membership_id == group.id)
        .order_by(GroupActivity.occurred_on.desc(), GroupActivity.id.desc())
    )
    return [_activity_read(a) for a in rows]


def report(
    session: Session,
    *,
    principal: Principal,
    org_code: str,
    today: date,
    months: int,
    bottom: int,
) -> GroupReport:
    """Group members in good standing ranked by their score over the last `months`; the
    `bottom` lowest are flagged for review."""
    org = org_service.get_scoped(
        session, principal=principal, code=org_code, permission=Permission.memberships_read
    )
    since = add_months(today, -months) + timedelta(days=1)
    rows = session.execute(
        text(
            """
            SELECT g.id, g.uscc, g.name, g.grade, g.status, g.joined_on,
                   coalesce(a.points, 0) AS points, coalesce(a.n, 0) AS activities,
                   coalesce(i.members, 0) AS individuals
            FROM group_membership g
            LEFT JOIN (
                SELECT a.group_membership_id, sum(a.points) AS points, count(*) AS n
                FROM group_membership ag
                JOIN group_activity a ON a.group_membership_id = ag.id
                WHERE ag.org_id = :org AND ag.status IN ('active', 'grace')
                  AND a.occurred_on BETWEEN :since AND :today
                GROUP BY a.group_membership_id
            ) a ON a.group_membership_id = g.id
            LEFT JOIN (
                SELECT p.institution_uscc, count(*) AS members
                FROM membership m JOIN person p ON p.id = m.person_id
                WHERE m.org_id = :org AND m.status IN ('active', 'grace')
                  AND p.institution_uscc IS NOT NULL
                GROUP BY p.institution_uscc
            ) i ON i.institution_uscc = g.uscc
            WHERE g.org_id = :org AND g.status IN ('active', 'grace')
            """
        ).bindparams(
            bindparam("org", type_=Uuid),
            bindparam("since", type_=Date),
            bindparam("today", type_=Date),
        ),
        {"org": org.id, "since": since, "today": today},
    ).all()
    scored = []
    for r in rows:
        score = int(r.points) + PER_INDIVIDUAL * min(int(r.individuals), INDIVIDUALS_COUNTED)
        scored.append((r, score))
    # Best first: higher score, more activities, the more recent member (so that among equals
    # the longest-standing member, who had the most time to take part, is flagged first).
    scored.sort(
        key=lambda item: (
            -item[1],
            -int(item[0].activities),
            -(item[0].joined_on or date.min).toordinal(),
            item[0].uscc,
        )
    )
    total = len(scored)
    ranking = [
        GroupRanking(
            id=r.id,
            uscc=r.uscc,
            name=r.name,
            grade=r.grade,
            status=r.status,
            joined_on=r.joined_on,
            activity_points=int(r.points),
            activities=int(r.activities),
            individual_members=int(r.individuals),
            score=score,
            rank=position,
            flagged=position > total - bottom,
        )
        for position, (r, score) in enumerate(scored, start=1)
    ]
    policy = session.get(MembershipPolicy, org.id)
    cap = policy.group_member_cap if policy else None
    counted = count_against_cap(session, org.id)
    return GroupReport(
        org_code=org.code,
        as_of=today,
        window_start=since,
        cap=cap,
        group_members=counted,
        over_cap=max(0, counted - cap) if cap is not None else 0,
        bottom=min(bottom, total),
        score_rule=SCORE_RULE,
        ranking=ranking,
    )
