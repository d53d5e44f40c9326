"""The migrations build the schema from nothing, tear it down again, and match the models."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from datetime import date

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services.registry import migrate
from services.registry.core import normalize
from services.registry.core.db import make_engine, make_sessionmaker
from services.registry.models import metadata
from services.registry.people import service as people_service
from services.search.backends import facet_codes
from services.search.backends.postgres import PostgresBackend
from services.search.documents import to_json

from .conftest import create_database, drop_database
from .factories import expert_document


def _tables(url: str) -> set[str]:
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}
    finally:
        engine.dispose()


def test_upgrade_to_head_then_downgrade_to_base_and_up_again(server_url: str) -> None:
    url = create_database(server_url, "registry_migrations")
    try:
        migrate.upgrade(url)
        assert _tables(url) == set(metadata.tables)
        migrate.downgrade(url, "base")
        assert _tables(url) == set()
        migrate.upgrade(url)
        assert _tables(url) == set(metadata.tables)
    finally:
        drop_database(server_url, url)


def test_two_upgrades_started_at_once_take_turns_and_both_succeed(server_url: str) -> None:
    # Two replicas or an operator and a job upgrading the same database: the second waits for
    # the first, then finds nothing left to do, instead of failing half-way on its tables.
    url = create_database(server_url, "registry_migrations")
    code = f"from services.registry import migrate; migrate.upgrade({url!r})"
    runs: list[subprocess.Popen[bytes]] = []
    try:
        runs = [subprocess.Popen([sys.executable, "-c", code]) for _ in range(2)]  # noqa: S603
        assert [run.wait(timeout=300) for run in runs] == [0, 0]
        assert _tables(url) == set(metadata.tables)
    finally:
        for run in runs:
            run.kill()
        drop_database(server_url, url)


def test_models_and_migrations_agree(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    assert diff == [], f"models differ from the migrations: {diff}"


def test_expert_documents_move_to_their_bodies_and_back(server_url: str) -> None:
    """0018 moves each expert's JSON document to `expert_doc_body`; going back fills the old
    columns again, the filter arrays from the tsvector's tokens, so filtered searches of the
    older revision find the same experts."""
    url = create_database(server_url, "registry_migrations")
    engine = make_engine(url, pool_size=1)
    doc = expert_document(
        version=3,
        name="欧阳明",
        name_en="Ming Ouyang",
        institution="清华大学",
        institution_key="清华大学",
        region_code="110108",
        discipline_codes=("13015", "520"),
        research_fields=("计算流体力学",),
        org_codes=("SOC",),
    )
    try:
        migrate.upgrade(url)
        with make_sessionmaker(engine).begin() as session:
            PostgresBackend().apply(session, [doc], [])
        migrate.downgrade(url, "0017_change_history_key")
        with engine.connect() as conn:
            row = conn.execute(
                sa.text(
                    "SELECT document, name, institution, region_code, region_prefixes,"
                    " discipline_prefixes, discipline_codes, org_codes FROM expert_doc"
                )
            ).one()
        assert row.document == to_json(doc)
        assert (row.name, row.institution, row.region_code) == ("欧阳明", "清华大学", "110108")
        assert sorted(row.region_prefixes) == ["11", "1101", "110108"]
        assert sorted(row.discipline_prefixes) == sorted(doc.discipline_prefixes)
        assert (row.discipline_codes, row.org_codes) == (["13015", "520"], ["SOC"])
        engine.dispose()
        migrate.upgrade(url)
        with engine.connect() as conn:
            body = conn.execute(sa.text("SELECT person_id, document FROM expert_doc_body")).one()
        assert body == (doc.person_id, to_json(doc))
    finally:
        engine.dispose()
        drop_database(server_url, url)


def test_expert_rows_indexed_before_the_facet_codes_get_the_codes_the_backend_writes(
    server_url: str,
) -> None:
    """0020 fills `facet_cell` and `disciplines_mask` of existing rows in SQL; they must be
    what `facet_codes` computes, or the row path would count those experts under wrong values."""
    url = create_database(server_url, "registry_migrations")
    engine = make_engine(url, pool_size=1)
    docs = [
        expert_document(
            title_level="associate_senior",
            gender="female",
            region_code="440105",
            discipline_codes=("13015", "520", "52010"),
        ),
        expert_document(title_level=None, gender=None, region_code=None, discipline_codes=()),
        expert_document(title_level="none", gender="male", region_code="820000"),
    ]
    query = sa.text("SELECT person_id, facet_cell, disciplines_mask FROM expert_doc")
    try:
        migrate.upgrade(url)
        with make_sessionmaker(engine).begin() as session:
            PostgresBackend().apply(session, docs, [])
        with engine.connect() as conn:
            written = {tuple(row) for row in conn.execute(query)}
        engine.dispose()
        migrate.downgrade(url, "0019_expert_birth_year")
        migrate.upgrade(url)
        with engine.connect() as conn:
            filled = {tuple(row) for row in conn.execute(query)}
        assert filled == written
        assert written == {
            (
                d.person_id,
                facet_codes.facet_cell(d.title_level, d.gender, d.province),
                facet_codes.disciplines_mask(d.disciplines_l1),
            )
            for d in docs
        }
    finally:
        engine.dispose()
        drop_database(server_url, url)


def test_names_stored_with_spaces_between_chinese_characters_lose_them_with_history(
    server_url: str,
) -> None:
    """0021 stores names as `normalize.person_name` gives them, recording each change in the
    person's history and putting the person on the search outbox."""
    url = create_database(server_url, "registry_migrations")
    engine = make_engine(url, pool_size=1)
    insert = sa.text(
        "INSERT INTO person (id, name, expert_opt_in, status, version, discipline_codes,"
        " research_fields, talent_tags) VALUES (gen_random_uuid(), :name, true, 'active', 1,"
        " '{}', '{}', '{}')"
    )
    names = ["张 三", "欧阳 娜 娜", "Li Na", "张a 三", "王五", "王 \U0002c317"]
    try:
        migrate.upgrade(url, "0020_expert_facet_codes")
        with engine.begin() as conn:
            for name in names:
                conn.execute(insert, {"name": name})
        engine.dispose()
        migrate.upgrade(url)
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT name, version FROM person")).all())
            history = conn.execute(
                sa.text("SELECT old_value, new_value, source FROM change_history")
            ).all()
            queued = conn.scalar(sa.text("SELECT count(*) FROM search_outbox"))
        assert stored == {
            "张三": 2, "欧阳娜娜": 2, "Li Na": 1, "张a 三": 1, "王五": 1, "王\U0002c317": 2,
        }  # fmt: skip
        assert sorted(history) == [
            ("张 三", "张三", "migration:0021"),
            ("欧阳 娜 娜", "欧阳娜娜", "migration:0021"),
            ("王 \U0002c317", "王\U0002c317", "migration:0021"),
        ]
        assert queued == 3
        assert {normalize.person_name(name) for name in names} == set(stored)
    finally:
        engine.dispose()
        drop_database(server_url, url)


