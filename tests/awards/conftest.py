"""Awards fixtures: a federation with two channel societies, a programme and a cycle per test."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from services.registry.core import civil_date
from services.registry.people.models import Person
from services.search import worker

from ..factories import Factory, unique_code

API = "/api/v1/awards"
PROBLEM = "application/problem+json"
CUTOFF = date(2025, 6, 30)  # frozen: ages are computed at this day, whatever today is


@dataclass
class Awards:
    """A small federation: ROOT owns programmes, A and B nominate, a committee and reviewers."""

    client: TestClient
    factory: Factory
    runtime: Any
    root: Any
    a: Any
    b: Any
    admin: dict[str, str]
    staff_a: dict[str, str]
    staff_b: dict[str, str]
    committee: dict[str, str]
    token: str = field(default_factory=lambda: uuid.uuid4().hex[:8])

    # --- builders -------------------------------------------------------------------------

    def programme(self, rules: dict[str, Any] | None = None, **fields: Any) -> dict[str, Any]:
        body = {
            "code": fields.pop("code", None) or unique_code("P"),
            "name": fields.pop("name", "测试奖"),
            "owner_org_code": fields.pop("owner_org_code", self.root.code),
            "kind": fields.pop("kind", "award"),
            "rules": rules or {},
            **fields,
        }
        r = self.client.post(f"{API}/programmes", json=body, headers=self.admin)
        assert r.status_code == 201, r.text
        return r.json()

    def cycle(
        self, programme: dict[str, Any], *, quota_a: int = 5, quota_b: int = 5, **fields: Any
    ) -> dict[str, Any]:
        today = date.today()
        body = {
            "year": fields.pop("year", 2025),
            "nominations_open": (today - timedelta(days=10)).isoformat(),
            "nominations_close": (today + timedelta(days=10)).isoformat(),
            "age_cutoff_date": CUTOFF.isoformat(),
            "channels": [
                {"org_code": self.a.code, "quota": quota_a},
                {"org_code": self.b.code, "quota": quota_b},
            ],
            "reviewers_per_nomination": 2,
            "max_load": 3,
            **fields,
        }
        r = self.client.post(
            f"{API}/programmes/{programme['code']}/cycles", json=body, headers=self.admin
        )
        assert r.status_code == 201, r.text
        return r.json()

    def nominee(self, org: Any | None = None, **fields: Any) -> Person:
        """A person recorded by (and a member of) a channel society, A by default."""
        org = org or self.a
        fields.setdefault("name", "候选人" + uuid.uuid4().hex[:4])
        fields.setdefault("gender", "female")
        fields.setdefault("birth_date", date(1990, 1, 1))
        fields.setdefault("region_of_origin", "mainland")
        person = self.factory.person(org=org, **fields)
        self.factory.membership(org, person, member_no=unique_code("M"), grade="member")
        return person

    def nominate(
        self, cycle: dict[str, Any], person: Person, org: Any | None = None, **body: Any
    ) -> Any:
        org = org or self.a
        headers = self.staff_a if org is self.a else self.staff_b
        return self.client.post(
            f"{API}/cycles/{cycle['id']}/nominations",
            json={"nominee_person_id": str(person.id), "channel_org_code": org.code, **body},
            headers=headers,
        )

    def submit(self, nomination: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
        return self.client.post(
            f"{API}/nominations/{nomination['id']}/submit", headers=headers or self.staff_a
        )

    def eligible(self, cycle: dict[str, Any], person: Person, org: Any | None = None) -> dict:
        r = self.nominate(cycle, person, org)
        assert r.status_code == 201, r.text
        headers = self.staff_a if (org or self.a) is self.a else self.staff_b
        s = self.submit(r.json(), headers)
        assert s.status_code == 200, s.text
        assert s.json()["status"] == "eligible"
        return s.json()

    def expert(self, *, fields: list[str] | None = None, **values: Any) -> Person:
        """An opted-in expert in the pool (not a member of A or B)."""
        values.setdefault("name", "专家" + uuid.uuid4().hex[:4])
        values.setdefault("gender", "male")
        values.setdefault("discipline_codes", ["520"])
        values.setdefault("institution", "专家大学" + uuid.uuid4().hex[:6])
        return self.factory.person(
            research_fields=fields or [f"topic{self.token}"], expert_opt_in=True, **values
        )

    def reviewer(self, person: Person) -> dict[str, str]:
        return self.factory.caller("reviewer", person=person)

    def drain(self) -> None:
        while worker.drain(self.runtime.sessions, self.runtime.search):
            pass


@pytest.fixture(scope="module")
def federation(runtime) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """One tree per module (tests make their own programmes, cycles and people): other suites
    list organisations and expect the test database not to hold hundreds."""
    factory = Factory(runtime)
    root = factory.org(kind="federation", code=unique_code("ROOT"))
    a = factory.org(parent=root.code, code=unique_code("A"))
    b = factory.org(parent=root.code, code=unique_code("B"))
    return {
        "root": root,
        "a": a,
        "b": b,
        "admin": factory.caller("platform_admin"),
        "staff_a": factory.caller("org_staff", a),
        "staff_b": factory.caller("org_staff", b),
        "committee": factory.caller("committee", root),
    }


@pytest.fixture
def aw(client, factory, runtime, federation) -> Awards:  # type: ignore[no-untyped-def]
    return Awards(client=client, factory=factory, runtime=runtime, **federation)


def problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.text
    body = response.json()
    assert body["status"] == status
    return body


def stop_clock_at(monkeypatch: pytest.MonkeyPatch, instant: datetime) -> None:
    """Stop the registry's clock at one instant (the app runs in this process), so that today
    is the date of that instant in Beijing, as every route that takes `TodayDep` sees it."""

    class Stopped(datetime):
        @classmethod
        def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
            return instant if tz is None else instant.astimezone(tz)

    monkeypatch.setattr(civil_date, "datetime", Stopped)
