"""Running an import: the batch record, the one transaction, the reader/merger pipeline.

Interrupted imports: **each batch is atomic**. All of a file's rows are merged inside one
database transaction that commits only after the last chunk, so Ctrl-C, a killed process or a
lost connection leaves the data as if the batch never ran, and running the same command again
simply does the whole import (nothing to resume, nothing duplicated). The batch record itself
is written first, in its own short transaction, so `registry import batches` shows every
attempt: `completed` (with its counts), `failed` (with the error), or `interrupted` for a
`running` record whose process is gone.

Member imports run one at a time (a transaction-level advisory lock), so two files cannot
create the same person twice. `--dry-run` runs everything in the transaction and rolls it back.
"""

from __future__ import annotations

import contextlib
import csv
import getpass
import queue
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, select, text, update
from sqlalchemy.orm import Session

from ..core.db import refusal_text
from ..core.ids import uuid7
from ..core.security import PiiCipher
from ..memberships import lifecycle
from ..orgs import service as org_service
from ..orgs.models import Organisation, OrgStatus
from . import duplicates, members
from .columns import MEMBER_COLUMNS, HeaderMap, date_positions, map_header, names_a_column
from .models import BatchStatus, ImportBatch, ImportKind
from .readers import FileProblem, OptionProblem, Table, open_table
from .validate import MemberValidator, shape_reasons

CHUNK_ROWS = 25_000
_LOCK = "registry-import-members"


class ImportRefused(FileProblem):
    """Not about the file but the request (unknown or closed organisation): exit status 1."""


Progress = Callable[[int, float | None], None]


@dataclass
class ImportRequest:
    path: Path
    org_code: str | None = None
    dry_run: bool = False
    errors_path: Path | None = None
    encoding: str | None = None
    sheet: str | None = None
    actor: str = field(default_factory=lambda: f"cli:{_user()}")
    chunk_rows: int = CHUNK_ROWS
    progress: Progress | None = None
    # Test hook: called with each chunk's index after it is merged (to simulate failures).
    after_chunk: Callable[[int], None] | None = None


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        return "unknown"


def _summary(rows: int = 0) -> dict[str, Any]:
    return {
        "rows": rows,
        "created_people": 0,
        "matched_people": 0,
        "updated_people": 0,
        "created_memberships": 0,
        "updated_memberships": 0,
        "unchanged": 0,
        "rejected": 0,
    }


class ErrorFile:
    """Rejected rows as CSV (UTF-8 with BOM, so Excel opens it): `row_number`, `reason`, then
    the original columns; fixed, the file imports again (the two extra columns are ignored)."""

    SHOWN = 5

    def __init__(self, path: Path | None, table: Table) -> None:
        self.handle = None
        # The first rejected rows (number, reason), for the command to show on its terminal.
        self.shown: list[tuple[int, str]] = []
        self.header = table.header
        # A sheet does not store a row's empty last cells: as CSV, such a row must get them
        # back, or its corrected copy would be refused for having fewer fields than the header.
        self.pads = table.format == "xlsx"
        if path is not None:
            if _same_file(path, table.path):
                # Opened for writing, the list being imported would be emptied under the reader.
                raise OptionProblem(f"--errors {path} is the file being imported")
            try:
                self.handle = path.open("w", encoding="utf-8-sig", newline="")
            except OSError as exc:
                raise FileProblem(
                    f"cannot write the error file {path}: {exc.strerror or exc}"
                ) from None
            csv.writer(self.handle).writerow(["row_number", "reason", *self.header])

    def write(self, rejected: list[tuple[int, list[str], str]]) -> None:
        room = self.SHOWN - len(self.shown)  # never below 0
        self.shown.extend((number, why) for number, _, why in rejected[:room])
        if self.handle is not None and rejected:
            if self.pads:
                width = len(self.header)
                rejected = [
                    (n, [*cells, *[""] * (width - len(cells))], why) for n, cells, why in rejected
                ]
            members.write_errors(self.handle, rejected)

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()


def _same_file(path: Path, other: Path) -> bool:
    try:
        return path.samefile(other)
    except OSError:  # the error file does not exist yet
        return False


