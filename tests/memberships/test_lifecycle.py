"""Membership types and the lifecycle rules, with a frozen clock: periods, grace, lapse,
suspension, termination, reinstatement, manual overrides, member numbers and the refresh."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import date

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from services.registry.core.clock import get_today
from services.registry.core.db import transaction
from services.registry.memberships import lifecycle
from services.registry.memberships.models import Membership, MembershipStatus, MembershipType
from services.search import documents

PROBLEM = "application/problem+json"
API = "/api/v1"


@pytest.fixture
def freeze(app):  # type: ignore[no-untyped-def]
    """Freeze the date the API applies the rules on: `freeze(date(2026, 12, 31))`."""

    def set_day(day: date) -> None:
        app.dependency_overrides[get_today] = lambda: day

    yield set_day
    app.dependency_overrides.pop(get_today, None)


@pytest.fixture
def society(factory):  # type: ignore[no-untyped-def]
    return factory.org(name="中国力学学会" + uuid.uuid4().hex[:4])


@pytest.fixture
def admin(factory, society) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return factory.caller("org_admin", society)


def problem(response, status: int) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    return response.json()


def fields_of(response) -> set[str]:  # type: ignore[no-untyped-def]
    return {e["field"] for e in response.json().get("errors", [])}


def make_type(client, society, headers, **fields) -> dict:  # type: ignore[no-untyped-def]
    body = {
        "code": "regular",
        "name": "普通会员",
        "grade": "member",
        "period": "calendar_year",
        "grace_days": 30,
        "renewal_window_days": 60,
        "member_no_format": society.code + "-{year}-{seq:06d}",
        **fields,
    }
    response = client.post(
        f"{API}/orgs/{society.code}/membership-types", json=body, headers=headers
    )
    assert response.status_code == 201, response.text
    return response.json()


def join(client, factory, society, headers, *, person=None, **fields) -> dict:  # type: ignore[no-untyped-def]
    person = person or factory.person(org=society)
    response = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(person.id), **fields},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    return response.json()


def act(client, membership: dict, action: str, headers, **body):  # type: ignore[no-untyped-def]
    return client.post(f"{API}/memberships/{membership['id']}/{action}", json=body, headers=headers)


def refresh(runtime, society, day: date) -> dict[str, int]:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        return lifecycle.refresh(session, today=day, org_ids=[society.id]).changed


def status_of(runtime, membership: dict) -> str:  # type: ignore[no-untyped-def]
    with transaction(runtime.sessions) as session:
        row = session.get(Membership, uuid.UUID(membership["id"]))
        assert row is not None
        return row.status


# --- periods and formats (pure rules) -----------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2026, 1, 31), 1, date(2026, 2, 27)),  # Feb 28 is the same "day" a month on
        (date(2026, 1, 15), 12, date(2027, 1, 14)),
        (date(2024, 2, 29), 12, date(2025, 2, 27)),
        (date(2026, 11, 30), 3, date(2027, 2, 27)),
    ],
)
def test_a_rolling_period_ends_the_day_before_the_same_day_n_months_later(start, months, end):  # type: ignore[no-untyped-def]
    kind = MembershipType(
        org_id=uuid.uuid4(), code="r", name="r", period="rolling", period_months=months
    )
    assert lifecycle.period_end(kind, start) == end


def test_calendar_year_and_life_periods() -> None:
    year = MembershipType(org_id=uuid.uuid4(), code="y", name="y", period="calendar_year")
    life = MembershipType(org_id=uuid.uuid4(), code="l", name="l", period="lifetime")
    assert lifecycle.period_end(year, date(2026, 3, 5)) == date(2026, 12, 31)
    assert lifecycle.period_end(life, date(2026, 3, 5)) is None


@pytest.mark.parametrize(
    "fmt",
    [
        "CSTAM-{year}",  # no sequence
        "{seq.__class__}",  # attribute access
        "{seq!r}",  # conversion
        "{name}-{seq}",  # unknown placeholder
        "CSTAM {seq}",  # a space is not allowed in member numbers
        "{seq:>20}",  # padding with spaces
        "{seq",  # not a format
    ],
)
def test_member_number_formats_that_are_refused(fmt: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - each has its own message
        lifecycle.check_format(fmt)


def test_member_number_formats_render() -> None:
    fmt = lifecycle.check_format("{org}-{year}-{seq:06d}")
    assert lifecycle.render(fmt, org_code="CSTAM", year=2026, seq=42) == "CSTAM-2026-000042"


# --- membership types ---------------------------------------------------------------------------


def test_types_are_configured_by_society_admins_only(client, factory, society, admin) -> None:
    created = make_type(
        client, society, admin, code="Student", grade="学生会员", period="rolling", period_months=12
    )
    assert (created["code"], created["grade"], created["period_months"]) == (
        "student",
        "student",
        12,
    )
    listed = client.get(f"{API}/orgs/{society.code}/membership-types", headers=admin).json()
    assert [t["code"] for t in listed] == ["student"]
    again = client.post(
        f"{API}/orgs/{society.code}/membership-types",
        json={"code": "student", "name": "x"},
        headers=admin,
    )
    assert problem(again, 409)["errors"][0]["field"] == "code"
    staff = factory.caller("org_staff", society)
    assert (
        client.get(f"{API}/orgs/{society.code}/membership-types", headers=staff).status_code == 200
    )
    refused = client.post(
        f"{API}/orgs/{society.code}/membership-types",
        json={"code": "x", "name": "x"},
        headers=staff,
    )
    problem(refused, 403)
    other_admin = factory.caller("org_admin", factory.org())
    for method, path in (
        ("GET", f"{API}/orgs/{society.code}/membership-types"),
        ("PATCH", f"{API}/orgs/{society.code}/membership-types/student"),
    ):
        problem(client.request(method, path, json={}, headers=other_admin), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "rolling"}, "period_months"),
        ({"period": "calendar_year", "period_months": 6}, "period_months"),
        ({"grace_days": -1}, "grace_days"),
        ({"member_no_format": "{seq.__init__}"}, "member_no_format"),
        ({"member_no_format": "NO-{year}"}, "member_no_format"),
        ({"code": "有空格 的"}, "code"),
    ],
)
def test_bad_type_definitions_are_refused(client, society, admin, body, field) -> None:  # type: ignore[no-untyped-def]
    response = client.post(
        f"{API}/orgs/{society.code}/membership-types",
        json={"code": "t1", "name": "类型", **body},
        headers=admin,
    )
    problem(response, 422)
    assert fields_of(response) == {field}


def test_changing_a_type_keeps_its_rules_consistent(client, society, admin) -> None:
    make_type(client, society, admin, code="flex", period="rolling", period_months=6)
    path = f"{API}/orgs/{society.code}/membership-types/flex"
    changed = client.patch(path, json={"period": "calendar_year", "grace_days": 10}, headers=admin)
    assert changed.status_code == 200, changed.text
    assert (changed.json()["period"], changed.json()["period_months"]) == ("calendar_year", None)
    response = client.patch(path, json={"period": "rolling"}, headers=admin)
    problem(response, 422)
    assert fields_of(response) == {"period_months"}
    problem(
        client.patch(f"{API}/orgs/{society.code}/membership-types/nope", json={}, headers=admin),
        404,
    )


# --- joining with a type: dates, grade and member number ----------------------------------------


def test_joining_with_a_type_sets_grade_dates_and_the_next_member_number(
    client, factory, society, admin, freeze
) -> None:
    freeze(date(2026, 3, 5))
    make_type(client, society, admin, code="senior", grade="senior")
    first = join(client, factory, society, admin, type_code="senior")
    assert (first["grade"], first["type_code"], first["status"]) == ("senior", "senior", "active")
    assert (first["joined_on"], first["valid_until"]) == ("2026-03-05", "2026-12-31")
    assert first["member_no"] == f"{society.code}-2026-000001"
    # A number given by hand that the sequence would reach is skipped, never handed out twice.
    join(client, factory, society, admin, member_no=f"{society.code}-2025-000002")
    third = join(client, factory, society, admin, type_code="senior", joined_on="2025-07-01")
    assert third["member_no"] == f"{society.code}-2025-000003"
    assert third["valid_until"] == "2025-12-31"
    assert third["status"] == "lapsed"  # its grace ended on 2026-01-30
    problem(
        client.post(
            f"{API}/orgs/{society.code}/memberships",
            json={"person_id": str(factory.person(org=society).id), "type_code": "nope"},
            headers=admin,
        ),
        422,
    )


def test_an_old_member_entered_with_only_a_past_end_has_no_joining_date(
    client, factory, society, admin, freeze
) -> None:  # type: ignore[no-untyped-def]
    freeze(date(2026, 6, 30))
    make_type(client, society, admin)
    # Their membership ended last year and nobody knows when they joined: not "today".
    old = join(client, factory, society, admin, type_code="regular", valid_until="2025-12-31")
    assert (old["joined_on"], old["valid_until"], old["status"]) == (None, "2025-12-31", "lapsed")
    assert old["member_no"] == f"{society.code}-2026-000001"
    current = join(client, factory, society, admin, type_code="regular", valid_until="2026-06-30")
    assert (current["joined_on"], current["status"]) == ("2026-06-30", "active")


def test_member_numbers_drawn_at_once_are_all_different(client, factory, society, admin) -> None:
    make_type(client, society, admin, code="regular")
    people = [factory.person(org=society) for _ in range(6)]
    barrier = threading.Barrier(len(people))
    results: list = []

    def attempt(person) -> None:  # type: ignore[no-untyped-def]
        barrier.wait()
        results.append(
            client.post(
                f"{API}/orgs/{society.code}/memberships",
                json={"person_id": str(person.id), "type_code": "regular"},
                headers=admin,
            )
        )

    threads = [threading.Thread(target=attempt, args=(p,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join(20)
    assert [r.status_code for r in results] == [201] * len(people)
    numbers = sorted(r.json()["member_no"] for r in results)
    assert len(set(numbers)) == len(people)
    assert [int(n.rsplit("-", 1)[1]) for n in numbers] == list(range(1, len(people) + 1))


# --- the rule over time -------------------------------------------------------------------------


def test_active_then_grace_then_lapsed_as_the_days_pass(
    client, factory, society, admin, runtime, db
):  # type: ignore[no-untyped-def]
    make_type(client, society, admin, grace_days=30)
    expert = factory.person(org=society, expert_opt_in=True)
    m = join(
        client, factory, society, admin, person=expert, type_code="regular", joined_on="2026-01-10"
    )
    assert m["valid_until"] == "2026-12-31"
    assert refresh(runtime, society, date(2026, 12, 31)) == {}
    assert refresh(runtime, society, date(2027, 1, 1)) == {"grace": 1}
    assert status_of(runtime, m) == "grace"
    assert refresh(runtime, society, date(2027, 1, 30)) == {}
    assert refresh(runtime, society, date(2027, 1, 31)) == {"lapsed": 1}
    assert refresh(runtime, society, date(2027, 1, 31)) == {}  # safe to run again
    db.rollback()
    rows = db.execute(
        text(
            "SELECT field, old_value, new_value, actor, source FROM change_history"
            " WHERE entity = 'membership' AND entity_id = :id ORDER BY id"
        ),
        {"id": m["id"]},
    ).all()
    assert [tuple(r) for r in rows[1:]] == [
        ("status", "active", "grace", "system", "refresh"),
        ("status", "grace", "lapsed", "system", "refresh"),
    ]
    outbox = db.execute(
        text("SELECT count(*) FROM search_outbox WHERE person_id = :p"), {"p": m["person_id"]}
    ).scalar_one()
    assert outbox == 3  # profile, joining, lapse (active and grace read the same to search)


def test_refresh_leaves_the_callers_settings_as_they_were(runtime) -> None:  # type: ignore[no-untyped-def]
    with runtime.sessions() as session:
        show = "SELECT current_setting('work_mem'), current_setting('jit')"
        before = tuple(session.execute(text(show)).one())
        lifecycle.refresh(session, today=date(2026, 1, 1), org_ids=[uuid.uuid4()])
        lifecycle.refresh(session, today=date(2026, 1, 1))
        assert tuple(session.execute(text(show)).one()) == before
        session.rollback()  # the other tests' memberships stay as they were


def test_refresh_knows_who_is_searchable_as_the_search_documents_do() -> None:
    assert lifecycle.SEARCHABLE == documents.SEARCHABLE


def test_refresh_queues_only_searchable_people_and_each_once(
    client, factory, society, admin, runtime, db
):  # type: ignore[no-untyped-def]
    make_type(client, society, admin, grace_days=0)
    other = factory.org(name="中国化学会" + uuid.uuid4().hex[:4])
    expert = factory.person(org=society, expert_opt_in=True)
    private = factory.person(org=society)
    for person in (expert, private):
        join(client, factory, society, admin, person=person, type_code="regular",
             joined_on="2026-01-10")  # fmt: skip
    factory.membership(other, expert, joined_on=date(2026, 1, 10), valid_until=date(2026, 12, 31))
    db.rollback()
    db.execute(text("DELETE FROM search_outbox"))
    db.commit()
    with transaction(runtime.sessions) as session:
        result = lifecycle.refresh(session, today=date(2027, 1, 1), org_ids=[society.id, other.id])
    assert result.changed == {"lapsed": 3}
    assert result.queued_for_search == 1
    queued = db.execute(text("SELECT person_id FROM search_outbox")).scalars().all()
    assert queued == [expert.id]  # both of the expert's memberships lapsed: one row
    history = db.execute(
        text(
            "SELECT count(*) FROM change_history WHERE entity = 'membership'"
            " AND field = 'status' AND source = 'refresh' AND actor = 'system'"
            " AND reason = 'dates' AND entity_id IN (SELECT id FROM membership"
            " WHERE org_id IN (:a, :b))"
        ),
        {"a": society.id, "b": other.id},
    ).scalar_one()
    assert history == 3  # every change is in its membership's history, searchable or not


def test_refresh_knows_every_status_the_tables_allow() -> None:
    # The refresh reads each row's old status by joining it to this list: a status missing
    # from it would never be refreshed.
    assert tuple(MembershipStatus) == lifecycle.STATUSES


def test_refresh_history_holds_each_old_status_and_one_change_id_per_run(
    client, factory, society, admin, runtime, db
):  # type: ignore[no-untyped-def]
    """Memberships stored in different statuses move in one run; each history entry has the
    status its membership had, all share the run's change id, shown by the history API."""
    held = {"status": "suspended", "status_override": "suspended", "override_reason": "欠费"}
    stored = {
        "active": {"status": "active"},
        "grace": {"status": "grace"},
        "stale_lapsed": {"status": "lapsed"},  # ended later than an old import thought
        "suspended": held,
    }
    valid_until = {
        "active": date(2026, 12, 31),
        "grace": date(2026, 12, 31),
        "stale_lapsed": date(2027, 6, 30),
        "suspended": date(2026, 12, 31),
    }
    ids = {}
    for name, fields in stored.items():
        person = factory.person(org=society)
        row = factory.membership(
            society, person, joined_on=date(2026, 1, 1), valid_until=valid_until[name], **fields
        )
        ids[name] = row.id
    with transaction(runtime.sessions) as session:
        first = lifecycle.refresh(session, today=date(2027, 1, 1), org_ids=[society.id])
    with transaction(runtime.sessions) as session:
        second = lifecycle.refresh(session, today=date(2027, 3, 1), org_ids=[society.id])
    assert first.changed == {"lapsed": 2, "active": 1}  # no type: no grace
    assert second.changed == {}
    assert first.change_id is not None
    assert second.change_id is None
    db.rollback()
    rows = db.execute(
        text(
            "SELECT entity_id, old_value, new_value, change_id, reason FROM change_history"
            " WHERE entity = 'membership' AND entity_id = ANY(:ids)"
        ),
        {"ids": list(ids.values())},
    ).all()
    by_id = {r.entity_id: (r.old_value, r.new_value) for r in rows}
    assert by_id == {
        ids["active"]: ("active", "lapsed"),
        ids["grace"]: ("grace", "lapsed"),
        ids["stale_lapsed"]: ("lapsed", "active"),
    }  # the suspension holds: no entry
    assert {(r.change_id, r.reason) for r in rows} == {(first.change_id, "dates")}
    shown = client.get(f"{API}/memberships/{ids['grace']}/history", headers=admin).json()
    assert [(e["field"], e["old_value"], e["new_value"], e["actor"], e["change_id"])
            for e in shown["items"]] == [
        ("status", "grace", "lapsed", "system", str(first.change_id))
    ]  # fmt: skip


