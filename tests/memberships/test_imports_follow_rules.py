"""Imports follow the membership rules: imported members get the status their society's type
gives their dates, and a group-member list cannot take a society past its cap."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from services.registry.core import clock

from ..onboarding.conftest import cli_env, member, read_errors, registry, write_csv  # noqa: F401
from ..onboarding.test_orgs_and_groups import a_uscc

API = "/api/v1"


def test_imported_members_get_the_status_their_type_gives_their_dates(
    registry,  # noqa: F811
    client,
    factory,
    db,
    tmp_path: Path,
) -> None:
    society = factory.org(name="中国力学学会" + uuid.uuid4().hex[:4])
    admin = factory.caller("org_admin", society)
    made = client.post(
        f"{API}/orgs/{society.code}/membership-types",
        json={"code": "regular", "name": "普通会员", "grade": "member",
              "period": "calendar_year", "grace_days": 30},
        headers=admin,
    )  # fmt: skip
    assert made.status_code == 201, made.text
    today = clock.today()
    ends = {"current": 100, "in_grace": -10, "long_ended": -100, "student": -10}
    rows = {
        key: member(
            会员编号=f"{key}-{uuid.uuid4().hex[:6]}",
            会员等级="学生会员" if key == "student" else "会员",
            有效期至=(today + timedelta(days=days)).isoformat(),
        )
        for key, days in ends.items()
    }
    path = write_csv(tmp_path / "members.csv", list(rows.values()))
    summary = registry("import", "members", path, "--org", society.code, "--json").summary
    assert summary["created_memberships"] == 4
    # The import wrote `lapsed` for every end in the past; the type's 30 days of grace say
    # otherwise for one. Students have no type here: no grace.
    assert summary["status_changes"] == {"grace": 1}
    db.rollback()
    stored = {
        number.split("-")[0]: (status, type_code)
        for number, status, type_code in db.execute(
            text(
                "SELECT m.member_no, m.status, t.code FROM membership m"
                " LEFT JOIN membership_type t ON t.id = m.type_id WHERE m.org_id = :org"
            ),
            {"org": society.id},
        )
    }
    assert stored == {
        "current": ("active", "regular"),
        "in_grace": ("grace", "regular"),
        "long_ended": ("lapsed", "regular"),
        "student": ("lapsed", None),
    }
    history = db.execute(
        text(
            "SELECT h.old_value, h.new_value, h.reason, h.source FROM change_history h"
            " JOIN membership m ON m.id = h.entity_id"
            " WHERE m.org_id = :org AND h.field = 'status'"
        ),
        {"org": society.id},
    ).all()
    assert [tuple(h) for h in history] == [
        ("lapsed", "grace", "dates", f"import:{summary['batch_id']}")
    ]
    again = registry("import", "members", path, "--org", society.code, "--json").summary
    assert (again["unchanged"], again["status_changes"]) == (4, {})


def test_a_group_member_import_refuses_new_members_beyond_the_cap(
    registry,  # noqa: F811
    client,
    factory,
    db,
    tmp_path: Path,
) -> None:
    society = factory.org(name="中国化学会" + uuid.uuid4().hex[:4])
    admin = factory.caller("org_admin", society)
    capped = client.put(
        f"{API}/orgs/{society.code}/membership-policy", json={"group_member_cap": 2}, headers=admin
    )
    assert capped.status_code == 200, capped.text
    ended = (clock.today() - timedelta(days=400)).isoformat()
    rows = [
        ["华为技术有限公司", a_uscc(11), ""],
        ["中国航天科技集团有限公司", a_uscc(12), ""],
        ["中国商用飞机有限责任公司", a_uscc(13), ""],
        ["已退出的单位", a_uscc(14), ended],  # lapsed: not counted against the cap
    ]
    path = write_csv(
        tmp_path / "groups.csv", rows, header=["单位名称", "统一社会信用代码", "有效期至"]
    )
    errors = tmp_path / "errors.csv"
    summary = registry(
        "import", "group-members", path, "--org", society.code, "--errors", errors, "--json"
    ).summary
    assert (summary["created_memberships"], summary["rejected"]) == (3, 1)
    [refused] = read_errors(errors)
    assert refused["row_number"] == "4"
    assert refused["reason"].startswith("group_member_cap: ")
    assert "cap is 2" in refused["reason"]
    db.rollback()
    stored = db.execute(
        text("SELECT uscc, status FROM group_membership WHERE org_id = :org ORDER BY uscc"),
        {"org": society.id},
    ).all()
    assert [tuple(r) for r in stored] == [
        (a_uscc(11), "active"),
        (a_uscc(12), "active"),
        (a_uscc(14), "lapsed"),
    ]
    again = registry("import", "group-members", path, "--org", society.code, "--json").summary
    assert (again["created_memberships"], again["unchanged"], again["rejected"]) == (0, 3, 1)
