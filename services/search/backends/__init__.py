"""Search backends: `postgres` (the embedded default) and `opensearch` (national deployments)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from services.registry.core.config import Settings

    from ..protocol import SearchBackend


def make_backend(settings: Settings) -> SearchBackend:
    """The backend SEARCH_BACKEND names."""
    if settings.search_backend == "opensearch":
        from .opensearch import OpenSearchBackend

        if not settings.opensearch_url:
            raise RuntimeError("SEARCH_BACKEND=opensearch needs OPENSEARCH_URL")
        return OpenSearchBackend(
            settings.opensearch_url, ca_certs=settings.opensearch_ca_certs or None
        )
    from .postgres import PostgresBackend

    return PostgresBackend()
