"""What only the opensearch backend has: versioned indices behind an alias, external versions,
a rebuild that swaps the alias under live searches, and an engine that may be away."""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text, update

from services.registry import migrate
from services.registry.app import create_app
from services.registry.auth.models import Role
from services.registry.core.config import Settings
from services.registry.core.runtime import Runtime
from services.registry.people.models import Person
from services.search import rebuild as rebuild_module
from services.search import worker
from services.search.backends import make_backend
from services.search.backends.opensearch import (
    OpenSearchBackend,
    _unavailable,
    mapping,
    mapping_version,
)
from services.search.documents import ExpertDocument
from services.search.outbox import SearchOutbox
from services.search.protocol import ExpertQuery, SearchUnavailable

from ..conftest import create_database, drop_database
from ..factories import Factory, expert_document

UNREACHABLE = "http://127.0.0.1:9"  # the discard port: nothing listens, connections are refused


@pytest.fixture
def backend(opensearch_url: str) -> Iterator[OpenSearchBackend]:
    """A backend on an alias of its own, so tests never touch the contract suite's `experts`."""
    search = OpenSearchBackend(
        opensearch_url, alias=f"experts-t{uuid.uuid4().hex[:10]}", retire_after=0
    )
    yield search
    search.client.indices.delete(index=f"{search.alias}-v*", ignore=[404])


@dataclasses.dataclass
class Registry:
    runtime: Runtime
    client: TestClient
    factory: Factory
    headers: dict[str, str]

    def eligible(self) -> int:
        with self.runtime.sessions() as session:
            return session.scalar(
                select(func.count())
                .select_from(Person)
                .where(Person.expert_opt_in.is_(True), Person.status == "active")
            )

    def outbox(self) -> list[SearchOutbox]:
        with self.runtime.sessions() as session:
            return list(session.scalars(select(SearchOutbox).order_by(SearchOutbox.id)))


@pytest.fixture
def registry(settings: Settings, server_url: str) -> Iterator[Registry]:
    """A database of this test's own, and the API over it configured for an unreachable
    OpenSearch (tests that need a reachable one pass their own backend)."""
    url = create_database(server_url, "registry_os")
    try:
        migrate.upgrade(url)
        app_settings = settings.model_copy(
            update={"search_backend": "opensearch", "opensearch_url": UNREACHABLE}
        )
        app = create_app(app_settings, url)
        runtime: Runtime = app.state.runtime
        factory = Factory(runtime)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield Registry(runtime, client, factory, factory.caller(Role.platform_admin))
        runtime.close()
    finally:
        drop_database(server_url, url)


def _doc(person_id: uuid.UUID, version: int, name: str) -> ExpertDocument:
    return expert_document(
        person_id=person_id,
        version=version,
        name=name,
        institution="浙江大学",
        institution_key="浙江大学",
        region_code="330106",
        discipline_codes=("150",),
        research_fields=("高分子化学",),
        name_tokens=(name,),
        field_tokens=("高分子", "化学", "高分子化学"),
    )


def test_the_first_index_is_versioned_behind_the_alias(backend: OpenSearchBackend) -> None:
    live = backend.ensure_index()
    assert re.fullmatch(rf"{backend.alias}-v{mapping_version()}-\d{{20}}", live)
    assert backend.live_indices() == [live]
    assert backend.ensure_index() == live  # idempotent: the alias exists, nothing is created
    mappings = backend.client.indices.get_mapping(index=backend.alias)[live]["mappings"]
    assert mappings["dynamic"] == "strict"
    assert backend.count(None) == 0  # type: ignore[arg-type]


def test_an_older_version_never_overwrites_a_newer_one(backend: OpenSearchBackend) -> None:
    pid = uuid.uuid4()
    backend.apply(None, [_doc(pid, 5, "新名字")], [])  # type: ignore[arg-type]
    backend.apply(None, [_doc(pid, 5, "新名字")], [])  # type: ignore[arg-type]  # a replay
    backend.apply(None, [_doc(pid, 3, "旧名字")], [])  # type: ignore[arg-type]
    kept = backend.get(None, pid)  # type: ignore[arg-type]
    assert kept is not None
    assert (kept.version, kept.name) == (5, "新名字")

    backend.apply(None, [], [(pid, 4)])  # type: ignore[arg-type]  # an older tombstone
    assert backend.get(None, pid) is not None  # type: ignore[arg-type]

    backend.apply(None, [], [(pid, 6)])  # type: ignore[arg-type]
    assert backend.get(None, pid) is None  # type: ignore[arg-type]
    backend.apply(None, [_doc(pid, 5, "新名字")], [])  # type: ignore[arg-type]  # late replay
    assert backend.get(None, pid) is None  # type: ignore[arg-type]
    backend.apply(None, [], [(pid, 6)])  # type: ignore[arg-type]  # deleting twice is harmless
    assert backend.count(None) == 0  # type: ignore[arg-type]


