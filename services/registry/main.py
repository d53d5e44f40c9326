"""Application factory for uvicorn workers: settings and database URL from the environment."""

from __future__ import annotations

import os

from fastapi import FastAPI

from .app import create_app
from .core.config import get_settings


def app_from_env() -> FastAPI:
    settings = get_settings()
    url = settings.database_url or os.environ.get("REGISTRY_EMBEDDED_DATABASE_URL")
    if not url:
        raise RuntimeError("DATABASE_URL is not set (start the service with `registry serve`)")
    return create_app(settings, url)