def test_memberships_pending_or_held_since_pending_await_their_approval(server_url: str) -> None:
    """0023 sets `awaiting_approval` on pending memberships and on those held now whose last
    status change left `pending`; the rest were approved (or never needed it)."""
    url = create_database(server_url, "registry_migrations")
    engine = make_engine(url, pool_size=1)
    ids = {name: f"00000000-0000-7000-8000-00000000000{n}" for n, name in enumerate(
        ("pending", "held_pending", "held_active", "active"), start=1)}  # fmt: skip
    try:
        migrate.upgrade(url, "0022_person_alias")
        with engine.begin() as conn:
            conn.execute(sa.text(
                "INSERT INTO organisation (id, code, name, kind, path, status, version) VALUES"
                " ('00000000-0000-7000-8000-000000000000', 'S1', '学会', 'national_society',"
                " 'x/', 'active', 1)"
            ))  # fmt: skip
            for n, (name, membership_id) in enumerate(ids.items()):
                person = f"00000000-0000-7000-8000-0000000001{n:02d}"
                conn.execute(
                    sa.text(
                        "INSERT INTO person (id, name, expert_opt_in, status, version)"
                        " VALUES (:p, :n, false, 'active', 1)"
                    ),
                    {"p": person, "n": name},
                )
                status = {"pending": "pending", "active": "active"}.get(name, "suspended")
                conn.execute(
                    sa.text(
                        "INSERT INTO membership (id, org_id, person_id, grade, status,"
                        " status_override, version) VALUES (:m,"
                        " '00000000-0000-7000-8000-000000000000', :p, 'member', :s, :o, 1)"
                    ),
                    {"m": membership_id, "p": person, "s": status,
                     "o": status if status == "suspended" else None},
                )  # fmt: skip
            for name, old in (("held_pending", "pending"), ("held_active", "active")):
                conn.execute(
                    sa.text(
                        "INSERT INTO change_history (entity, entity_id, change_id, field,"
                        " old_value, new_value, actor, source) VALUES ('membership', :m,"
                        " gen_random_uuid(), 'status', :old, 'suspended', 'test', 'api')"
                    ),
                    {"m": ids[name], "old": old},
                )
        engine.dispose()
        migrate.upgrade(url)
        with engine.connect() as conn:
            flags = dict(
                conn.execute(sa.text("SELECT id::text, awaiting_approval FROM membership")).all()
            )
        assert flags == {
            ids["pending"]: True,
            ids["held_pending"]: True,
            ids["held_active"]: False,
            ids["active"]: False,
        }
    finally:
        engine.dispose()
        drop_database(server_url, url)


