"""The OpenAPI document, rendered the same way for export and for the drift test."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .app import create_app
from .core.config import Settings


def document() -> str:
    """The app's OpenAPI JSON; built with throwaway keys since no request is served."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(env="development", data_dir=Path(tmp))
        app = create_app(settings, "postgresql://localhost/unused")
        spec = app.openapi()
        app.state.runtime.engine.dispose()
    return json.dumps(spec, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