def test_a_membership_renewed_while_the_refresh_runs_is_not_lapsed(factory, society, runtime, db):  # type: ignore[no-untyped-def]
    """The refresh checks a row changed under it again on its newest version: a renewal
    committed while the refresh waits on the row's lock keeps the membership active."""
    person = factory.person(org=society)
    renewed = factory.membership(
        society, person, joined_on=date(2026, 1, 1), valid_until=date(2026, 12, 31)
    )
    untouched = factory.membership(
        society, factory.person(org=society), joined_on=date(2026, 1, 1),
        valid_until=date(2026, 12, 31),
    )  # fmt: skip
    results: list[lifecycle.RefreshResult] = []
    renewal = runtime.sessions()
    renewal.execute(
        text("UPDATE membership SET valid_until = :d, version = version + 1 WHERE id = :id"),
        {"d": date(2027, 12, 31), "id": renewed.id},
    )  # holds the row's lock until it commits

    def run() -> None:
        with transaction(runtime.sessions) as session:
            results.append(lifecycle.refresh(session, today=date(2027, 1, 1), org_ids=[society.id]))

    worker = threading.Thread(target=run)
    worker.start()
    waiting = 0
    for _ in range(200):  # until the refresh waits on the renewal's lock
        waiting = db.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND datname = current_database() AND pid <> pg_backend_pid()"
                " AND query LIKE '%UPDATE membership m%'"
            )
        ).scalar_one()
        db.rollback()
        if waiting:
            break
        worker.join(0.05)
    assert waiting
    renewal.commit()
    renewal.close()
    worker.join(30)
    assert len(results) == 1
    assert results[0].changed == {"lapsed": 1}
    statuses = dict(
        db.execute(
            text("SELECT id, status FROM membership WHERE id IN (:a, :b)"),
            {"a": renewed.id, "b": untouched.id},
        ).all()
    )
    assert statuses == {renewed.id: "active", untouched.id: "lapsed"}
    entries = db.execute(
        text("SELECT count(*) FROM change_history WHERE entity_id = :id"), {"id": renewed.id}
    ).scalar_one()
    assert entries == 0


