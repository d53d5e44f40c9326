"""Values as people type them (full-width forms, Chinese words, many date styles) to stored values.

This is the one place that maps Chinese and English labels to enum values; the API's
schemas and the importers both call it.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, timedelta
from typing import Any

_SPACES = re.compile(r"\s+")


def fold(value: str) -> str:
    """Full-width letters, digits and punctuation to half-width; spaces collapsed and trimmed."""
    folded = unicodedata.normalize("NFKC", value)
    return _SPACES.sub(" ", folded).strip()


# Full-width letters and digits and the ideographic space; CJK punctuation is left alone.
_WIDE_ALNUM = {
    **{0xFF10 + i: 0x30 + i for i in range(10)},
    **{0xFF21 + i: 0x41 + i for i in range(26)},
    **{0xFF41 + i: 0x61 + i for i in range(26)},
    0x3000: 0x20,
}


def fold_text(value: str) -> str:
    """Prose (names, institutions, reasons): full-width letters and digits to half-width,
    spaces collapsed and trimmed, but Chinese punctuation such as `，` and `（）` kept as typed,
    since official names are written with it."""
    text = unicodedata.normalize("NFC", value).translate(_WIDE_ALNUM)
    return _SPACES.sub(" ", text).strip()


# Ideographs of every block names are written in (the supplementary planes' too) and 〇.
CJK = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_SPACE_IN_CJK = re.compile(f"(?<=[{CJK}]) (?=[{CJK}])")


def person_name(value: str) -> str:
    """A person's name as `fold_text` gives it, without the spaces lists put between Chinese
    characters to line names up (张　三, 张 三: 张三); spaces in Latin names stay."""
    return _SPACE_IN_CJK.sub("", fold_text(value))


def clean_text(value: str | None) -> str | None:
    """Folded prose, or None when nothing is left."""
    if value is None:
        return None
    folded = fold_text(value)
    return folded or None


def label_key(value: str) -> str:
    """The form labels are compared in: folded, lower case, without spaces."""
    return fold(value).lower().replace(" ", "")


def _lookup(table: dict[str, Any], value: str, what: str, *, hint: str = "") -> Any:
    key = label_key(value)
    if key in table:
        return table[key]
    raise ValueError(f"unknown {what}, expected {hint}{choices(table)}")


def choices(table: dict[str, Any]) -> str:
    """A table's values, each with its first Chinese word: `男 (male) or 女 (female)`."""
    words: dict[Any, str] = {}
    for key, value in table.items():
        if not key.isascii():
            words.setdefault(value, key)
    shown = [f"{word} ({value})" for value, word in words.items()]
    return " or ".join(filter(None, (", ".join(shown[:-1]), shown[-1])))


GENDERS = {
    "male": "male",
    "m": "male",
    "男": "male",
    "female": "female",
    "f": "female",
    "女": "female",
    "男性": "male",
    "女性": "female",
}

GRADES = {
    "student": "student",
    "学生会员": "student",
    "member": "member",
    "会员": "member",
    "普通会员": "member",
    "个人会员": "member",
    "专业会员": "member",
    "正式会员": "member",
    "senior": "senior",
    "高级会员": "senior",
    "资深会员": "senior",
    "fellow": "fellow",
    "会士": "fellow",
    "honorary": "honorary",
    "荣誉会员": "honorary",
}

ID_TYPES = {
    "resident_id": "resident_id",
    "居民身份证": "resident_id",
    "身份证": "resident_id",
    "passport": "passport",
    "护照": "passport",
    "hk_macao_permit": "hk_macao_permit",
    "港澳居民来往内地通行证": "hk_macao_permit",
    "回乡证": "hk_macao_permit",
    "taiwan_permit": "taiwan_permit",
    "台湾居民来往大陆通行证": "taiwan_permit",
    "台胞证": "taiwan_permit",
    "foreign_permanent_resident": "foreign_permanent_resident",
    "外国人永久居留身份证": "foreign_permanent_resident",
    "other": "other",
    "其他": "other",
}

