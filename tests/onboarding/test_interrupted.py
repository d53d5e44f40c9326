"""An interrupted import leaves the data as if the batch never ran (each batch is one
transaction), the batch record says what happened, and running it again completes it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
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
