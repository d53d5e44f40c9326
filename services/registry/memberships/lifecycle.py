"""Membership lifecycle as rules: status from dates, manual holds, renewal, member numbers.

The rule (one SQL expression, used by the nightly refresh and by every single change):

1. a status set by hand (`status_override`: suspended, terminated, or a manual override
   with a reason) holds until it is cleared;
2. a membership created pending stays pending until it is approved (`awaiting_approval`),
   also once a hold put on it meanwhile is lifted: suspending it and reinstating it, say,
   does not approve it;
3. otherwise the dates decide: no end date or not yet ended -> `active`; ended but within the
   type's grace period -> `grace`; later -> `lapsed`.

`today` is always passed in (the routes take it from `core.clock`), so tests freeze the clock
without touching `datetime`.
"""

from __future__ import annotations

import calendar
import re
import string
import uuid
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, text
from sqlalchemy.orm import Session
from sqlalchemy.types import Date, Uuid

from services.search.outbox import enqueue_people

from ..core import clock, history
from ..core.errors import Conflict, InvalidField, ProblemError
from ..core.normalize import LATEST_DATE
from ..orgs.models import Organisation
from .models import (
    GOOD_STANDING,
    HELD_STATUSES,
    MemberNoSequence,
    Membership,
    MembershipStatus,
    MembershipType,
    PeriodKind,
    TerminationReason,
)

# The refresh lives in its own module so that the command loads little; these names are
# part of this module's interface as well.
from .status_refresh import GROUP_STATUS_RULE as GROUP_STATUS_RULE
from .status_refresh import REFRESH_SETTINGS as REFRESH_SETTINGS
from .status_refresh import SEARCHABLE as SEARCHABLE
from .status_refresh import STATUS_RULE as STATUS_RULE
from .status_refresh import STATUSES as STATUSES
from .status_refresh import TODAY_PARAM
from .status_refresh import RefreshResult as RefreshResult
from .status_refresh import horizon_on as horizon_on
from .status_refresh import queue_made_searchable as queue_made_searchable
from .status_refresh import refresh as refresh
from .status_refresh import refresh_statement as refresh_statement
from .status_refresh import server_settings as server_settings

# --- periods ------------------------------------------------------------------------------------


def add_months(day: date, months: int) -> date:
    """The same day `months` later, or the month's last day when it is shorter."""
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def period_end(kind: MembershipType | None, start: date) -> date | None:
    """The last valid day of a period starting on `start`; None for life memberships."""
    if kind is None or kind.period == PeriodKind.lifetime:
        return None
    if kind.period == PeriodKind.calendar_year:
        return date(start.year, 12, 31)
    assert kind.period_months is not None
    return add_months(start, kind.period_months) - timedelta(days=1)


# --- member numbers -----------------------------------------------------------------------------

_PLACEHOLDERS = {"year": r"(|d|04d)", "seq": r"(|d|0?[1-9]d|0?1[0-9]d)", "org": r""}
_MEMBER_NO = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_./-]*$")


def check_format(fmt: str) -> str:
    """A member-number format such as `CSTAM-{year}-{seq:06d}`: only `{year}`, `{seq}` and
    `{org}` (the society's code), `{seq}` required; anything else is refused, so that
    formatting never reaches into Python objects."""
    fields = []
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError as exc:
        raise ValueError(f"not a format: {exc}") from None
    for _literal, name, spec, conversion in parsed:
        if name is None:
            continue
        if name not in _PLACEHOLDERS:
            raise ValueError(f"unknown placeholder {{{name}}}; use {{year}}, {{seq}} or {{org}}")
        if conversion or not re.fullmatch(_PLACEHOLDERS[name], spec or ""):
            raise ValueError(f"unsupported format for {{{name}}}: {spec!r}")
        fields.append(name)
    if "seq" not in fields:
        raise ValueError("must contain {seq}")
    sample = render(fmt, org_code="ORG", year=2025, seq=1)
    if (
        not _MEMBER_NO.match(sample)
        or len(render(fmt, org_code="X" * 32, year=2025, seq=10**9)) > 64
    ):
        raise ValueError("must give member numbers of letters, digits and _ . / - (at most 64)")
    return fmt


