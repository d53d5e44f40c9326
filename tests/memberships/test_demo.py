"""The demo shows the membership platform: types, grace and lapse, a waiting application,
group members under a cap and a council with its seats; loading it twice changes nothing."""

from __future__ import annotations

from sqlalchemy import func, select, text

from services.registry import migrate
from services.registry.core.db import make_engine, make_sessionmaker
from services.registry.demo import load_demo

from ..conftest import create_database, drop_database


def test_demo_shows_the_membership_platform(server_url, settings, tmp_path) -> None:
    url = create_database(server_url, "registry_demo")
    demo_settings = settings.model_copy(update={"data_dir": tmp_path})
    try:
        migrate.upgrade(url)
        credentials = load_demo(demo_settings, url)
        assert load_demo(demo_settings, url)["password"] == credentials["password"]  # once
        engine = make_engine(url, pool_size=1)
        with make_sessionmaker(engine)() as session:

            def rows(sql: str) -> list[tuple]:  # type: ignore[type-arg]
                return [tuple(r) for r in session.execute(text(sql))]

            types = rows(
                "SELECT o.code, t.code FROM membership_type t"
                " JOIN organisation o ON o.id = t.org_id ORDER BY 1, 2"
            )
            statuses = dict(rows("SELECT status, count(*) FROM membership GROUP BY status"))
            untyped = rows(
                "SELECT count(*) FROM membership m JOIN organisation o ON o.id = m.org_id"
                " WHERE o.code IN ('CSTAM', 'CCF', 'CCS') AND m.type_id IS NULL"
                " AND m.grade IN ('member', 'student')"
            )
            applications = rows(
                "SELECT o.code, a.status FROM membership_application a"
                " JOIN organisation o ON o.id = a.org_id"
            )
            groups = rows("SELECT count(*) FROM group_membership WHERE status = 'active'")
            caps = rows("SELECT group_member_cap FROM membership_policy")
            seats = session.scalar(select(func.count()).select_from(text("body_seat")))
            histories = rows(
                "SELECT count(*) FROM change_history WHERE entity = 'membership'"
                " AND field = 'status' AND source = 'demo'"
            )
        engine.dispose()
    finally:
        drop_database(server_url, url)
    assert ("CCF", "student") in types
    assert ("CSTAM", "regular") in types
    assert (statuses.get("grace"), statuses.get("lapsed")) == (1, 1)
    assert untyped == [(0,)]
    assert applications == [("CCF", "submitted")]
    assert (groups, caps) == ([(2,)], [(30,)])
    assert seats == 7
    assert histories == [(2,)]  # the rules' moves are in the memberships' history
