"""The demo data of the embedded default: loaded once, its sign-in details kept beside it."""

from __future__ import annotations

import json

from sqlalchemy import text

from services.registry import migrate
from services.registry.auth.passwords import verify_secret
from services.registry.core.db import make_engine
from services.registry.demo import load_demo

from .conftest import create_database, drop_database


def test_a_demo_whose_credentials_file_is_gone_gets_a_new_password_instead_of_failing(
    server_url, settings, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    url = create_database(server_url, "registry_demo")
    demo_settings = settings.model_copy(update={"data_dir": tmp_path})
    try:
        migrate.upgrade(url)
        first = load_demo(demo_settings, url)
        (tmp_path / "demo-credentials.json").unlink()
        second = load_demo(demo_settings, url)
        engine = make_engine(url, pool_size=1)
        with engine.connect() as conn:
            organisations = conn.execute(text("SELECT count(*) FROM organisation")).scalar()
            hashes = dict(conn.execute(text("SELECT username, secret_hash FROM account")).all())
        engine.dispose()
    finally:
        drop_database(server_url, url)
    assert second["password"] != first["password"]
    assert json.loads((tmp_path / "demo-credentials.json").read_text()) == second
    assert organisations == 6  # not loaded again
    assert {name for name, _ in second["accounts"]} == set(hashes)
    assert all(verify_secret(second["password"], hashed) for hashed in hashes.values())