def render(fmt: str, *, org_code: str, year: int, seq: int) -> str:
    return fmt.format(year=year, seq=seq, org=org_code)


def next_member_no(
    session: Session, *, org_id: uuid.UUID, org_code: str, fmt: str, on: date
) -> str:
    """The society's next member number. Its sequence row is locked until the transaction
    ends, so concurrent approvals queue; numbers taken by hand or by an import are skipped,
    and the sequence never goes back, so no number is handed out twice."""
    session.execute(
        text(
            "INSERT INTO member_no_sequence (org_id, last_value) VALUES (:org, 0)"
            " ON CONFLICT (org_id) DO NOTHING"
        ),
        {"org": org_id},
    )
    sequence = session.scalar(
        select(MemberNoSequence).where(MemberNoSequence.org_id == org_id).with_for_update()
    )
    assert sequence is not None
    seq = sequence.last_value
    for _ in range(10_000):
        seq += 1
        number = render(fmt, org_code=org_code, year=on.year, seq=seq)
        taken = session.scalar(
            select(Membership.id).where(Membership.org_id == org_id, Membership.member_no == number)
        )
        if taken is None:
            sequence.last_value = seq
            session.flush()
            return number
    raise Conflict("no free member number in this format; change the format", "member_no")


# --- the rule -----------------------------------------------------------------------------------


def computed_status(session: Session, membership: Membership, today: date) -> str:
    """What the rule says this membership's status is, given its stored fields."""
    session.flush()
    return session.execute(
        text(
            f"SELECT {STATUS_RULE} FROM membership m"  # noqa: S608 - a constant
            " LEFT JOIN membership_type t ON t.id = m.type_id WHERE m.id = :id"
        ).bindparams(TODAY_PARAM, bindparam("id", type_=Uuid)),
        {"today": today, "id": membership.id},
    ).scalar_one()


def group_status(session: Session, *, status: str, valid_until: date | None, today: date) -> str:
    """What the group members' rule says of one stored with this status and end date."""
    return session.execute(
        text(
            f"SELECT {GROUP_STATUS_RULE} FROM"  # noqa: S608 - a constant
            " (SELECT CAST(:status AS text) AS status, :valid_until AS valid_until) g"
        ).bindparams(TODAY_PARAM, bindparam("valid_until", type_=Date)),
        {"today": today, "status": status, "valid_until": valid_until},
    ).scalar_one()


def apply_rules_after_import(
    conn: Session | Connection, *, org_id: uuid.UUID, batch_id: uuid.UUID, actor: str, source: str
) -> dict[str, int]:
    """Inside an import's transaction: memberships the batch created take the society's
    membership type of their grade (when it has exactly one active type of that grade), and
    the society's memberships get the status the rules give their dates today, by the same
    set-based refresh (history rows with the import as their source). Returns the moves."""
    conn.execute(
        text(
            """
            UPDATE membership m SET type_id = t.id
            FROM (
                SELECT grade, (array_agg(id))[1] AS id FROM membership_type
                WHERE org_id = :org AND is_active GROUP BY grade HAVING count(*) = 1
            ) t
            WHERE m.org_id = :org AND m.import_batch_id = :batch AND m.type_id IS NULL
              AND m.grade = t.grade
            """
        ).bindparams(bindparam("org", type_=Uuid), bindparam("batch", type_=Uuid)),
        {"org": org_id, "batch": batch_id},
    )
    return refresh(conn, today=clock.today(), org_ids=[org_id], actor=actor, source=source).changed


# --- actions ------------------------------------------------------------------------------------


def _type_of(session: Session, membership: Membership) -> MembershipType | None:
    return session.get(MembershipType, membership.type_id) if membership.type_id else None