@contextlib.contextmanager
def _batch_record(
    engine: Engine, request: ImportRequest, kind: ImportKind, table: Table, org_id: Any
) -> Iterator[ImportBatch]:
    """The batch row, committed on its own before the work starts; marked failed on error."""
    batch = ImportBatch(
        id=uuid7(),
        kind=kind,
        org_id=org_id,
        file_name=request.path.name,
        file_size=table.size,
        file_sha256=table.sha256,
        actor=request.actor,
    )
    if request.dry_run:
        yield batch
        return
    with engine.begin() as conn:
        conn.execute(
            ImportBatch.__table__.insert().values(  # type: ignore[attr-defined]
                id=batch.id,
                kind=batch.kind,
                org_id=org_id,
                file_name=batch.file_name,
                file_size=batch.file_size,
                file_sha256=batch.file_sha256,
                actor=batch.actor,
                status=BatchStatus.running,
                summary={},
            )
        )
    try:
        yield batch
    except BaseException as exc:
        message = refusal_text(exc) or str(exc) or type(exc).__name__
        with contextlib.suppress(Exception), engine.begin() as conn:
            conn.execute(
                update(ImportBatch)
                .where(ImportBatch.id == batch.id)  # type: ignore[arg-type]
                .values(status=BatchStatus.failed, error=message[:2000], finished_at=_now())
            )
        raise


def _now() -> datetime:
    return datetime.now(UTC)


def _finish(conn: Connection, batch: ImportBatch, summary: dict[str, Any], dry_run: bool) -> None:
    if dry_run:
        return
    conn.execute(
        update(ImportBatch)
        .where(ImportBatch.id == batch.id)  # type: ignore[arg-type]
        .values(status=BatchStatus.completed, summary=summary, finished_at=_now())
    )


@dataclass(frozen=True)
class OrgRef:
    id: uuid.UUID
    code: str
    status: str


def find_org(conn: Connection, code: str | None, *, for_members: bool) -> OrgRef:
    if not code:
        raise ImportRefused("--org is required")
    wanted = org_service.canonical_code(code)
    row = conn.execute(
        select(Organisation.id, Organisation.code, Organisation.status).where(
            Organisation.code == wanted  # type: ignore[arg-type]
        )
    ).first()
    if row is None:
        raise ImportRefused(f"no organisation has the code {wanted!r}")
    org = OrgRef(row.id, row.code, row.status)
    if for_members and org.status in {OrgStatus.suspended, OrgStatus.exited}:
        raise ImportRefused(f"organisation {org.code} is {org.status} and cannot accept members")
    return org


