"""Merging two profiles of one person keeps what hangs off their memberships: certificates
keep verifying, applications and council seats follow the profile that remains."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from services.registry.core.db import transaction
from services.registry.people import merge

API = "/api/v1"


def test_certificates_applications_and_seats_survive_a_merge(client, factory, runtime, db) -> None:
    society, other_society = factory.org(), factory.org()
    admin = factory.caller("org_admin", society)
    keep, other = factory.person(org=society, name="周杰"), factory.person(org=society, name="周杰")
    ours = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(keep.id), "valid_until": "2099-12-31"},
        headers=admin,
    ).json()
    theirs = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={
            "person_id": str(other.id),
            "member_no": "Z" + uuid.uuid4().hex[:6],
            "valid_until": "2099-12-31",
        },
        headers=admin,
    ).json()
    token = client.get(f"{API}/memberships/{theirs['id']}/certificate", headers=admin).json()[
        "token"
    ]
    member = factory.caller("member", person=other)
    application = client.post(
        f"{API}/orgs/{other_society.code}/applications", json={}, headers=member
    ).json()
    body = client.post(
        f"{API}/orgs/{society.code}/governance-bodies",
        json={"kind": "council", "term_no": 1, "term_start": "2024-01-01", "seats": 5},
        headers=admin,
    ).json()
    client.post(
        f"{API}/governance-bodies/{body['id']}/seats",
        json={"person_id": str(other.id), "position": "member"},
        headers=admin,
    )

    with transaction(runtime.sessions) as session:
        merge.merge_people(
            session, pii=runtime.pii, keep_id=keep.id, other_id=other.id, actor="test"
        )

    answer = client.post(f"{API}/certificates/verify", json={"token": token}).json()
    assert (answer["valid"], answer["member_no"]) == (True, theirs["member_no"])
    db.rollback()
    assert db.execute(
        text("SELECT membership_id FROM membership_certificate WHERE token = :t"), {"t": token}
    ).scalar_one() == uuid.UUID(ours["id"])
    assert (
        db.execute(
            text("SELECT person_id FROM membership_application WHERE id = :id"),
            {"id": application["id"]},
        ).scalar_one()
        == keep.id
    )
    seats = client.get(f"{API}/governance-bodies/{body['id']}/seats", headers=admin).json()
    assert [s["person_id"] for s in seats] == [str(keep.id)]


def test_a_suspension_of_the_merged_profiles_membership_holds_the_combined_one(
    client, factory, runtime
) -> None:  # type: ignore[no-untyped-def]
    society = factory.org()
    admin = factory.caller("org_admin", society)
    pairs = []
    for hold in ("suspend", "terminate"):
        keep, other = factory.person(org=society), factory.person(org=society)
        numbers = ["K" + uuid.uuid4().hex[:6], "O" + uuid.uuid4().hex[:6]]
        ours, theirs = (
            client.post(
                f"{API}/orgs/{society.code}/memberships",
                json={
                    "person_id": str(person.id),
                    "member_no": number,
                    "valid_until": "2099-12-31",
                },
                headers=admin,
            ).json()
            for person, number in zip((keep, other), numbers, strict=True)
        )
        held = client.post(
            f"{API}/memberships/{theirs['id']}/{hold}", json={"reason": "退会"}, headers=admin
        )
        assert held.status_code == 200, held.text
        with transaction(runtime.sessions) as session:
            merge.merge_people(
                session, pii=runtime.pii, keep_id=keep.id, other_id=other.id, actor="test"
            )
        pairs.append((ours, numbers))
    (suspended, (kept_no, other_no)), (terminated, _) = pairs
    combined = client.get(f"{API}/memberships/{suspended['id']}", headers=admin).json()
    assert (combined["status"], combined["override_reason"]) == ("suspended", "退会")
    assert combined["member_no"] == kept_no
    history = client.get(f"{API}/memberships/{suspended['id']}/history", headers=admin).json()
    merged = [h for h in history["items"] if h["source"] == "merge"]
    note = next(h["new_value"] for h in merged if h["field"] == "merged")
    assert other_no in note
    assert "held suspended: 退会" in note
    assert ("status_override", "suspended") in {(h["field"], h["new_value"]) for h in merged}
    # A termination under the other profile does not end the membership that runs.
    combined = client.get(f"{API}/memberships/{terminated['id']}", headers=admin).json()
    assert (combined["status"], combined["status_override"]) == ("active", None)


def test_a_running_membership_of_the_merged_profile_outlives_the_kept_profiles_termination(
    client, factory, runtime
) -> None:  # type: ignore[no-untyped-def]
    society = factory.org()
    admin = factory.caller("org_admin", society)
    keep, other = factory.person(org=society), factory.person(org=society)
    old_no, running_no = "K" + uuid.uuid4().hex[:6], "O" + uuid.uuid4().hex[:6]
    ours = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={"person_id": str(keep.id), "member_no": old_no, "valid_until": "2020-12-31"},
        headers=admin,
    ).json()
    ended = client.post(
        f"{API}/memberships/{ours['id']}/terminate", json={"reason": "退会"}, headers=admin
    )
    assert ended.status_code == 200, ended.text
    # They joined again later under a second profile, as a senior member.
    theirs = client.post(
        f"{API}/orgs/{society.code}/memberships",
        json={
            "person_id": str(other.id),
            "member_no": running_no,
            "grade": "senior",
            "valid_until": "2099-12-31",
        },
        headers=admin,
    ).json()
    token = client.get(f"{API}/memberships/{theirs['id']}/certificate", headers=admin).json()[
        "token"
    ]
    with transaction(runtime.sessions) as session:
        merge.merge_people(
            session, pii=runtime.pii, keep_id=keep.id, other_id=other.id, actor="test"
        )
    combined = client.get(f"{API}/memberships/{ours['id']}", headers=admin).json()
    assert (combined["status"], combined["status_override"]) == ("active", None)
    assert (combined["member_no"], combined["grade"]) == (running_no, "senior")
    assert combined["valid_until"] == "2099-12-31"
    answer = client.post(f"{API}/certificates/verify", json={"token": token}).json()
    assert (answer["valid"], answer["member_no"], answer["status"]) == (True, running_no, "active")
    history = client.get(f"{API}/memberships/{ours['id']}/history", headers=admin).json()
    merged = {(h["field"], h["old_value"]) for h in history["items"] if h["source"] == "merge"}
    assert ("member_no", old_no) in merged
    assert ("status_override", "terminated") in merged