def test_landlines_stored_with_86_are_stored_as_dialled_at_home_and_match_again(
    server_url: str,
) -> None:
    """0025 stores people's (and merged profiles') phones as `normalize.phone` gives them now:
    a landline kept as +861068571898 before is 01068571898, which is what a list's
    `+86 10 6857 1898` or `010-6857 1898` gives, so the person is found by phone again. Each
    change is in the person's history, masked as phones are."""
    url = create_database(server_url, "registry_migrations")
    engine = make_engine(url, pool_size=1)
    phones = {
        "00000000-0000-7000-8000-000000000101": "+861068571898",
        "00000000-0000-7000-8000-000000000102": "+8657188881234",
        "00000000-0000-7000-8000-000000000103": "+8601068571898",  # +86 (0)10 …
        "00000000-0000-7000-8000-000000000104": "13900001111",
        "00000000-0000-7000-8000-000000000105": "+8640012345678",  # a 400 service number
        "00000000-0000-7000-8000-000000000106": "+4930123456",
        "00000000-0000-7000-8000-000000000107": None,
    }
    try:
        migrate.upgrade(url, "0024_audit_log_reading")
        with engine.begin() as conn:
            for person_id, phone in phones.items():
                conn.execute(
                    sa.text(
                        "INSERT INTO person (id, name, birth_date, phone, expert_opt_in,"
                        " status, version) VALUES (:p, '王五', '1980-01-02', :phone, false,"
                        " 'active', 1)"
                    ),
                    {"p": person_id, "phone": phone},
                )
            conn.execute(
                sa.text(
                    "INSERT INTO person_alias (person_id, name, birth_date, phone, source)"
                    " VALUES ('00000000-0000-7000-8000-000000000104', '王六', '1980-01-02',"
                    " '+862112345678', 'merge')"
                )
            )
        engine.dispose()
        migrate.upgrade(url)
        with engine.connect() as conn:
            stored = dict(conn.execute(sa.text("SELECT id::text, phone FROM person")).all())
            versions = dict(conn.execute(sa.text("SELECT id::text, version FROM person")).all())
            alias = conn.scalar(sa.text("SELECT phone FROM person_alias"))
            history = conn.execute(
                sa.text(
                    "SELECT entity_id::text, field, old_value, new_value, source"
                    " FROM change_history"
                )
            ).all()
            session = make_sessionmaker(engine)()
            found = people_service.find_by_contact(
                session,
                name="王五",
                birth_date=date(1980, 1, 2),
                phone=normalize.phone("+86 10 6857 1898"),
                email=None,
                documented=False,
            )
            session.close()
        assert stored == {
            "00000000-0000-7000-8000-000000000101": "01068571898",
            "00000000-0000-7000-8000-000000000102": "057188881234",
            "00000000-0000-7000-8000-000000000103": "01068571898",
            "00000000-0000-7000-8000-000000000104": "13900001111",
            "00000000-0000-7000-8000-000000000105": "+8640012345678",
            "00000000-0000-7000-8000-000000000106": "+4930123456",
            "00000000-0000-7000-8000-000000000107": None,
        }
        assert {p: normalize.phone(v) for p, v in phones.items() if v} == {
            p: v for p, v in stored.items() if v
        }
        assert alias == "02112345678" == normalize.phone("+86 21 1234 5678")
        assert versions["00000000-0000-7000-8000-000000000101"] == 2
        assert versions["00000000-0000-7000-8000-000000000104"] == 1
        assert sorted(history) == [
            ("00000000-0000-7000-8000-000000000101", "phone", "***********98",
             "010****1898", "migration:0025"),
            ("00000000-0000-7000-8000-000000000102", "phone", "************34",
             "**********34", "migration:0025"),
            ("00000000-0000-7000-8000-000000000103", "phone", "************98",
             "010****1898", "migration:0025"),
        ]  # fmt: skip
        assert found is not None
        assert str(found.id) == "00000000-0000-7000-8000-000000000101"
    finally:
        engine.dispose()
        drop_database(server_url, url)


