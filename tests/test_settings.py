"""Production refuses to start with development secrets; development makes its own keys."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from services.registry.core.config import Settings

KEY_A = base64.b64encode(os.urandom(32)).decode()
KEY_B = base64.b64encode(os.urandom(32)).decode()


def _production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "database_url": "postgresql://registry@db/registry",
        "pii_key": KEY_A,
        "blind_index_key": KEY_B,
        "signing_key": "-----BEGIN PRIVATE KEY-----...",
        "issuer": "https://registry.example.cn",
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_production_with_real_secrets_is_accepted() -> None:
    assert _production().is_production


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("pii_key", None, "REGISTRY_PII_KEY"),
        ("blind_index_key", None, "REGISTRY_BLIND_INDEX_KEY"),
        ("signing_key", None, "REGISTRY_SIGNING_KEY"),
        ("database_url", None, "DATABASE_URL"),
        ("pii_key", base64.b64encode(b"\0" * 32).decode(), "placeholder"),
        ("pii_key", "not base64!", "base64"),
        ("blind_index_key", KEY_A, "must differ"),
        ("issuer", "http://localhost:8000", "REGISTRY_ISSUER"),
    ],
)
def test_production_refuses_missing_or_development_secrets(
    field: str, value: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        _production(**{field: value})


def test_development_generates_keys_once_into_the_data_directory(tmp_path: Path) -> None:
    first = Settings(env="development", data_dir=tmp_path)
    key = first.pii_key_bytes
    assert len(key) == 32
    assert (tmp_path / "keys" / "pii.key").stat().st_mode & 0o777 == 0o600
    assert Settings(env="development", data_dir=tmp_path).pii_key_bytes == key
    assert first.blind_index_key_bytes != key


def test_every_setting_reaches_the_deployed_containers() -> None:
    """compose and Kubernetes hand the containers an explicit environment: a setting left out
    there is one an operator sets in deploy/.env or the config map to no effect."""
    import yaml

    deploy = Path(__file__).resolve().parents[1] / "deploy"
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())["x-registry-env"]
    configmap = yaml.safe_load((deploy / "k8s" / "configmap.yaml").read_text())["data"]
    secrets = (deploy / "k8s" / "secret.example.yaml").read_text()
    names = {
        field.validation_alias
        for field in Settings.model_fields.values()
        if isinstance(field.validation_alias, str)
    }
    assert sorted(names - compose.keys()) == []
    assert sorted(n for n in names - configmap.keys() if n not in secrets) == []
