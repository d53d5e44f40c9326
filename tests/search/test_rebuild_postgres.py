"""`registry search reindex` on the postgres backend: a new table, swapped in atomically."""

from __future__ import annotations

import json
import threading
from datetime import date

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import delete, func, select, text, update

from services.registry.models import metadata
from services.registry.people.merge import merge_people
from services.registry.people.models import Person
from services.search import rebuild as rebuild_module
from services.search import worker
from services.search.backends import postgres as postgres_module
from services.search.backends.postgres import PostgresBackend, rebuild
from services.search.documents import from_json, load, to_json
from services.search.models import ExpertDoc
from services.search.outbox import SearchOutbox, enqueue_people
from services.search.rebuild import REBUILD_VERSION, replay_changes_since, replay_point
from services.search.schemas import ExpertSearchRequest
from services.search.service import search_experts


def _searchable(session) -> int:  # type: ignore[no-untyped-def]
    return session.scalar(
        select(func.count()).where(Person.expert_opt_in.is_(True), Person.status == "active")
    )


def test_rebuild_indexes_every_searchable_person_and_keeps_the_schema(runtime, factory) -> None:
    factory.person(name="重建甲", expert_opt_in=True)
    factory.person(name="重建乙", expert_opt_in=False)
    stats = rebuild(runtime.sessions)
    with runtime.sessions() as session:
        assert stats["documents"] == _searchable(session)
        assert runtime.search.count(session) == stats["documents"]
    with runtime.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == []


def test_the_rebuilt_table_keeps_the_live_storage_and_index_settings(runtime, factory) -> None:
    """After the swap the tsvector stays in the row (STORAGE MAIN, migration 0016), and the
    text index has no pending-list setting of the build left and nothing in its pending list
    (which every search would otherwise scan in full)."""
    for i in range(5):
        factory.person(name=f"存储{i}", research_fields=["等离子体物理"], expert_opt_in=True)
    rebuild(runtime.sessions)
    with runtime.sessions.begin() as session:
        storage = session.scalar(
            text(
                "SELECT attstorage FROM pg_attribute"
                " WHERE attrelid = 'expert_doc'::regclass AND attname = 'tsv'"
            )
        )
        assert storage == "m"
        gin = session.execute(
            text(
                "SELECT i.indexrelid::regclass::text, c.reloptions FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid JOIN pg_am a ON a.oid = c.relam"
                " WHERE i.indrelid = 'expert_doc'::regclass AND a.amname = 'gin'"
            )
        ).all()
        assert gin, "expert_doc has no GIN index"
        for name, options in gin:
            assert not any(o.startswith("gin_pending_list_limit=") for o in options or []), name
        # The pending list's size, from the index's metapage (pgstattuple), when it can be had.
        available = session.scalar(
            text(
                "SELECT 1 FROM pg_available_extensions WHERE name = 'pgstattuple'"
                " AND (installed_version IS NOT NULL"
                " OR (SELECT rolsuper FROM pg_roles WHERE rolname = current_user))"
            )
        )
        if available:
            session.execute(text("CREATE EXTENSION IF NOT EXISTS pgstattuple"))
            for name, _ in gin:
                pending = session.execute(
                    text(
                        "SELECT pending_pages, pending_tuples"
                        " FROM pgstatginindex(CAST(:n AS regclass))"
                    ),
                    {"n": name},
                ).one()
                assert tuple(pending) == (0, 0), name


