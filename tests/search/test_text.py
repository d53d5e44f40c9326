"""Query analysis and highlighting on their own: what a query must match, and how it is shown."""

from __future__ import annotations

from services.search import analysis
from services.search.documents import redacted
from services.search.highlight import highlights
from services.search.protocol import ExpertQuery

from ..factories import expert_document


def test_the_surname_yu_is_a_word_of_the_query_not_a_stop_word() -> None:
    assert analysis.query_terms("于丹") == [("于", ()), ("丹", ())]
    assert analysis.query_terms("于") == [("于", ())]
    # Words that hold it are words of their own; the particles around them are still dropped.
    assert analysis.query_terms("基于湍流的模拟") == [("基于", ()), ("湍流", ()), ("模拟", ())]


def test_names_with_ideographs_outside_the_basic_block_keep_every_character() -> None:
    # 𠮷 lies in a supplementary plane, 〇 in the symbols block: both are written in names.
    assert {"𠮷田", "𠮷", "田"} <= set(analysis.name_tokens("𠮷田"))
    assert "〇" in analysis.name_tokens("王〇")
    assert analysis.query_terms("𠮷田") == [("𠮷", ()), ("田", ())]
    assert "〇" in analysis.index_tokens("〇〇七研究所")


def test_full_width_letters_are_highlighted_as_written() -> None:
    doc = expert_document(biography="主要研究ＧＰＵ并行计算，兼及 CUDA")
    tokens = ExpertQuery(terms=tuple(analysis.query_terms("gpu cuda"))).tokens
    assert highlights(doc, tokens)["biography"] == [
        "主要研究<em>ＧＰＵ</em>并行计算，兼及 <em>CUDA</em>"
    ]


def test_institution_names_compare_in_every_script_without_accents_or_punctuation() -> None:
    key = analysis.institution_key
    assert key("Université Laval") == key("Universite Laval") == "universitelaval"
    assert key("서울대학교") == "서울대학교"
    assert key("Московский университет") == key("московский  университет")
    assert key("清华大学（北京）") == key("清华大学(北京)") == "清华大学北京"
    assert key("ＡＢＣ大学") == "abc大学"
    assert key("…") is None


def test_contact_data_written_in_groups_is_taken_out_of_free_text() -> None:
    """ID numbers and phones are often written in groups (6-8-4, 3-4-4); each form is taken
    out of what the index sees, and a year or a grant number is left alone."""
    for written in (
        "11010119900307123X",
        "110101 19900307 123X",
        "110101-1990-0307-1234",
        "139 2222 3333",
        "+86 139-2222-3333",
        "010-62345678",
    ):
        assert redacted(f"联系：{written}。") == "联系：。", written
    for kept in ("2019 年", "国家自然科学基金 52176051", "ISO 9001:2015"):
        assert redacted(kept) == kept


def test_a_surname_is_found_by_the_reading_it_has_as_a_surname() -> None:
    # 曾 is read zeng as a surname (ceng elsewhere), 单 shan (dan), 解 xie (jie), 区 ou (qu).
    for name, typed in (
        ("曾伟", "zeng wei"),
        ("单勇", "shanyong"),
        ("解明", "xie ming"),
        ("区志", "ou zhi"),
    ):
        tokens = set(analysis.name_tokens(name))
        assert {word for word, _ in analysis.query_terms(typed)} <= tokens, (name, typed)
    # The everyday reading stays (some type it), and only the surname is read so.
    assert {"ceng", "cengwei"} <= set(analysis.name_tokens("曾伟"))
    assert "zeng" not in analysis.name_tokens("王曾")


def test_accented_latin_letters_are_words_with_or_without_their_accents() -> None:
    # Foreign members' names and institutions: Müller is found as müller and as muller, and
    # not by the pieces either side of its ü (m, ller).
    tokens = set(analysis.name_tokens("Jürgen Müller")) | set(
        analysis.index_tokens("Technische Universität München")
    )
    for typed in ("Müller", "muller", "JURGEN", "universitat", "München"):
        assert {word for word, _ in analysis.query_terms(typed)} <= tokens, typed
    assert analysis.query_terms("Müller") == [("muller", ())]
    doc = expert_document(institution="Technische Universität München")
    tokens_ = ExpertQuery(terms=tuple(analysis.query_terms("universitat munchen"))).tokens
    assert highlights(doc, tokens_)["institution"] == [
        "Technische <em>Universität</em> <em>München</em>"
    ]


def test_latin_names_are_found_by_their_parts_run_together() -> None:
    """Given names written in two parts (Korean, Cantonese) are typed as one word."""
    for name, name_en, typed in (
        ("朴敏俊", "Park Min-jun", "minjun"),
        ("李家欣", "Lee Ka Yan", "kayan"),
        ("Lee Ka Yan", None, "kayan"),
        ("Min-jun Park", None, "minjunpark"),
    ):
        tokens = set(analysis.name_tokens(name, name_en))
        assert all(word in tokens for word, _ in analysis.query_terms(typed)), (name, typed)
    assert "min-jun" in analysis.name_tokens("朴敏俊", "Park Min-jun")  # typed as written
