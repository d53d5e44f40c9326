"""Unit tests of the value normalisers (core/normalize.py) and identifiers (core/ids.py)."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest
from stdnum.cn import ric

from services.registry.core import ids, normalize
from services.registry.core.security import mask_document, mask_email, mask_phone

from ..factories import resident_id, with_wrong_check_digit


def wide(text: str) -> str:
    """The full-width form of ASCII letters and digits, as Chinese input methods type them."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


def resident_with_check(body17: str) -> str:
    return body17 + ric.calc_check_digit(body17 + "0")


def resident_ending_in_x() -> str:
    while True:
        number = resident_id()
        if number.endswith("X"):
            return number


# --- folding --------------------------------------------------------------------------------


def test_fold_turns_full_width_forms_half_width_and_collapses_spaces() -> None:
    assert normalize.fold("  ＡＢＣ　１２３  \t x ") == "ABC 123 x"


def test_fold_text_keeps_chinese_punctuation_but_folds_letters_and_digits() -> None:
    assert (
        normalize.fold_text(" 中国科学院大学（国科大），第１届　ＡＩ ")
        == "中国科学院大学（国科大），第1届 AI"
    )


def test_clean_text_gives_none_for_blank() -> None:
    assert normalize.clean_text("　 ") is None
    assert normalize.clean_text(None) is None


def test_split_list_accepts_chinese_and_latin_separators() -> None:
    assert normalize.split_list("机器学习、计算力学;流体力学，湍流, 燃烧；") == [
        "机器学习",
        "计算力学",
        "流体力学",
        "湍流",
        "燃烧",
    ]


# --- labels ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("男", "male"), ("女", "female"), ("Male", "male"), (" F ", "female"), ("ｍ", "male"),
        ("男性", "male"), ("女性", "female"),
    ],
)  # fmt: skip
def test_gender_labels(typed, stored) -> None:
    assert normalize.gender(typed) == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("教授", "senior"),
        ("研究员", "senior"),
        ("正高级工程师", "senior"),
        ("副教授", "associate_senior"),
        ("副研究员", "associate_senior"),
        ("高级工程师", "associate_senior"),
        ("讲师", "intermediate"),
        ("助教", "junior"),
        ("Associate_Senior", "associate_senior"),
        ("无", "none"),
        # The other series of professional titles, as lists of engineers, doctors, nurses,
        # teachers, editors, librarians and economists write them.
        ("教授级高工", "senior"),
        ("研究员级高级工程师", "senior"),
        ("高工", "associate_senior"),
        ("主任药师", "senior"),
        ("副主任护师", "associate_senior"),
        ("主管技师", "intermediate"),
        ("医师", "junior"),
        ("正高级实验师", "senior"),
        ("高级实验师", "associate_senior"),
        ("实验师", "intermediate"),
        ("编审", "senior"),
        ("副编审", "associate_senior"),
        ("研究馆员", "senior"),
        ("副研究馆员", "associate_senior"),
        ("馆员", "intermediate"),
        ("助理馆员", "junior"),
        ("正高级教师", "senior"),
        ("高级教师", "associate_senior"),
        ("一级教师", "intermediate"),
        ("二级教师", "junior"),
        ("正高级经济师", "senior"),
        ("高级经济师", "associate_senior"),
        ("高级会计师", "associate_senior"),
        ("农业技术推广研究员", "senior"),
        ("高级农艺师", "associate_senior"),
        ("农艺师", "intermediate"),
    ],
)
def test_title_words_map_to_levels(typed, stored) -> None:
    assert normalize.title_level(typed) == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("学生会员", "student"), ("会员", "member"), ("高级会员", "senior"), ("会士", "fellow"),
        ("个人会员", "member"), ("专业会员", "member"), ("正式会员", "member"),
        ("资深会员", "senior"),
    ],
)  # fmt: skip
def test_grade_words(typed, stored) -> None:
    assert normalize.grade(typed) == stored


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("居民身份证", "resident_id"),
        ("护照", "passport"),
        ("港澳居民来往内地通行证", "hk_macao_permit"),
        ("台湾居民来往大陆通行证", "taiwan_permit"),
    ],
)
def test_document_type_words(typed, stored) -> None:
    assert normalize.id_type(typed) == stored