def test_without_a_type_there_is_no_grace(client, factory, society, admin, runtime, freeze) -> None:
    freeze(date(2026, 1, 1))
    m = join(client, factory, society, admin, joined_on="2026-01-01", valid_until="2026-06-30")
    assert refresh(runtime, society, date(2026, 6, 30)) == {}
    assert refresh(runtime, society, date(2026, 7, 1)) == {"lapsed": 1}
    assert status_of(runtime, m) == "lapsed"


def test_a_life_membership_never_lapses(client, factory, society, admin, runtime, freeze) -> None:
    freeze(date(2026, 5, 1))
    make_type(client, society, admin, code="honour", grade="honorary", period="lifetime")
    m = join(client, factory, society, admin, type_code="honour")
    assert (m["valid_until"], m["status"]) == (None, "active")
    assert refresh(runtime, society, date(2090, 1, 1)) == {}
    problem(act(client, m, "renew", admin, reason="续费"), 409)
    # Nor to a given date, which would give it an end and make it lapse.
    refused = problem(act(client, m, "renew", admin, reason="续费", until="2027-12-31"), 409)
    assert refused["type"].endswith("nothing-to-renew")
    got = client.get(f"{API}/memberships/{m['id']}", headers=admin).json()
    assert (got["valid_until"], got["status"]) == (None, "active")


