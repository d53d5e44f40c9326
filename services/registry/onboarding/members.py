"""Member lists: staging with COPY, identity resolution and the set-based merge, per chunk.

Identity, in this order (the API's inline person follows the first two):
1. the same document (blind index of type and number) is the same person;
2. otherwise the same normalised name and birth date with the same phone or e-mail, when at
   most one side has a document;
3. otherwise, in the importing organisation, the same member number with the same name.
Anything else is a new person. The first row of a person in a file wins; later rows of the same
person are counted as `duplicate_rows` and left out, so a repeated person gives one person and
one membership, and the outcome does not depend on where chunks end.

Updates: a non-empty cell overwrites the stored value, an empty one leaves it; only fields that
differ are written, with one history entry per field whose source is `import:<batch id>`.
A document number is only ever added to a person who has none.
"""

from __future__ import annotations

import contextlib
import csv
import io
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl
import psycopg

from ..core.history import _text
from ..core.ids import uuid7_hex_batch
from ..core.security import PiiCipher, mask_document
from ..people.service import SENSITIVE
from .validate import Checked

COUNTS = (
    "created_people",
    "matched_people",
    "updated_people",
    "created_memberships",
    "updated_memberships",
    "unchanged",
    "duplicate_rows",
)

STAGE = """
CREATE TEMP TABLE import_stage (
    row_no bigint NOT NULL,
    new_id uuid NOT NULL,
    new_membership_id uuid NOT NULL,
    name text NOT NULL,
    name_en text,
    gender text,
    birth_date date,
    id_type text,
    id_bidx bytea,
    id_masked text,
    id_enc bytea,
    region_of_origin text,
    phone text,
    email text,
    orcid text,
    region_code text,
    institution text,
    title_level text,
    position text,
    discipline_codes text,
    research_fields text,
    expert_opt_in boolean,
    grade text,
    member_no text,
    joined_on date,
    valid_until date
) ON COMMIT DROP;
CREATE TEMP TABLE import_state (
    row_no bigint NOT NULL,
    person_id uuid NOT NULL,
    matched_by text NOT NULL,
    membership_id uuid,
    needs_document boolean NOT NULL,
    reject text,
    accepted boolean NOT NULL,
    dup boolean NOT NULL,
    person_differs boolean NOT NULL,
    membership_differs boolean NOT NULL,
    was_expert boolean NOT NULL,
    holder uuid
) ON COMMIT DROP;
CREATE TEMP TABLE import_enc (row_no bigint NOT NULL, enc bytea NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE import_person_changed (row_no bigint NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE import_membership_changed (row_no bigint NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE import_person_opted_in (row_no bigint NOT NULL) ON COMMIT DROP;
CREATE TEMP TABLE import_seen (person_id uuid PRIMARY KEY) ON COMMIT DROP;
CREATE TEMP TABLE import_released (membership_id uuid PRIMARY KEY, member_no text NOT NULL)
    ON COMMIT DROP;
CREATE TEMP TABLE import_put_off (set_no int NOT NULL, cells text NOT NULL,
    LIKE import_stage, person_id uuid) ON COMMIT DROP;
CREATE INDEX ON import_put_off (set_no);

"""

STAGE_COLUMNS = (
    "row_no", "new_id", "new_membership_id", "name", "name_en", "gender", "birth_date",
    "id_type", "id_bidx", "id_masked", "id_enc", "region_of_origin", "phone", "email", "orcid",
    "region_code", "institution", "title_level", "position", "discipline_codes",
    "research_fields", "expert_opt_in", "grade", "member_no", "joined_on", "valid_until",
)  # fmt: skip

# Fields a member list may change on a person: (column, SQL for the new value from the
# staged row `s`, whether an empty cell leaves the old value).
PERSON_FIELDS = (
    "name_en", "gender", "birth_date", "phone", "email", "orcid", "region_code", "institution",
    "title_level", "position", "expert_opt_in",
)  # fmt: skip
LIST_FIELDS = ("discipline_codes", "research_fields")
MEMBERSHIP_FIELDS = ("grade", "member_no", "joined_on", "valid_until")
# The value a staged row `s` brings for each person field (NULL: the cell was empty).
NEW_VALUE = {f: f"s.{f}" for f in PERSON_FIELDS} | {
    f: f"string_to_array(s.{f}, E'\\x1f')" for f in LIST_FIELDS
}


def person_differs(p: str) -> str:
    """SQL: the staged row would change person `p` (documents aside)."""
    fields = [
        f"({new} IS NOT NULL AND {new} IS DISTINCT FROM {p}.{f})" for f, new in NEW_VALUE.items()
    ]
    fields.append(f"({p}.region_of_origin IS NULL AND s.region_of_origin IS NOT NULL)")
    return "(" + " OR ".join(fields) + ")"


def membership_differs(m: str) -> str:
    """SQL: the staged row would change membership `m`."""
    fields = [f"(s.{f} IS NOT NULL AND s.{f} IS DISTINCT FROM {m}.{f})" for f in MEMBERSHIP_FIELDS]
    return "(" + " OR ".join(fields) + ")"


ACCEPTED = "st.accepted"
# Rows put off for a held member number that the end of an import judges in one pass
# together, after each set alone (`MemberMerge.finish`): about 1.5 kB of memory each then.
TOGETHER_ROWS = 100_000
FOLLOWERS = -1  # the set of rows kept behind a put-off first row of their person
_PUT_OFF_COPY = (
    f"COPY import_put_off (set_no, cells, {', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)"
)