def test_an_applied_change_is_searchable_when_apply_returns(backend: OpenSearchBackend) -> None:
    pid = uuid.uuid4()
    backend.apply(None, [_doc(pid, 1, "陈静")], [])  # type: ignore[arg-type]
    terms = (("高分子化学", ("高分子", "化学")),)
    result = backend.search(None, ExpertQuery(terms=terms))  # type: ignore[arg-type]
    assert [h.person_id for h in result.hits] == [pid]
    assert result.facets["region_codes"] == {"330000": 1}


def test_an_index_removed_under_the_backend_is_recreated(backend: OpenSearchBackend) -> None:
    pid = uuid.uuid4()
    backend.apply(None, [_doc(pid, 1, "陈静")], [])  # type: ignore[arg-type]
    backend.client.indices.delete(index=backend.ensure_index())
    with pytest.raises(SearchUnavailable):
        backend.search(None, ExpertQuery())  # type: ignore[arg-type]
    # The next call recreates an empty index; `registry search reindex` refills it.
    assert backend.search(None, ExpertQuery()).total == 0  # type: ignore[arg-type]
    assert len(backend.live_indices()) == 1


def _people(registry: Registry, count: int) -> list[Person]:
    return [
        registry.factory.person(
            name=f"专家{i}", research_fields=["计算流体力学"], expert_opt_in=True
        )
        for i in range(count)
    ]


def test_rebuild_swaps_the_alias_under_live_searches_and_loses_no_change(
    registry: Registry, backend: OpenSearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    people = _people(registry, 5)
    registry.factory.person(name="隐身专家", expert_opt_in=False)  # queues nothing
    assert worker.drain(registry.runtime.sessions, backend) == 5
    old = backend.live_indices()
    assert len(old) == 1

    answers: list[int] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_searching() -> None:
        while not stop.is_set():
            try:
                answers.append(backend.search(None, ExpertQuery(limit=100)).total)  # type: ignore[arg-type]
            except BaseException as exc:  # any failure at all is what the test reports
                errors.append(exc)

    renamed = people[0]
    load = rebuild_module.searchable_batches

    def load_then_change(sessions: Any, batch: int = rebuild_module.BATCH) -> Iterator[Any]:
        yield from load(sessions, batch)
        # A change committed after the load read its rows, drained into the old index by the
        # worker while the new one is still being built: the new index must get it too.
        response = registry.client.patch(
            f"/api/v1/people/{renamed.id}", json={"name": "改名专家"}, headers=registry.headers
        )
        assert response.status_code == 200, response.text
        assert worker.drain(registry.runtime.sessions, backend) == 1
        time.sleep(0.2)  # let the searcher run against the old index for a while

    monkeypatch.setattr(rebuild_module, "searchable_batches", load_then_change)
    searcher = threading.Thread(target=keep_searching)
    searcher.start()
    try:
        stats = backend.rebuild(registry.runtime.sessions)
        time.sleep(0.2)  # and against the new one
    finally:
        stop.set()
        searcher.join()

    assert not errors
    assert answers
    assert set(answers) == {5}
    assert stats["documents"] == 5
    assert stats["replayed"] >= 1
    assert backend.live_indices() == [stats["index"]] != old
    assert re.fullmatch(rf"{backend.alias}-v{mapping_version()}-\d{{20}}", stats["index"])
    assert not backend.client.indices.exists(index=old[0])

    # The new index was loaded before the change; the replay put it back on the outbox, and
    # any outbox version beats the rebuilt documents' version 0.
    stale = backend.get(None, renamed.id)  # type: ignore[arg-type]
    assert stale is not None
    assert stale.name == "专家0"
    assert worker.drain(registry.runtime.sessions, backend) >= 1
    doc = backend.get(None, renamed.id)  # type: ignore[arg-type]
    assert doc is not None
    assert doc.name == "改名专家"
    assert backend.count(None) == registry.eligible() == 5  # type: ignore[arg-type]


def test_unreachable_engine_answers_503_while_writes_succeed_and_the_worker_catches_up(
    registry: Registry, opensearch_url: str
) -> None:
    down = registry.runtime.search
    assert isinstance(down, OpenSearchBackend)
    with pytest.raises(SearchUnavailable):
        down.search(None, ExpertQuery())  # type: ignore[arg-type]

    response = registry.client.post(
        "/api/v1/search/experts", json={"q": "流体"}, headers=registry.headers
    )
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["Retry-After"]) > 0
    assert "Traceback" not in response.text

    org = registry.factory.org()
    created = registry.client.post(
        "/api/v1/people",
        json={"name": "欧阳修", "expert_opt_in": True, "org_code": org.code},
        headers=registry.headers,
    )
    assert created.status_code == 201, created.text
    _people(registry, 2)
    registry.factory.person(name="隐身专家", expert_opt_in=False)  # queues nothing
    assert len(registry.outbox()) == 3

    # The worker tries, fails, and keeps every row with the error for a later attempt.
    assert worker.drain(registry.runtime.sessions, down) == 0
    rows = registry.outbox()
    assert len(rows) == 3
    assert all(r.attempts == 1 and "SearchUnavailable" in (r.last_error or "") for r in rows)

    # The engine is back (the same worker, now reaching it): the backlog drains after backoff.
    back = OpenSearchBackend(
        opensearch_url, alias=f"experts-t{uuid.uuid4().hex[:10]}", retire_after=0
    )
    try:
        deadline = time.monotonic() + 10
        while registry.outbox() and time.monotonic() < deadline:
            worker.drain(registry.runtime.sessions, back)
            time.sleep(0.2)
        assert registry.outbox() == []
        assert back.count(None) == registry.eligible() == 3  # type: ignore[arg-type]
    finally:
        back.client.indices.delete(index=f"{back.alias}-v*", ignore=[404])