def test_a_membership_moved_to_a_life_type_loses_its_end_and_never_lapses(  # type: ignore[no-untyped-def]
    client, factory, society, admin, runtime, freeze
) -> None:
    freeze(date(2026, 5, 1))
    make_type(client, society, admin)
    make_type(client, society, admin, code="honour", grade="honorary", period="lifetime")
    m = join(client, factory, society, admin, type_code="regular")
    assert m["valid_until"] == "2026-12-31"
    r = client.patch(
        f"{API}/memberships/{m['id']}",
        json={"type_code": "honour", "grade": "honorary", "reason": "授予终身荣誉会员"},
        headers=admin,
    )
    assert r.status_code == 200, r.text
    assert (r.json()["valid_until"], r.json()["status"]) == (None, "active")
    assert refresh(runtime, society, date(2027, 6, 1)) == {}
    assert status_of(runtime, m) == "active"
    other = join(client, factory, society, admin, type_code="regular")
    r = client.patch(
        f"{API}/memberships/{other['id']}",
        json={"type_code": "honour", "valid_until": "2030-12-31", "reason": "终身"},
        headers=admin,
    )
    problem(r, 422)
    assert fields_of(r) == {"valid_until"}


# --- renewal ------------------------------------------------------------------------------------


def test_renewal_in_the_window_extends_by_one_period(client, factory, society, admin, freeze, db):  # type: ignore[no-untyped-def]
    freeze(date(2026, 2, 1))
    make_type(client, society, admin, renewal_window_days=60, grace_days=30)
    m = join(client, factory, society, admin, type_code="regular")
    freeze(date(2026, 10, 1))
    early = problem(act(client, m, "renew", admin, reason="续费"), 409)
    assert "2026-11-01" in early["detail"]
    freeze(date(2026, 11, 1))
    renewed = act(client, m, "renew", admin, reason="2027年会费")
    assert renewed.status_code == 200, renewed.text
    assert (renewed.json()["valid_until"], renewed.json()["joined_on"]) == (
        "2027-12-31",
        "2026-02-01",
    )
    history = client.get(f"{API}/memberships/{m['id']}/history", headers=admin).json()["items"]
    assert (history[-1]["field"], history[-1]["reason"]) == ("valid_until", "2027年会费")


