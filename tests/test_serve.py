"""`registry serve --demo`, as `python3 dev.py serve` runs it: the first run on the embedded
PostgreSQL, a restart on the same data, stopping, and what it refuses to start with."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from sqlalchemy import text

from services.registry import migrate
from services.registry.core.db import make_engine

from .conftest import create_database, drop_database

REGISTRY = Path(sys.executable).parent / "registry"
STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def home() -> Iterator[Path]:
    """A directory to run in, with a data directory below it that the embedded server's own
    user can enter (not below pytest's base temp, which is private)."""
    path = Path(tempfile.mkdtemp(prefix="registry-serve-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        for process in Served.started:
            if process.poll() is None:
                process.kill()
                process.wait()
        Served.started.clear()
        _stop_postgres(path / "data")
        shutil.rmtree(path, ignore_errors=True)


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
    env.pop("DATABASE_URL", None)
    env["REGISTRY_DATA_DIR"] = str(home / "data")
    env["COLUMNS"] = "80"  # a terminal of the usual width
    return env


def _postmaster(home: Path) -> int | None:
    """The embedded server's process id while its pid file says it runs."""
    pid_file = home / "data" / "pg" / "postmaster.pid"
    with suppress(OSError, ValueError, IndexError):
        pid = int(pid_file.read_text().splitlines()[0])
        os.kill(pid, 0)
        return pid
    return None


def _stop_postgres(data: Path) -> None:
    """Leave nothing running whatever a test found (a fast shutdown of a server left behind)."""
    with suppress(OSError, ValueError, IndexError):
        os.kill(int((data / "pg" / "postmaster.pid").read_text().splitlines()[0]), signal.SIGINT)


class Served:
    """One `registry serve --demo` process and what it wrote."""

    started: ClassVar[list[subprocess.Popen[bytes]]] = []

    def __init__(
        self, home: Path, port: int, run: int, *, env: dict[str, str] | None = None
    ) -> None:
        self.home, self.port = home, port
        self.out, self.err = home / f"out-{run}.txt", home / f"err-{run}.txt"
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(  # noqa: S603 - the project's own command
                [str(REGISTRY), "serve", "--demo", "--port", str(port)],
                cwd=home,
                env=env or _env(home),
                stdout=out,
                stderr=err,
            )
        Served.started.append(self.process)
        self.url = f"http://127.0.0.1:{port}"

    def wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_SECONDS
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.err.read_text()
            with suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            time.sleep(0.5)
        raise AssertionError(f"not ready in {STARTUP_SECONDS} s: {self.err.read_text()}")

    def stop(self, sig: signal.Signals) -> int:
        self.process.send_signal(sig)
        try:
            return self.process.wait(60)
        finally:
            if self.process.poll() is None:
                self.process.kill()
                self.process.wait()

    def printed_password(self) -> str:
        found = re.search(r"password (demo-[A-Za-z0-9_-]+)", self.out.read_text())
        assert found, self.out.read_text()
        return found[1]


def _wait_gone(home: Path, seconds: float = 30) -> int | None:
    deadline = time.monotonic() + seconds
    while (pid := _postmaster(home)) is not None and time.monotonic() < deadline:
        time.sleep(0.2)
    return pid


def _people(url: str, password: str) -> list[str]:
    token = httpx.post(
        f"{url}/api/v1/auth/token",
        data={"grant_type": "password", "username": "admin", "password": password},
    )
    assert token.status_code == 200, token.text
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    people = httpx.get(f"{url}/api/v1/people", params={"limit": 200}, headers=headers)
    assert people.status_code == 200, people.text
    return sorted(p["id"] for p in people.json()["items"])


def test_first_run_serves_the_demo_and_a_restart_reuses_it_each_stop_ending_postgres(
    home: Path,
) -> None:
    port = free_port()
    first = Served(home, port, 1)
    first.wait_ready()
    assert httpx.get(f"{first.url}/healthz").json() == {"status": "ok"}
    password = first.printed_password()
    # The printed sign-in command works as copied: one line, whatever the terminal's width.
    (command,) = [line for line in first.out.read_text().splitlines() if "curl" in line]
    assert f"-d password={password} {first.url.replace('127.0.0.1', 'localhost')}" in command
    assert command.endswith("/api/v1/auth/token")
    people = _people(first.url, password)
    assert len(people) > 10
    assert _postmaster(home) is not None
    first.stop(signal.SIGINT)
    assert _wait_gone(home) is None, "the embedded PostgreSQL still runs after Ctrl-C"

    second = Served(home, port, 2)
    second.wait_ready()
    assert second.printed_password() == password
    assert _people(second.url, password) == people  # the demo was not loaded again
    credentials = json.loads((home / "data" / "demo-credentials.json").read_text())
    assert credentials["password"] == password
    second.stop(signal.SIGTERM)
    assert _wait_gone(home) is None, "the embedded PostgreSQL still runs after SIGTERM"


def test_serve_refuses_a_port_in_use_before_starting_anything(home: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        served = Served(home, port, 1)
        code = served.process.wait(STARTUP_SECONDS)
    assert code == 1
    err, out = served.err.read_text(), served.out.read_text()
    assert f"port {port}" in err, err
    assert "in use" in err, err
    assert "Sign in" not in out  # no instructions for a service that does not run
    assert not (home / "data" / "pg").exists()  # nor an embedded server started for it


def test_a_start_after_a_killed_one_still_stops_postgres_when_it_ends(home: Path) -> None:
    port = free_port()
    killed = Served(home, port, 1)
    killed.wait_ready()
    killed.process.kill()  # no exit handlers run: the server stays, listing a dead holder
    killed.process.wait()
    assert _postmaster(home) is not None

    after = Served(home, port, 2)
    after.wait_ready()
    _people(after.url, after.printed_password())
    after.stop(signal.SIGTERM)
    assert _wait_gone(home) is None, "the embedded PostgreSQL still runs after its last holder"


def test_demo_data_is_loaded_only_into_the_embedded_database(home: Path, server_url: str) -> None:
    # `python3 dev.py serve` always asks for the demo; a DATABASE_URL names a real database.
    url = create_database(server_url, "registry_serve")
    try:
        migrate.upgrade(url)
        served = Served(home, free_port(), 1, env=_env(home) | {"DATABASE_URL": url})
        served.wait_ready()
        served.stop(signal.SIGTERM)
        engine = make_engine(url, pool_size=1)
        with engine.connect() as conn:
            organisations = conn.execute(text("SELECT count(*) FROM organisation")).scalar()
            accounts = conn.execute(text("SELECT count(*) FROM account")).scalar()
        engine.dispose()
    finally:
        drop_database(server_url, url)
    assert (organisations, accounts) == (0, 0)
    assert "not loaded" in served.err.read_text()
    assert "Sign in" not in served.out.read_text()
    assert not (home / "data" / "demo-credentials.json").exists()


def test_serve_refuses_a_data_directory_the_embedded_postgres_cannot_use(home: Path) -> None:
    # PostgreSQL's start options take the socket directory unquoted: a space splits them.
    env = _env(home) | {"REGISTRY_DATA_DIR": str(home / "my data")}
    served = Served(home, free_port(), 1, env=env)
    assert served.process.wait(STARTUP_SECONDS) == 1
    err = served.err.read_text()
    assert "REGISTRY_DATA_DIR" in err, err
    assert "Traceback" not in err, err


def test_closing_the_terminal_stops_the_service_and_its_postgres(home: Path) -> None:
    served = Served(home, free_port(), 1)
    served.wait_ready()
    served.stop(signal.SIGHUP)  # what a closed terminal sends
    assert _wait_gone(home) is None, "the embedded PostgreSQL still runs after SIGHUP"
