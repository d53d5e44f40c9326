"""The expert document: what of a profile reaches an index, and what never does."""

from __future__ import annotations

from services.search.documents import load, to_json


def test_contact_data_typed_into_any_text_field_stays_out_of_the_document(runtime, factory) -> None:
    """A list whose columns slipped puts a phone or an e-mail address into the research fields,
    the institution or the English name: those reach the index no more than a biography's."""
    person = factory.person(
        name="张伟",
        name_en="Wei Zhang 13922223333",
        institution="清华大学 zhang.wei@tsinghua.edu.cn",
        research_fields=["湍流", "13922223333", "固体力学 110101199003071234"],
        biography="电话 139 2222 3333",
        expert_opt_in=True,
    )
    with runtime.sessions() as session:
        (doc,), _ = load(session, {person.id: 1})
    assert (doc.name_en, doc.institution) == ("Wei Zhang", "清华大学")
    assert doc.research_fields == ("湍流", "固体力学")
    stored = to_json(doc) + " ".join(
        token
        for tokens in (doc.name_tokens, doc.field_tokens, doc.institution_tokens, doc.bio_tokens)
        for token in tokens
    )
    for secret in ("13922223333", "3333", "tsinghua", "110101199003071234", "1234"):
        assert secret not in stored, secret
