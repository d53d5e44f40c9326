"""The opensearch backend: versioned concrete indices behind the `experts` alias, via opensearch-py.

Scoring mirrors the postgres reference rather than BM25: every matched term scores a constant
weight per field (name 1.0, fields and disciplines 0.6, institution 0.3, biography 0.1), the
whole-phrase token adds its weight, and `prior * 0.001` breaks ties. Constant scores are the
same on every engine, shard layout and corpus size, so both backends rank alike, cursors stay
stable, and the in-memory test server (whose BM25 is not Lucene's) ranks like a real cluster.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any, Literal

from opensearchpy import OpenSearch
from opensearchpy.exceptions import (
    ConnectionError as TransportConnectionError,
)
from opensearchpy.exceptions import (
    NotFoundError,
    RequestError,
    TransportError,
)
from sqlalchemy.orm import Session, sessionmaker

from .. import rebuild as rebuild_module
from ..documents import ExpertDocument, from_json, to_json
from ..protocol import FACETS, ExpertHit, ExpertQuery, SearchResult, SearchUnavailable

log = logging.getLogger("registry.search.opensearch")

ALIAS = "experts"
MAPPINGS = Path(__file__).resolve().parent.parent / "mappings"
_MAPPING_FILE = re.compile(r"^experts-v(\d+)\.json$")

# (field, weight): the postgres backend's A/B/C/D weights, one constant score per matched field.
FIELD_WEIGHTS = (
    ("name_tokens", 1.0),
    ("field_tokens", 0.6),
    ("discipline_tokens", 0.6),
    ("institution_tokens", 0.3),
    ("bio_tokens", 0.1),
)
TIE_BREAKER = 0.25  # what further fields holding a token add (ts_rank's 1/2² for a repeat)
PRIOR_WEIGHT = 0.001  # the profile prior only orders otherwise equal matches
FACET_SIZES = {"discipline_codes": 100, "region_codes": 100, "title_level": 20, "gender": 10}
_FACET_FIELDS = {
    "discipline_codes": "disciplines_l1",
    "region_codes": "province",
    "title_level": "title_level",
    "gender": "gender",
}
BULK_CHUNK = 500
SEARCH_TIMEOUT = 10.0
BULK_TIMEOUT = 120.0

Refresh = Literal["wait_for", "true", "false"]


@cache
def mapping_version() -> int:
    """The highest N of the `experts-v{N}.json` files: the schema new indices are built with."""
    versions = [int(m.group(1)) for p in MAPPINGS.iterdir() if (m := _MAPPING_FILE.match(p.name))]
    if not versions:
        raise RuntimeError(f"no experts-v{{N}}.json mapping in {MAPPINGS}")
    return max(versions)


def mapping() -> dict[str, Any]:
    """Settings and mappings of the current schema version (a fresh copy to adjust)."""
    path = MAPPINGS / f"experts-v{mapping_version()}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def source(doc: ExpertDocument) -> dict[str, Any]:
    """What the index stores: filter keywords, token lists, and the public document for hits."""
    return {
        "person_id": str(doc.person_id),
        "gender": doc.gender,
        "title_level": doc.title_level,
        "province": doc.province,
        "region_prefixes": list(doc.region_prefixes),
        "discipline_prefixes": list(doc.discipline_prefixes),
        "disciplines_l1": list(doc.disciplines_l1),
        "org_codes": list(doc.org_codes),
        "institution_key": doc.institution_key,
        "institution_uscc": doc.institution_uscc,
        "birth_date": doc.birth_date.isoformat() if doc.birth_date else None,
        "prior": doc.prior,
        "name_tokens": list(doc.name_tokens),
        "field_tokens": list(doc.field_tokens),
        "discipline_tokens": list(doc.discipline_tokens),
        "institution_tokens": list(doc.institution_tokens),
        "bio_tokens": list(doc.bio_tokens),
        "document": json.loads(to_json(doc)),
    }


def _index_op(doc: ExpertDocument) -> list[dict[str, Any]]:
    """A bulk index operation carrying the document's version as an external version."""
    action = {"_id": str(doc.person_id), "version": doc.version, "version_type": "external"}
    return [{"index": action}, source(doc)]


