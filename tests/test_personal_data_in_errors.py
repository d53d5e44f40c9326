"""Personal data stays out of what errors show and logs keep, and out of the search index."""

from __future__ import annotations

import logging

from sqlalchemy import text

from services.search import worker

from .factories import resident_id


def test_a_control_character_in_free_text_is_a_field_error_and_logs_no_contact_data(
    client, factory, caplog
) -> None:  # type: ignore[no-untyped-def]
    org = factory.org()
    caplog.set_level(logging.DEBUG)
    body = {"name": "张三", "phone": "13912345678", "email": "zhang.san@example.cn",
            "biography": "研究员\u0000", "org_code": org.code}  # fmt: skip
    response = client.post("/api/v1/people", json=body, headers=factory.caller("org_admin", org))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "biography"
    logged = caplog.text
    assert "13912345678" not in logged
    assert "zhang.san@example.cn" not in logged


def test_a_problem_names_the_route_not_a_document_number_sent_in_its_path(client, factory) -> None:  # type: ignore[no-untyped-def]
    org = factory.org()
    number = resident_id()
    response = client.get(f"/api/v1/people/{number}", headers=factory.caller("org_admin", org))
    assert response.status_code == 422
    assert response.json()["instance"] == "/api/v1/people/{person_id}"
    assert number not in response.text


def _indexed(runtime, person_id) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The person's tokens and stored document once the outbox is drained."""
    worker.drain(runtime.sessions, runtime.search)
    with runtime.engine.connect() as conn:
        tsv = conn.scalar(
            text("SELECT tsv::text FROM expert_doc WHERE person_id = :id"), {"id": person_id}
        )
        body = conn.scalar(
            text("SELECT document FROM expert_doc_body WHERE person_id = :id"), {"id": person_id}
        )
    return tsv, body


def test_contact_data_in_a_biography_is_not_indexed_found_or_shown(
    client, factory, runtime
) -> None:  # type: ignore[no-untyped-def]
    org = factory.org()
    person = factory.person(
        org=org, name="郇某", phone="13922223333", email="huan.mou@example.cn",
        biography="长期从事湍流研究。联系电话13922223333，邮箱 huan.mou@example.cn",
        expert_opt_in=True,
    )  # fmt: skip
    tsv, body = _indexed(runtime, person.id)
    for secret in ("13922223333", "huan.mou", "example.cn"):
        assert secret not in tsv
        assert secret not in body
    committee = factory.caller("committee", org)
    found = client.post("/api/v1/search/experts", json={"q": "13922223333"}, headers=committee)
    assert found.json()["total"] == 0
    by_topic = client.post("/api/v1/search/experts", json={"q": "湍流 郇某"}, headers=committee)
    assert "13922223333" not in by_topic.text
    assert by_topic.json()["total"] == 1


def test_contact_data_typed_in_full_width_forms_is_not_indexed_found_or_shown(
    client, factory, runtime
) -> None:  # type: ignore[no-untyped-def]
    # Chinese input methods type digits, `@`, `-` and `.` in their full-width forms; the
    # index folds them to ASCII, so the redaction must see them as the index will.
    org = factory.org()
    person = factory.person(
        org=org, name="鄢某", position="研究员，手机 139－2222－3333",
        biography="长期从事声学研究。联系电话１３９２２２２３３３３，"
        "邮箱 ｑｉｕｌｉｕ＠ｅｘａｍｐｌｅ．ｃｎ",
        expert_opt_in=True,
    )  # fmt: skip
    tsv, body = _indexed(runtime, person.id)
    for secret in ("13922223333", "139-2222-3333", "2222", "qiuliu", "example"):
        assert secret not in tsv
    for secret in ("１３９２２２２３３３３", "139－2222－3333", "ｑｉｕｌｉｕ", "ｅｘａｍｐｌｅ"):
        assert secret not in body
    committee = factory.caller("committee", org)
    found = client.post("/api/v1/search/experts", json={"q": "13922223333"}, headers=committee)
    assert found.json()["total"] == 0
    by_topic = client.post("/api/v1/search/experts", json={"q": "声学 鄢某"}, headers=committee)
    assert by_topic.json()["total"] == 1
    assert "１３９２２２２３３３３" not in by_topic.text
