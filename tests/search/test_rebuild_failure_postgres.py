"""A postgres rebuild whose second process fails: noticed early, reported, and cleaned up."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from services.search import documents, worker
from services.search import rebuild as rebuild_module
from services.search.backends.postgres import rebuild
from services.search.documents import ExpertDocument
from services.search.models import ExpertDoc
from services.search.rebuild import Part, Parts
from services.search.schemas import ExpertSearchRequest
from services.search.service import search_experts

PEOPLE = 60  # at least this many searchable people: a lower half of 30 or more batches of one
BUILD_OBJECTS = (
    "expert_doc_rebuild",
    "expert_doc_body_rebuild",
    "expert_bitmap_rebuild",
    "expert_bitmap_key_rebuild",
    "expert_doc_ord_seq_rebuild",
)
FIELD = "声学超晶格失效"

# The lower halves made in this (the parent) process, to see how far each one got.
LOWER: list[SlowLower] = []


class SlowLower:
    """The lower half's part: waits for the upper half to fail first, then renders slowly, so a
    parent that only looks at the upper half after its own half visibly renders every row."""

    def __init__(self, inner: Part, marker: str) -> None:
        self.inner = inner
        self.marker = Path(marker)
        self.rendered = 0

    def render(self, doc: ExpertDocument) -> tuple[str, ...]:
        if self.rendered == 0:
            deadline = time.monotonic() + 60
            while not self.marker.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
        else:
            time.sleep(0.1)
        self.rendered += 1
        return self.inner.render(doc)

    def result(self) -> Any:
        return self.inner.result()


class FailingUpper:
    """The upper half's part: marks that it started, then raises or ends its process."""

    def __init__(self, marker: str, how: str) -> None:
        self.marker = Path(marker)
        self.how = how

    def render(self, doc: ExpertDocument) -> tuple[str, ...]:
        self.marker.touch()
        if self.how == "exit":
            os._exit(3)
        raise ValueError("no row for this document")

    def result(self) -> Any:
        return None


class UpperFails:
    """A part factory (picklable: the second process imports this module) wrapping the
    rebuild's own, whose upper half (first ordinal > 0) fails."""

    def __init__(self, inner: Parts, marker: str, how: str) -> None:
        self.inner = inner
        self.marker = marker
        self.how = how

    def __call__(self, first: int) -> Part:
        if first > 0:
            return FailingUpper(self.marker, self.how)
        lower = SlowLower(self.inner(first), self.marker)
        LOWER.append(lower)
        return lower


@pytest.fixture
def upper_fails(monkeypatch, tmp_path):  # type: ignore[no-untyped-def]
    """Make the next rebuild's upper half fail ("raise" or "exit"), streaming batches of one."""
    real = rebuild_module.copy_documents
    LOWER.clear()

    def arm(how: str) -> None:
        def copy_documents(sessions, targets, parts, **options):  # type: ignore[no-untyped-def]
            options["batch"] = 1
            marker = str(tmp_path / "upper-started")
            return real(sessions, targets, UpperFails(parts, marker, how), **options)

        monkeypatch.setattr(rebuild_module, "copy_documents", copy_documents)

    yield arm
    LOWER.clear()


@pytest.fixture
def indexed(runtime, factory) -> int:  # type: ignore[no-untyped-def]
    """Enough searchable people, all in the live index; returns the live index's row count."""
    with runtime.sessions() as session:
        have = session.scalar(select(func.count()).select_from(ExpertDoc))
    for i in range(max(0, PEOPLE - have)):
        factory.person(name=f"失败重建{i}", research_fields=[FIELD], expert_opt_in=True)
    factory.person(name="失败重建查找", research_fields=[FIELD], expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions() as session:
        return session.scalar(select(func.count()).select_from(ExpertDoc))  # type: ignore[no-any-return]


def _assert_live_index_untouched(runtime, rows: int) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        for name in BUILD_OBJECTS:
            assert session.scalar(text("SELECT to_regclass(:n)"), {"n": name}) is None, name
        assert session.scalar(select(func.count()).select_from(ExpertDoc)) == rows
        found = search_experts(session, runtime.search, ExpertSearchRequest(q=FIELD, limit=100))
        assert "失败重建查找" in {hit.name for hit in found.hits}


def _searchable(runtime) -> int:  # type: ignore[no-untyped-def]
    statement = f"SELECT count(*) FROM person p WHERE {documents.SEARCHABLE}"
    with runtime.sessions() as session:
        return session.scalar(text(statement))  # type: ignore[no-any-return]


def _stopped_early(runtime) -> None:  # type: ignore[no-untyped-def]
    """The parent gave up on its own half (one row a batch) before rendering all of it."""
    (lower,) = LOWER
    assert 0 < lower.rendered < _searchable(runtime) // 2, lower.rendered


def test_an_upper_half_that_raises_fails_the_rebuild_early_with_its_traceback(
    runtime, indexed, upper_fails
) -> None:
    upper_fails("raise")
    with pytest.raises(RuntimeError) as failure:
        rebuild(runtime.sessions, parallel_from=2)
    message = str(failure.value)
    assert "upper half" in message
    assert "ValueError('no row for this document')" in message
    assert "Traceback" in message
    assert 'test_rebuild_failure_postgres.py", line' in message
    assert "in render" in message
    _stopped_early(runtime)
    _assert_live_index_untouched(runtime, indexed)


def test_an_upper_half_killed_without_an_answer_fails_with_its_exit_code(
    runtime, indexed, upper_fails
) -> None:
    upper_fails("exit")
    with pytest.raises(RuntimeError, match=r"upper half's process .* without an answer") as failure:
        rebuild(runtime.sessions, parallel_from=2)
    assert "exit code 3" in str(failure.value)
    _stopped_early(runtime)
    _assert_live_index_untouched(runtime, indexed)


def test_a_rebuild_after_a_failed_one_swaps_in_a_full_index(
    runtime, indexed, upper_fails, monkeypatch
) -> None:
    upper_fails("raise")
    with pytest.raises(RuntimeError):
        rebuild(runtime.sessions, parallel_from=2)
    monkeypatch.undo()
    stats = rebuild(runtime.sessions, parallel_from=2)
    assert stats["documents"] == _searchable(runtime)
    with runtime.sessions() as session:
        assert session.scalar(select(func.count()).select_from(ExpertDoc)) == stats["documents"]