def _any_field(token: str, scale: float = 1.0) -> dict[str, Any]:
    """The token in any token field: the best field's weight, plus a quarter of the others'.

    ts_rank counts a lexeme's best occurrence fully and the next one at 1/2², so a profile
    naming the word in its fields and its discipline ranks above one with it in one place.
    """
    return {
        "dis_max": {
            "queries": [
                {"constant_score": {"filter": {"term": {f: token}}, "boost": w * scale}}
                for f, w in FIELD_WEIGHTS
            ],
            "tie_breaker": TIE_BREAKER,
        }
    }


def _term(word: str, parts: tuple[str, ...]) -> dict[str, Any]:
    """The word, or all its parts (each scaled so the parts together weigh as much as the word).

    A profile listing the word also holds its parts (search-mode segmentation), so it scores
    word + parts and ranks above one that only has the parts scattered.
    """
    if not parts:
        return _any_field(word)
    return {
        "bool": {
            "should": [
                _any_field(word),
                {"bool": {"must": [_any_field(p, 1.0 / len(parts)) for p in parts]}},
            ],
            "minimum_should_match": 1,
        }
    }


def _filters(query: ExpertQuery) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(filter, must_not) clauses: the postgres `_where` without the text match."""
    filters: list[dict[str, Any]] = []
    if query.discipline_codes:
        filters.append({"terms": {"discipline_prefixes": list(query.discipline_codes)}})
    if query.region_codes:
        filters.append({"terms": {"region_prefixes": list(query.region_codes)}})
    if query.title_levels:
        filters.append({"terms": {"title_level": list(query.title_levels)}})
    if query.gender:
        filters.append({"term": {"gender": query.gender}})
    born: dict[str, str] = {}
    if query.born_after:
        born["gt"] = query.born_after.isoformat()
    if query.born_on_or_before:
        born["lte"] = query.born_on_or_before.isoformat()
    if born:
        filters.append({"range": {"birth_date": born}})
    if query.org_codes:
        filters.append({"terms": {"org_codes": list(query.org_codes)}})
    ex = query.exclusions
    must_not: list[dict[str, Any]] = []
    if ex.person_ids:
        must_not.append({"terms": {"person_id": sorted(str(p) for p in ex.person_ids)}})
    # A profile without an institution has no conflict by institution: must_not keeps it.
    if ex.institution_keys:
        must_not.append({"terms": {"institution_key": sorted(ex.institution_keys)}})
    if ex.institution_usccs:
        must_not.append({"terms": {"institution_uscc": sorted(ex.institution_usccs)}})
    return filters, must_not


def search_body(query: ExpertQuery) -> dict[str, Any]:
    """The query DSL of an ExpertQuery: hits after the cursor, exact total and facets."""
    filters, must_not = _filters(query)
    boolean: dict[str, Any] = {"filter": filters, "must_not": must_not}
    if query.terms:
        boolean["must"] = [_term(word, parts) for word, parts in query.terms]
        if query.phrase:
            boolean["should"] = [_any_field(query.phrase)]
    body: dict[str, Any] = {
        "query": {
            "function_score": {
                "query": {"bool": boolean},
                "functions": [
                    {
                        "field_value_factor": {
                            "field": "prior",
                            "factor": PRIOR_WEIGHT if query.terms else 1.0,
                            "missing": 0,
                        }
                    }
                ],
                # Without text the order is the prior alone (a filter-only bool scores 1 or 0).
                "boost_mode": "sum" if query.terms else "replace",
                "score_mode": "sum",
            }
        },
        "sort": [{"_score": {"order": "desc"}}, {"person_id": {"order": "desc"}}],
        "size": query.limit + 1,  # one more tells the caller a next page exists
        "track_total_hits": True,
        "_source": ["document"],
        "aggs": {
            name: {"terms": {"field": _FACET_FIELDS[name], "size": FACET_SIZES[name]}}
            for name in FACETS
        },
    }
    if query.after is not None:
        score, person_id = query.after
        body["search_after"] = [score, str(person_id)]
    return body


def _unavailable(exc: Exception) -> bool:
    """Whether an error means "the engine cannot answer now" rather than a bad request."""
    if isinstance(exc, TransportConnectionError):  # refused, timed out, TLS failure
        return True
    if isinstance(exc, TransportError):
        status = exc.status_code
        if status in (401, 403):
            # Our credentials or the role they map to: nothing the caller can change.
            log.error("opensearch refused the service's credentials (%s): %s", status, exc.error)
            return True
        return not isinstance(status, int) or status >= 500 or status == 429
    return False


class OpenSearchBackend:
    """Expert documents in an OpenSearch cluster, written with the outbox id as external version.

    `refresh="wait_for"` (the default) makes `apply` return only once its writes are visible to
    searches, so a change drained inline is searchable when the drain finishes, without forcing
    a refresh (and a tiny segment) per batch the way `refresh=true` would; the cost is that a
    batch waits up to `refresh_interval` (1 s). A catch-up worker that prefers throughput may pass
    `refresh="false"`: changes then appear within `refresh_interval` anyway.
    """

    name = "opensearch"

    def __init__(
        self,
        url: str,
        *,
        alias: str = ALIAS,
        refresh: Refresh = "wait_for",
        timeout: float = SEARCH_TIMEOUT,
        ca_certs: str | None = None,
        pool_maxsize: int = 40,
        retire_after: float = SEARCH_TIMEOUT,
    ) -> None:
        # Building the client does not connect: the API starts while the cluster is away.
        # `ca_certs`: the CA that signed an https cluster's certificate, if not a public one.
        self.client = OpenSearch(
            hosts=[url],
            timeout=timeout,
            max_retries=1,
            retry_on_timeout=False,
            ca_certs=ca_certs,
            # A connection per request thread (AnyIO runs 40), not urllib3's 10 shared by all.
            pool_maxsize=pool_maxsize,
        )
        self.alias = alias
        self.refresh = refresh
        # How long an index the alias left keeps serving the searches begun on it before the
        # swap (they give up after SEARCH_TIMEOUT) before it is deleted.
        self.retire_after = retire_after
        self._ready = False

    # -- index lifecycle -------------------------------------------------------------------

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        """Run one client call; an engine that cannot answer becomes SearchUnavailable."""
        try:
            return fn(*args, **kwargs)
        except NotFoundError as exc:
            if exc.error == "index_not_found_exception":
                # The alias or its index was removed under us: recreate it on the next call.
                self._ready = False
                raise SearchUnavailable("opensearch: the index is missing") from exc
            raise
        except Exception as exc:
            if _unavailable(exc):
                raise SearchUnavailable(f"opensearch: {type(exc).__name__}") from exc
            raise

    def index_name(self) -> str:
        """A new concrete index name: `experts-v{N}-{UTC timestamp to the microsecond}`."""
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")
        return f"{self.alias}-v{mapping_version()}-{stamp}"

    def live_indices(self) -> list[str]:
        """The concrete indices the alias points at (one, except mid-way through a failure)."""
        # A missing alias answers 404 with an error body instead of index names.
        found = self._call(self.client.indices.get_alias, name=self.alias, ignore=[404])
        return sorted(k for k, v in found.items() if isinstance(v, dict) and "aliases" in v)

    def _index_body(self, *, bulk_load: bool = False) -> dict[str, Any]:
        body = mapping()
        settings = body.setdefault("settings", {}).setdefault("index", {})
        # Replicas cannot be placed on a single-node cluster: it would stay yellow forever.
        nodes = self._call(self.client.cluster.health).get("number_of_data_nodes", 1)
        if nodes < 2:
            settings["number_of_replicas"] = 0
        if bulk_load:
            # No refreshes and no replication while loading; restored before the swap.
            settings["refresh_interval"] = "-1"
            settings["number_of_replicas"] = 0
        return body

    def _create_index(self, *, with_alias: bool, bulk_load: bool = False) -> str:
        body = self._index_body(bulk_load=bulk_load)
        if with_alias:
            body["aliases"] = {self.alias: {}}
        for _ in range(5):
            name = self.index_name()
            try:
                self._call(self.client.indices.create, index=name, body=body)
                return name
            except RequestError as exc:
                if exc.error != "resource_already_exists_exception":
                    raise
                time.sleep(0.001)  # same microsecond as another creator: take the next one
        raise RuntimeError(f"could not create a new {self.alias} index")

    def ensure_index(self) -> str:
        """The live index, creating the first one and the alias when the alias is missing."""
        live = self.live_indices()
        if not live:
            log.info("alias %s missing: creating its first index", self.alias)
            self._create_index(with_alias=True)
            live = self.live_indices()
            # Two processes may both have created a first index: the oldest name wins.
            for extra in live[1:]:
                self._call(self.client.indices.delete, index=extra, ignore=[404])
            live = live[:1]
        self._ready = True
        if live and not live[0].startswith(f"{self.alias}-v{mapping_version()}-"):
            log.warning("%s is %s; run `registry search reindex` to rebuild", self.alias, live[0])
        return live[0]

    def _ensure(self) -> None:
        if not self._ready:
            self.ensure_index()

    # -- writes ----------------------------------------------------------------------------

    def _bulk(self, index: str, ops: list[list[dict[str, Any]]], *, refresh: str) -> None:
        """Send operations (an action line, and a source line for index) in chunks.

        A 409 means a newer version already landed and a delete's `not_found` means there was
        nothing to remove: both are the idempotency working. Any other item error fails the
        batch, so the outbox keeps its rows and retries.
        """
        for start in range(0, len(ops), BULK_CHUNK):
            response = self._call(
                self.client.bulk,
                body=[line for op in ops[start : start + BULK_CHUNK] for line in op],
                index=index,
                refresh=refresh,
                # Writing through a missing alias must fail, not auto-create an index named
                # `experts` with dynamic mappings.
                require_alias=index == self.alias,
                request_timeout=BULK_TIMEOUT,
            )
            if response.get("errors"):
                self._check_items(response["items"])

    def _check_items(self, items: list[dict[str, Any]]) -> None:
        failures: list[tuple[int, str | None, Any]] = []
        for item in items:
            op, result = next(iter(item.items()))
            status = int(result.get("status", 500))
            missing = op == "delete" and status == 404 and result.get("result") == "not_found"
            if status < 300 or status == 409 or missing:
                continue
            failures.append((status, result.get("_id"), result.get("error")))
        if not failures:
            return
        if any("index_not_found" in str(error) for _, _, error in failures):
            self._ready = False  # the alias or its index went away: recreate on the next call
        if any(status >= 500 or status == 429 for status, _, _ in failures):
            raise SearchUnavailable(f"opensearch bulk: {failures[:3]}")
        raise RuntimeError(f"opensearch bulk rejected {len(failures)} items: {failures[:3]}")

    def apply(
        self,
        session: Session,
        upserts: list[ExpertDocument],
        deletes: list[tuple[uuid.UUID, int]],
    ) -> None:
        if not upserts and not deletes:
            return
        self._ensure()
        ops = [_index_op(doc) for doc in upserts]
        # A delete leaves a versioned tombstone for index.gc_deletes (1 h in the mapping), so
        # an older write replayed after it cannot bring the document back.
        ops.extend(
            [{"delete": {"_id": str(pid), "version": version, "version_type": "external"}}]
            for pid, version in deletes
        )
        self._bulk(self.alias, ops, refresh=self.refresh)

    # -- reads -----------------------------------------------------------------------------

    def count(self, session: Session) -> int:
        self._ensure()
        self._call(self.client.indices.refresh, index=self.alias)
        return int(self._call(self.client.count, index=self.alias)["count"])

    def get(self, session: Session, person_id: uuid.UUID) -> ExpertDocument | None:
        self._ensure()
        try:
            found = self._call(
                self.client.get, index=self.alias, id=str(person_id), _source_includes="document"
            )
        except NotFoundError:
            return None
        return from_json(json.dumps(found["_source"]["document"]))

    def search(self, session: Session, query: ExpertQuery) -> SearchResult:
        self._ensure()
        response = self._call(
            self.client.search,
            index=self.alias,
            body=search_body(query),
            request_timeout=SEARCH_TIMEOUT,
            # A shard that fails would otherwise leave an exact-looking total and facets short.
            allow_partial_search_results=False,
        )
        hits = [
            ExpertHit(
                person_id=uuid.UUID(hit["_id"]),
                # The sort value, not a rounded copy: it goes back verbatim as search_after.
                score=float(hit["sort"][0]),
                document=from_json(json.dumps(hit["_source"]["document"])),
            )
            for hit in response["hits"]["hits"]
        ]
        facets: dict[str, dict[str, int]] = {}
        approximate: dict[str, str] = {}
        for name in FACETS:
            agg = response["aggregations"][name]
            counts = {str(b["key"]): int(b["doc_count"]) for b in agg["buckets"]}
            facets[name] = dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
            if agg.get("sum_other_doc_count"):
                approximate["facets"] = f"only the {FACET_SIZES[name]} largest {name} buckets"
        total = response["hits"]["total"]
        return SearchResult(
            total=int(total["value"]), hits=hits, facets=facets, approximate=approximate
        )

    # -- rebuild ---------------------------------------------------------------------------

    def _remove_leftovers(self) -> list[str]:
        """Delete this alias's indices that are not behind it: what a rebuild killed before
        its swap or its clean-up left (the postgres backend drops its build tables likewise).
        A rebuild running meanwhile elsewhere loses its index and fails; this one replaces it."""
        found = self._call(self.client.indices.get_alias, index=f"{self.alias}-v*", ignore=[404])
        leftovers = sorted(
            name
            for name, entry in found.items()
            if isinstance(entry, dict) and self.alias not in entry.get("aliases", {})
        )
        for name in leftovers:
            log.warning("deleting %s, left behind by an interrupted rebuild", name)
            self._call(self.client.indices.delete, index=name, ignore=[404])
        return leftovers

    def rebuild(self, sessions: sessionmaker[Session]) -> dict[str, Any]:
        """Build a new index from PostgreSQL beside the live one, swap the alias, replay.

        Rebuilt documents carry version 0 (rebuild.REBUILD_VERSION): outbox ids start at 1, so
        any outbox write, including one whose transaction committed after the load read its
        rows, replaces a rebuilt document. Changes drained into the old index while the new
        one was loading are put back on the outbox after the swap, so they reach the new index
        (and, should the process die right after the swap, a few minutes later: see
        `rebuild.replay_if_interrupted`).
        """
        clock = time.monotonic()
        replay_from = rebuild_module.replay_point(sessions)  # before the build's snapshot
        self.ensure_index()
        removed = self._remove_leftovers()
        new = self._create_index(with_alias=False, bulk_load=True)
        documents = 0
        old: list[str] = []
        swapped = False
        try:
            for docs in rebuild_module.searchable_batches(sessions):
                self._bulk(new, [_index_op(doc) for doc in docs], refresh="false")
                documents += len(docs)
            live_settings = self._index_body()["settings"]["index"]
            self._call(
                self.client.indices.put_settings,
                index=new,
                body={
                    "index": {
                        "refresh_interval": live_settings.get("refresh_interval", "1s"),
                        "number_of_replicas": live_settings.get("number_of_replicas", 1),
                    }
                },
            )
            self._call(self.client.indices.refresh, index=new)
            if live_settings.get("number_of_replicas", 1):
                # Swap in a redundant index; after the timeout (408) a yellow one still serves.
                health = self._call(
                    self.client.cluster.health,
                    index=new,
                    wait_for_status="green",
                    timeout="120s",
                    ignore=[408],
                )
                if health.get("timed_out"):
                    log.warning("%s is not green yet; swapping it in with its primaries", new)
            old = self.live_indices()
            # One _aliases call: searches see the old index or the new one, never neither.
            actions_ = [{"remove": {"index": i, "alias": self.alias}} for i in old]
            actions_.append({"add": {"index": new, "alias": self.alias}})
            with rebuild_module.replay_if_interrupted(sessions, replay_from):
                self._call(self.client.indices.update_aliases, body={"actions": actions_})
                swapped = True
                replayed = rebuild_module.replay_changes_since(sessions, replay_from)
        except BaseException:
            if not swapped:  # leave no half-built index behind; the live one was never touched
                try:
                    self.client.indices.delete(index=new, ignore=[404])
                except Exception:
                    log.warning("could not delete the unfinished index %s", new)
            raise
        if old and self.retire_after > 0:
            time.sleep(self.retire_after)
        for index in old:
            self._call(self.client.indices.delete, index=index, ignore=[404])
        self._ready = True
        return {
            "backend": self.name,
            "index": new,
            "documents": documents,
            "replayed": replayed,
            "replaced": old,
            "removed": removed,
            "seconds": round(time.monotonic() - clock, 2),
        }
