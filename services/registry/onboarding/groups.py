"""Group member lists (团体会员): institutions keyed by their USCC, upserted per organisation.

A society has hundreds or thousands of group members, so rows are validated one by one with
the API's field types and written through the ORM, a chunk at a time; the first row of a USCC
in the file wins, later ones count as `duplicate_rows`."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError, model_validator
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import history, normalize
from ..core.types import AnyDate, Email, Phone, RegionCode, ShortText, Uscc
from ..memberships import groups as group_service
from ..memberships.models import GroupGrade, GroupMembership
from .columns import HeaderMap
from .orgs import pydantic_reasons

FIELDS = (
    "name", "grade", "member_no", "region_code", "contact_name", "contact_phone",
    "contact_email", "joined_on", "valid_until",
)  # fmt: skip


def _label(fn):  # type: ignore[no-untyped-def]
    return BeforeValidator(lambda v: fn(v) if isinstance(v, str) else v)


class GroupMemberRow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: ShortText
    uscc: Uscc
    grade: Annotated[GroupGrade, _label(normalize.group_grade)] | None = None
    member_no: Annotated[str, _label(normalize.member_no)] | None = None
    region_code: RegionCode | None = None
    contact_name: ShortText | None = None
    contact_phone: Phone | None = None
    contact_email: Email | None = None
    joined_on: AnyDate | None = None
    valid_until: AnyDate | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> GroupMemberRow:
        if self.joined_on and self.valid_until and self.valid_until < self.joined_on:
            raise ValueError("valid_until must not be before joined_on")
        return self


def parse(cells: list[str], header: HeaderMap) -> GroupMemberRow | str:
    values = {}
    for name, index in header.positions.items():
        text = cells[index].strip() if index < len(cells) else ""
        if text:
            values[name] = text
    try:
        return GroupMemberRow(**values)
    except ValidationError as exc:
        return pydantic_reasons(exc, header.labels)


def write_chunk(
    session: Session,
    rows: list[tuple[int, GroupMemberRow]],
    *,
    org_id: Any,
    seen: set[str],
    counts: dict[str, int],
    actor: str,
    source: str,
    labels: dict[str, str],
) -> list[tuple[int, str]]:
    """Upsert one chunk of valid rows; returns rejected (row, reason). A new group member
    that would count against the society's cap (总量控制) is refused once the cap is reached,
    as in the API; the policy row stays locked until the import commits."""
    rejected: list[tuple[int, str]] = []
    cap = group_service.policy_locked(session, org_id).group_member_cap
    counted = group_service.count_against_cap(session, org_id) if cap is not None else 0
    usccs = [r.uscc for _, r in rows]
    existing = {
        g.uscc: g
        for g in session.scalars(
            select(GroupMembership).where(
                GroupMembership.org_id == org_id,  # type: ignore[arg-type]
                GroupMembership.uscc.in_(usccs),  # type: ignore[attr-defined]
            )
        )
    }
    for row_no, row in rows:
        if row.uscc in seen:
            counts["duplicate_rows"] += 1
            continue
        if row.member_no:
            holder = session.scalar(
                select(GroupMembership.uscc).where(
                    GroupMembership.org_id == org_id,  # type: ignore[arg-type]
                    GroupMembership.member_no == row.member_no,  # type: ignore[arg-type]
                    GroupMembership.uscc != row.uscc,  # type: ignore[arg-type]
                )
            )
            if holder:
                rejected.append(
                    (row_no, f"{labels.get('member_no', 'member_no')}: taken by {holder}")
                )
                continue
        seen.add(row.uscc)
        group = existing.get(row.uscc)
        if group is None:
            valid_until: date | None = row.valid_until
            status = "lapsed" if valid_until and valid_until < date.today() else "active"
            if cap is not None and status in group_service.COUNTED:
                if counted >= cap:
                    seen.discard(row.uscc)
                    rejected.append(
                        (row_no, f"group_member_cap: the society has {counted} group members"
                         f" and its cap is {cap} (总量控制); end one or raise the cap first")
                    )  # fmt: skip
                    continue
                counted += 1
            group = GroupMembership(
                org_id=org_id,
                uscc=row.uscc,
                name=row.name,
                grade=row.grade or GroupGrade.member,
                status=status,
                **{f: getattr(row, f) for f in FIELDS if f not in {"name", "grade"}},
            )
            session.add(group)
            session.flush()
            history.record(
                session, entity="group_membership", entity_id=group.id,
                changes=[("created", None, row.name)], actor=actor, source=source,
            )  # fmt: skip
            counts["created_memberships"] += 1
            continue
        changes = []
        for name in FIELDS:
            value = getattr(row, name)
            if value is not None and getattr(group, name) != value:
                changes.append((name, getattr(group, name), value))
                setattr(group, name, value)
        if group.valid_until and group.joined_on and group.valid_until < group.joined_on:
            session.expire(group)
            rejected.append(
                (row_no, f"{labels.get('valid_until', 'valid_until')}: before joined_on")
            )
            continue
        if not changes:
            counts["unchanged"] += 1
            continue
        group.updated_at = datetime.now(UTC)
        group.version += 1
        session.flush()
        history.record(
            session, entity="group_membership", entity_id=group.id, changes=changes,
            actor=actor, source=source,
        )  # fmt: skip
        counts["updated_memberships"] += 1
    return rejected