def test_a_rebuild_that_dies_after_its_swap_still_replays_what_the_build_missed(
    registry: Registry, backend: OpenSearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    (person,) = _people(registry, 1)
    assert worker.drain(registry.runtime.sessions, backend) == 1
    load = rebuild_module.searchable_batches

    def load_then_change(sessions: Any, batch: int = rebuild_module.BATCH) -> Iterator[Any]:
        yield from load(sessions, batch)
        response = registry.client.patch(
            f"/api/v1/people/{person.id}", json={"name": "改名专家"}, headers=registry.headers
        )
        assert response.status_code == 200, response.text
        assert worker.drain(registry.runtime.sessions, backend) == 1  # into the old index

    def died(*args: Any, **kwargs: Any) -> int:
        raise KeyboardInterrupt("the reindex process died right after the swap")

    monkeypatch.setattr(rebuild_module, "searchable_batches", load_then_change)
    monkeypatch.setattr(rebuild_module, "replay_changes_since", died)
    with pytest.raises(KeyboardInterrupt):
        backend.rebuild(registry.runtime.sessions)
    monkeypatch.undo()
    stale = backend.get(None, person.id)  # type: ignore[arg-type]
    assert stale is not None
    assert stale.name == "专家0"  # the new index is live, loaded before the change
    # What the replay would have queued was queued before the swap, due a few minutes later.
    queued = [row for row in registry.outbox() if row.person_id == person.id]
    assert queued
    assert worker.drain(registry.runtime.sessions, backend) == 0  # not due yet
    with registry.runtime.sessions.begin() as session:
        session.execute(update(SearchOutbox).values(next_attempt_at=func.now()))
    assert worker.drain(registry.runtime.sessions, backend) >= 1
    doc = backend.get(None, person.id)  # type: ignore[arg-type]
    assert doc is not None
    assert doc.name == "改名专家"


def test_a_rebuild_that_ends_well_leaves_no_staged_replay(
    registry: Registry, backend: OpenSearchBackend
) -> None:
    _people(registry, 2)
    worker.drain(registry.runtime.sessions, backend)
    backend.rebuild(registry.runtime.sessions)
    rows = registry.outbox()
    assert rows  # the replay's own rows, due now
    assert all(row.next_attempt_at - row.enqueued_at < rebuild_module.REPLAY_GRACE for row in rows)


def test_a_rebuild_during_which_many_people_changed_takes_its_staged_replay_back(
    registry: Registry, backend: OpenSearchBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An import of a society's member list while the index loads: more people to replay than
    # a statement can carry parameters (65,535).
    _people(registry, 2)
    worker.drain(registry.runtime.sessions, backend)
    old = backend.live_indices()
    load = rebuild_module.searchable_batches

    def load_then_import(sessions: Any, batch: int = rebuild_module.BATCH) -> Iterator[Any]:
        yield from load(sessions, batch)
        with registry.runtime.sessions.begin() as session:
            session.execute(
                text(
                    "INSERT INTO person (id, name, expert_opt_in, status, version)"
                    " SELECT gen_random_uuid(), '导入' || n, false, 'active', 1"
                    " FROM generate_series(1, 70000) AS n"
                )
            )

    monkeypatch.setattr(rebuild_module, "searchable_batches", load_then_import)
    stats = backend.rebuild(registry.runtime.sessions)
    assert stats["replayed"] >= 70_000
    assert stats["replaced"] == old
    assert backend.live_indices() == [stats["index"]]
    rows = registry.outbox()
    assert all(row.next_attempt_at - row.enqueued_at < rebuild_module.REPLAY_GRACE for row in rows)


def test_a_rebuild_removes_the_index_an_interrupted_rebuild_left_behind(
    registry: Registry, backend: OpenSearchBackend
) -> None:
    _people(registry, 2)
    worker.drain(registry.runtime.sessions, backend)
    # A reindex killed while loading (out of memory, its terminal closed) never reached its
    # swap or its clean-up: its half-built index is behind no alias.
    left = backend.index_name()
    backend.client.indices.create(index=left, body=mapping())
    old = backend.live_indices()

    stats = backend.rebuild(registry.runtime.sessions)

    assert not backend.client.indices.exists(index=left)
    indices = backend.client.indices.get_alias(index=f"{backend.alias}-v*")
    assert sorted(indices) == [stats["index"]]
    assert stats["replaced"] == old
    assert stats["removed"] == [left]


def _certificate(subject: str, key: Any, issuer: str, issuer_key: Any, *, ca: bool) -> Any:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    def name(common_name: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])

    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name(subject))
        .issuer_name(name(issuer))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        usage = x509.KeyUsage(False, False, False, False, False, True, True, False, False)
        builder = builder.add_extension(usage, critical=True)
    else:
        names = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@pytest.fixture