def _line(cells: list[str]) -> str:
    """A row's cells as read, as one CSV line (to keep them for the error file)."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow(cells)
    return buffer.getvalue()


def _cells(line: str) -> list[str]:
    return next(csv.reader([line]), [])


NAME_DIFFERS_FROM_DOCUMENT = "differs from the name registered with this document number"


@dataclass
class Prepared:
    """A validated chunk ready for the database: the staged rows as CSV (document numbers
    sealed for the new person each row would create), plaintext numbers kept in memory (never
    sent) for a matched person who has none yet."""

    csv: bytes
    rows: int
    numbers: dict[int, str]
    rejected: list[tuple[int, list[str], str]]
    duplicates: int
    raw_by_row: Mapping[int, list[str]]
    # Rows held back behind an earlier row of the chunk (their leader), by leader: repeats of
    # it, staged after all should the database refuse the leader, and rows giving its document
    # under another name, judged after it whatever becomes of it (`MemberMerge.merge`).
    held: pl.DataFrame | None = None
    leaders: dict[int, list[int]] = field(default_factory=dict)
    after: dict[int, list[int]] = field(default_factory=dict)
    # The staged rows themselves, for rows put off to the end of the import (`MemberMerge`).
    staged: pl.DataFrame | None = None

    def held_behind(
        self, refused: dict[int, str]
    ) -> tuple[list[tuple[int, list[str], str]], list[int]]:
        """After a pass: the held rows settled by it (exact copies of a refused leader are
        refused with it), and those to judge next (the other repeats of refused leaders, and
        every row given another name)."""
        settled: list[tuple[int, list[str], str]] = []
        again = [row for rows in self.after.values() for row in rows]
        for leader in refused.keys() & self.leaders.keys():
            cells = self.raw_by_row.get(leader)
            for row in self.leaders[leader]:
                if cells is not None and self.raw_by_row.get(row) == cells:
                    settled.append((row, cells, refused[leader]))
                else:
                    again.append(row)
        return settled, sorted(again)

    def restaged(self, rows: list[int], labels: dict[str, str]) -> Prepared:
        """Held-back rows prepared as a chunk of their own (the first of them leads)."""
        assert self.held is not None
        held = self.held.filter(pl.col("row_no").is_in(rows))
        return _staged(held, labels, [], self.numbers, self.raw_by_row)


@dataclass
class ChunkResult:
    counts: dict[str, int] = field(default_factory=dict)
    rejected: list[tuple[int, list[str], str]] = field(default_factory=list)

    def add(self, part: ChunkResult) -> None:
        """Count in a further pass over rows of this chunk (rows put off, judged later)."""
        for key, value in part.counts.items():
            self.counts[key] += value
        self.rejected.extend(part.rejected)


def prepare(checked: Checked, pii: PiiCipher, labels: dict[str, str]) -> Prepared:
    """Blind indexes, masked numbers, fresh ids, documents sealed for new people, and the
    first-row-wins rule inside the chunk.

    Sealing here, in the reading thread, for every row as if it created a person (bound to the
    row's fresh id) keeps the cipher off the database's critical path: most rows of a first
    import do create one. The few matched people who gain a document are sealed again with
    their own id (`MemberMerge._encrypt`)."""
    good = checked.good
    rejected = list(checked.rejected)
    n = good.height
    new_ids = uuid7_hex_batch(n)
    documents = good.select(
        index=pl.int_range(n, dtype=pl.UInt32), row_no="row_no", id_type="id_type",
        id_number="id_number",
    ).filter(pl.col("id_number").is_not_null())  # fmt: skip
    index = documents["index"]
    types, numbers = documents["id_type"].to_list(), documents["id_number"].to_list()
    plain = dict(zip(documents["row_no"].to_list(), numbers, strict=True))
    contexts = [bytes.fromhex(new_ids[i]) for i in index.to_list()]
    bidx = pii.blind_indexes(zip(types, numbers, strict=True))
    sealed = pii.encrypt_many(numbers, contexts)

    def spread(values: pl.Series) -> pl.Series:
        """One value per row with a document, null for the others; bytea in COPY's text
        form (\\x and hex digits)."""
        if values.dtype == pl.Binary:
            values = pl.select(pl.lit("\\x") + values.bin.encode("hex")).to_series()
        return pl.repeat(None, n, dtype=pl.String, eager=True).scatter(index, values)

    frame = good.with_columns(
        new_id=pl.Series(new_ids, dtype=pl.String),
        new_membership_id=pl.Series(uuid7_hex_batch(n), dtype=pl.String),
        id_bidx=spread(pl.Series(bidx, dtype=pl.Binary)),
        id_masked=spread(pl.Series([mask_document(v) for v in numbers], dtype=pl.String)),
        id_enc=spread(pl.Series(sealed, dtype=pl.Binary)),
    )
    return _staged(frame.select(STAGE_COLUMNS), labels, rejected, plain, checked.raw_by_row)


def _staged(
    frame: pl.DataFrame,
    labels: dict[str, str],
    rejected: list[tuple[int, list[str], str]],
    numbers: dict[int, str],
    raw_by_row: Mapping[int, list[str]],
) -> Prepared:
    """The chunk's staged rows (`STAGE_COLUMNS`) after the first-row-wins rule."""
    before = len(rejected)
    keep, leaders, after = _first_rows(frame, labels, rejected)
    held = None
    staged = frame
    if keep is not None:
        staged = frame.filter(keep)
        held = frame.filter(~keep)
    buffer = io.BytesIO()
    staged.write_csv(buffer, include_header=False)
    rejected.sort(key=lambda item: item[0])
    return Prepared(
        csv=buffer.getvalue(),
        rows=staged.height,
        numbers=numbers,
        rejected=rejected,
        duplicates=frame.height - staged.height - (len(rejected) - before),
        raw_by_row=raw_by_row,
        held=held,
        leaders=leaders,
        after=after,
        staged=staged,
    )


def _first_rows(
    frame: pl.DataFrame, labels: dict[str, str], rejected: list[tuple[int, list[str], str]]
) -> tuple[pl.Series | None, dict[int, list[int]], dict[int, list[int]]]:
    """Which rows are the first of their person in the chunk, by the database's rules; for
    each such leader the later rows of its person (held back), and the rows giving its
    document under another name (left to the database, which knows the registered name and
    its aliases, once the leader is written); a member number given twice to different names
    rejects the later row. Only rows sharing a key with another row need looking at, so the
    loop runs over a handful, not the chunk."""
    shared = (frame["id_bidx"].is_duplicated() & frame["id_bidx"].is_not_null()) | (
        frame["member_no"].is_duplicated() & frame["member_no"].is_not_null()
    )
    for contact in ("phone", "email"):
        keys = frame.select(
            pl.when(pl.col("birth_date").is_not_null() & pl.col(contact).is_not_null()).then(
                pl.concat_str([pl.col("name"), pl.col("birth_date").cast(pl.String),
                               pl.col(contact)], separator="\x1f")
            )
        ).to_series()  # fmt: skip
        shared = shared | (keys.is_duplicated() & keys.is_not_null())
    if not shared.any():
        return None, {}, {}
    candidates = frame.filter(shared)
    drop: set[int] = set()
    leaders: dict[int, list[int]] = {}
    after: dict[int, list[int]] = {}
    by_bidx: dict[str, tuple[int, str]] = {}  # the first row of a document, and its name
    by_contact: dict[tuple[Any, ...], list[tuple[int, bool]]] = {}
    by_member_no: dict[str, tuple[int, str, bool]] = {}
    for row, name, birth, phone, email, number, doc in candidates.select(
        "row_no", "name", "birth_date", "phone", "email", "member_no", "id_bidx"
    ).iter_rows():
        if doc is not None and doc in by_bidx:
            drop.add(row)
            first_row, first_name = by_bidx[doc]
            (leaders if first_name == name else after).setdefault(first_row, []).append(row)
            continue
        contacts = []
        if birth is not None:
            if phone is not None:
                contacts.append(("p", name, birth, phone))
            if email is not None:
                contacts.append(("e", name, birth, email))
        # Rule 2 joins rows when at most one of them has a document.
        joined = [
            key for key in contacts
            if key in by_contact and (doc is None or not all(d for _, d in by_contact[key]))
        ]  # fmt: skip
        if joined:
            drop.add(row)
            leaders.setdefault(by_contact[joined[0]][0][0], []).append(row)
            continue
        if number is not None and number in by_member_no:
            first_row, first_name, first_doc = by_member_no[number]
            drop.add(row)
            if first_name != name or (doc is not None and first_doc):
                label = labels.get("member_no", "member_no")
                rejected.append((row, [], f"{label}: also given to row {first_row}"))
            else:
                leaders.setdefault(first_row, []).append(row)
            continue
        if doc is not None:
            by_bidx[doc] = (row, name)
        for key in contacts:
            by_contact.setdefault(key, []).append((row, doc is not None))
        if number is not None:
            by_member_no[number] = (row, name, doc is not None)
    return ~frame["row_no"].is_in(list(drop)), leaders, after


def settle_renumbering(
    waiting: list[tuple[int, Any, Any, str]],
    placed: set[Any],
    movers: Mapping[Any, tuple[int, str, bool]],
) -> set[int]:
    """Which of the rows refused only for a member number another member holds may have it
    after all: those whose holder is given another number by an accepted row, or by a row
    that may itself be released, and so on along the chain (a chain that closes on itself,
    as in a swap, holds together).

    `waiting`: (row, person, holding membership, wanted number), in row order; `placed`: the
    people with an accepted row (a waiting row of theirs stays refused, as does a person's
    second waiting row, or a second row waiting for the same number); `movers`: by
    membership, the row giving it a number, that number and whether the row is accepted."""
    wanted: dict[int, tuple[Any, str]] = {}
    people, numbers = set(placed), set()
    for row, person, holder, number in waiting:
        # One row per person, and one row per number (the first): a later row wanting the
        # same number stays refused.
        if person not in people and number not in numbers:
            people.add(person)
            numbers.add(number)
            wanted[row] = (holder, number)
    settled: dict[int, bool] = {}
    for first in wanted:
        path: list[int] = []
        on_path: set[int] = set()
        row = first
        while True:
            if row in settled:
                free = settled[row]
                break
            if row in on_path:  # a closed chain: each gives up what the next one takes
                free = True
                break
            path.append(row)
            on_path.add(row)
            holder, number = wanted[row]
            mover = movers.get(holder)
            if mover is None or mover[1] == number:  # nobody moves the holder
                free = False
                break
            if mover[2]:  # moved by an accepted row
                free = True
                break
            if mover[0] not in wanted:
                free = False
                break
            row = mover[0]
        for step in path:
            settled[step] = free
    return {row for row, free in settled.items() if free}


@dataclass(frozen=True)
class _AliasProbes:
    """The judge's clauses that also match the names and contacts people are known by
    (`person_alias`, written by merges); empty while there are none, so that an import into a
    registry without merges pays nothing for them."""

    contact: str = ""
    name_known: str = ""
    name_differs: str = ""

    @classmethod
    def of(cls, conn: psycopg.Connection[Any]) -> _AliasProbes:
        if conn.execute("SELECT EXISTS (SELECT 1 FROM person_alias)").fetchone() != (True,):
            return cls()
        return cls(
            contact="""
                UNION ALL
                SELECT {probe} FROM person_alias a JOIN person p ON p.id = a.person_id
                WHERE d.id IS NULL AND s.birth_date IS NOT NULL
                  AND a.name = s.name AND a.birth_date = s.birth_date
                  AND (a.phone = s.phone OR a.email = s.email)
                  AND (s.id_bidx IS NULL OR p.id_number_bidx IS NULL)""",
            name_known="OR EXISTS (SELECT 1 FROM person_alias a"
            " WHERE a.person_id = p.id AND a.name = s.name)",
            name_differs="AND NOT EXISTS (SELECT 1 FROM person_alias a"
            " WHERE a.person_id = d.id AND lower(a.name) = lower(s.name))",
        )


class MemberMerge:
    """The per-chunk SQL, on one connection inside the import's single transaction.

    The staged rows are never updated: one statement judges every row (match, membership,
    rejection, repeat) into a narrow state table, and the writes read from the two.
    """

    def __init__(
        self,
        conn: psycopg.Connection[Any],
        *,
        org_id: uuid.UUID,
        batch_id: uuid.UUID,
        source: str,
        actor: str,
        pii: PiiCipher,
        labels: dict[str, str],
    ) -> None:
        self.conn = conn
        self.org_id = org_id
        self.batch_id = batch_id
        self.source = source
        self.actor = actor
        self.pii = pii
        self.labels = labels
        self.label = lambda name: labels.get(name, name)
        self.taken = f"{self.label('member_no')}: taken by another member of the organisation"
        # Whether this pass's rows take numbers from members they move (`_release`).
        self.releasing = False
        # The sizes of the sets of rows put off to the end of the import (`_put_off`,
        # `finish`), numbered from 0; None once finished.
        self.put_off_sets: list[int] | None = []
        self.finishing = False  # judging the rows put off (`finish`)
        # Rows put off that were followed by exact copies of themselves: the copies' rows.
        self.copies: dict[int, list[int]] = {}
        # Chunks of tens of thousands of rows: let sorts and hashes stay in memory, and the
        # staging tables in local buffers (possible only before this session touches a
        # temporary table, hence the savepoint).
        conn.execute("SET LOCAL work_mem = '256MB'")
        # The merge statements are planned afresh for every chunk and their cost estimates
        # over a large table cross the JIT threshold, but they run index probes, where
        # compiling costs more than it saves (0.2-0.7 s per statement, measured).
        conn.execute("SET LOCAL jit = off")
        conn.execute("SAVEPOINT import_buffers")
        try:
            conn.execute("SET LOCAL temp_buffers = '512MB'")
        except psycopg.Error:
            conn.execute("ROLLBACK TO SAVEPOINT import_buffers")
        # Released, so that the rows are written by the transaction itself rather than by a
        # subtransaction that stays open for the whole import.
        conn.execute("RELEASE SAVEPOINT import_buffers")
        conn.execute(STAGE)
        # Seconds per step over all chunks (the import's `seconds_by_step`).
        self.seconds: dict[str, float] = {}

    @contextlib.contextmanager
    def _step(self, name: str) -> Iterator[None]:
        mark = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - mark

    def _exec(self, query: str, params: dict[str, Any] | None = None) -> None:
        self.conn.execute(query, params or {})  # type: ignore[arg-type]

    def merge(self, prepared: Prepared) -> ChunkResult:
        """Merge a chunk, then the rows it held back that a pass leaves to judge (see
        `Prepared.held_behind`), a pass at a time: as if each had come in a chunk of its own.

        A row refused only because its member number is held by another member is put off to
        the end of the import (`finish`), when a later chunk may have moved that member to
        another number; rows held behind it are not (they are judged with it)."""
        result = self._merge_pass(prepared)
        self._put_off(prepared, result)
        current, latest = prepared, result.rejected
        while True:
            settled, held = current.held_behind({row: why for row, _, why in latest})
            result.counts["duplicate_rows"] -= len(settled) + len(held)
            result.rejected += settled
            if not held:
                break
            current = current.restaged(held, self.labels)
            again = self._merge_pass(current)
            self._put_off(current, again)
            for key, value in again.counts.items():
                result.counts[key] += value
            result.rejected += again.rejected
            latest = again.rejected
        result.rejected.sort(key=lambda item: item[0])
        return result

    def _put_off(self, prepared: Prepared, result: ChunkResult) -> None:
        """Take the rows refused only for a member number held by another member out of the
        pass's refusals and keep them, in the database, for `finish`: their staged values
        and their cells as read, as one set per pass."""
        if self.put_off_sets is None or prepared.staged is None:
            return
        if self.put_off_sets:
            self._keep_followers(prepared)
        # A row followed by others of its person is judged with them, unless they are exact
        # copies of it (which share its fate: repeats if it is accepted at the end).
        raw = prepared.raw_by_row
        followed = prepared.after.keys() | {
            leader
            for leader, rows in prepared.leaders.items()
            if any(raw.get(row) != raw.get(leader) for row in rows)
        }
        rows = [row for row, _, why in result.rejected if why == self.taken and row not in followed]
        if rows:
            # A later row of a person accepted in this pass (found by another key than its
            # first row) stays refused: the first row of a person wins.
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT st.row_no FROM unnest(%(rows)s::bigint[]) AS r(row_no) "
                    "JOIN import_state st ON st.row_no = r.row_no "
                    "JOIN import_seen s ON s.person_id = st.person_id",
                    {"rows": rows},
                )
                met = {row for (row,) in cur}
            rows = [row for row in rows if row not in met]
        if not rows:
            return
        put_off = set(rows)
        result.rejected = [item for item in result.rejected if item[0] not in put_off]
        for row in rows:  # exact copies, counted as repeats unless the row is refused
            if row in prepared.leaders:
                self.copies[row] = prepared.leaders[row]
        number = len(self.put_off_sets)
        self.put_off_sets.append(len(rows))
        self._keep(prepared, rows, number)
        with self.conn.cursor() as cur:
            # Their people count as met until `finish`, so that a later row of the same
            # person is a repeat: the first row of a person wins.
            cur.execute(
                "INSERT INTO import_seen SELECT DISTINCT person_id FROM import_put_off "
                "WHERE set_no = %(n)s ON CONFLICT DO NOTHING",
                {"n": number},
            )

    def _keep_followers(self, prepared: Prepared) -> None:
        """The rows of this pass counted as repeats of a person whose first row is put off:
        kept aside too (set `FOLLOWERS`), and judged at the end should that row be refused,
        as a chunk judges the rows held behind a refused first row."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT st.row_no FROM import_state st WHERE st.dup AND st.person_id IN "
                "(SELECT person_id FROM import_put_off WHERE set_no <> %(f)s)",
                {"f": FOLLOWERS},
            )
            rows = [row for (row,) in cur]
        if rows:
            self._keep(prepared, rows, FOLLOWERS)

    def _keep(self, prepared: Prepared, rows: list[int], set_no: int) -> None:
        """Rows of this pass into `import_put_off` as the set `set_no`: their staged values,
        their cells as read, and the person the pass found for them."""
        kept = prepared.staged.filter(pl.col("row_no").is_in(rows))
        frame = kept.select(
            pl.lit(set_no).alias("set_no"),
            pl.Series("cells", [_line(prepared.raw_by_row[row]) for row in kept["row_no"]]),
            *STAGE_COLUMNS,
        )
        buffer = io.BytesIO()
        frame.write_csv(buffer, include_header=False)
        with self.conn.cursor() as cur:
            with cur.copy(_PUT_OFF_COPY) as copy:
                copy.write(buffer.getvalue())
            cur.execute(
                "UPDATE import_put_off p SET person_id = st.person_id FROM import_state st "
                "WHERE p.set_no = %(n)s AND p.person_id IS NULL AND st.row_no = p.row_no",
                {"n": set_no},
            )

    def _followers_of_refused(self, result: ChunkResult) -> None:
        """Judge the rows kept behind first rows that were refused at the end (their people
        have no accepted row), no longer counted as repeats; the others stay repeats."""
        with self.conn.cursor() as cur:
            cur.execute(
                "UPDATE import_put_off SET set_no = %(n)s WHERE set_no = %(f)s "
                "AND person_id NOT IN (SELECT person_id FROM import_seen)",
                {"n": FOLLOWERS - 1, "f": FOLLOWERS},
            )
            again = cur.rowcount
        if not again:
            return
        part = self.merge(self._taken_back([FOLLOWERS - 1]))
        result.counts["duplicate_rows"] -= again
        result.add(part)

    def finish(self) -> ChunkResult:
        """The rows put off by `merge`, judged again once every chunk is in: each set as a
        chunk of its own, the latest first (a list renumbered forwards waits on its later
        rows); then those still waiting all together in one pass, where their chains and
        swaps across sets settle as within a chunk (up to `TOGETHER_ROWS`; past that they
        are refused as taken, and a further run of the file settles more). A member gives up
        a number only in the pass that accepts the row taking it."""
        result = ChunkResult(counts=dict.fromkeys(COUNTS, 0))
        assert self.put_off_sets is not None
        sets = len(self.put_off_sets)
        if not sets:
            self.put_off_sets = None
            return result
        self.finishing = True
        # A row wanting a number an earlier row put off also wants waits for the pass of all
        # still waiting, where the earlier row wins (as within a chunk), whatever the order
        # the sets come back in.
        with self.conn.cursor() as cur:
            cur.execute(
                """
                UPDATE import_put_off SET set_no = %(last)s
                WHERE row_no IN (
                    SELECT row_no FROM (
                        SELECT row_no, row_number() OVER (
                            PARTITION BY member_no ORDER BY row_no) AS nth
                        FROM import_put_off
                        WHERE member_no IS NOT NULL AND set_no <> %(followers)s
                    ) wanted WHERE nth > 1
                )
                """,
                {"last": sets, "followers": FOLLOWERS},
            )
            if cur.rowcount:
                self.put_off_sets.append(cur.rowcount)

        self._unmet()
        for number in reversed(range(sets)):
            result.add(self.merge(self._taken_back([number])))
        waiting = list(range(sets, len(self.put_off_sets)))
        self.put_off_sets, rows = None, sum(self.put_off_sets[sets:])
        if waiting and rows <= TOGETHER_ROWS:
            self._unmet()
            result.add(self.merge(self._taken_back(waiting)))
        elif waiting:
            with self.conn.cursor() as cur:
                cur.execute(
                    "SELECT row_no, cells FROM import_put_off WHERE set_no <> %(f)s",
                    {"f": FOLLOWERS},
                )
                result.rejected += [(row, _cells(line), self.taken) for row, line in cur]
            self._exec(f"DELETE FROM import_put_off WHERE set_no <> {FOLLOWERS}")  # noqa: S608
        self._followers_of_refused(result)
        # The exact copies of a row refused at the end are refused with it, as in a chunk.
        for row, cells, why in [item for item in result.rejected if item[0] in self.copies]:
            copies = self.copies[row]
            result.rejected += [(copy, cells, why) for copy in copies]
            result.counts["duplicate_rows"] -= len(copies)
        result.rejected.sort(key=lambda item: item[0])
        return result

    def _unmet(self) -> None:
        """The people of the rows put off were counted as met to keep the first row first;
        now those rows are judged themselves (none of their people has an accepted row: a
        met person's row is a repeat, never put off)."""
        self._exec(
            "DELETE FROM import_seen WHERE person_id IN (SELECT person_id FROM import_put_off)"
        )

    def _taken_back(self, numbers: list[int]) -> Prepared:
        """Sets of put-off rows, out of the database, as a chunk of their own. Their plaintext
        document numbers are not kept: `_encrypt` opens the sealed ones when it needs them."""
        buffer = io.BytesIO()
        wanted = ", ".join(str(int(n)) for n in numbers)
        with self.conn.cursor() as cur:
            query = (
                f"COPY (SELECT cells, {', '.join(STAGE_COLUMNS)} FROM import_put_off "  # noqa: S608
                f"WHERE set_no IN ({wanted}) ORDER BY row_no) TO STDOUT (FORMAT csv)"
            )
            with cur.copy(query) as copy:
                for block in copy:
                    buffer.write(block)
            cur.execute(f"DELETE FROM import_put_off WHERE set_no IN ({wanted})")  # noqa: S608
        columns = ["cells", *STAGE_COLUMNS]
        schema = {c: pl.Int64 if c == "row_no" else pl.String for c in columns}
        frame = (
            pl.read_csv(
                buffer.getvalue(), has_header=False, new_columns=columns, schema_overrides=schema
            )
            if buffer.getvalue()
            else pl.DataFrame(schema=schema)  # a set whose rows all moved to the last pass
        )
        raw = {row: _cells(line) for row, line in frame.select("row_no", "cells").iter_rows()}
        return _staged(frame.select(STAGE_COLUMNS), self.labels, [], {}, raw)

    def _merge_pass(self, prepared: Prepared) -> ChunkResult:
        result = ChunkResult()
        rejected = list(prepared.rejected)
        p = {
            "org": self.org_id,
            "batch": self.batch_id,
            "actor": self.actor,
            "source": self.source,
        }
        with self._step("stage"):
            self._exec(
                "TRUNCATE import_stage, import_state, import_enc, import_person_changed, "
                "import_membership_changed, import_person_opted_in"
            )
        if prepared.rows:
            with self._step("stage"), self.conn.cursor() as cur:
                columns = ", ".join(STAGE_COLUMNS)
                with cur.copy(f"COPY import_stage ({columns}) FROM STDIN (FORMAT csv)") as copy:
                    copy.write(prepared.csv)
                # Autovacuum never analyzes temporary tables: without this the planner
                # guesses their size from nothing and picks joins for a few rows. One column
                # is enough for the row count (all columns cost a second per chunk, measured).
                self._exec("ANALYZE import_stage (row_no)")
            with self._step("judge"):
                self._judge(p)
            self._apply(prepared, p)
            with self._step("counts"):
                result.counts = self._counts()
            with self.conn.cursor() as cur:
                cur.execute("SELECT row_no, reject FROM import_state WHERE reject IS NOT NULL")
                for row_no, reason in cur.fetchall():
                    rejected.append((row_no, prepared.raw_by_row[row_no], reason))
        else:
            result.counts = dict.fromkeys(COUNTS, 0)
        result.counts["duplicate_rows"] += prepared.duplicates
        for i, (row_no, cells, reason) in enumerate(rejected):
            if not cells:
                rejected[i] = (row_no, prepared.raw_by_row.get(row_no, []), reason)
        rejected.sort(key=lambda item: item[0])
        result.rejected = rejected
        return result

    def _judge(self, p: dict[str, Any]) -> None:
        """Match every staged row to a person, find its membership, decide what the stored
        records refuse, and which rows repeat a person met earlier: all before any write.

        Each probe compares the stored person with the staged row where it finds it and
        hands on only the few columns the rules need, so the rows sorted for the
        first-row-wins window stay narrow (a whole person record per row made the
        re-import of an unchanged file sort and copy hundreds of megabytes)."""
        label = self.label
        alias = _AliasProbes.of(self.conn)
        probe = (
            "p.id, p.name, p.gender, p.birth_date, p.id_type, "
            "p.id_number_bidx IS NOT NULL AS has_doc, p.expert_opt_in, "
            f"{person_differs('p')} AS differs"
        )
        alias_contact = alias.contact.replace("{probe}", probe)
        self._exec(
            f"""
            INSERT INTO import_state (row_no, person_id, matched_by, membership_id,
                                      needs_document, reject, accepted, dup, person_differs,
                                      membership_differs, was_expert, holder)
            WITH judged AS (
                SELECT s.row_no, s.new_id, found.person_id, found.matched_by,
                       ms.id AS membership_id,
                       s.id_bidx IS NOT NULL
                           AND (found.person_id IS NULL OR NOT found.has_doc)
                           AS needs_document,
                       CASE
                           WHEN d.id IS NOT NULL AND lower(d.name) <> lower(s.name)
                                {alias.name_differs} THEN %(name_doc)s
                           WHEN found.id_type = 'resident_id'
                                AND s.gender <> found.gender THEN %(gender_doc)s
                           WHEN found.id_type = 'resident_id'
                                AND s.birth_date <> found.birth_date THEN %(birth_doc)s
                           WHEN coalesce(s.valid_until, ms.valid_until)
                                < coalesce(s.joined_on, ms.joined_on) THEN %(order)s
                           -- last, so that a row refused only for it may be released
                           -- (`_release`) when this file moves that member elsewhere
                           -- (a later row of a person met already is a repeat; at the
                           -- end, a row put off is refused whoever was met meanwhile)
                           WHEN held.id IS NOT NULL AND held.person_id IS DISTINCT FROM
                                found.person_id AND (seen.hit IS NULL OR %(finishing)s)
                                THEN %(taken)s
                       END AS reject,
                       CASE WHEN held.id IS NOT NULL AND seen.hit IS NULL
                                 AND held.person_id IS DISTINCT FROM found.person_id
                            THEN held.id END AS holder,
                       seen.hit IS NOT NULL AS seen,
                       coalesce(found.differs, false) AS person_differs,
                       coalesce(found.expert_opt_in, false) AS was_expert,
                       ms.id IS NOT NULL AND {membership_differs("ms")} AS membership_differs
                FROM import_stage s
                -- Index probes (LIMIT keeps the planner from turning them into joins that
                -- read whole tables): a chunk is small, the tables may hold millions.
                LEFT JOIN LATERAL (
                    SELECT {probe}
                    FROM person p WHERE p.id_number_bidx = s.id_bidx LIMIT 1
                ) d ON true
                LEFT JOIN LATERAL (
                    SELECT {probe}
                    FROM person p
                    WHERE d.id IS NULL AND s.birth_date IS NOT NULL
                      AND p.name = s.name AND p.birth_date = s.birth_date
                      AND (p.phone = s.phone OR p.email = s.email)
                      AND (s.id_bidx IS NULL OR p.id_number_bidx IS NULL)
                    {alias_contact}
                    ORDER BY 1 LIMIT 1
                ) c ON true
                LEFT JOIN LATERAL (
                    -- the membership here of the person found so far
                    SELECT ms.id, ms.person_id, ms.grade, ms.member_no, ms.joined_on,
                           ms.valid_until
                    FROM membership ms
                    WHERE coalesce(d.id, c.id) IS NOT NULL
                      AND ms.org_id = %(org)s AND ms.person_id = coalesce(d.id, c.id)
                    LIMIT 1
                ) own ON true
                LEFT JOIN LATERAL (
                    -- who holds this member number here (unique per organisation), unless
                    -- it is that membership (an unchanged row: no second probe)
                    SELECT m.id, m.person_id, m.grade, m.member_no, m.joined_on, m.valid_until
                    FROM membership m
                    WHERE s.member_no IS NOT NULL
                      AND own.member_no IS DISTINCT FROM s.member_no
                      AND m.org_id = %(org)s AND m.member_no = s.member_no
                    LIMIT 1
                ) other ON true
                CROSS JOIN LATERAL (
                    SELECT coalesce(
                        other.id, CASE WHEN own.member_no = s.member_no THEN own.id END
                    ) AS id,
                    coalesce(
                        other.person_id,
                        CASE WHEN own.member_no = s.member_no THEN own.person_id END
                    ) AS person_id
                ) held
                LEFT JOIN LATERAL (
                    SELECT {probe} FROM person p
                    WHERE d.id IS NULL AND c.id IS NULL AND held.person_id IS NOT NULL
                      AND p.id = held.person_id AND (p.name = s.name {alias.name_known})
                      AND (s.id_bidx IS NULL OR p.id_number_bidx IS NULL)
                    LIMIT 1
                ) n ON true
                -- At most one of d, c, n found someone, so coalescing column by column
                -- takes every value from that one.
                CROSS JOIN LATERAL (
                    SELECT coalesce(d.id, c.id, n.id) AS person_id,
                           CASE WHEN d.id IS NOT NULL THEN 'document'
                                WHEN c.id IS NOT NULL THEN 'contact'
                                WHEN n.id IS NOT NULL THEN 'member_no' END AS matched_by,
                           coalesce(d.gender, c.gender, n.gender) AS gender,
                           coalesce(d.birth_date, c.birth_date, n.birth_date) AS birth_date,
                           coalesce(d.id_type, c.id_type, n.id_type) AS id_type,
                           coalesce(d.has_doc, c.has_doc, n.has_doc) AS has_doc,
                           coalesce(d.expert_opt_in, c.expert_opt_in, n.expert_opt_in)
                               AS expert_opt_in,
                           coalesce(d.differs, c.differs, n.differs) AS differs
                ) found
                -- A person found by member number holds that membership (one per person
                -- and organisation).
                CROSS JOIN LATERAL (
                    SELECT CASE WHEN n.id IS NOT NULL THEN other.id ELSE own.id END AS id,
                           CASE WHEN n.id IS NOT NULL THEN other.grade ELSE own.grade END
                               AS grade,
                           CASE WHEN n.id IS NOT NULL THEN other.member_no
                                ELSE own.member_no END AS member_no,
                           CASE WHEN n.id IS NOT NULL THEN other.joined_on
                                ELSE own.joined_on END AS joined_on,
                           CASE WHEN n.id IS NOT NULL THEN other.valid_until
                                ELSE own.valid_until END AS valid_until
                ) ms
                LEFT JOIN LATERAL (
                    SELECT 1 AS hit FROM import_seen
                    WHERE found.person_id IS NOT NULL AND person_id = found.person_id
                    LIMIT 1
                ) seen ON true
            ), ranked AS (
                SELECT j.*,
                       j.reject IS NULL AND j.person_id IS NOT NULL AND (j.seen OR row_number()
                           OVER (PARTITION BY j.person_id, j.reject IS NULL ORDER BY j.row_no) > 1)
                           AS dup
                FROM judged j
            )
            SELECT r.row_no, coalesce(r.person_id, r.new_id), coalesce(r.matched_by, 'new'),
                   r.membership_id, r.needs_document, r.reject,
                   r.reject IS NULL AND NOT r.dup, r.dup, r.person_differs, r.membership_differs,
                   r.was_expert, r.holder
            FROM ranked r
            """,  # noqa: S608 - fragments built here from constants
            {
                **p,
                "name_doc": f"{label('name')}: {NAME_DIFFERS_FROM_DOCUMENT}",
                "gender_doc": f"{label('gender')}: differs from the gender digit in the "
                "registered resident ID number",
                "birth_doc": f"{label('birth_date')}: differs from the birth date in the "
                "registered resident ID number",
                "taken": self.taken,
                "finishing": self.finishing,
                "order": f"{label('valid_until')}: must not be before {label('joined_on')}",
            },
        )
        self._release()
        # The first row of a person in the file wins (later chunks find them here).
        self._exec(
            "INSERT INTO import_seen SELECT person_id FROM import_state st WHERE st.accepted"
        )
        self._exec("ANALYZE import_state (row_no)")

    def _release(self) -> None:
        """Rows refused only because their member number is held by another member whom an
        accepted row of this chunk gives another number (a renumbered list: a swap, or every
        number moved along by one) are accepted after all (`settle_renumbering`). The
        holders give up their numbers before the memberships are updated (`_memberships`)."""
        if self.releasing:
            self._exec("TRUNCATE import_released")
            self.releasing = False
        taken = {"taken": self.taken}
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT st.row_no, st.person_id, st.holder, s.member_no FROM import_state st "
                "JOIN import_stage s ON s.row_no = st.row_no "
                "WHERE st.holder IS NOT NULL AND st.reject = %(taken)s ORDER BY st.row_no",
                taken,
            )
            waiting = cur.fetchall()
            if not waiting:
                return
            # Joins, not `= ANY(array)` (an array scanned for every row of the table): a
            # renumbered chunk has thousands of such rows.
            cur.execute(
                "SELECT DISTINCT o.person_id FROM import_state o JOIN import_state t "
                "ON t.person_id = o.person_id "
                "WHERE o.accepted AND t.holder IS NOT NULL AND t.reject = %(taken)s",
                taken,
            )
            placed = {person for (person,) in cur.fetchall()}
            cur.execute(
                "SELECT st.membership_id, st.row_no, s.member_no, st.accepted "
                "FROM import_state st JOIN import_stage s ON s.row_no = st.row_no "
                "WHERE st.membership_id IN (SELECT holder FROM import_state "
                "    WHERE holder IS NOT NULL AND reject = %(taken)s) "
                "AND s.member_no IS NOT NULL "
                "AND (st.accepted OR st.holder IS NOT NULL AND st.reject = %(taken)s) "
                # the accepted row, else the first waiting one, is the one read last
                "ORDER BY st.accepted, st.row_no DESC",
                taken,
            )
            movers = {membership: (row, number, ok) for membership, row, number, ok in cur}
            released = settle_renumbering(waiting, placed, movers)
            if released:
                cur.execute(
                    "UPDATE import_state st SET reject = NULL, accepted = true "
                    "FROM unnest(%(rows)s::bigint[]) AS r(row_no) WHERE st.row_no = r.row_no",
                    {"rows": sorted(released)},
                )
                self.releasing = True

    def _encrypt(self, prepared: Prepared) -> None:
        """Documents for matched people who had none, bound to their row (new people's are
        sealed in `prepare`)."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT row_no, person_id FROM import_state st "
                "WHERE st.accepted AND st.needs_document AND st.matched_by <> 'new'"
            )
            wanted = cur.fetchall()
            if not wanted:
                return
            encrypt, numbers = self.pii.encrypt, prepared.numbers
            if any(row_no not in numbers for row_no, _ in wanted):  # rows put off and back
                numbers = {**numbers, **self._opened([r for r, _ in wanted if r not in numbers])}
            with cur.copy("COPY import_enc (row_no, enc) FROM STDIN") as copy:
                for row_no, person_id in wanted:
                    copy.write_row((row_no, encrypt(numbers[row_no], context=person_id.bytes)))

    def _opened(self, rows: list[int]) -> dict[int, str]:
        """The document numbers of staged rows, opened from their seals (bound to the id
        each row would have given a new person)."""
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT s.row_no, s.new_id, s.id_enc FROM unnest(%(rows)s::bigint[]) AS r(row_no) "
                "JOIN import_stage s ON s.row_no = r.row_no WHERE s.id_enc IS NOT NULL",
                {"rows": rows},
            )
            return {
                row: self.pii.decrypt(bytes(sealed), context=new_id.bytes)
                for row, new_id, sealed in cur
            }

    def _apply(self, prepared: Prepared, p: dict[str, Any]) -> None:
        with self._step("people"):
            self._people(prepared, p)
        with self._step("memberships"):
            self._memberships(p)
        with self._step("outbox"):
            self._outbox()

    def _people(self, prepared: Prepared, p: dict[str, Any]) -> None:
        self._encrypt(prepared)
        new = f"{ACCEPTED} AND st.matched_by = 'new'"
        # A created person carries its batch (`import_batch_id`) instead of a `created`
        # history row: the history read shows it as one (core/history.py), and the search
        # for possible duplicates finds the people this import created by it.
        self._exec(
            f"""
            INSERT INTO person (
                id, name, name_en, gender, birth_date, id_type, id_number_enc,
                id_number_bidx, id_number_masked, phone, email, orcid, region_of_origin,
                region_code, institution, title_level, position, discipline_codes,
                research_fields, talent_tags, expert_opt_in, status, source_org_id,
                import_batch_id, version)
            SELECT st.person_id, s.name, s.name_en, s.gender, s.birth_date,
                   s.id_type, s.id_enc, s.id_bidx, s.id_masked,
                   s.phone, s.email, s.orcid, s.region_of_origin, s.region_code,
                   s.institution, s.title_level, s.position,
                   coalesce(string_to_array(s.discipline_codes, E'\\x1f'), '{{}}'),
                   coalesce(string_to_array(s.research_fields, E'\\x1f'), '{{}}'),
                   '{{}}', coalesce(s.expert_opt_in, false), 'active', %(org)s,
                   %(batch)s, 1
            FROM import_state st JOIN import_stage s ON s.row_no = st.row_no
            WHERE {new}
            """,  # noqa: S608
            p,
        )
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM import_state st WHERE st.accepted "
                "AND matched_by <> 'new' AND (person_differs OR needs_document)"
            )
            people = (cur.fetchone() or (0,))[0]
        if people:
            self._update_people(p)

    def _outbox(self) -> None:
        # Only people in the expert pool have a search document (documents.SEARCHABLE):
        # new ones who opted in, and matched ones who were or now are in it whose profile or
        # memberships changed (an opt-out removes the document). Whether they are in it now:
        # for a profile this import wrote, as its write left it (`import_person_opted_in`),
        # which holds an opt-in committed by someone else after the judge read `was_expert`
        # (the import holds the row's lock from its write to its commit, so that is final);
        # other people opted in meanwhile are queued after the import has committed
        # (`status_refresh.queue_made_searchable`).
        self._exec(
            f"""
            INSERT INTO search_outbox (person_id, attempts)
            SELECT DISTINCT st.person_id, 0
            FROM import_state st JOIN import_stage s ON s.row_no = st.row_no
            WHERE {ACCEPTED} AND (
                (st.matched_by = 'new' AND s.expert_opt_in)
                OR (st.matched_by <> 'new'
                    AND (st.was_expert OR s.expert_opt_in
                         OR st.row_no IN (SELECT row_no FROM import_person_opted_in))
                    AND (st.membership_id IS NULL
                         OR st.row_no IN (SELECT row_no FROM import_person_changed)
                         OR st.row_no IN (SELECT row_no FROM import_membership_changed))))
            """  # noqa: S608
        )

    def _update_people(self, p: dict[str, Any]) -> None:
        """Changed fields of matched people: diffs read back, history written with the same
        masking as the API's, then one UPDATE for all of them."""
        news = NEW_VALUE
        select = ", ".join(f"p.{f}, {new}" for f, new in news.items())
        with self.conn.cursor() as cur:
            cur.execute(
                f"""
                SELECT st.row_no, p.id, {select}, p.id_type, p.id_number_masked,
                       e.enc IS NOT NULL, s.id_type, s.id_masked,
                       p.region_of_origin, s.region_of_origin
                FROM import_state st JOIN import_stage s ON s.row_no = st.row_no
                CROSS JOIN LATERAL (
                    SELECT * FROM person p0 WHERE p0.id = st.person_id LIMIT 1
                ) p
                LEFT JOIN import_enc e ON e.row_no = st.row_no
                WHERE {ACCEPTED} AND st.matched_by <> 'new'
                  AND (st.person_differs OR st.needs_document)
                """  # noqa: S608
            )
            found = cur.fetchall()
        if not found:
            return
        history: list[tuple[Any, ...]] = []
        changed_rows: list[int] = []
        names = [*news]
        for record in found:
            row_no, person_id, *values = record
            changes: list[tuple[str, Any, Any]] = []
            for i, name in enumerate(names):
                old, new = values[2 * i], values[2 * i + 1]
                if new is not None and new != old:
                    changes.append((name, old, new))
            tail = values[2 * len(names) :]
            old_type, old_masked, adds_document, new_type, new_masked, old_origin, new_origin = tail
            if adds_document:
                if old_type != new_type:
                    changes.append(("id_type", old_type, new_type))
                changes.append(("id_number", old_masked, new_masked))
            if old_origin is None and new_origin is not None:
                changes.append(("region_of_origin", None, new_origin))
            if not changes:
                continue
            changed_rows.append(row_no)
            change_id = uuid.UUID(hex=uuid7_hex_batch(1)[0])
            for name, old, new in changes:
                mask = SENSITIVE.get(name) if name != "id_number" else None
                old, new = (mask(old), mask(new)) if mask else (old, new)
                history.append(
                    ("person", person_id, change_id, name, _text(old), _text(new),
                     self.actor, self.source)
                )  # fmt: skip
        if not changed_rows:
            return
        with (
            self.conn.cursor() as cur,
            cur.copy("COPY import_person_changed (row_no) FROM STDIN") as copy,
        ):
            for row_no in changed_rows:
                copy.write_row((row_no,))
        sets = ", ".join(f"{f} = coalesce({new}, p.{f})" for f, new in news.items())
        # RETURNING gives the row as written: on the newest version of the profile, also
        # when another transaction changed it (an opt-in) after the diff above was read.
        self._exec(
            f"""
            WITH written AS (
                UPDATE person p SET {sets},
                    id_type = CASE WHEN e.enc IS NOT NULL THEN s.id_type ELSE p.id_type END,
                    id_number_enc = coalesce(e.enc, p.id_number_enc),
                    id_number_bidx = CASE WHEN e.enc IS NOT NULL THEN s.id_bidx
                                          ELSE p.id_number_bidx END,
                    id_number_masked = CASE WHEN e.enc IS NOT NULL THEN s.id_masked
                                            ELSE p.id_number_masked END,
                    region_of_origin = coalesce(p.region_of_origin, s.region_of_origin),
                    updated_at = now(), version = p.version + 1
                FROM import_person_changed c
                JOIN import_state st ON st.row_no = c.row_no
                JOIN import_stage s ON s.row_no = c.row_no
                LEFT JOIN import_enc e ON e.row_no = c.row_no
                WHERE p.id = st.person_id
                RETURNING c.row_no, p.expert_opt_in
            )
            INSERT INTO import_person_opted_in SELECT row_no FROM written WHERE expert_opt_in
            """  # noqa: S608
        )
        _copy_history(self.conn, history)

    def _memberships(self, p: dict[str, Any]) -> None:
        fields = MEMBERSHIP_FIELDS
        sets = ", ".join(f"{f} = coalesce(c.{f}, m.{f})" for f in fields)
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT count(*) FROM import_state st WHERE st.accepted AND membership_differs"
            )
            changed = (cur.fetchone() or (0,))[0]
        if changed:
            if self.releasing:
                self._give_up_numbers()
            self._exec(
                f"""
                WITH changed AS (
                    SELECT st.row_no, st.membership_id, s.grade, s.member_no, s.joined_on,
                           s.valid_until, gen_random_uuid() AS change_id
                    FROM import_state st JOIN import_stage s ON s.row_no = st.row_no
                    CROSS JOIN LATERAL (
                        SELECT * FROM membership m0 WHERE m0.id = st.membership_id LIMIT 1
                    ) m
                    WHERE {ACCEPTED} AND st.membership_differs
                ), history AS (
                    INSERT INTO change_history (entity, entity_id, change_id, field, old_value,
                                                new_value, actor, source)
                    SELECT 'membership', m.id, c.change_id, v.field, v.old, v.new,
                           %(actor)s, %(source)s
                    FROM changed c
                    CROSS JOIN LATERAL (
                        SELECT * FROM membership m0 WHERE m0.id = c.membership_id LIMIT 1
                    ) m
                    LEFT JOIN import_released r ON r.membership_id = m.id
                    CROSS JOIN LATERAL (VALUES
                        ('grade', m.grade, c.grade),
                        ('member_no', coalesce(r.member_no, m.member_no), c.member_no),
                        ('joined_on', m.joined_on::text, c.joined_on::text),
                        ('valid_until', m.valid_until::text, c.valid_until::text)
                    ) AS v(field, old, new)
                    WHERE v.new IS NOT NULL AND v.old IS DISTINCT FROM v.new
                ), updated AS (
                    UPDATE membership m SET {sets}, updated_at = now(), version = m.version + 1
                    FROM changed c WHERE m.id = c.membership_id
                    RETURNING c.row_no
                )
                INSERT INTO import_membership_changed SELECT row_no FROM updated
                """,  # noqa: S608
                p,
            )
        # Like people, a created membership carries its batch instead of a history row.
        self._exec(
            f"""
            INSERT INTO membership (id, org_id, person_id, grade, status, member_no,
                                    joined_on, valid_until, import_batch_id, version)
            SELECT s.new_membership_id, %(org)s, st.person_id, coalesce(s.grade, 'member'),
                   CASE WHEN s.valid_until < current_date THEN 'lapsed' ELSE 'active' END,
                   s.member_no, s.joined_on, s.valid_until, %(batch)s, 1
            FROM import_state st JOIN import_stage s ON s.row_no = st.row_no
            WHERE {ACCEPTED} AND st.membership_id IS NULL
            """,  # noqa: S608
            p,
        )

    def _give_up_numbers(self) -> None:
        """Members whose numbers released rows take (`_release`) give theirs up first, since
        one UPDATE checks each row's number as it writes it; the numbers they had are kept
        for their history."""
        self._exec("TRUNCATE import_released")
        self._exec(
            """
            WITH released AS (
                INSERT INTO import_released
                SELECT m.id, m.member_no FROM membership m
                WHERE m.id IN (
                    SELECT holder FROM import_state WHERE holder IS NOT NULL AND accepted
                )
                RETURNING membership_id
            )
            UPDATE membership SET member_no = NULL
            WHERE id IN (SELECT membership_id FROM released)
            """
        )

    def _counts(self) -> dict[str, int]:
        with self.conn.cursor() as cur:
            cur.execute(
                """
                SELECT
                    count(*) FILTER (WHERE st.accepted AND st.matched_by = 'new'),
                    count(*) FILTER (WHERE st.accepted AND st.matched_by <> 'new'),
                    (SELECT count(*) FROM import_person_changed),
                    count(*) FILTER (WHERE st.accepted AND st.membership_id IS NULL),
                    (SELECT count(*) FROM import_membership_changed),
                    count(*) FILTER (WHERE st.accepted AND st.matched_by <> 'new'
                        AND st.membership_id IS NOT NULL
                        AND st.row_no NOT IN (SELECT row_no FROM import_person_changed)
                        AND st.row_no NOT IN (SELECT row_no FROM import_membership_changed)),
                    count(*) FILTER (WHERE st.dup)
                FROM import_state st
                """
            )
            row = cur.fetchone()
        assert row is not None
        return dict(zip(COUNTS, (int(v) for v in row), strict=True))


def _copy_history(conn: psycopg.Connection[Any], rows: Iterable[tuple[Any, ...]]) -> None:
    with (
        conn.cursor() as cur,
        cur.copy(
            "COPY change_history (entity, entity_id, change_id, field, old_value, new_value, "
            "actor, source) FROM STDIN"
        ) as copy,
    ):
        for row in rows:
            copy.write_row(row)


def write_errors(handle: Any, rejected: list[tuple[int, list[str], str]]) -> None:
    """Rejected rows: the row number and the reason, then the original cells as read (first,
    so that a row with too many cells does not push them out of place)."""
    writer = csv.writer(handle)
    for row_no, cells, reason in rejected:
        writer.writerow([row_no, reason, *cells])