def test_renewal_in_grace_continues_and_after_lapse_starts_today(
    client, factory, society, admin, freeze
):  # type: ignore[no-untyped-def]
    freeze(date(2026, 3, 1))
    make_type(
        client, society, admin, code="roll", period="rolling", period_months=12, grace_days=30
    )
    m = join(client, factory, society, admin, type_code="roll")
    assert m["valid_until"] == "2027-02-28"
    freeze(date(2027, 3, 15))  # in grace: the new period follows on without a gap
    body = act(client, m, "renew", admin, reason="续费").json()
    assert (body["valid_until"], body["status"]) == ("2028-02-29", "active")
    freeze(date(2028, 6, 1))  # lapsed: the new period starts today
    lapsed = join(client, factory, society, admin, type_code="roll", joined_on="2027-01-01")
    assert lapsed["status"] == "lapsed"
    body = act(client, lapsed, "renew", admin, reason="重新缴费").json()
    assert (body["valid_until"], body["status"]) == ("2029-05-31", "active")


def test_renewal_to_a_given_date_and_its_limits(client, factory, society, admin, freeze) -> None:
    freeze(date(2026, 6, 1))
    m = join(client, factory, society, admin, joined_on="2026-01-01", valid_until="2026-12-31")
    response = act(client, m, "renew", admin, reason="续费")
    problem(response, 422)
    assert fields_of(response) == {"until"}
    problem(act(client, m, "renew", admin, reason="续费", until="2026-12-01"), 422)
    body = act(client, m, "renew", admin, reason="续费", until="2028-12-31").json()
    assert body["valid_until"] == "2028-12-31"
    problem(act(client, m, "renew", admin), 422)  # no reason