def private_ca_cluster(opensearch_url: str, tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """The test server behind HTTPS with a certificate from a private CA, as the OpenSearch
    operator or an organisation's CA issues them: its https URL and the CA's certificate."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = _certificate("registry test CA", ca_key, "registry test CA", ca_key, ca=True)
    server_cert = _certificate("localhost", server_key, "registry test CA", ca_key, ca=False)
    pem = serialization.Encoding.PEM
    (tmp_path / "ca.pem").write_bytes(ca_cert.public_bytes(pem))
    (tmp_path / "server.pem").write_bytes(server_cert.public_bytes(pem))
    (tmp_path / "server.key").write_bytes(
        server_key.private_bytes(
            pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.pem", tmp_path / "server.key")
    upstream = urlsplit(opensearch_url)
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def pipe(source: socket.socket, target: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        finally:
            for end in (source, target):
                end.close()

    def serve() -> None:
        while not stop.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                client.settimeout(5)
                secure = context.wrap_socket(client, server_side=True)
                secure.settimeout(None)
            except OSError:  # a client that does not trust the certificate hangs up
                client.close()
                continue
            backend = socket.create_connection((upstream.hostname, upstream.port))
            for source, target in ((secure, backend), (backend, secure)):
                threading.Thread(target=pipe, args=(source, target), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"https://localhost:{listener.getsockname()[1]}", tmp_path / "ca.pem"
    finally:
        stop.set()
        server.join()
        listener.close()


def test_a_cluster_whose_certificate_a_private_ca_signed_is_reached_with_that_ca(
    private_ca_cluster: tuple[str, Path], settings: Settings
) -> None:
    url, ca = private_ca_cluster
    alias = f"experts-t{uuid.uuid4().hex[:10]}"
    # Not trusted without the CA: the engine is unreachable, as it would be with a bad certificate.
    with pytest.raises(SearchUnavailable):
        OpenSearchBackend(url, alias=alias).ensure_index()

    configured = settings.model_copy(
        update={
            "search_backend": "opensearch",
            "opensearch_url": url,
            "opensearch_ca_certs": str(ca),
        }
    )
    backend = make_backend(configured)
    assert isinstance(backend, OpenSearchBackend)
    backend.alias = alias  # not the contract suite's `experts`
    try:
        pid = uuid.uuid4()
        backend.apply(None, [_doc(pid, 1, "陈静")], [])  # type: ignore[arg-type]
        assert backend.count(None) == 1  # type: ignore[arg-type]
    finally:
        backend.client.indices.delete(index=f"{alias}-v*", ignore=[404])


@pytest.mark.parametrize("status", [401, 403])
def test_a_cluster_that_refuses_the_credentials_is_unavailable_not_a_server_error(
    status: int,
) -> None:
    """A role without the index or cluster permissions the backend needs answers 401 or 403:
    searches get a 503 (and the log says why), not a 500, and the worker keeps its rows."""
    from opensearchpy.exceptions import AuthenticationException, AuthorizationException

    error = {401: AuthenticationException, 403: AuthorizationException}[status]
    assert _unavailable(error(status, "security_exception", {}))
