"""Organisation lists: validated with the API's own schema, parents before children, upserted
by code with field history. Organisation lists are small (thousands of rows), so the valid rows
are held in memory to order them by parent; members use the streaming path instead. A code
repeated with other values is refused; an exact repeat counts as `duplicate_rows` and shares
the fate of the first row (refused with it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import history, normalize
from ..core.errors import ProblemError, validation_reason
from ..orgs import service as org_service
from ..orgs.models import Organisation
from ..orgs.schemas import OrgCreate
from .columns import HeaderMap

FIELDS = ("name", "name_en", "kind", "uscc", "region_code")


def pydantic_reasons(exc: ValidationError, labels: dict[str, str]) -> str:
    parts = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        message = validation_reason(error)
        parts.append(f"{labels.get(name, name)}: {message}")
    return "; ".join(parts)


@dataclass
class OrgRows:
    """Valid rows waiting to be written, and the counts so far."""

    valid: list[tuple[int, OrgCreate]] = field(default_factory=list)
    codes: dict[str, int] = field(default_factory=dict)
    first: dict[str, OrgCreate] = field(default_factory=dict)  # a code's first row
    repeats: dict[str, list[int]] = field(default_factory=dict)  # rows repeating it exactly
    counts: dict[str, int] = field(
        default_factory=lambda: {"created_orgs": 0, "updated_orgs": 0, "unchanged": 0,
                                 "duplicate_rows": 0}
    )  # fmt: skip

    def refused(self, row_no: int, code: str, reason: str) -> list[tuple[int, str]]:
        """The rejection of a code's first row, and of its exact repeats with it."""
        self.codes[code] = -1
        repeats = self.repeats.pop(code, [])
        self.counts["duplicate_rows"] -= len(repeats)
        return [(row_no, reason), *((r, reason) for r in repeats)]


def check_row(cells: list[str], header: HeaderMap, row_no: int, rows: OrgRows) -> str | None:
    """Validate one row; returns the reason when it is rejected."""
    values: dict[str, Any] = header.values(cells)
    if errors := header.formula_errors(values):
        return errors
    if "kind" in values:
        try:
            values["kind"] = normalize.org_kind(values["kind"])
        except ValueError as exc:
            return f"{header.labels['kind']}: {exc}"
    try:
        data = OrgCreate(**values)
    except ValidationError as exc:
        return pydantic_reasons(exc, header.labels)
    if data.code in rows.first:
        if rows.first[data.code] != data:
            label = header.labels.get("code", "code")
            return f"{label}: also on row {rows.codes[data.code]} with other values"
        rows.counts["duplicate_rows"] += 1
        rows.repeats.setdefault(data.code, []).append(row_no)
        return None
    rows.codes[data.code] = row_no
    rows.first[data.code] = data
    rows.valid.append((row_no, data))
    return None


def write(
    session: Session, rows: OrgRows, *, actor: str, source: str, labels: dict[str, str]
) -> list[tuple[int, str]]:
    """Create or update every valid row, parents first; returns rejected (row, reason)."""
    rejected: list[tuple[int, str]] = []
    # The file may both add and move organisations: take the tree's lock for moves at once
    # (two imports that each took it shared for an addition could not both move after it).
    org_service.lock_tree(session, exclusive=True)
    pending = list(rows.valid)
    while pending:
        waiting = []
        progressed = False
        for row_no, data in pending:
            parent = data.parent_code
            if parent and parent != data.code and org_service.by_code(session, parent) is None:
                if parent in rows.codes and rows.codes[parent] != -1:
                    waiting.append((row_no, data))  # its parent comes later in the file
                    continue
                reason = f"{labels['parent_code']}: no organisation has this code"
                rejected += rows.refused(row_no, data.code, reason)
                progressed = True
                continue
            reason = _upsert(session, data, rows, actor=actor, source=source, labels=labels)
            if reason:
                rejected += rows.refused(row_no, data.code, reason)
            progressed = True
        if not progressed:  # a cycle of parents: none of them can go first
            for row_no, data in waiting:
                reason = f"{labels['parent_code']}: parents form a cycle"
                rejected += rows.refused(row_no, data.code, reason)
            break
        pending = waiting
    return sorted(rejected)


def _upsert(
    session: Session,
    data: OrgCreate,
    rows: OrgRows,
    *,
    actor: str,
    source: str,
    labels: dict[str, str],
) -> str | None:
    if data.uscc:
        holder = session.scalar(
            select(Organisation.code).where(
                Organisation.uscc == data.uscc, Organisation.code != data.code
            )
        )
        if holder:
            return f"{labels.get('uscc', 'uscc')}: organisation {holder} has this USCC"
    if data.parent_code == data.code:
        return f"{labels['parent_code']}: an organisation cannot sit below itself"
    org = org_service.by_code(session, data.code)
    if org is None:
        # Parents are ordered before their children, so the parent exists by now.
        try:
            org_service.add(session, data, actor=actor, source=source)
        except ProblemError as exc:  # no place in the tree for its kind below that parent
            return _reason(exc, labels)
        rows.counts["created_orgs"] += 1
        return None
    changes: list[tuple[str, Any, Any]] = []
    if "parent_code" in labels and data.parent_code:
        # Checked (and the subtree's paths rewritten) before any field is set.
        try:
            changes.extend(org_service._move(session, org, data.parent_code))
        except ProblemError as exc:  # a parent below the organisation itself, or no place
            return _reason(exc, labels)
    for name in FIELDS:
        value = getattr(data, name)
        if value is not None and getattr(org, name) != value:
            changes.append((name, getattr(org, name), value))
            setattr(org, name, value)
    if not changes:
        rows.counts["unchanged"] += 1
        return None
    org.updated_at = datetime.now(UTC)
    org.version += 1
    session.flush()
    history.record(
        session, entity="organisation", entity_id=org.id, changes=changes, actor=actor,
        source=source,
    )  # fmt: skip
    rows.counts["updated_orgs"] += 1
    return None


def _reason(exc: ProblemError, labels: dict[str, str]) -> str:
    """A refusal of the organisation service as an error-file reason, under the file's label."""
    if not exc.errors:
        return str(exc)
    error = exc.errors[0]
    return f"{labels.get(error.field, error.field)}: {error.reason}"