def test_an_unknown_label_is_answered_with_the_words_that_are_known() -> None:
    with pytest.raises(ValueError, match=r"^unknown title") as err:
        normalize.title_level("讲座教授")
    assert str(err.value) == (
        "unknown title, expected a title such as 教授 or a level: 正高级 (senior), 副高级 "
        "(associate_senior), 中级 (intermediate), 初级 (junior) or 无 (none)"
    )
    with pytest.raises(ValueError, match=r"^unknown termination reason, expected 退会 \(withd"):
        normalize.termination_reason("调走")


def test_unknown_labels_are_refused_without_echoing_them() -> None:
    for fn in (normalize.gender, normalize.grade, normalize.title_level, normalize.id_type):
        with pytest.raises(ValueError, match="unknown") as err:
            fn("秘密值")
        assert "秘密值" not in str(err.value)


# --- dates ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "1985-03-02",
        "1985/3/2",
        "1985.3.2",
        "1985年3月2日",
        "1985 年 3 月 2 日",
        "19850302",
        "１９８５／３／２",
        31108,
        "31108",
        "31108.0",
        "1985-03-02 00:00:00",
        "1985-03-02T08:30",
        "1985年3月2号",  # the day as it is said
        date(1985, 3, 2),
    ],
)
def test_dates_as_people_type_them(typed) -> None:
    assert normalize.parse_date(typed) == date(1985, 3, 2)


@pytest.mark.parametrize(
    "typed", ["1985-02-30", "1985/13/1", "March 2nd", "", "0", "85-3-2", "123", "9999", 60]
)
def test_impossible_or_unrecognised_dates_are_refused(typed) -> None:
    with pytest.raises(ValueError, match="date"):
        normalize.parse_date(typed)


@pytest.mark.parametrize("typed", ["1985.03", "1985-3", "1985年3月", "2030"])
def test_a_year_or_a_year_and_month_is_refused_not_read_as_a_day_number(typed) -> None:
    with pytest.raises(ValueError, match="only, not a full date"):
        normalize.parse_date(typed)


def test_day_numbers_before_excel_s_29_february_1900_count_from_1_january() -> None:
    assert normalize.parse_date(1) == date(1900, 1, 1)
    assert normalize.parse_date(59) == date(1900, 2, 28)
    assert normalize.parse_date(61) == date(1900, 3, 1)


# --- contact data ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "13900001111",
        "１３９ ００００ １１１１",
        "+86 139 0000 1111",
        "+8613900001111",
        "0086-139-0000-1111",
        "139-0000-1111",
        "86-139-0000-1111",  # the country code without its +
        "86 13900001111",
    ],
)
def test_mainland_mobiles_are_stored_as_eleven_digits(typed) -> None:
    assert normalize.phone(typed) == "13900001111"


def test_landlines_and_foreign_numbers_keep_their_form() -> None:
    assert normalize.phone("010-6857 1898") == "01068571898"
    assert normalize.phone("+852 2345 6789") == "+85223456789"


@pytest.mark.parametrize(
    "typed",
    [
        "12345678901", "139000011", "phone", "+86", "1390000111122223333444",
        "310104197210222898",  # a resident ID number in the phone column
        "+8631010419721022289",  # more digits than E.164 allows
    ],
)  # fmt: skip
def test_bad_phone_numbers_are_refused(typed) -> None:
    with pytest.raises(ValueError, match=r"phone|mobile"):
        normalize.phone(typed)


def test_email_domain_is_lower_cased_and_local_part_kept() -> None:
    assert normalize.email(" Zhang.San@PKU.EDU.CN ") == "Zhang.San@pku.edu.cn"
    assert normalize.email("ｌｉ＠ｃａｓｔ．ｏｒｇ．ｃｎ") == "li@cast.org.cn"


def test_an_email_copied_from_a_link_loses_its_mailto() -> None:
    assert normalize.email("mailto:Li@CAST.org.cn") == "Li@cast.org.cn"
    assert normalize.email("MAILTO:li@cast.org.cn") == "li@cast.org.cn"


