"""The postgres rebuild swaps its tables in while the outbox drain writes: neither fails."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlalchemy import text, update

from services.registry.people.models import Person
from services.search import worker
from services.search.backends import postgres as postgres_module
from services.search.backends.postgres import rebuild
from services.search.outbox import enqueue_people


def _record(outcome: dict[str, object], key: str, call: Callable[[], object]) -> None:
    """What `call` answered, or the exception it raised, under `key`."""
    try:
        outcome[key] = call()
    except Exception as exc:
        outcome[key] = exc


def _waiting_on_lock(runtime, prefix: str) -> bool:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        return bool(
            session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                    " AND query LIKE :q"
                ),
                {"q": prefix + "%"},
            )
        )


def test_a_rebuild_swapping_while_the_drain_writes_a_batch_goes_through(  # type: ignore[no-untyped-def]
    runtime, factory, monkeypatch
) -> None:
    """A drain batch has written its rows (ROW EXCLUSIVE on expert_doc, ACCESS SHARE on
    expert_bitmap_key) and is about to update the bitmaps when the rebuild reaches its swap:
    the swap waits for the batch. (A swap that locked the tables in SHARE mode first held
    expert_bitmap's lock while waiting on expert_doc, which the batch's bitmap INSERT then
    waited on: a deadlock, and the rebuild was aborted after its whole build.)"""
    person = factory.person(name="死锁甲", title_level="senior", expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    rebuild(runtime.sessions)  # bitmaps exist: the drain keeps them true
    worker.drain(runtime.sessions, runtime.search)

    with runtime.sessions.begin() as session:
        session.execute(update(Person).where(Person.id == person.id).values(title_level="junior"))
        enqueue_people(session, [person.id])

    reached, go_on = threading.Event(), threading.Event()
    change_bits = postgres_module.PostgresBackend._change_bits

    def paused(self, session, before, after):  # type: ignore[no-untyped-def]
        if threading.current_thread().name == "drain":
            reached.set()
            go_on.wait(60)
        return change_bits(self, session, before, after)

    monkeypatch.setattr(postgres_module.PostgresBackend, "_change_bits", paused)
    outcome: dict[str, object] = {}

    def drain() -> None:
        _record(outcome, "drain", lambda: worker.drain(runtime.sessions, runtime.search))

    def rebuilding() -> None:
        _record(outcome, "rebuild", lambda: rebuild(runtime.sessions))

    drainer = threading.Thread(target=drain, name="drain")
    drainer.start()
    assert reached.wait(30)
    builder = threading.Thread(target=rebuilding, name="rebuild")
    builder.start()
    deadline = time.monotonic() + 60
    while not _waiting_on_lock(runtime, "LOCK TABLE") and time.monotonic() < deadline:
        time.sleep(0.05)
    go_on.set()  # the batch goes on to its bitmaps
    builder.join(60)
    drainer.join(60)
    assert not isinstance(outcome.get("rebuild"), Exception), repr(outcome.get("rebuild"))


def test_a_drain_that_meets_the_swap_lock_is_not_failed(  # type: ignore[no-untyped-def]
    runtime, factory, monkeypatch
) -> None:
    """A drain that starts during the swap's replay waits for the swap and then writes into
    the new tables. (Under a SHARE lock it could read first and then hold locks the swap's
    exclusive lock needed; with a replay longer than deadlock_timeout, 1 s, the rebuild was
    the one aborted.)"""
    from services.search import rebuild as rebuild_module

    person = factory.person(name="死锁乙", title_level="senior", expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    rebuild(runtime.sessions)
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions.begin() as session:
        session.execute(update(Person).where(Person.id == person.id).values(title_level="junior"))
        enqueue_people(session, [person.id])

    replay = rebuild_module.replay_into
    outcome: dict[str, object] = {}

    def drain() -> None:
        _record(outcome, "drain", lambda: worker.drain(runtime.sessions, runtime.search))

    def slow_replay(session, since):  # type: ignore[no-untyped-def]
        thread = threading.Thread(target=drain)
        thread.start()
        deadline = time.monotonic() + 30
        while not _waiting_on_lock(runtime, "") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.5)  # a replay of many changes (a bulk import ran during the build)
        outcome["thread"] = thread
        return replay(session, since)

    monkeypatch.setattr(rebuild_module, "replay_into", slow_replay)
    try:
        result: object = rebuild(runtime.sessions)
    except Exception as exc:
        result = exc
    outcome["thread"].join(60)  # type: ignore[attr-defined]
    assert not isinstance(result, Exception), repr(result)
    assert not isinstance(outcome.get("drain"), Exception), repr(outcome.get("drain"))