def test_searches_keep_answering_while_the_index_is_rebuilt(runtime, factory) -> None:
    factory.person(name="不停服务", research_fields=["声学超材料"], expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    failures: list[Exception] = []
    stop = threading.Event()

    def keep_searching() -> None:
        from services.search.protocol import ExpertQuery

        while not stop.is_set():
            try:
                with runtime.sessions() as session:
                    runtime.search.search(session, ExpertQuery(terms=(("声学", ()),), limit=5))
            except Exception as exc:  # any failure during the swap is a defect
                failures.append(exc)

    thread = threading.Thread(target=keep_searching)
    thread.start()
    try:
        rebuild(runtime.sessions)
    finally:
        stop.set()
        thread.join()
    assert failures == []


def test_changes_made_during_a_rebuild_are_replayed(runtime, factory, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    person = factory.person(name="重建期间", research_fields=["旧的方向"], expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    copy_documents = rebuild_module.copy_documents

    def copy_then_change(*args, **kwargs):  # type: ignore[no-untyped-def]
        copied = copy_documents(*args, **kwargs)
        # After the build's snapshot: a change the worker drains into the live (old) table.
        with runtime.sessions.begin() as session:
            session.execute(
                update(Person).where(Person.id == person.id).values(research_fields=["新的方向"])
            )
            enqueue_people(session, [person.id])
        worker.drain(runtime.sessions, runtime.search)
        return copied

    monkeypatch.setattr(rebuild_module, "copy_documents", copy_then_change)
    stats = rebuild(runtime.sessions)
    assert stats["replayed"] >= 1
    with runtime.sessions() as session:
        # The new table was built from the snapshot: the change is back on the outbox for it.
        assert runtime.search.get(session, person.id).research_fields == ("旧的方向",)
        queued = session.scalar(select(func.count()).where(SearchOutbox.person_id == person.id))
    assert queued == 1
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions() as session:
        assert runtime.search.get(session, person.id).research_fields == ("新的方向",)


def test_a_person_merged_away_during_a_rebuild_leaves_the_new_index(runtime, factory) -> None:
    keep = factory.person(name="合并保留", research_fields=["光声成像"], expert_opt_in=True)
    other = factory.person(name="合并并入", research_fields=["光声成像"], expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    since = replay_point(runtime.sessions)
    # The merge commits after the build's snapshot: the new table still holds `other`, and the
    # outbox rows the merge wrote are drained against the old table before the swap.
    with runtime.sessions.begin() as session:
        merge_people(session, pii=runtime.pii, keep_id=keep.id, other_id=other.id, actor="test")
    with runtime.sessions.begin() as session:
        session.execute(delete(SearchOutbox).where(SearchOutbox.person_id.in_([keep.id, other.id])))
        assert session.get(ExpertDoc, other.id) is not None

    replay_changes_since(runtime.sessions, since)
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions() as session:
        assert session.get(ExpertDoc, other.id) is None
        assert session.get(ExpertDoc, keep.id) is not None


# Columns whose values depend on when and how a row was written, not on the document:
# `indexed_at` is the time of the writing transaction (the rebuild's COPY default, the drain's
# `now()`). `ord` is compared: the drain updates a row in place and keeps its ordinal (the
# bitmaps rely on it); only a row the drain inserts takes the next value of the sequence.
_WRITE_TIME = frozenset({"indexed_at"})


def _compared(session) -> str:  # type: ignore[no-untyped-def]
    """Every column of the live `expert_doc`, from the catalogue, but `_WRITE_TIME`: a column
    added later is compared without a change here. The tsvector is compared as its text."""
    columns = session.execute(
        text(
            "SELECT attname, atttypid::regtype::text FROM pg_attribute"
            " WHERE attrelid = 'expert_doc'::regclass AND attnum > 0 AND NOT attisdropped"
            " ORDER BY attnum"
        )
    ).all()
    names = {name for name, _ in columns}
    assert names >= _WRITE_TIME, "a column left out of the comparison no longer exists"
    assert names >= {"person_id", "tsv", "ord"}
    return ", ".join(
        f"{name}::text" if kind == "tsvector" else name
        for name, kind in columns
        if name not in _WRITE_TIME
    )


def _stored(runtime, ids) -> dict:  # type: ignore[no-untyped-def]
    """Each person's compared columns and their body (the JSON document)."""
    with runtime.sessions() as session:
        rows = session.execute(
            text(
                f"SELECT person_id, {_compared(session)}, b.document FROM expert_doc"
                " JOIN expert_doc_body b USING (person_id) WHERE person_id = ANY(:ids)"
            ),
            {"ids": ids},
        )
        return {r[0]: tuple(r[1:]) for r in rows}


def _write_times(runtime, ids) -> dict:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        rows = session.execute(
            text("SELECT person_id, indexed_at FROM expert_doc WHERE person_id = ANY(:ids)"),
            {"ids": ids},
        )
        return dict(rows.all())


def test_the_rebuild_writes_the_rows_the_drain_writes(runtime, factory) -> None:
    """Rows COPY'd by the rebuild equal, column for column and with their bodies, the rows the
    outbox drain upserts for the same people at the same version: one document, whichever
    writer wrote it. Values
    with quotes, backslashes, tabs and line breaks go through both writers' escaping."""
    org = factory.org()
    odd = [
        factory.person(
            name="欧阳明" + str(i),
            name_en="Ming O'Brien \\ Jr",
            gender="female",
            birth_date=date(1970 + i, 3, 1),
            institution="清华大学\t计算机系",
            institution_uscc="91350100M000100Y43",
            region_code="110108",
            title_level="senior",
            position='教授 "特聘"',
            biography="研究 C:\\temp 与 流体力学\n第二行 it's",
            discipline_codes=["13015", "520"],
            research_fields=["计算流体力学", "机器学习方法", "O'Neil 'quoted' field"],
            talent_tags=["杰青", "tab\there"],
            expert_opt_in=True,
        )
        for i in range(3)
    ]
    plain = [
        factory.person(name=f"张伟{i}", research_fields=["材料研究"], expert_opt_in=True)
        for i in range(3)
    ]
    factory.membership(org, odd[0], member_no="ROWS-1")
    ids = [p.id for p in odd + plain]
    rebuild(runtime.sessions)
    rebuilt = _stored(runtime, ids)
    assert set(rebuilt) == set(ids)
    written = _write_times(runtime, ids)
    with runtime.sessions.begin() as session:
        docs, tombstones = load(session, dict.fromkeys(ids, REBUILD_VERSION))
        assert tombstones == []
        runtime.search.apply(session, docs, [])
    after = _write_times(runtime, ids)
    assert all(after[i] > written[i] for i in ids)  # the drain rewrote every row
    assert _stored(runtime, ids) == rebuilt


def test_documents_are_stored_as_json_dumps_writes_them(runtime, factory) -> None:
    """The JSON joined from cached fragments is the text `json.dumps` gives for the document's
    public fields, and reads back as the same public fields."""
    person = factory.person(
        name='引号"与\\反斜杠',
        name_en=None,
        biography="多行\n文本\t与 \u2028 分隔",
        talent_tags=["标签"],
        research_fields=[],
        expert_opt_in=True,
    )
    with runtime.sessions() as session:
        docs, _ = load(session, {person.id: 7})
    (doc,) = docs
    public = {k: v for k, v in doc.__dict__.items() if not k.endswith("_tokens")}
    public["person_id"] = str(doc.person_id)
    public["birth_date"] = doc.birth_date.isoformat() if doc.birth_date else None
    assert to_json(doc) == json.dumps(public, ensure_ascii=False)
    assert to_json(from_json(to_json(doc))) == to_json(doc)  # tokens are not stored


def _index_state(runtime) -> tuple[list, list, list]:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        docs = session.execute(text(f"SELECT {_compared(session)} FROM expert_doc ORDER BY ord"))
        bitmaps = session.execute(
            text("SELECT key, chunk, bits::text FROM expert_bitmap ORDER BY key, chunk")
        )
        keys = session.execute(text("SELECT * FROM expert_bitmap_key ORDER BY key"))
        return [tuple(r) for r in docs], [tuple(r) for r in bitmaps], [tuple(r) for r in keys]


def test_a_rebuild_split_over_two_processes_equals_one_process(runtime, factory) -> None:
    """The stream split in two halves (the upper one in a second process) numbers, renders
    and counts exactly as one process does: the same rows, ordinals, bitmaps and keys."""
    for i in range(7):
        factory.person(
            name=f"分段{i}",
            research_fields=["计算流体力学", "材料研究"][: 1 + i % 2],
            region_code="110108" if i % 2 else "310104",
            gender="female" if i % 3 else "male",
            expert_opt_in=True,
        )
    rebuild(runtime.sessions, parallel_from=10**9, bitmap_share=0.0, bitmap_min_docs=1)
    single = _index_state(runtime)
    rebuild(runtime.sessions, parallel_from=2, bitmap_share=0.0, bitmap_min_docs=1)
    split = _index_state(runtime)
    assert len(split[0]) >= 7
    assert split == single


def _stream_order(runtime) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        rows = session.execute(
            text(
                "SELECT coalesce(left(p.discipline_codes[1], 3), ''),"
                " coalesce(left(d.province, 2), '')"
                " FROM expert_doc d JOIN person p ON p.id = d.person_id ORDER BY d.ord"
            )
        )
        return [tuple(r) for r in rows]  # type: ignore[misc]


def test_a_rebuild_writes_experts_by_discipline_then_province(runtime, factory) -> None:
    """Rows (and ordinals) follow first-level discipline, then province, whichever order the
    people were created in, in one process or two: a topic's experts share pages."""
    for i, (codes, region) in enumerate(
        [
            (["63010"], "310104"),
            (["13015"], "440305"),
            ([], "110108"),
            (["63010", "13015"], "110108"),
            (["13015"], None),
            (["13015"], "110108"),
            (["52010"], "310104"),
        ]
    ):
        factory.person(
            name=f"聚类{i}", discipline_codes=codes, region_code=region, expert_opt_in=True
        )
    for parallel_from in (10**9, 2):
        rebuild(runtime.sessions, parallel_from=parallel_from)
        order = _stream_order(runtime)
        assert order == sorted(order)
        assert ("630", "31") in order
        assert ("130", "") in order


def test_common_words_are_sampled_from_the_whole_corpus(runtime, factory, monkeypatch) -> None:
    """The words that get bitmaps are found in a sample of every searchable expert, not in the
    first documents of the stream (which are one discipline's)."""
    for i in range(120):
        factory.person(
            name=f"抽样{i}",
            discipline_codes=["110"] if i < 60 else ["630"],
            research_fields=["抽样通用词"] if i < 60 else ["抽样后段词"],
            expert_opt_in=True,
        )
    factory.person(name="抽样孤例", research_fields=["抽样孤例词"], expert_opt_in=True)
    with runtime.sessions() as session:
        searchable = _searchable(session)
    monkeypatch.setattr(postgres_module, "SAMPLE_DOCS", searchable // 2)
    # A share at which 60 experts are common: half of it in a sample of half the experts is
    # 15 of the about 30 sampled (fewer than 15 has a chance of about 1 in 10,000).
    common = postgres_module.common_words(runtime.sessions, 60 / searchable)
    assert common is not None
    # Each research field is a phrase token too.
    assert {"p_抽样通用词", "p_抽样后段词"} <= common
    assert "p_抽样孤例词" not in common
    monkeypatch.setattr(postgres_module, "SAMPLE_DOCS", searchable)
    assert postgres_module.common_words(runtime.sessions, 60 / searchable) is None


def test_a_sampled_rebuild_gives_the_common_words_complete_bitmaps(
    runtime, factory, monkeypatch
) -> None:
    """With more experts than the sample, both processes note only the sampled common words:
    such a word's bitmap holds every expert who has it, so the bitmap path counts what the row
    path counts; a rare word gets no bitmap."""
    for i in range(60):
        factory.person(
            name=f"位图{i}",
            discipline_codes=["630"],
            research_fields=["采样位图词"],
            expert_opt_in=True,
        )
    factory.person(name="孤例专家", research_fields=["采样孤立词"], expert_opt_in=True)
    with runtime.sessions() as session:
        searchable = _searchable(session)
    monkeypatch.setattr(postgres_module, "SAMPLE_DOCS", searchable // 2)
    rebuild(runtime.sessions, parallel_from=2, bitmap_share=60 / searchable, bitmap_min_docs=1)
    with runtime.sessions() as session:
        keys = dict(session.execute(text("SELECT key, df FROM expert_bitmap_key")).all())
        assert keys["p_采样位图词"] == 60
        assert "p_采样孤立词" not in keys
        request = ExpertSearchRequest(q="采样位图词", limit=5)
        bitmaps = PostgresBackend(row_path_limit=0, recount_limit=0)
        rows = PostgresBackend(row_path_limit=10**9)
        assert search_experts(session, bitmaps, request).total == 60
        assert search_experts(session, rows, request).total == 60


def test_a_rebuild_stopped_at_its_swap_loses_no_change_drained_during_the_build(
    runtime, factory, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from services.search import rebuild as rebuild_module

    person = factory.person(name="重建崩溃", institution="甲大学", expert_opt_in=True)
    worker.drain(runtime.sessions, runtime.search)
    copy = rebuild_module.copy_documents

    def copy_then_change(*args, **kwargs):  # type: ignore[no-untyped-def]
        copied = copy(*args, **kwargs)
        with runtime.sessions.begin() as session:  # drained into the old table
            session.get(Person, person.id).institution = "乙大学"
            session.flush()
            session.execute(
                text("UPDATE person SET updated_at = now() WHERE id = :p"), {"p": person.id}
            )
            enqueue_people(session, [person.id])
        worker.drain(runtime.sessions, runtime.search)
        return copied

    def stopped(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt("the reindex was stopped at its swap")

    monkeypatch.setattr(rebuild_module, "copy_documents", copy_then_change)
    monkeypatch.setattr(rebuild_module, "replay_into", stopped)
    with pytest.raises(KeyboardInterrupt):
        rebuild(runtime.sessions)
    monkeypatch.undo()
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions() as session:
        assert runtime.search.get(session, person.id).institution == "乙大学"
    # And a rebuild that goes through holds the change as well.
    rebuild(runtime.sessions)
    worker.drain(runtime.sessions, runtime.search)
    with runtime.sessions() as session:
        assert runtime.search.get(session, person.id).institution == "乙大学"