def apply(
    session: Session,
    membership: Membership,
    values: dict[str, Any],
    *,
    today: date,
    actor: str,
    reason: str | None,
    source: str = "api",
) -> bool:
    """Set `values`, recompute the status by the rule, and keep it all in one history entry."""
    changes = history.assign(membership, values)
    changes += history.assign(membership, {"status": computed_status(session, membership, today)})
    if history.save_changes(
        session,
        membership,
        entity="membership",
        changes=changes,
        actor=actor,
        source=source,
        reason=reason,
    ):
        enqueue_people(session, [membership.person_id])
        return True
    return False


def _refuse_if_terminated(membership: Membership, doing: str) -> None:
    if membership.status_override == MembershipStatus.terminated:
        raise ProblemError(
            f"the membership is terminated ({membership.termination_reason or 'no reason'});"
            f" it cannot be {doing}",
            409,
            "membership-terminated",
        )


def renew(
    session: Session,
    membership: Membership,
    *,
    today: date,
    actor: str,
    reason: str,
    until: date | None = None,
) -> None:
    """Extend the membership by one period of its type (or to `until`): from the day after
    it ends while it is active or in grace, from today once it has lapsed. A lapse or grace
    set by hand is lifted."""
    _refuse_if_terminated(membership, "renewed")
    if membership.status_override == MembershipStatus.suspended:
        raise ProblemError(
            "the membership is suspended; reinstate it first", 409, "membership-suspended"
        )
    if membership.awaiting_approval:
        raise ProblemError(
            "the membership is pending approval; approve it first", 409, "membership-pending"
        )
    kind = _type_of(session, membership)
    if kind is not None and kind.period == PeriodKind.lifetime:
        # Not even to a given date: an end would make a life member lapse.
        raise ProblemError("a life membership has no end to renew", 409, "nothing-to-renew")
    current = membership.valid_until
    if current is not None and current > LATEST_DATE:
        # Stored before dates were bounded (9999-12-31 for "no end"): nothing to count from.
        raise InvalidField(
            "valid_until", f"{current} is after {LATEST_DATE}: correct it (or clear it) first"
        )
    if kind is not None and current is not None and kind.renewal_window_days is not None:
        opens = current - timedelta(days=kind.renewal_window_days)
        if today < opens:
            raise ProblemError(
                f"too early: renewal opens on {opens.isoformat()}", 409, "renewal-window-closed"
            )
    if until is None:
        if kind is None:
            raise InvalidField("until", "required: the membership has no type to compute it")
        in_standing = current is not None and current + timedelta(days=kind.grace_days) >= today
        start = current + timedelta(days=1) if in_standing and current is not None else today
        until = period_end(kind, start)
    if until is None or until < today or (current is not None and until <= current):
        raise InvalidField("until", "must be after the current end and not in the past")
    if until > LATEST_DATE:
        raise InvalidField("until", f"must not be after {LATEST_DATE}")
    if membership.joined_on and until < membership.joined_on:
        raise InvalidField("until", "must not be before joined_on")
    values: dict[str, Any] = {"valid_until": until}
    if membership.status_override in (MembershipStatus.lapsed, MembershipStatus.grace):
        # A lapse (or grace) set by hand waits for the renewal that ends it: the dates decide
        # again. A good standing given by hand stays.
        values["status_override"] = None
        membership.override_reason = None
    apply(session, membership, values, today=today, actor=actor, reason=reason)


def suspend(
    session: Session, membership: Membership, *, today: date, actor: str, reason: str
) -> None:
    _refuse_if_terminated(membership, "suspended")
    if membership.status_override == MembershipStatus.suspended:
        raise ProblemError("the membership is already suspended", 409, "already-suspended")
    membership.override_reason = reason
    apply(
        session,
        membership,
        {"status_override": MembershipStatus.suspended},
        today=today,
        actor=actor,
        reason=reason,
    )


def terminate(
    session: Session,
    membership: Membership,
    *,
    today: date,
    actor: str,
    reason: str,
    termination: TerminationReason,
) -> None:
    _refuse_if_terminated(membership, "terminated again")
    membership.override_reason = reason
    apply(
        session,
        membership,
        {
            "status_override": MembershipStatus.terminated,
            "termination_reason": termination,
            "ended_on": today,
        },
        today=today,
        actor=actor,
        reason=reason,
    )


