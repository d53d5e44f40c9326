"""The demo data carries the four CAST awards with their real rules, each with an open cycle."""

from __future__ import annotations

from sqlalchemy import select

from services.registry import migrate
from services.registry.awards.models import Cycle, Programme
from services.registry.core.db import make_engine, make_sessionmaker
from services.registry.demo import load_demo

from ..conftest import create_database, drop_database


def test_demo_loads_the_four_cast_awards(server_url, settings, tmp_path) -> None:
    url = create_database(server_url, "registry_demo")
    try:
        migrate.upgrade(url)
        load_demo(settings.model_copy(update={"data_dir": tmp_path}), url)
        engine = make_engine(url, pool_size=1)
        with make_sessionmaker(engine)() as session:
            rules = {p.name: p.rules for p in session.scalars(select(Programme))}
            cycles = session.scalars(select(Cycle)).all()
        engine.dispose()
    finally:
        drop_database(server_url, url)
    assert rules["中国青年科技奖"]["max_age"] == 40
    assert rules["中国青年女科学家奖"]["max_age"] == 45
    assert rules["中国青年女科学家奖"]["gender"] == "female"
    assert rules["全国杰出工程师奖"]["max_age"] is None
    assert rules["全国创新争先奖"]["teams_allowed"] is True
    assert len(cycles) == 4