@pytest.mark.parametrize("typed", ["no-at-sign", "a@b", "a@@b.cn", "@cast.org.cn", "mailto:"])
def test_bad_emails_are_refused(typed) -> None:
    with pytest.raises(ValueError, match="email"):
        normalize.email(typed)


def test_orcid_is_canonicalised_and_check_digit_verified() -> None:
    assert normalize.orcid("https://orcid.org/0000000218250097") == "0000-0002-1825-0097"
    assert normalize.orcid("0000-0002-1694-233x") == "0000-0002-1694-233X"
    with pytest.raises(ValueError, match="check digit"):
        normalize.orcid("0000-0002-1825-0098")


# --- disciplines ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("130", "130"),
        ("130.15", "13015"),
        ("13015", "13015"),
        ("130.15.10", "1301510"),
        ("１３０", "130"),
    ],
)
def test_discipline_codes(typed, stored) -> None:
    assert normalize.discipline_code(typed) == stored


@pytest.mark.parametrize("typed", ["13", "1301", "130.1", "abc", "130151"])
def test_bad_discipline_codes_are_refused(typed) -> None:
    with pytest.raises(ValueError, match="GB/T 13745"):
        normalize.discipline_code(typed)


# --- resident ID numbers (GB 11643) ---------------------------------------------------------


def test_resident_id_gives_birth_date_and_gender() -> None:
    number = resident_id(date(1985, 3, 2), "female", region="110101")
    parsed = ids.parse_resident_id(number)
    assert parsed.number == number
    assert parsed.birth_date == date(1985, 3, 2)
    assert parsed.gender == "female"
    male = ids.parse_resident_id(resident_id(date(1990, 1, 1), "male"))
    assert male.gender == "male"


def test_resident_id_with_lower_case_x_or_full_width_digits_is_normalised() -> None:
    number = resident_ending_in_x()
    assert ids.parse_resident_id(number.lower()).number == number
    assert ids.parse_resident_id(wide(number)).number == number
    assert ids.parse_resident_id(f" {number[:6]} {number[6:14]} {number[14:]} ").number == number


def test_wrong_check_digit_is_refused() -> None:
    with pytest.raises(ValueError, match="check digit"):
        ids.parse_resident_id(with_wrong_check_digit(resident_id()))


def test_impossible_birth_date_inside_the_number_is_refused() -> None:
    with pytest.raises(ValueError, match="birth date"):
        ids.parse_resident_id(resident_with_check("11010119851332001"))


def test_birth_date_in_the_future_inside_the_number_is_refused() -> None:
    future = date.today() + timedelta(days=400)
    with pytest.raises(ValueError, match="future"):
        ids.parse_resident_id(resident_id(future))


def test_unknown_region_inside_the_number_is_refused() -> None:
    with pytest.raises(ValueError, match="region code"):
        ids.parse_resident_id(resident_with_check("99999919850302001"))


@pytest.mark.parametrize("length", [15, 17, 19])
def test_resident_id_of_wrong_length_is_refused(length) -> None:
    number = (resident_id() * 2)[:length]
    with pytest.raises(ValueError, match="18 characters"):
        ids.parse_resident_id(number)


def test_letters_inside_a_resident_id_are_refused() -> None:
    number = resident_id()
    with pytest.raises(ValueError, match="17 digits"):
        ids.parse_resident_id(number[:5] + "A" + number[6:])


def test_errors_never_contain_the_number() -> None:
    number = with_wrong_check_digit(resident_id())
    with pytest.raises(ValueError, match="check digit") as err:
        ids.parse_resident_id(number)
    assert number[:10] not in str(err.value)


# --- other documents ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "typed", "stored"),
    [
        ("passport", " e1234 5678 ", "E12345678"),
        ("hk_macao_permit", "h12345678", "H12345678"),
        ("hk_macao_permit", "M1234567801", "M1234567801"),
        ("taiwan_permit", "１２３４５６７８", "12345678"),
        ("foreign_permanent_resident", "usa110085010101", "USA110085010101"),
        ("other", "mil-2020-001", "MIL-2020-001"),
    ],
)
def test_other_documents_get_basic_checks(kind, typed, stored) -> None:
    assert ids.normalise_document(kind, typed) == stored