# The levels of China's professional title series (职称): research, higher education,
# engineering, health (doctors, pharmacists, nurses, technicians), laboratories, publishing,
# libraries and archives, schools, economics, accounting and agriculture.
TITLE_LEVELS = {
    "senior": "senior",
    **dict.fromkeys(
        (
            "正高级", "正高", "教授", "研究员", "正高级工程师", "教授级高级工程师", "教授级高工",
            "研究员级高级工程师", "主任医师", "主任药师", "主任护师", "主任技师",
            "正高级实验师", "编审", "研究馆员", "正高级教师", "正高级经济师", "正高级会计师",
            "农业技术推广研究员", "正高级农艺师",
        ),
        "senior",
    ),
    "associate_senior": "associate_senior",
    **dict.fromkeys(
        (
            "副高级", "副高", "副教授", "副研究员", "高级工程师", "高工", "副主任医师",
            "副主任药师", "副主任护师", "副主任技师", "高级实验师", "副编审", "副研究馆员",
            "高级教师", "高级经济师", "高级会计师", "高级农艺师",
        ),
        "associate_senior",
    ),
    "intermediate": "intermediate",
    **dict.fromkeys(
        (
            "中级", "讲师", "助理研究员", "工程师", "主治医师", "主管药师", "主管护师",
            "主管技师", "实验师", "编辑", "馆员", "一级教师", "经济师", "会计师", "农艺师",
        ),
        "intermediate",
    ),
    "junior": "junior",
    **dict.fromkeys(
        (
            "初级", "助教", "研究实习员", "助理工程师", "技术员", "医师", "药师", "护师",
            "技师", "助理实验师", "助理编辑", "助理馆员", "二级教师", "助理经济师",
            "助理会计师", "助理农艺师",
        ),
        "junior",
    ),
    "none": "none",
    **dict.fromkeys(("无", "博士研究生", "硕士研究生", "研究生", "学生"), "none"),
}  # fmt: skip

REGIONS_OF_ORIGIN = {
    "mainland": "mainland",
    "内地": "mainland",
    "大陆": "mainland",
    "hong_kong": "hong_kong",
    "香港": "hong_kong",
    "macao": "macao",
    "澳门": "macao",
    "taiwan": "taiwan",
    "台湾": "taiwan",
    "foreign": "foreign",
    "外籍": "foreign",
    "国外": "foreign",
}


def gender(value: str) -> str:
    return _lookup(GENDERS, value, "gender")


def grade(value: str) -> str:
    return _lookup(GRADES, value, "grade")


def id_type(value: str) -> str:
    return _lookup(ID_TYPES, value, "document type")


def title_level(value: str) -> str:
    return _lookup(TITLE_LEVELS, value, "title", hint="a title such as 教授 or a level: ")


def region_of_origin(value: str) -> str:
    return _lookup(REGIONS_OF_ORIGIN, value, "region of origin")


# A calendar date, perhaps followed by a time of day (a spreadsheet's date-time cell): the date.
_YMD = re.compile(
    r"^(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*[日号]?"
    r"(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$"
)
_COMPACT = re.compile(r"^(\d{4})(\d{2})(\d{2})$")
_YEAR_MONTH = re.compile(r"^\d{4}\s*[-/.年]\s*\d{1,2}\s*月?$")
# Serials as text: five digits (1927-05-18 to 2173), so that a year (1985, 2030) or a year and
# month (1985.03) is never read as a day counted from 1900.
_SERIAL = re.compile(r"^\d{5}(?:\.\d+)?$")
_EXCEL_EPOCH = date(1899, 12, 30)


