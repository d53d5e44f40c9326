"""The outbox keeps the index true: nothing lost on a crash, replays harmless, failures parked."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import date, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from services.registry.app import create_app
from services.registry.auth.models import Role
from services.search import worker
from services.search.backends.postgres import PostgresBackend
from services.search.documents import ExpertDocument, load
from services.search.outbox import SearchOutbox, enqueue_people
from services.search.protocol import SearchUnavailable

from ..factories import Factory


class BrokenBackend(PostgresBackend):
    """A backend whose engine is down."""

    def apply(self, session, upserts, deletes) -> None:  # type: ignore[no-untyped-def]
        raise ConnectionError("search engine unreachable")


def _outbox_rows(runtime, person_id: uuid.UUID) -> list[tuple[int, int, object]]:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return [
            tuple(r)
            for r in session.execute(
                select(SearchOutbox.id, SearchOutbox.attempts, SearchOutbox.failed_at).where(
                    SearchOutbox.person_id == person_id
                )
            )
        ]


def _indexed(runtime, person_id: uuid.UUID) -> ExpertDocument | None:  # type: ignore[no-untyped-def]
    """The document the index holds for the person, if any."""
    with runtime.sessions() as session:
        return runtime.search.get(session, person_id)  # type: ignore[no-any-return]


def test_drain_indexes_the_change_and_removes_its_outbox_rows(runtime, factory) -> None:
    person = factory.person(name="索引测试", research_fields=["声学"], expert_opt_in=True)
    assert _outbox_rows(runtime, person.id)
    worker.drain(runtime.sessions, runtime.search)
    assert _outbox_rows(runtime, person.id) == []
    doc = _indexed(runtime, person.id)
    assert doc is not None
    assert doc.research_fields == ("声学",)


def test_a_failed_drain_keeps_the_rows_and_backs_off(runtime, factory) -> None:
    person = factory.person(name="故障测试", expert_opt_in=True)
    assert worker.drain(runtime.sessions, BrokenBackend()) == 0
    rows = _outbox_rows(runtime, person.id)
    assert rows
    assert rows[0][1] == 1  # one attempt recorded, retried later
    with runtime.sessions() as session:
        error, due = session.execute(
            select(SearchOutbox.last_error, SearchOutbox.next_attempt_at).where(
                SearchOutbox.person_id == person.id
            )
        ).one()
        assert "unreachable" in error
        assert due > session.scalar(select(func.now()))
    # When the engine is back and the backoff has passed, nothing was lost.
    with runtime.sessions.begin() as session:
        session.execute(update(SearchOutbox).values(next_attempt_at=func.now()))
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id) is not None
    assert _outbox_rows(runtime, person.id) == []


def test_a_worker_dying_mid_batch_loses_nothing(runtime, factory) -> None:
    person = factory.person(name="中断测试", expert_opt_in=True)
    # A worker locks the batch, then its process dies before committing.
    session = runtime.sessions()
    locked = session.execute(
        select(SearchOutbox.id).where(SearchOutbox.person_id == person.id).with_for_update()
    ).all()
    assert locked
    session.connection().invalidate()  # the connection drops: its transaction is gone
    session.close()
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id) is not None


def test_replaying_a_batch_is_harmless_and_older_versions_never_win(runtime, factory) -> None:
    person = factory.person(name="版本测试", institution="甲大学", expert_opt_in=True)
    backend = runtime.search
    with runtime.sessions.begin() as session:
        newer, _ = load(session, {person.id: 10})
        backend.apply(session, newer, [])
        backend.apply(session, newer, [])  # replay: no change, no error
    with runtime.sessions.begin() as session:
        session.execute(
            text("UPDATE person SET institution = '乙大学' WHERE id = :id"), {"id": person.id}
        )
        older, _ = load(session, {person.id: 7})
        backend.apply(session, older, [])
    doc = _indexed(runtime, person.id)
    assert (doc.version, doc.institution) == (10, "甲大学")
    with runtime.sessions.begin() as session:
        backend.apply(session, [], [(person.id, 9)])  # a stale delete
    assert _indexed(runtime, person.id) is not None
    with runtime.sessions.begin() as session:
        backend.apply(session, [], [(person.id, 11)])
        backend.apply(session, older, [])  # an old write arriving after the delete
    assert _indexed(runtime, person.id) is None


def test_opting_out_removes_the_expert_from_the_index(runtime, factory, client) -> None:
    person = factory.person(name="退出测试", expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id) is not None
    response = client.patch(
        f"/api/v1/people/{person.id}",
        json={"expert_opt_in": False},
        headers=factory.caller(Role.platform_admin),
    )
    assert response.status_code == 200
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id) is None


def test_concurrent_drains_settle_each_row_once(runtime, factory) -> None:
    people = [factory.person(name=f"并发{i}", expert_opt_in=True) for i in range(40)]
    settled: list[int] = []
    threads = [
        threading.Thread(
            target=lambda: settled.append(worker.drain(runtime.sessions, runtime.search))
        )
        for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for person in people:
        assert _indexed(runtime, person.id) is not None
        assert _outbox_rows(runtime, person.id) == []


def test_rows_that_keep_failing_are_parked_then_retried_on_request(runtime, factory) -> None:
    person = factory.person(name="停放测试", expert_opt_in=True)
    for _ in range(worker.MAX_ATTEMPTS):
        with runtime.sessions.begin() as session:
            session.execute(update(SearchOutbox).values(next_attempt_at=func.now()))
        worker.drain(runtime.sessions, BrokenBackend())
    rows = _outbox_rows(runtime, person.id)
    assert rows[0][1] == worker.MAX_ATTEMPTS
    assert rows[0][2] is not None  # parked: kept, not retried automatically
    assert worker.retry_failed(runtime.sessions) >= 1
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id) is not None


class EngineAway(PostgresBackend):
    """A backend whose engine does not answer (an outage)."""

    def apply(self, session, upserts, deletes) -> None:  # type: ignore[no-untyped-def]
        raise SearchUnavailable("opensearch: ConnectionError")


def _due_now(runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions.begin() as session:
        session.execute(update(SearchOutbox).values(next_attempt_at=func.now()))


def test_an_outage_longer_than_the_attempts_parks_nothing_and_is_caught_up(
    runtime, factory
) -> None:
    person = factory.person(name="停机期间", expert_opt_in=True)
    for _ in range(worker.MAX_ATTEMPTS + 3):
        _due_now(runtime)
        worker.drain(runtime.sessions, EngineAway())
    ((_, attempts, parked),) = _outbox_rows(runtime, person.id)
    assert (attempts, parked) == (worker.MAX_ATTEMPTS + 3, None)
    _due_now(runtime)
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id) is not None


def test_the_backlog_of_an_outage_is_taken_as_soon_as_the_engine_answers_again(
    runtime, factory
) -> None:
    # Rows the outage postponed wait up to 15 minutes; once a batch is written the engine is
    # back, and they are due again at once rather than at the end of their back-off.
    waiting = factory.person(name="停机积压", expert_opt_in=True)
    for _ in range(6):
        _due_now(runtime)
        worker.drain(runtime.sessions, EngineAway())
    staged = factory.person(name="待重放", expert_opt_in=True)
    with runtime.sessions.begin() as session:  # a rebuild's held-back replay is not brought forward
        session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.person_id == staged.id)
            .values(next_attempt_at=func.now() + timedelta(minutes=5))
        )
    fresh = factory.person(name="恢复之后", expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, fresh.id) is not None
    assert _indexed(runtime, waiting.id) is not None
    assert _outbox_rows(runtime, waiting.id) == []
    assert _indexed(runtime, staged.id) is None


def test_an_outage_of_days_keeps_backing_off_fifteen_minutes(runtime, factory) -> None:
    # A row postponed every 15 minutes through a weekend's outage has hundreds of attempts:
    # 2^attempts seconds leaves the interval range (a negative interval: due at once) and
    # then the float range (an error), neither of which may undo the cap.
    person = factory.person(name="长期停机", expert_opt_in=True)
    for attempts in (44, 60, 1100):
        with runtime.sessions.begin() as session:
            session.execute(
                update(SearchOutbox)
                .where(SearchOutbox.person_id == person.id)
                .values(attempts=attempts, next_attempt_at=func.now())
            )
        worker.drain(runtime.sessions, EngineAway())
        with runtime.sessions() as session:
            wait = session.scalar(
                select(SearchOutbox.next_attempt_at - func.now()).where(
                    SearchOutbox.person_id == person.id
                )
            )
        assert _outbox_rows(runtime, person.id)[0][1] == attempts + 1
        assert 14 * 60 < wait.total_seconds() <= 15 * 60


def test_a_document_the_engine_refuses_holds_back_only_its_own_rows(runtime, factory) -> None:
    worker.drain(runtime.sessions, runtime.search)
    refused = factory.person(name="坏文档", expert_opt_in=True)
    others = [factory.person(name=f"无辜专家{i}", expert_opt_in=True) for i in range(5)]

    class RefusesOne(PostgresBackend):
        def apply(self, session, upserts, deletes) -> None:  # type: ignore[no-untyped-def]
            if any(d.person_id == refused.id for d in upserts):
                raise RuntimeError("opensearch bulk rejected 1 items: mapper_parsing_exception")
            super().apply(session, upserts, deletes)

    assert worker.drain(runtime.sessions, RefusesOne()) >= len(others)
    assert all(_indexed(runtime, p.id) is not None for p in others)
    assert all(_outbox_rows(runtime, p.id) == [] for p in others)
    ((_, attempts, parked),) = _outbox_rows(runtime, refused.id)
    assert (attempts, parked) == (1, None)
    assert _indexed(runtime, refused.id) is None
    with runtime.sessions() as session:
        error = session.scalar(
            select(SearchOutbox.last_error).where(SearchOutbox.person_id == refused.id)
        )
    assert "mapper_parsing_exception" in error


def test_inline_drain_makes_a_change_searchable_within_a_second(settings, database_url) -> None:
    app = create_app(settings.model_copy(update={"search_inline_drain": True}), database_url)
    with TestClient(app) as client:
        factory = Factory(app.state.runtime)
        headers = factory.caller(Role.platform_admin)
        created = client.post(
            "/api/v1/people",
            json={
                "name": "即时可查",
                "research_fields": ["量子声子学"],
                "expert_opt_in": True,
                "birth_date": str(date(1980, 1, 1)),
            },
            headers=headers,
        )
        assert created.status_code == 201, created.text
        deadline = time.monotonic() + 1.0
        found: list[str] = []
        while time.monotonic() < deadline and not found:
            answer = client.post(
                "/api/v1/search/experts", json={"q": "量子声子学"}, headers=headers
            )
            found = [h["person_id"] for h in answer.json()["hits"]]
            time.sleep(0.05)
        assert created.json()["id"] in found


def test_a_change_committed_after_a_later_one_was_indexed_is_not_lost(runtime, factory) -> None:
    """Outbox ids are given at insert, not at commit: the drain must not trust their order."""
    from services.registry.memberships.models import Membership
    from services.search.outbox import enqueue_people

    person = factory.person(name="迟到提交", expert_opt_in=True)
    early_org, late_org = factory.org(), factory.org()
    worker.drain(runtime.sessions, runtime.search)
    slow = runtime.sessions()  # takes the lower outbox id, commits last
    slow.add(Membership(org_id=early_org.id, person_id=person.id, member_no="EARLY"))
    slow.flush()
    enqueue_people(slow, [person.id])
    slow.flush()
    factory.membership(late_org, person, member_no="LATE")
    with runtime.sessions.begin() as session:
        enqueue_people(session, [person.id])
    worker.drain(runtime.sessions, runtime.search)
    assert _indexed(runtime, person.id).org_codes == (late_org.code,)
    slow.commit()
    slow.close()
    worker.drain(runtime.sessions, runtime.search)
    assert sorted(_indexed(runtime, person.id).org_codes) == sorted([early_org.code, late_org.code])


def test_a_failure_of_the_whole_batch_costs_a_bounded_number_of_engine_calls(
    runtime, factory
) -> None:
    worker.drain(runtime.sessions, runtime.search)
    people = [factory.person(name=f"全体失败{i}", expert_opt_in=True) for i in range(200)]
    calls = []

    class ReadOnlyIndex(PostgresBackend):
        def apply(self, session, upserts, deletes) -> None:  # type: ignore[no-untyped-def]
            calls.append(len(upserts))
            raise PermissionError("403 cluster_block_exception: index read-only")

    assert worker.drain_batch(runtime.sessions, ReadOnlyIndex(), batch_size=500) == 0
    assert len(calls) <= 20
    with runtime.sessions() as session:
        errors = session.scalars(
            select(SearchOutbox.last_error).where(
                SearchOutbox.person_id.in_([p.id for p in people])
            )
        ).all()
    assert len(errors) == len(people)
    assert set(errors) == {"PermissionError: 403 cluster_block_exception: index read-only"}


def test_a_stopped_worker_finishes_the_batch_in_flight_and_takes_no_more(runtime) -> None:
    worker.drain(runtime.sessions, runtime.search)
    # Rows earlier tests left waiting for a retry would fall due and join the first batch.
    with runtime.sessions.begin() as session:
        waiting = session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.failed_at.is_(None))
            .values(next_attempt_at=func.now() + text("interval '1 hour'"))
            .returning(SearchOutbox.id)
        ).all()
    backlog = [uuid.uuid4() for _ in range(3 * worker.BATCH_SIZE)]  # tombstones to write
    with runtime.sessions.begin() as session:
        enqueue_people(session, backlog)
    stop = threading.Event()

    class StoppedMidBatch(PostgresBackend):
        """SIGTERM arrives while the first batch is being written."""

        def apply(self, session, upserts, deletes) -> None:  # type: ignore[no-untyped-def]
            stop.set()
            super().apply(session, upserts, deletes)

    worker.run(runtime.sessions, StoppedMidBatch(), stop)
    with runtime.sessions() as session:
        left = session.scalar(select(func.count()).where(SearchOutbox.person_id.in_(backlog)))
    assert left == 2 * worker.BATCH_SIZE  # the batch in flight settled, nothing after it
    with runtime.sessions.begin() as session:
        session.execute(
            update(SearchOutbox)
            .where(SearchOutbox.id.in_([row.id for row in waiting]))
            .values(next_attempt_at=func.now())
        )
    worker.drain(runtime.sessions, runtime.search)


def test_two_drainers_bringing_the_backlog_forward_at_once_do_not_deadlock(
    runtime, factory
) -> None:
    # Each drainer holds rows of its own batch; bringing the postponed rows forward skips
    # those instead of waiting for them, so two drainers never wait on each other.
    people = [factory.person(name=f"积压{i}", expert_opt_in=True) for i in range(2)]
    _due_now(runtime)
    worker.drain(runtime.sessions, EngineAway())  # both rows postponed by the outage
    ids = [row[0] for person in people for row in _outbox_rows(runtime, person.id)]
    sessions = [runtime.sessions() for _ in ids]
    errors: list[BaseException] = []
    try:
        for session, row_id in zip(sessions, ids, strict=True):
            session.execute(
                select(SearchOutbox.id).where(SearchOutbox.id == row_id).with_for_update()
            )

        def bring_forward(session) -> None:  # type: ignore[no-untyped-def]
            try:
                session.execute(worker._BACK_AGAIN)
            except BaseException as exc:  # reported below
                errors.append(exc)

        threads = [threading.Thread(target=bring_forward, args=(s,)) for s in sessions]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
        assert not any(thread.is_alive() for thread in threads)
    finally:
        for session in sessions:
            session.rollback()
            session.close()
    assert errors == []