def test_far_dates_are_field_errors_not_server_errors(client, factory, society, admin, freeze, db):  # type: ignore[no-untyped-def]
    freeze(date(2026, 6, 30))
    make_type(client, society, admin, code="roll", period="rolling", period_months=12)
    response = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(factory.person(org=society).id), "type_code": "roll",
              "joined_on": "9999-06-01"},
        headers=admin,
    )  # fmt: skip
    problem(response, 422)
    assert fields_of(response) == {"joined_on"}
    m = join(client, factory, society, admin, joined_on="2020-01-01", valid_until="2199-06-30")
    path = f"{API}/memberships/{m['id']}"
    response = client.patch(path, json={"valid_until": "2250-01-01"}, headers=admin)
    problem(response, 422)
    assert fields_of(response) == {"valid_until"}
    response = act(client, m, "renew", admin, reason="续费", until="2200-06-30")
    problem(response, 422)
    assert fields_of(response) == {"until"}
    # An end stored before dates were bounded (an old list's 9999-12-31 for "no end").
    db.execute(
        text("UPDATE membership SET valid_until = '9999-12-31' WHERE id = :m"), {"m": m["id"]}
    )
    db.commit()
    response = act(client, m, "renew", admin, reason="续费")
    problem(response, 422)
    assert fields_of(response) == {"valid_until"}


# --- suspension, termination, reinstatement -----------------------------------------------------


def test_suspend_holds_until_reinstated(client, factory, society, admin, runtime, freeze) -> None:
    freeze(date(2026, 6, 1))
    make_type(client, society, admin)
    m = join(client, factory, society, admin, type_code="regular")
    body = act(client, m, "suspend", admin, reason="违反章程").json()
    assert (body["status"], body["status_override"], body["override_reason"]) == (
        "suspended",
        "suspended",
        "违反章程",
    )
    assert refresh(runtime, society, date(2026, 6, 2)) == {}
    problem(act(client, m, "suspend", admin, reason="again"), 409)
    problem(act(client, m, "renew", admin, reason="续费"), 409)
    body = act(client, m, "reinstate", admin, reason="整改完成").json()
    assert (body["status"], body["status_override"], body["override_reason"]) == (
        "active",
        None,
        None,
    )
    problem(act(client, m, "reinstate", admin, reason="again"), 409)


def test_terminate_with_a_reason_and_what_follows(
    client, factory, society, admin, freeze, db
) -> None:  # type: ignore[no-untyped-def]
    freeze(date(2026, 6, 1))
    other = join(client, factory, society, admin, joined_on="2026-01-01", valid_until="2026-12-31")
    # The contract's body, {"reason"}, alone: a withdrawal (expulsion and death are said).
    plain = act(client, other, "terminate", admin, reason="不再参加活动")
    assert plain.status_code == 200, plain.text
    assert (plain.json()["status"], plain.json()["termination_reason"]) == (
        "terminated",
        "withdrawal",
    )
    m = join(client, factory, society, admin, joined_on="2026-01-01", valid_until="2026-12-31")
    body = act(client, m, "terminate", admin, reason="本人申请", termination_reason="退会").json()
    assert (body["status"], body["termination_reason"], body["ended_on"]) == (
        "terminated",
        "withdrawal",
        "2026-06-01",
    )
    db.rollback()
    version = db.execute(
        text("SELECT version FROM membership WHERE id = :id"), {"id": m["id"]}
    ).scalar_one()
    for action, body in (
        ("renew", {"until": "2030-01-01"}),
        ("suspend", {}),
        ("terminate", {"termination_reason": "death"}),
    ):
        refused = problem(act(client, m, action, admin, reason="试试", **body), 409)
        assert refused["type"].endswith("membership-terminated")
    db.rollback()
    assert (
        db.execute(
            text("SELECT version FROM membership WHERE id = :id"), {"id": m["id"]}
        ).scalar_one()
        == version
    )
    body = act(client, m, "reinstate", admin, reason="重新入会").json()
    assert (body["status"], body["termination_reason"], body["ended_on"]) == ("active", None, None)


def test_a_membership_ended_by_death_cannot_be_reinstated(client, factory, society, admin) -> None:
    m = join(client, factory, society, admin, joined_on="2020-01-01")
    body = act(client, m, "terminate", admin, reason="去世").json()
    assert body["termination_reason"] == "death"
    problem(act(client, m, "reinstate", admin, reason="误操作"), 409)
    history = client.get(f"{API}/memberships/{m['id']}/history", headers=admin).json()["items"]
    assert {h["field"] for h in history} >= {"status", "status_override", "termination_reason"}
    assert {h["reason"] for h in history[1:]} == {"去世"}