def parse_date(value: str | int | float | date) -> date:
    """`1985-03-02`, `1985/3/2`, `1985.3.2`, `1985年3月2日`, `19850302` or an Excel serial; a
    year and month without the day is refused, not guessed."""
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return _excel_serial(float(value))
    text = fold(str(value))
    match = _YMD.match(text) or _COMPACT.match(text)
    if match:
        year, month, day = (int(part) for part in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            raise ValueError("not a calendar date") from None
    if _SERIAL.match(text):
        return _excel_serial(float(text))
    if _YEAR_MONTH.match(text):
        raise ValueError("a year and month only, not a full date; use YYYY-MM-DD")
    if re.fullmatch(r"(?:19|20)\d{2}", text):
        raise ValueError("a year only, not a full date; use YYYY-MM-DD")
    raise ValueError("unrecognised date; use YYYY-MM-DD")


def _excel_serial(serial: float) -> date:
    """A spreadsheet's day number: 1 is 1900-01-01. Excel counts a 29 February 1900 that never
    was (serial 60), so days from 1 March 1900 on are counted from 1899-12-30."""
    if not 1 <= serial < 2958466:
        raise ValueError("date serial number out of range")
    days = int(serial)
    if days == 60:
        raise ValueError("date serial number 60 is 1900-02-29, which does not exist")
    if days < 60:
        return date(1899, 12, 31) + timedelta(days=days)
    return _EXCEL_EPOCH + timedelta(days=days)


# E.164: at most 15 digits with the country code; a domestic number at most 12 (0, a 2-4 digit
# area code, 7-8 digits), so that an 18-digit document number in the phone column is refused.
_PHONE = re.compile(r"^(?:\+[0-9]{5,15}|[0-9]{5,12})$")
_MOBILE_CN = re.compile(r"^1[3-9][0-9]{9}$")
# After +86: an area code and 7-8 digits (400 and 800 service numbers are dialled without 0),
# the area code's 0 often kept as written at home (+86 (0)10 …, +86 0571 …).
_LANDLINE_CN = re.compile(r"^0?((?!400|800)(?:10|2[0-9]|[3-9][0-9]{2})[0-9]{7,8})$")


def phone(value: str) -> str:
    """Digits with an optional leading +; mainland numbers lose a +86 / 0086 prefix (mobiles
    as they are, landlines dialled with 0 before the area code)."""
    text = re.sub(r"[\s\-()（）]", "", fold(value))
    if text.startswith("0086"):
        text = "+86" + text[4:]
    elif text.startswith("86") and _MOBILE_CN.match(text[2:]):
        text = "+86" + text[2:]  # the country code written without its +
    if text.startswith("+86") and _MOBILE_CN.match(text[3:]):
        text = text[3:]
    # A landline as dialled at home: 0, the area code (10, 2x or three digits), the number.
    if text.startswith("+86") and (landline := _LANDLINE_CN.match(text[3:])):
        text = "0" + landline[1]
    if not _PHONE.match(text):
        raise ValueError("not a phone number")
    # Without a country code, a long number starting with 1 is a mainland mobile (short service
    # numbers such as 12345 aside): a digit too many or too few is a typo, not a landline.
    if len(text) >= 7 and text.startswith("1") and not _MOBILE_CN.match(text):
        raise ValueError("not a mainland mobile number (11 digits)")
    return text


# No spaces, control characters (a NUL the database refuses) or halves of surrogate pairs.
_ADDRESS_CHAR = r"[^@\s\x00-\x1f\x7f\ud800-\udfff]"
_EMAIL = re.compile(rf"^{_ADDRESS_CHAR}+@{_ADDRESS_CHAR}+\.{_ADDRESS_CHAR}+$")


def email(value: str) -> str:
    """An e-mail address, its domain in lower case; `mailto:` (a link copied) dropped."""
    text = fold(value).replace(" ", "")
    if text[:7].lower() == "mailto:":
        text = text[7:]
    if not _EMAIL.match(text) or len(text) > 254:
        raise ValueError("not an email address")
    local, _, domain = text.rpartition("@")
    return f"{local}@{domain.lower()}"


_ORCID = re.compile(r"^([0-9]{4})-?([0-9]{4})-?([0-9]{4})-?([0-9]{3}[0-9X])$")


def orcid(value: str) -> str:
    """An ORCID iD in its canonical dashed form, check digit verified (ISO 7064 11,2)."""
    text = fold(value).upper().removeprefix("HTTPS://ORCID.ORG/").removeprefix("ORCID.ORG/")
    match = _ORCID.match(text)
    if not match:
        raise ValueError("not an ORCID iD")
    digits = "".join(match.groups())
    total = 0
    for ch in digits[:-1]:
        total = (total + int(ch)) * 2
    check = (12 - total % 11) % 11
    if digits[-1] != ("X" if check == 10 else str(check)):
        raise ValueError("ORCID check digit does not match")
    return "-".join(match.groups())


# ASCII digits: \d would take the digits of other scripts too.
_DISCIPLINE = re.compile(r"^([0-9]{3})(?:\.?([0-9]{2}))?(?:\.?([0-9]{2}))?$")


def discipline_code(value: str) -> str:
    """A GB/T 13745 code (`130`, `13015`, `1301510`) under one of its first-level disciplines;
    dotted input such as `130.15` normalised."""
    from .disciplines import first_level

    text = fold(value).replace(" ", "")
    match = _DISCIPLINE.match(text)
    if not match:
        raise ValueError("not a GB/T 13745 discipline code (3, 5 or 7 digits)")
    if match[1] not in first_level():
        raise ValueError(f"{match[1]} is no first-level GB/T 13745 discipline")
    return "".join(part for part in match.groups() if part)


def split_list(value: str) -> list[str]:
    """A list typed in one cell: separated by `、`, `;`, `，` or `,`."""
    return [part for part in (clean_text(p) for p in re.split(r"[、;；,，]", value)) if part]


# --- labels the import files use (the API takes the enum values, which these tables include) ---

ORG_KINDS = {
    "federation": "federation",
    "中国科协": "federation",
    "national_society": "national_society",
    "全国学会": "national_society",
    "学会": "national_society",
    "协会": "national_society",
    "研究会": "national_society",
    "provincial_association": "provincial_association",
    "省级科协": "provincial_association",
    "省科协": "provincial_association",
    "local_association": "local_association",
    "市科协": "local_association",
    "县科协": "local_association",
    "地方科协": "local_association",
    "university_association": "university_association",
    "高校科协": "university_association",
    "enterprise_association": "enterprise_association",
    "企业科协": "enterprise_association",
    "park_association": "park_association",
    "园区科协": "park_association",
}

# 团体会员 (institutions as members) are graded by their seat in the society's bodies.
GROUP_GRADES = {
    "member": "member",
    "会员单位": "member",
    "团体会员": "member",
    "单位会员": "member",
    "council": "council",
    "理事单位": "council",
    "standing_council": "standing_council",
    "常务理事单位": "standing_council",
    "vice_president": "vice_president",
    "副理事长单位": "vice_president",
}

YES_NO = {
    "是": True,
    "yes": True,
    "y": True,
    "true": True,
    "1": True,
    "否": False,
    "no": False,
    "n": False,
    "false": False,
    "0": False,
}


def org_kind(value: str) -> str:
    return _lookup(ORG_KINDS, value, "organisation kind")


def group_grade(value: str) -> str:
    return _lookup(GROUP_GRADES, value, "group member grade")


def yes_no(value: str) -> bool:
    key = label_key(value)
    if key in YES_NO:
        return YES_NO[key]
    raise ValueError("expected 是/否, yes/no or 1/0")


# Words in TITLE_LEVELS that name a level only; the others (`教授`) are also a position.
_LEVEL_WORDS = {"正高级", "正高", "副高级", "副高", "中级", "初级", "无"}


def title(value: str) -> tuple[str, str | None]:
    """A title as typed: its level, and the word itself when it names a position (`教授`)."""
    level = title_level(value)
    key = label_key(value)
    position = None if key in _LEVEL_WORDS or key in TITLE_LEVELS.values() else clean_text(value)
    return level, position


def discipline(value: str) -> str:
    """`130 力学`, `130`, `130.15` or `力学` (a first-level name) to a GB/T 13745 code."""
    from .disciplines import code_by_name, name_of

    text = fold(value)
    head, _, rest = text.partition(" ")
    if head[:1].isdigit():
        code = discipline_code(head)
        name = rest.strip()
        if name and code_by_name().get(name.lower(), code[:3]) != code[:3]:
            raise ValueError(f"code {code} is {name_of(code) or 'unknown'}, not {name}")
        return code
    code = code_by_name().get(text.lower())
    if code is None:
        raise ValueError("unknown discipline; give a GB/T 13745 code or first-level name")
    return code


def disciplines(value: str) -> list[str]:
    """Several disciplines in one cell, separated as `split_list` does; duplicates dropped."""
    return list(dict.fromkeys(discipline(part) for part in split_list(value)))


MEMBER_NO_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_./-]*$"
_MEMBER_NO = re.compile(MEMBER_NO_PATTERN, re.ASCII)


