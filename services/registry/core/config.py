"""Settings read from the environment; production refuses development secrets."""

from __future__ import annotations

import base64
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

Environment = Literal["development", "test", "production"]


class Settings(BaseSettings):
    """Everything the service reads from its environment, with development defaults."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    env: Environment = Field("development", validation_alias="REGISTRY_ENV")
    database_url: str | None = Field(None, validation_alias="DATABASE_URL")
    data_dir: Path = Field(Path(".registry-data"), validation_alias="REGISTRY_DATA_DIR")
    search_backend: Literal["postgres", "opensearch"] = Field(
        "postgres", validation_alias="SEARCH_BACKEND"
    )
    opensearch_url: str | None = Field(None, validation_alias="OPENSEARCH_URL")
    # PEM file of the CA that signed the cluster's HTTPS certificate, when it is not a public
    # one (the OpenSearch operator's, an organisation's own); empty: the public CAs.
    opensearch_ca_certs: str | None = Field(None, validation_alias="OPENSEARCH_CA_CERTS")

    issuer: str = Field("http://localhost:8000", validation_alias="REGISTRY_ISSUER")
    audience: str = Field("registry-api", validation_alias="REGISTRY_AUDIENCE")
    public_url: str = Field("http://localhost:8000", validation_alias="REGISTRY_PUBLIC_URL")
    signing_key_file: Path | None = Field(None, validation_alias="REGISTRY_SIGNING_KEY_FILE")
    signing_key: str | None = Field(
        None, validation_alias=AliasChoices("REGISTRY_SIGNING_KEY", "registry_signing_key")
    )
    pii_key: str | None = Field(None, validation_alias="REGISTRY_PII_KEY")
    blind_index_key: str | None = Field(None, validation_alias="REGISTRY_BLIND_INDEX_KEY")

    access_token_ttl_seconds: int = Field(900, validation_alias="REGISTRY_ACCESS_TOKEN_TTL")
    refresh_token_ttl_seconds: int = Field(
        30 * 24 * 3600, validation_alias="REGISTRY_REFRESH_TOKEN_TTL"
    )
    # However often it is refreshed, a sign-in ends this long after the password was given.
    session_max_age_seconds: int = Field(
        90 * 24 * 3600, validation_alias="REGISTRY_SESSION_MAX_AGE"
    )
    login_max_failures: int = Field(5, validation_alias="REGISTRY_LOGIN_MAX_FAILURES")
    db_pool_size: int = Field(20, validation_alias="REGISTRY_DB_POOL_SIZE")
    principal_cache_seconds: float = Field(5.0, validation_alias="REGISTRY_PRINCIPAL_CACHE_SECONDS")
    search_inline_drain: bool = Field(True, validation_alias="REGISTRY_SEARCH_INLINE_DRAIN")
    verify_rate_limit: int = Field(30, validation_alias="REGISTRY_VERIFY_RATE_LIMIT")
    verify_rate_window_seconds: float = Field(60.0, validation_alias="REGISTRY_VERIFY_RATE_WINDOW")
    # Sign-in attempts per client address and minute, whatever the login names: one name is
    # locked after a few failures, this slows trying one password on many names.
    signin_rate_limit: int = Field(60, validation_alias="REGISTRY_SIGNIN_RATE_LIMIT")

    @model_validator(mode="after")
    def _production_needs_real_secrets(self) -> Settings:
        if self.env != "production":
            return self
        missing = [
            name
            for name, value in (
                ("DATABASE_URL", self.database_url),
                ("REGISTRY_PII_KEY", self.pii_key),
                ("REGISTRY_BLIND_INDEX_KEY", self.blind_index_key),
                (
                    "REGISTRY_SIGNING_KEY_FILE or REGISTRY_SIGNING_KEY",
                    self.signing_key_file or self.signing_key,
                ),
            )
            if not value
        ]
        if missing:
            raise ValueError(f"production requires {', '.join(missing)}")
        for name, value in (
            ("REGISTRY_PII_KEY", self.pii_key),
            ("REGISTRY_BLIND_INDEX_KEY", self.blind_index_key),
        ):
            raw = _decode_key(name, value or "")
            if len(set(raw)) < 8:
                raise ValueError(f"{name} looks like a placeholder, not a random key")
        if self.pii_key == self.blind_index_key:
            raise ValueError("REGISTRY_PII_KEY and REGISTRY_BLIND_INDEX_KEY must differ")
        if self.issuer.startswith("http://localhost"):
            raise ValueError("production requires REGISTRY_ISSUER set to the public URL")
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @cached_property
    def pii_key_bytes(self) -> bytes:
        return self._key("REGISTRY_PII_KEY", self.pii_key, "pii.key")

    @cached_property
    def blind_index_key_bytes(self) -> bytes:
        return self._key("REGISTRY_BLIND_INDEX_KEY", self.blind_index_key, "blind-index.key")

    def _key(self, name: str, value: str | None, filename: str) -> bytes:
        """A configured key, or in development one generated once into the data directory."""
        if value:
            return _decode_key(name, value)
        if self.is_production:  # pragma: no cover - refused by the validator above
            raise RuntimeError(f"{name} is not set")
        path = self.keys_dir / filename
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            _write_private(path, base64.b64encode(secrets.token_bytes(32)).decode())
        return _decode_key(name, path.read_text().strip())


def _decode_key(name: str, value: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except ValueError as exc:
        raise ValueError(f"{name} must be base64") from exc
    if len(raw) != 32:
        raise ValueError(f"{name} must decode to 32 bytes")
    return raw


def _write_private(path: Path, text: str) -> None:
    """Write a secret readable by the owner only."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def get_settings() -> Settings:
    return Settings()
