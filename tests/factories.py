"""Builders for test data, written through the service layer into the real database."""

from __future__ import annotations

import dataclasses
import random
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from typing import Any

from sqlalchemy import event, text
from stdnum.cn import ric

from services.registry.auth import service as auth_service
from services.registry.auth.models import Account, AccountKind, Role, RoleGrant
from services.registry.core.db import transaction
from services.registry.core.runtime import Runtime
from services.registry.memberships.models import Membership
from services.registry.orgs import service as org_service
from services.registry.orgs.models import Organisation
from services.registry.orgs.schemas import OrgCreate
from services.registry.people import service as people_service
from services.registry.people.models import Person
from services.registry.people.schemas import PersonCreate
from services.search.documents import ExpertDocument

PASSWORD = "correct-horse-battery-9"
_REGIONS = ["110101", "110105", "110108", "310104", "320102", "440305", "510107", "420111"]
_rng = random.Random()
_issued: set[str] = set()
_hash_cache: dict[str, str] = {}


def resident_id(birth: date | None = None, gender: str = "male", region: str | None = None) -> str:
    """A valid GB 11643 number that no other test of this run used (the database is shared
    and tests commit; a birth date leaves only a few thousand numbers per gender)."""
    while True:
        day = birth or date(_rng.randint(1950, 2000), _rng.randint(1, 12), _rng.randint(1, 28))
        seq = _rng.randint(0, 499) * 2 + (1 if gender == "male" else 0)
        body = f"{region or _rng.choice(_REGIONS)}{day:%Y%m%d}{seq:03d}"
        number = body + ric.calc_check_digit(body + "0")
        if number not in _issued:
            _issued.add(number)
            return number


def with_wrong_check_digit(number: str) -> str:
    digits = "0123456789X"
    return number[:17] + digits[(digits.index(number[17]) + 1) % 11]


def wait_for_lock_waiter(
    db: Any,
    deadline: float = 10.0,
    *,
    unless: Callable[[], bool] | None = None,
    at_least: int = 1,
) -> bool:
    """Until `at_least` backends of this database wait on a lock (racing statements), or
    `unless()` holds, or `deadline` seconds pass; whether they waited."""
    end = time.monotonic() + deadline
    while time.monotonic() < end and not (unless and unless()):
        waiting = db.execute(
            text(
                "SELECT count(*) FROM pg_stat_activity"
                " WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        ).scalar_one()
        db.rollback()
        if waiting >= at_least:
            return True
        time.sleep(0.02)
    return False


@contextmanager
def statements(runtime: Runtime) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements the app's engine runs inside the block, in order, with their
    parameters."""
    seen: list[tuple[str, Any]] = []

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, *args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(runtime.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(runtime.engine, "before_cursor_execute", before)


def plan(db: Any, statement: str, parameters: Any, **settings: str) -> dict[str, Any]:
    """The top node of the plan PostgreSQL chooses for a statement the app ran, under
    `settings` (such as `enable_sort="off"`: what the planner would do with no other way)."""
    try:
        for name, value in settings.items():
            db.exec_driver_sql(f"SET LOCAL {name} = {value}")
        found = db.exec_driver_sql(f"EXPLAIN (FORMAT JSON) {statement}", parameters).scalar_one()
    finally:
        db.rollback()
    return found[0]["Plan"]


def plan_nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("Plans", ()):
        yield from plan_nodes(child)


def unique_code(prefix: str = "T") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10].upper()}"


class Factory:
    """Creates organisations, people, memberships and signed-in callers."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def org(
        self, *, kind: str = "national_society", parent: str | None = None, **fields: Any
    ) -> Organisation:
        data = OrgCreate(
            code=fields.pop("code", None) or unique_code(),
            name=fields.pop("name", None) or f"测试学会{uuid.uuid4().hex[:6]}",
            kind=kind,
            parent_code=parent,
            **fields,
        )
        with transaction(self.runtime.sessions) as session:
            org_service.create(session, principal=None, data=data)  # type: ignore[arg-type]
            return org_service.by_code(session, data.code)  # type: ignore[return-value]

    def person(self, *, org: Organisation | None = None, **fields: Any) -> Person:
        fields.setdefault("name", "测试" + _rng.choice("伟芳娜洋静杰敏强磊丽"))
        with transaction(self.runtime.sessions) as session:
            return people_service.create(
                session,
                principal=None,
                pii=self.runtime.pii,
                data=PersonCreate(**fields),
                source="test",
                source_org_id=org.id if org else None,
            )

    def membership(self, org: Organisation, person: Person, **fields: Any) -> Membership:
        with transaction(self.runtime.sessions) as session:
            row = Membership(org_id=org.id, person_id=person.id, **fields)
            session.add(row)
            session.flush()
            return row

    def account(
        self,
        role: Role | str,
        org: Organisation | None = None,
        *,
        person: Person | None = None,
        kind: AccountKind = AccountKind.user,
        password: str = PASSWORD,
    ) -> Account:
        """An account with one grant; the argon2 hash is computed once per password."""
        if password not in _hash_cache:
            from services.registry.auth.passwords import hash_secret

            _hash_cache[password] = hash_secret(password)
        with transaction(self.runtime.sessions) as session:
            account = Account(
                username=unique_code("u").lower(),
                kind=kind,
                secret_hash=_hash_cache[password],
                person_id=person.id if person else None,
            )
            session.add(account)
            session.flush()
            session.add(
                RoleGrant(account_id=account.id, role=Role(role), org_id=org.id if org else None)
            )
            return account

    def grant(self, account: Account, role: Role | str, org: Organisation | None = None) -> None:
        with transaction(self.runtime.sessions) as session:
            auth_service.grant(
                session, account_id=account.id, role=Role(role), org_code=org.code if org else None
            )

    def token(self, account: Account) -> str:
        return self.runtime.access_tokens.issue(account.id, kind=account.kind)

    def headers(self, account: Account) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(account)}"}

    def caller(
        self, role: Role | str, org: Organisation | None = None, **kwargs: Any
    ) -> dict[str, str]:
        """Authorization headers for a fresh account holding `role` (in `org`)."""
        return self.headers(self.account(role, org, **kwargs))


def expert_document(**changes: Any) -> ExpertDocument:
    """An expert document as an index holds it, without a database: a senior woman born in
    1980 and nothing else; `changes` set any other field (tokens included)."""
    document = ExpertDocument(
        person_id=uuid.uuid4(),
        version=1,
        name="专家",
        name_en=None,
        gender="female",
        birth_date=date(1980, 1, 1),
        age_band="40-49",
        title_level="senior",
        position=None,
        institution=None,
        institution_key=None,
        institution_uscc=None,
        region_code=None,
        discipline_codes=(),
        research_fields=(),
        talent_tags=(),
        biography=None,
        org_codes=(),
        prior=1.0,
    )
    return dataclasses.replace(document, **changes)