# --- manual override ----------------------------------------------------------------------------


def test_a_manual_status_is_kept_until_cleared(
    client, factory, society, admin, runtime, freeze
) -> None:
    freeze(date(2026, 6, 1))
    m = join(client, factory, society, admin, joined_on="2025-01-01", valid_until="2025-12-31")
    assert m["status"] == "lapsed"
    path = f"{API}/memberships/{m['id']}"
    response = client.patch(path, json={"status": "active"}, headers=admin)
    problem(response, 422)
    assert fields_of(response) == {"reason"}
    body = client.patch(path, json={"status": "active", "reason": "会费减免"}, headers=admin).json()
    assert (body["status"], body["status_override"]) == ("active", "active")
    assert refresh(runtime, society, date(2026, 7, 1)) == {}
    problem(client.patch(path, json={"status": "terminated", "reason": "x"}, headers=admin), 422)
    body = client.patch(
        path, json={"clear_override": True, "reason": "减免到期"}, headers=admin
    ).json()
    assert (body["status"], body["status_override"], body["override_reason"]) == (
        "lapsed",
        None,
        None,
    )


def test_renewing_lifts_a_lapse_set_by_hand_and_keeps_an_active_one(
    client, factory, society, admin, freeze
) -> None:  # type: ignore[no-untyped-def]
    freeze(date(2026, 11, 1))
    make_type(client, society, admin)
    m = join(client, factory, society, admin, type_code="regular")
    path = f"{API}/memberships/{m['id']}"
    held = client.patch(path, json={"status": "lapsed", "reason": "待缴费"}, headers=admin)
    assert held.json()["status"] == "lapsed"
    renewed = act(client, m, "renew", admin, reason="2027年会费已缴")
    assert renewed.status_code == 200, renewed.text
    body = renewed.json()
    assert (body["valid_until"], body["status"], body["status_override"]) == (
        "2027-12-31",
        "active",
        None,
    )
    # A good standing given by hand (dues waived) is the society's decision: it stays.
    waived = join(client, factory, society, admin, type_code="regular")
    client.patch(
        f"{API}/memberships/{waived['id']}",
        json={"status": "active", "reason": "会费减免"},
        headers=admin,
    )
    body = act(client, waived, "renew", admin, reason="续费").json()
    assert (body["status"], body["status_override"]) == ("active", "active")


def test_pending_waits_for_approval_then_follows_the_dates(
    client, factory, society, admin, runtime, freeze
) -> None:  # type: ignore[no-untyped-def]
    freeze(date(2026, 6, 1))
    m = join(
        client,
        factory,
        society,
        admin,
        status="pending",
        joined_on="2026-06-01",
        valid_until="2026-12-31",
    )
    assert m["status"] == "pending"
    assert refresh(runtime, society, date(2027, 6, 1)) == {}
    problem(act(client, m, "renew", admin, reason="x"), 409)
    with runtime.sessions.begin() as session:
        session.execute(
            text("DELETE FROM search_outbox WHERE person_id = :p"), {"p": m["person_id"]}
        )
    body = client.patch(
        f"{API}/memberships/{m['id']}", json={"status": "active"}, headers=admin
    ).json()
    assert (body["status"], body["status_override"]) == ("active", None)
    # The approval is a change like any other: in the history, and the member's search
    # document (which now lists the society) is rewritten.
    with runtime.sessions() as session:
        approved = session.execute(
            text("SELECT old_value, new_value FROM change_history"
                 " WHERE entity_id = :m AND field = 'status'"),
            {"m": m["id"]},
        ).all()  # fmt: skip
        queued = session.scalar(
            text("SELECT count(*) FROM search_outbox WHERE person_id = :p"),
            {"p": m["person_id"]},
        )
    assert [tuple(row) for row in approved] == [("pending", "active")]
    assert queued >= 1
    assert refresh(runtime, society, date(2027, 6, 1)) == {"lapsed": 1}


