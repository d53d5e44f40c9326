"""An interrupted import leaves the data as if the batch never ran (each batch is one
transaction), the batch record says what happened, and running it again completes it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from services.registry.onboarding import service as onboarding

from .conftest import member, write_csv


def org_counts(db, code: str) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    db.rollback()
    row = db.execute(
        text(
            "SELECT count(*), count(DISTINCT m.person_id) FROM membership m "
            "JOIN organisation o ON o.id = m.org_id WHERE o.code = :c"
        ),
        {"c": code},
    ).one()
    return row[0], row[1]


def batches(db, code: str) -> list[tuple[str, str | None]]:  # type: ignore[no-untyped-def]
    db.rollback()
    return [
        (r[0], r[1])
        for r in db.execute(
            text(
                "SELECT b.status, b.error FROM import_batch b JOIN organisation o "
                "ON o.id = b.org_id WHERE o.code = :c ORDER BY b.started_at"
            ),
            {"c": code},
        )
    ]


def test_a_failure_between_chunks_rolls_the_whole_batch_back(
    runtime, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member() for _ in range(450)])
    db.rollback()
    people_before = db.execute(text("SELECT count(*) FROM person")).scalar_one()

    def fail_after_second_chunk(index: int) -> None:
        if index == 1:
            raise ConnectionError("the database connection was lost")

    request = onboarding.ImportRequest(
        path=path, org_code=org.code, chunk_rows=100, after_chunk=fail_after_second_chunk
    )
    with pytest.raises(ConnectionError):
        onboarding.import_members(runtime.engine, runtime.pii, request)
    assert org_counts(db, org.code) == (0, 0)
    assert db.execute(text("SELECT count(*) FROM person")).scalar_one() == people_before
    assert batches(db, org.code) == [("failed", "the database connection was lost")]

    again = onboarding.import_members(
        runtime.engine,
        runtime.pii,
        onboarding.ImportRequest(path=path, org_code=org.code, chunk_rows=100),
    )
    assert (again["created_people"], again["created_memberships"]) == (450, 450)
    assert org_counts(db, org.code) == (450, 450)
    assert [s for s, _ in batches(db, org.code)] == ["failed", "completed"]


def test_a_database_error_is_recorded_on_the_batch_without_the_values_it_quotes(
    runtime, factory, db, tmp_path: Path
) -> None:
    # PostgreSQL's messages quote the values they refuse ("Failing row contains (...)",
    # 'invalid input syntax for type date: "..."'): a row's phone or name must not end up in
    # the batch record that `registry import batches` shows.
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member() for _ in range(150)])

    def refused_value(index: int) -> None:
        with runtime.engine.connect() as conn:
            conn.execute(text("SELECT CAST('13922223333 张三' AS date)"))

    request = onboarding.ImportRequest(
        path=path, org_code=org.code, chunk_rows=100, after_chunk=refused_value
    )
    with pytest.raises(Exception, match="13922223333"):  # the operator's own terminal sees it
        onboarding.import_members(runtime.engine, runtime.pii, request)
    ((status, error),) = batches(db, org.code)
    assert status == "failed"
    assert "13922223333" not in error
    assert "张三" not in error
    assert error == "the database refused a statement: InvalidDatetimeFormat (SQLSTATE 22007)"


def test_a_killed_import_leaves_nothing_and_the_same_command_completes_it(
    database_url: str, settings, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member() for _ in range(4000)])
    registry = str(Path(sys.executable).with_name("registry"))
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REGISTRY_DATA_DIR": str(settings.data_dir),
        "REGISTRY_ENV": "test",
    }
    command = [registry, "import", "members", str(path), "--org", org.code, "--chunk-rows", "200"]
    process = subprocess.Popen(  # noqa: S603
        [*command, "--json"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stderr is not None
    progress = 0
    deadline = time.monotonic() + 60
    while progress < 3 and time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        progress += line.startswith("imported ")
    assert progress >= 3, "the import finished or failed before it could be interrupted"
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    process.stdout.close()  # type: ignore[union-attr]
    process.stderr.close()

    # PostgreSQL rolls back the killed client's transaction once it notices the socket closed.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        db.rollback()
        busy = db.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE application_name LIKE 'registry-import %'"
            )
        ).scalar_one()
        if busy == 0:
            break
        time.sleep(0.2)
    assert org_counts(db, org.code) == (0, 0)
    listing = subprocess.run(  # noqa: S603
        [registry, "import", "batches", "--org", org.code, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert [json.loads(x)["status"] for x in listing.stdout.splitlines()] == ["interrupted"]

    done = subprocess.run([*command, "--json"], env=env, capture_output=True, text=True, check=True)  # noqa: S603
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["created_people"], summary["created_memberships"]) == (4000, 4000)
    assert org_counts(db, org.code) == (4000, 4000)


@contextlib.contextmanager
def refusing_person(db, name: str, errcode: str = "raise_exception") -> Iterator[None]:  # type: ignore[no-untyped-def]
    """While the block runs, PostgreSQL refuses to insert a person named `name`, with a
    message quoting their phone, as its own messages quote the values they refuse."""
    db.rollback()
    db.execute(
        text(
            "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            f" IF NEW.name = '{name}' THEN RAISE EXCEPTION 'refused %', NEW.phone"
            f" USING ERRCODE = '{errcode}'; END IF; RETURN NEW; END $$;"
            "CREATE TRIGGER refuse_one BEFORE INSERT ON person FOR EACH ROW"
            " EXECUTE FUNCTION refuse_one()"
        )
    )
    db.commit()
    try:
        yield
    finally:
        db.execute(text("DROP TRIGGER refuse_one ON person; DROP FUNCTION refuse_one()"))
        db.commit()


def test_the_cli_reports_a_database_refusal_in_one_line_without_the_values(
    registry, factory, db, tmp_path: Path
) -> None:
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member(姓名="拒收", 手机="13922223333"), member()])
    with refusing_person(db, "拒收"):
        run = registry("import", "members", path, "--org", org.code)
    assert run.exit_code == 1
    assert "13922223333" not in run.output
    assert "RaiseException (SQLSTATE P0001)" in run.output
    assert "nothing was imported" in run.output
    assert org_counts(db, org.code) == (0, 0)


def test_a_statement_the_database_refuses_every_time_is_not_reported_as_it_being_away(
    registry, factory, db, tmp_path: Path
) -> None:
    # A limit of PostgreSQL's (SQLSTATE class 54) is an OperationalError to the driver, like a
    # lost connection, but running the import again later changes nothing.
    org = factory.org()
    path = write_csv(tmp_path / "m.csv", [member(姓名="超限"), member()])
    with refusing_person(db, "超限", "program_limit_exceeded"):
        run = registry("import", "members", path, "--org", org.code)
    assert run.exit_code == 1
    assert "unavailable" not in run.output
    assert "ProgramLimitExceeded (SQLSTATE 54000)" in run.output