def _pipeline(produce: Iterator[Any], consume: Callable[[Any], None], *, depth: int = 2) -> None:
    """Run `produce` (reading, validating) in a thread while `consume` (the database) handles
    the previous chunk; at most `depth` chunks wait in between, so memory stays bounded."""
    handoff: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def run() -> None:
        try:
            for item in produce:
                while not stop.is_set():
                    try:
                        handoff.put(("item", item), timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            handoff.put(("done", done))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            handoff.put(("error", exc))

    worker = threading.Thread(target=run, name="import-reader", daemon=True)
    worker.start()
    try:
        while True:
            kind, item = handoff.get()
            if kind == "done":
                break
            if kind == "error":
                raise item
            consume(item)
    finally:
        stop.set()
        with contextlib.suppress(queue.Empty):
            while True:
                handoff.get_nowait()
        worker.join(timeout=5)


def import_members(engine: Engine, pii: PiiCipher, request: ImportRequest) -> dict[str, Any]:
    """Import a society's member list; returns the summary (CONTRACT.md keys and more)."""
    started = time.perf_counter()
    table = open_table(
        request.path,
        encoding=request.encoding,
        sheet=request.sheet,
        is_header=partial(names_a_column, columns=MEMBER_COLUMNS),
        date_columns=partial(date_positions, columns=MEMBER_COLUMNS),
    )
    header = map_header(
        table.header, MEMBER_COLUMNS, required=("name",), file_name=request.path.name
    )
    _require_identity_columns(header, request.path.name)
    with engine.connect() as probe:
        org = find_org(probe, request.org_code, for_members=True)
    summary = _summary()
    summary.update(duplicate_rows=0, possible_duplicates=0)
    errors = ErrorFile(request.errors_path, table)
    frame = _Frame(request, table, header, summary, started)
    try:
        with frame.transaction(engine, ImportKind.members, org.id, lock=_LOCK) as (conn, batch):
            # Taken before the first snapshot that decides who is queued for search, with
            # this transaction's id: for `queue_made_searchable` once it has committed.
            horizon = lifecycle.horizon_on(conn)
            writer = conn.execute(text("SELECT pg_current_xact_id()::xid::text")).scalar_one()
            raw = conn.connection.driver_connection
            assert raw is not None
            merger = members.MemberMerge(
                raw,  # type: ignore[arg-type]
                org_id=org.id,
                batch_id=batch.id,
                source=batch.source,
                actor=request.actor,
                pii=pii,
                labels=header.labels,
            )
            validator = MemberValidator(header, pads=table.format == "xlsx")

            timings = {"read": 0.0, "validate": 0.0, "merge": 0.0}

            def produce() -> Iterator[tuple[int, members.Prepared]]:
                chunks = table.chunks(request.chunk_rows)
                while True:
                    mark = time.perf_counter()
                    chunk = next(chunks, None)
                    if chunk is None:
                        return
                    read = time.perf_counter()
                    prepared = members.prepare(validator.check(chunk), pii, header.labels)
                    timings["read"] += read - mark
                    timings["validate"] += time.perf_counter() - read
                    yield len(chunk), prepared

            index = {"n": 0}

            def tally(result: members.ChunkResult) -> None:
                summary["rejected"] += len(result.rejected)
                for key, value in result.counts.items():
                    summary[key] += value
                errors.write(result.rejected)

            def consume(item: tuple[int, members.Prepared]) -> None:
                count, prepared = item
                mark = time.perf_counter()
                result = merger.merge(prepared)
                timings["merge"] += time.perf_counter() - mark
                summary["rows"] += count
                tally(result)
                if request.progress:
                    request.progress(summary["rows"], table.done_fraction())
                if request.after_chunk:
                    request.after_chunk(index["n"])
                index["n"] += 1

            _pipeline(produce(), consume)
            mark = time.perf_counter()
            tally(merger.finish())
            timings["merge"] += time.perf_counter() - mark
            mark = time.perf_counter()
            summary["possible_duplicates"] = duplicates.record(
                raw,  # type: ignore[arg-type]
                source=batch.source,
                batch_id=batch.id,
            )
            timings["duplicates"] = time.perf_counter() - mark
            mark = time.perf_counter()
            summary["status_changes"] = lifecycle.apply_rules_after_import(
                conn, org_id=org.id, batch_id=batch.id, actor=request.actor, source=batch.source
            )
            timings["rules"] = time.perf_counter() - mark
            # Where the time went: reading and validating run beside the merge, whose
            # own steps follow (`merge_*`, summing to about `merge`).
            timings.update({f"merge_{k}": v for k, v in merger.seconds.items()})
            summary["seconds_by_step"] = {k: round(v, 2) for k, v in timings.items()}
        if not request.dry_run:
            with engine.begin() as conn:
                lifecycle.queue_made_searchable(conn, horizon=horizon, written_by=writer)
    finally:
        errors.close()
    summary["rejected_shown"] = errors.shown
    return summary


@dataclass
class _Frame:
    """What an import's one transaction needs besides its rows: the batch record around it,
    and the summary and batch completed at its end."""

    request: ImportRequest
    table: Table
    header: HeaderMap
    summary: dict[str, Any]
    started: float

    @contextlib.contextmanager
    def transaction(
        self, engine: Engine, kind: ImportKind, org_id: uuid.UUID | None, *, lock: str
    ) -> Iterator[tuple[Connection, ImportBatch]]:
        """One transaction for the whole file, named after the batch and holding the import's
        lock; committed with the batch finished (rolled back on a dry run or any failure)."""
        request = self.request
        with (
            _batch_record(engine, request, kind, self.table, org_id) as batch,
            engine.connect() as conn,
        ):
            trans = conn.begin()
            try:
                conn.execute(
                    text("SELECT set_config('application_name', :name, true)"),
                    {"name": f"registry-import {batch.id}"},
                )
                conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"), {"k": lock})
                yield conn, batch
                _describe(self.summary, request, self.table, self.header, batch, self.started)
                _finish(conn, batch, self.summary, request.dry_run)
                if request.dry_run:
                    trans.rollback()
                else:
                    trans.commit()
            except BaseException:
                trans.rollback()
                raise


def _require_identity_columns(header: HeaderMap, file_name: str) -> None:
    have = header.positions
    if "id_number" in have or "member_no" in have:
        return
    if "birth_date" in have and ("phone" in have or "email" in have):
        return
    raise FileProblem(
        f"{file_name}: no column identifies a person; expected 证件号码/id_number, or "
        "会员编号/member_no, or 出生日期/birth_date with 手机/phone or 邮箱/email; found "
        + ", ".join(repr(c) for c in header.labels.values())
    )


def _describe(
    summary: dict[str, Any],
    request: ImportRequest,
    table: Table,
    header: HeaderMap,
    batch: ImportBatch,
    started: float,
) -> None:
    seconds = time.perf_counter() - started
    summary.update(
        batch_id=None if request.dry_run else str(batch.id),
        dry_run=request.dry_run,
        file=request.path.name,
        sha256=table.sha256,
        format=table.format,
        encoding=table.encoding,
        unknown_columns=header.unknown,
        seconds=round(seconds, 3),
        rows_per_second=round(summary["rows"] / seconds) if seconds > 0 else None,
    )


def list_batches(
    engine: Engine, *, org_code: str | None = None, limit: int = 50
) -> list[dict[str, Any]]:
    """Recent batches, newest first; a `running` one whose process is gone shows as
    `interrupted` (its transaction was rolled back)."""
    query = (
        select(ImportBatch, Organisation.code)
        .outerjoin(Organisation, Organisation.id == ImportBatch.org_id)  # type: ignore[arg-type]
        .order_by(ImportBatch.started_at.desc(), ImportBatch.id.desc())  # type: ignore[attr-defined]
        .limit(limit)
    )
    if org_code:
        query = query.where(Organisation.code == org_service.canonical_code(org_code))  # type: ignore[arg-type]
    with Session(engine) as session:
        rows = [(r[0], r[1]) for r in session.execute(query).all()]
        alive = set(
            session.scalars(
                text(
                    "SELECT application_name FROM pg_stat_activity "
                    "WHERE application_name LIKE 'registry-import %'"
                )
            )
        )
    out = []
    for batch, code in rows:
        status = batch.status
        if status == BatchStatus.running and f"registry-import {batch.id}" not in alive:
            status = "interrupted"
        out.append(
            {
                "batch_id": str(batch.id),
                "kind": batch.kind,
                "org_code": code,
                "file_name": batch.file_name,
                "file_size": batch.file_size,
                "sha256": batch.file_sha256,
                "actor": batch.actor,
                "status": status,
                "started_at": batch.started_at.isoformat(),
                "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
                "summary": batch.summary,
                "error": batch.error,
            }
        )
    return out


def _small_import(
    engine: Engine,
    request: ImportRequest,
    *,
    kind: ImportKind,
    columns: Any,
    required: tuple[str, ...],
    org_code: str | None,
    work: Callable[[Session, Table, HeaderMap, ImportBatch, Any, ErrorFile, dict[str, Any]], None],
) -> dict[str, Any]:
    """The batch, transaction and error-file frame around a row-by-row import."""
    started = time.perf_counter()
    table = open_table(
        request.path,
        encoding=request.encoding,
        sheet=request.sheet,
        is_header=partial(names_a_column, columns=columns),
        date_columns=partial(date_positions, columns=columns),
    )
    header = map_header(table.header, columns, required=required, file_name=request.path.name)
    org = None
    if kind is not ImportKind.orgs:
        with engine.connect() as probe:
            org = find_org(probe, org_code, for_members=True)
    summary = _summary()
    errors = ErrorFile(request.errors_path, table)
    frame = _Frame(request, table, header, summary, started)
    try:
        with (
            frame.transaction(
                engine, kind, org.id if org else None, lock=f"registry-import-{kind}"
            ) as (conn, batch),
            Session(bind=conn) as session,
        ):
            work(session, table, header, batch, org, errors, summary)
            session.flush()
    finally:
        errors.close()
    summary["rejected_shown"] = errors.shown
    return summary


def _shapes(table: Table, header: HeaderMap, rows: list[list[str]]) -> list[str | None]:
    """Why each row cannot be read against the header (None where it can)."""
    return shape_reasons(rows, header.width, pads=table.format == "xlsx")


def import_orgs(engine: Engine, pii: PiiCipher, request: ImportRequest) -> dict[str, Any]:
    """Import organisations; parents may come after their children in the file."""
    from . import orgs
    from .columns import ORG_COLUMNS

    def work(session, table, header, batch, org, errors, summary):  # type: ignore[no-untyped-def]
        rows = orgs.OrgRows()
        raw: dict[int, list[str]] = {}
        rejected: list[tuple[int, list[str], str]] = []
        for chunk in table.chunks(request.chunk_rows):
            shapes = _shapes(table, header, chunk.rows)
            for number, row, shape in zip(chunk.numbers, chunk.rows, shapes, strict=True):
                summary["rows"] += 1
                reason = shape or orgs.check_row(row, header, number, rows)
                if reason:
                    rejected.append((number, row, reason))
                else:
                    raw[number] = row
            if request.progress:
                request.progress(summary["rows"], table.done_fraction())
        for number, reason in orgs.write(
            session, rows, actor=request.actor, source=batch.source, labels=header.labels
        ):
            rejected.append((number, raw[number], reason))
        rejected.sort(key=lambda item: item[0])
        errors.write(rejected)
        summary["rejected"] = len(rejected)
        summary.update(rows.counts)

    return _small_import(
        engine, request, kind=ImportKind.orgs, columns=ORG_COLUMNS,
        required=("code", "name", "kind"), org_code=None, work=work,
    )  # fmt: skip


def import_group_members(engine: Engine, pii: PiiCipher, request: ImportRequest) -> dict[str, Any]:
    """Import group members (institutions by USCC) of one organisation."""
    from . import groups
    from .columns import GROUP_MEMBER_COLUMNS

    def work(session, table, header, batch, org, errors, summary):  # type: ignore[no-untyped-def]
        counts = {"created_memberships": 0, "updated_memberships": 0, "unchanged": 0,
                  "duplicate_rows": 0}  # fmt: skip
        seen: dict[str, tuple[int, groups.GroupMemberRow]] = {}
        for chunk in table.chunks(min(request.chunk_rows, 5_000)):
            valid: list[tuple[int, groups.GroupMemberRow]] = []
            rejected: list[tuple[int, list[str], str]] = []
            by_number = dict(zip(chunk.numbers, chunk.rows, strict=True))
            shapes = _shapes(table, header, chunk.rows)
            for (number, row), reason in zip(by_number.items(), shapes, strict=True):
                summary["rows"] += 1
                parsed = reason or groups.parse(row, header)
                if isinstance(parsed, str):
                    rejected.append((number, row, parsed))
                else:
                    valid.append((number, parsed))
            for number, reason in groups.write_chunk(
                session, valid, org_id=org.id, seen=seen, counts=counts, actor=request.actor,
                source=batch.source, labels=header.labels,
            ):  # fmt: skip
                rejected.append((number, by_number[number], reason))
            rejected.sort(key=lambda item: item[0])
            errors.write(rejected)
            summary["rejected"] += len(rejected)
            if request.progress:
                request.progress(summary["rows"], table.done_fraction())
        summary.update(counts)

    return _small_import(
        engine, request, kind=ImportKind.group_members, columns=GROUP_MEMBER_COLUMNS,
        required=("name", "uscc"), org_code=request.org_code, work=work,
    )  # fmt: skip