def test_approving_a_pending_typed_membership_draws_its_number_and_starts_its_period(
    client, factory, society, admin, freeze
) -> None:  # type: ignore[no-untyped-def]
    freeze(date(2026, 3, 1))
    make_type(client, society, admin, code="roll", period="rolling", period_months=12)
    m = join(client, factory, society, admin, type_code="roll", status="pending")
    assert (m["member_no"], m["joined_on"], m["valid_until"]) == (None, "2026-03-01", "2027-02-28")
    freeze(date(2026, 6, 30))  # the council approves four months later: a full year from now
    path = f"{API}/memberships/{m['id']}"
    approved = client.patch(path, json={"status": "active", "reason": "理事会通过"}, headers=admin)
    assert approved.status_code == 200, approved.text
    got = approved.json()
    assert (got["status"], got["member_no"]) == ("active", f"{society.code}-2026-000001")
    assert (got["joined_on"], got["valid_until"]) == ("2026-03-01", "2027-06-29")
    history = client.get(f"{path}/history", headers=admin).json()["items"]
    assert {h["field"] for h in history if h["reason"] == "理事会通过"} == {
        "status", "awaiting_approval", "member_no", "valid_until",
    }  # fmt: skip
    # A number or an end given with the approval is kept; a later end is not shortened.
    given = join(client, factory, society, admin, type_code="roll", status="pending",
                 valid_until="2028-12-31")  # fmt: skip
    approval = {"status": "active", "member_no": "HAND-1"}
    got = client.patch(f"{API}/memberships/{given['id']}", json=approval, headers=admin).json()
    assert (got["member_no"], got["valid_until"]) == ("HAND-1", "2028-12-31")


def test_lifting_a_hold_on_a_pending_membership_does_not_approve_it(
    client, factory, society, admin, runtime, freeze
) -> None:  # type: ignore[no-untyped-def]
    freeze(date(2026, 6, 30))
    pending = {"status": "pending", "joined_on": "2026-06-01", "valid_until": "2026-12-31"}
    suspended = join(client, factory, society, admin, **pending)
    assert (suspended["status"], suspended["awaiting_approval"]) == ("pending", True)
    held = act(client, suspended, "suspend", admin, reason="资料待核").json()
    assert (held["status"], held["awaiting_approval"]) == ("suspended", True)
    problem(act(client, suspended, "renew", admin, reason="续费"), 409)
    back = act(client, suspended, "reinstate", admin, reason="资料已核").json()
    assert (back["status"], back["status_override"]) == ("pending", None)

    ended = join(client, factory, society, admin, **pending)
    act(client, ended, "terminate", admin, reason="退会")
    back = act(client, ended, "reinstate", admin, reason="申请人回来了").json()
    assert (back["status"], back["ended_on"]) == ("pending", None)

    manual = join(client, factory, society, admin, **pending)
    path = f"{API}/memberships/{manual['id']}"
    lapsed = client.patch(path, json={"status": "lapsed", "reason": "待缴费"}, headers=admin)
    assert lapsed.json()["status"] == "lapsed"
    # Good standing by hand would be an approval in disguise.
    refused = problem(client.patch(path, json={"status": "active", "reason": "x"},
                                   headers=admin), 409)  # fmt: skip
    assert refused["type"].endswith("membership-pending")
    cleared = client.patch(path, json={"clear_override": True}, headers=admin).json()
    assert (cleared["status"], cleared["awaiting_approval"]) == ("pending", True)
    assert refresh(runtime, society, date(2027, 6, 1)) == {}
    approved = client.patch(path, json={"status": "active"}, headers=admin).json()
    assert (approved["status"], approved["awaiting_approval"]) == ("active", False)
    # Once approved, a suspension lifted lets the dates decide again.
    act(client, approved, "suspend", admin, reason="欠费")
    assert act(client, approved, "reinstate", admin, reason="已缴").json()["status"] == "active"


# --- who may act --------------------------------------------------------------------------------


def test_actions_are_scoped_to_the_society(client, factory, society, admin) -> None:
    m = join(client, factory, society, admin, joined_on="2026-01-01")
    other = factory.caller("org_admin", factory.org())
    member = factory.caller("member")
    for action in ("renew", "suspend", "terminate", "reinstate"):
        problem(act(client, m, action, other, reason="去世"), 404)
        problem(act(client, m, action, member, reason="去世"), 403)
    problem(client.get(f"{API}/memberships/{m['id']}/history", headers=other), 404)
    staff = factory.caller("org_staff", society)
    assert act(client, m, "suspend", staff, reason="欠费").status_code == 200


# --- the command --------------------------------------------------------------------------------


def test_registry_memberships_refresh(
    client, factory, society, admin, database_url, monkeypatch, freeze
) -> None:  # type: ignore[no-untyped-def]
    from services.registry.cli import app as cli

    freeze(date(2026, 2, 1))
    join(client, factory, society, admin, joined_on="2026-01-01", valid_until="2026-03-31")
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = CliRunner().invoke(
        cli, ["memberships", "refresh", "--today", "2026-04-01", "--org", society.code, "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output.strip().splitlines()[-1])
    assert (summary["changed"], summary["by_status"]) == (1, {"lapsed": 1})
    assert summary["today"] == "2026-04-01"
    again = CliRunner().invoke(
        cli, ["memberships", "refresh", "--today", "2026-04-01", "--org", society.code]
    )
    assert "0 changed" in again.output
    bad = CliRunner().invoke(cli, ["memberships", "refresh", "--org", "NOSUCHORG"])
    assert bad.exit_code == 1