def member_no(value: str) -> str:
    """A member number as the API and the imports take it: folded, spaces dropped, at most 64
    characters of letters, digits and `_./-`, starting with a letter or digit."""
    text = fold(value).replace(" ", "")
    if not text:
        raise ValueError("empty member number")
    if len(text) > 64:
        raise ValueError("a member number has at most 64 characters")
    if not _MEMBER_NO.match(text):
        raise ValueError(
            "a member number has letters, digits and _ . / - only, and starts with a letter"
            " or digit"
        )
    return text


def not_future(value: date) -> date:
    """A date of birth (or any past event): not after today and not before 1900."""
    if value > date.today():
        raise ValueError("must not be in the future")
    if value.year < 1900:
        raise ValueError("must be after 1900")
    return value


# The dates a register keeps (joining, the end of a period): a year outside these is a typo,
# and an open end is no date, not 9999-12-31 (periods computed from it would overflow).
EARLIEST_DATE, LATEST_DATE = date(1900, 1, 1), date(2199, 12, 31)


def in_register_range(value: date) -> date:
    """A joining date or the end of a period, as the API and imports accept them."""
    if not EARLIEST_DATE <= value <= LATEST_DATE:
        raise ValueError(f"must be between {EARLIEST_DATE} and {LATEST_DATE}")
    return value


TERMINATION_REASONS = {
    "withdrawal": "withdrawal",
    "退会": "withdrawal",
    "退出": "withdrawal",
    "expulsion": "expulsion",
    "除名": "expulsion",
    "开除": "expulsion",
    "death": "death",
    "去世": "death",
    "逝世": "death",
    "死亡": "death",
}


def termination_reason(value: str) -> str:
    """Why a membership ended: withdrawal (退会), expulsion (除名) or death (去世)."""
    return _lookup(TERMINATION_REASONS, value, "termination reason")