def _leave_invalid_index(url: str, name: str, table: str, column: str) -> None:
    """What a concurrent index build cut short leaves behind: an invalid index of that name
    (here a unique build that meets duplicates fails the same way a killed one does)."""
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            with contextlib.suppress(sa.exc.IntegrityError):
                conn.execute(
                    sa.text(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {table} ({column})")
                )
            valid = conn.scalar(
                sa.text("SELECT indisvalid FROM pg_index WHERE indexrelid = to_regclass(:n)"),
                {"n": name},
            )
        assert valid is False
    finally:
        engine.dispose()


def test_an_upgrade_interrupted_while_building_an_index_concurrently_completes_when_run_again(
    server_url: str,
) -> None:
    """0017 and 0019 build their indexes CONCURRENTLY, outside the migration's transaction: a
    build cut short (a deadline, a killed pod) leaves an invalid index of the same name. Run
    again, the upgrade builds it anew instead of taking the broken one as done (0017 then
    failed for good on 'index is not valid'; 0019 left expert search without its index)."""
    url = create_database(server_url, "registry_migrations")
    engine = make_engine(url, pool_size=1)
    try:
        migrate.upgrade(url, "0016_search_exclusion_indexes")
        with engine.begin() as conn:
            for _ in range(2):
                conn.execute(
                    sa.text(
                        "INSERT INTO change_history (entity, entity_id, change_id, field,"
                        " actor, source) VALUES ('person', gen_random_uuid(),"
                        " gen_random_uuid(), 'name', 'test', 'api')"
                    )
                )
        _leave_invalid_index(url, "pk_change_history_new", "change_history", "entity")
        migrate.upgrade(url, "0018_expert_doc_body")
        with engine.begin() as conn:
            conn.execute(
                sa.text(
                    "INSERT INTO expert_doc (person_id, version, prior, tsv)"
                    " SELECT gen_random_uuid(), 1, 1.0, ''::tsvector FROM generate_series(1, 2)"
                )
            )
        _leave_invalid_index(url, "ix_expert_doc_birth_date", "expert_doc", "prior")
        migrate.upgrade(url)
        with engine.connect() as conn:
            invalid = conn.scalars(
                sa.text(
                    "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                    " WHERE NOT i.indisvalid"
                )
            ).all()
            definitions = dict(
                conn.execute(
                    sa.text(
                        "SELECT indexname, indexdef FROM pg_indexes WHERE indexname IN"
                        " ('pk_change_history', 'ix_expert_doc_birth_date')"
                    )
                ).all()
            )
        assert invalid == []
        assert "(entity_id, id)" in definitions["pk_change_history"]
        assert "(birth_date) INCLUDE (ord" in definitions["ix_expert_doc_birth_date"]
    finally:
        engine.dispose()
        drop_database(server_url, url)
