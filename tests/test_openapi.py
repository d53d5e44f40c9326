"""The committed OpenAPI document is the one the app serves."""

from __future__ import annotations

import json

from services.registry.openapi import document

from .conftest import ROOT


def test_committed_openapi_document_matches_the_app() -> None:
    committed = (ROOT / "openapi" / "openapi.json").read_text()
    assert committed == document(), (
        "openapi/openapi.json is stale: run `registry openapi export` and commit the result"
    )


def test_every_operation_has_a_stable_tagged_id() -> None:
    spec = json.loads(document())
    ids = [op["operationId"] for path in spec["paths"].values() for op in path.values()]
    assert len(ids) == len(set(ids))
    for operation_id in ids:
        tag, _, name = operation_id.partition("-")
        assert tag, operation_id
        assert name, operation_id