@pytest.mark.parametrize(
    ("kind", "typed"),
    [
        ("passport", "E1"),
        ("passport", "E123-4567"),
        ("hk_macao_permit", "X12345678"),
        ("hk_macao_permit", "H1234"),
        ("taiwan_permit", "123456789"),
        ("foreign_permanent_resident", "US1234"),
    ],
)
def test_malformed_other_documents_are_refused(kind, typed) -> None:
    with pytest.raises(ValueError, match="not a valid"):
        ids.normalise_document(kind, typed)


def test_normalise_document_runs_the_full_check_for_resident_ids() -> None:
    with pytest.raises(ValueError, match="check digit"):
        ids.normalise_document("resident_id", with_wrong_check_digit(resident_id()))


# --- organisations' identifiers --------------------------------------------------------------


def test_uscc_check_digit() -> None:
    assert ids.normalise_uscc(" 91350100m000100y43 ") == "91350100M000100Y43"
    with pytest.raises(ValueError, match="check digit"):
        ids.normalise_uscc("91350100M000100Y44")
    with pytest.raises(ValueError, match="18 characters"):
        ids.normalise_uscc("91350100M000100Y4")


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("11", "110000"), ("1101", "110100"), ("110108", "110108"), ("８１００００", "810000")],
)
def test_region_codes_are_padded_and_checked(typed, stored) -> None:
    assert ids.normalise_region_code(typed) == stored


@pytest.mark.parametrize("typed", ["999999", "1", "123", "11010", "1101081", "abcdef"])
def test_unknown_region_codes_are_refused(typed) -> None:
    with pytest.raises(ValueError, match="region code"):
        ids.normalise_region_code(typed)


def test_region_names() -> None:
    assert ids.region_name("110000") == "北京市"
    assert "海淀" in (ids.region_name("110108") or "")
    assert ids.region_name("820000") == "澳门特别行政区"
    assert ids.region_name("999999") is None


def test_uuid7_is_version_7_and_time_ordered() -> None:
    values = [ids.uuid7() for _ in range(200)]
    assert all(v.version == 7 and v.variant == uuid.RFC_4122 for v in values)
    assert len(set(values)) == 200
    stamps = [v.int >> 80 for v in values]
    assert stamps == sorted(stamps)


# --- masking --------------------------------------------------------------------------------


def test_masking_keeps_only_the_ends() -> None:
    assert mask_document("11010519491231002X") == "110***********002X"
    assert mask_document("E12345678") == "E******78"
    assert mask_document("1234") == "****"
    assert mask_phone("13900001111") == "139****1111"
    assert mask_phone("+85223456789") == "**********89"
    assert mask_email("zhang.san@pku.edu.cn") == "z***@pku.edu.cn"
    assert mask_email("z@pku.edu.cn") == "***@pku.edu.cn"
    assert mask_phone(None) is None
    assert mask_email(None) is None


def test_region_code_newer_than_the_birth_year_is_accepted() -> None:
    """A number carries the code where it was issued: Nanshan (440305, from 1990), born 1962."""
    number = resident_with_check("44030519620810615")
    assert ids.parse_resident_id(number).birth_date == date(1962, 8, 10)


@pytest.mark.parametrize("region", ["810000", "820000", "830000"])
def test_residence_permits_of_hong_kong_macao_and_taiwan_residents_are_accepted(region) -> None:
    number = resident_with_check(f"{region}19800101002")
    assert ids.parse_resident_id(number).gender == "female"


def test_resident_id_before_1900_is_refused() -> None:
    with pytest.raises(ValueError, match="1900"):
        ids.parse_resident_id(resident_with_check("11010118991231001"))


@pytest.mark.parametrize(
    ("typed", "stored"),
    [("张　三", "张三"), (" 欧阳 娜娜 ", "欧阳娜娜"), ("王 \U0002c317", "王\U0002c317"),
     ("Li  Na", "Li Na"), ("张 a 三", "张 a 三")],
)  # fmt: skip
def test_names_lose_the_spaces_between_chinese_characters(typed, stored) -> None:
    assert normalize.person_name(typed) == stored