def reinstate(
    session: Session, membership: Membership, *, today: date, actor: str, reason: str
) -> None:
    """Clear a suspension, a termination (not by death) or a manual override; the dates
    decide the status again."""
    if membership.status_override is None:
        raise ProblemError(
            f"the membership is {membership.status} by its dates; nothing to reinstate"
            " (renew it instead)",
            409,
            "nothing-to-reinstate",
        )
    if membership.termination_reason == TerminationReason.death:
        raise ProblemError(
            "a membership ended by the member's death cannot be reinstated",
            409,
            "membership-terminated",
        )
    membership.override_reason = None
    apply(
        session,
        membership,
        {"status_override": None, "termination_reason": None, "ended_on": None},
        today=today,
        actor=actor,
        reason=reason,
    )


def set_override(
    session: Session,
    membership: Membership,
    status: MembershipStatus | None,
    *,
    today: date,
    actor: str,
    reason: str | None,
    values: dict[str, Any] | None = None,
) -> None:
    """PATCH: other field changes and, when `status` is given, a manual status kept until it
    is cleared (`status=None` with `clear=True` by the caller). Approving a pending
    membership (pending -> active) is not an override: the dates decide from then on. One
    not yet approved is not put in good standing by hand either, held or not."""
    values = dict(values or {})
    if status is not None:
        if status in HELD_STATUSES or status == MembershipStatus.pending:
            if status == MembershipStatus.terminated:
                raise InvalidField("status", "use POST /memberships/{id}/terminate")
            if status == MembershipStatus.pending and membership.status != status:
                raise InvalidField("status", "a membership cannot go back to pending")
        if membership.status == MembershipStatus.pending and status == MembershipStatus.active:
            # approved: the dates decide from now
            values.update(status=MembershipStatus.active, awaiting_approval=False)
            values.update(_admission(session, membership, values, today))
        elif membership.awaiting_approval and status in GOOD_STANDING:
            raise ProblemError(
                "the membership is not yet approved: lift the hold on it, then approve it"
                " (status active)",
                409,
                "membership-pending",
            )
        elif status != MembershipStatus.pending:
            if not reason:
                raise InvalidField("reason", "required when the status is set by hand")
            _refuse_if_terminated(membership, "changed by hand")
            values["status_override"] = status
            membership.override_reason = reason
    apply(session, membership, values, today=today, actor=actor, reason=reason)


def _admission(
    session: Session, membership: Membership, values: dict[str, Any], today: date
) -> dict[str, Any]:
    """What approving a pending membership of a type gives it, unless the approval sets it:
    the type's next member number, and a period that starts on the approval day (not when
    the membership was entered) when that ends later, as an approved application's does."""
    type_id = values.get("type_id", membership.type_id)
    kind = session.get(MembershipType, type_id) if type_id else None
    if kind is None:
        return {}
    given: dict[str, Any] = {}
    joined_on = values.get("joined_on", membership.joined_on)
    current = values.get("valid_until", membership.valid_until)
    if "valid_until" not in values and current is not None:
        end = period_end(kind, max(today, joined_on or today))
        if end is not None and end > current:
            given["valid_until"] = end
    if values.get("member_no", membership.member_no) is None and kind.member_no_format:
        org_code = session.scalar(
            select(Organisation.code).where(Organisation.id == membership.org_id)
        )
        assert org_code is not None
        given["member_no"] = next_member_no(
            session,
            org_id=membership.org_id,
            org_code=org_code,
            fmt=kind.member_no_format,
            on=joined_on or today,
        )
    return given


def initial_status(requested: MembershipStatus) -> tuple[str, str | None]:
    """A new membership's stored status and override: `pending` waits for approval,
    `active` (the default) is left to the dates, anything else is a manual override."""
    if requested in (MembershipStatus.pending, MembershipStatus.active):
        return requested, None
    return requested, requested
