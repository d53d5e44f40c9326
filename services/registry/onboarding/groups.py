"""Group member lists (团体会员): institutions keyed by their USCC, upserted per organisation.

A society has hundreds or thousands of group members, so rows are validated one by one with
the API's field types and written through the ORM, a chunk at a time. The first row of a USCC
in the file that is written wins; a later one with the same values counts as a repeat
(`duplicate_rows`), one with other values is refused. New members get the API's defaults (joined
today unless lapsed), and every member the status its dates give, within the cap (总量控制)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import history, normalize
from ..core.types import BoundedDate, Email, Phone, RegionCode, ShortText, Uscc
from ..memberships import groups as group_service
from ..memberships.models import GroupGrade, GroupMembership
from .columns import HeaderMap
from .orgs import pydantic_reasons

FIELDS = (
    "name", "grade", "member_no", "region_code", "contact_name", "contact_phone",
    "contact_email", "joined_on", "valid_until", "seats",
)  # fmt: skip
# Statuses set by hand, which the dates do not change (status_refresh.GROUP_STATUS_RULE).
_HELD = {"pending", "suspended", "terminated"}


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
    joined_on: BoundedDate | None = None
    valid_until: BoundedDate | None = None
    seats: Annotated[int, _label(normalize.fold), Field(ge=0, le=1000)] | None = None

    @model_validator(mode="after")
    def _dates_in_order(self) -> GroupMemberRow:
        if self.joined_on and self.valid_until and self.valid_until < self.joined_on:
            raise ValueError("valid_until must not be before joined_on")
        return self


def _dated_status(status: str, valid_until: date | None, today: date) -> str:
    """The status the dates give a group member (as the nightly refresh does)."""
    if status in _HELD:
        return status
    return "active" if valid_until is None or valid_until >= today else "lapsed"


def parse(cells: list[str], header: HeaderMap) -> GroupMemberRow | str:
    values = header.values(cells)
    if errors := header.formula_errors(values):
        return errors
    try:
        return GroupMemberRow(**values)
    except ValidationError as exc:
        return pydantic_reasons(exc, header.labels)


def write_chunk(
    session: Session,
    rows: list[tuple[int, GroupMemberRow]],
    *,
    org_id: Any,
    seen: dict[str, tuple[int, GroupMemberRow]],
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
    today = date.today()
    cap_reason = (
        "group_member_cap: the society has {counted} group members and its cap is {cap}"
        " (总量控制); end one or raise the cap first"
    )
    for row_no, row in rows:
        first = seen.get(row.uscc)
        if first is not None:
            if first[1] == row:
                counts["duplicate_rows"] += 1
            else:
                label = labels.get("uscc", "uscc")
                rejected.append((row_no, f"{label}: also on row {first[0]} with other values"))
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
        group = existing.get(row.uscc)
        if group is None:
            status = _dated_status("active", row.valid_until, today)
            if cap is not None and status in group_service.COUNTED:
                if counted >= cap:
                    rejected.append((row_no, cap_reason.format(counted=counted, cap=cap)))
                    continue
                counted += 1
            values = {f: getattr(row, f) for f in FIELDS if getattr(row, f) is not None}
            values.setdefault("grade", GroupGrade.member)
            if "joined_on" not in values and status != "lapsed":
                values["joined_on"] = today  # as the API does
            group = GroupMembership(org_id=org_id, uscc=row.uscc, status=status, **values)
            session.add(group)
            session.flush()
            history.record(
                session, entity="group_membership", entity_id=group.id,
                changes=[("created", None, row.name)], actor=actor, source=source,
            )  # fmt: skip
            counts["created_memberships"] += 1
            seen[row.uscc] = (row_no, row)
            existing[row.uscc] = group
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
        # A renewal (a later valid_until) puts a lapsed member in good standing again, within
        # the cap; an expiry in the past lapses it.
        status = _dated_status(group.status, group.valid_until, today)
        if status != group.status:
            was_counted = group.status in group_service.COUNTED
            if status in group_service.COUNTED and not was_counted and cap is not None:
                if counted >= cap:
                    session.expire(group)
                    rejected.append((row_no, cap_reason.format(counted=counted, cap=cap)))
                    continue
                counted += 1
            elif was_counted and status not in group_service.COUNTED:
                counted -= 1
            changes.append(("status", group.status, status))
            group.status = status
        seen[row.uscc] = (row_no, row)
        if not changes:
            counts["unchanged"] += 1
            continue
        group.updated_at = datetime.now(UTC)
        group.version += 1
        session.flush()
        history.record(
            session, entity="group_membership", entity_id=group.id,
            changes=group_service.masked_contacts(changes), actor=actor, source=source,
        )  # fmt: skip
        counts["updated_memberships"] += 1
    return rejected
