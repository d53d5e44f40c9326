"""Identifiers: GB 11643 resident ID numbers, GB 32100 credit codes, GB/T 2260 regions, ISO 3166-1
countries, UUIDv7."""

from __future__ import annotations

import os
import re
import time
import uuid
from datetime import date

from stdnum.cn import ric, uscc
from stdnum.exceptions import ValidationError

from .normalize import fold


def uuid7() -> uuid.UUID:
    """A time-ordered UUID (RFC 9562 version 7), so keys sort in creation order."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76
    value |= ((rand >> 62) & 0xFFF) << 64
    value |= 0b10 << 62
    value |= rand & ((1 << 62) - 1)
    return uuid.UUID(int=value)


class ResidentId:
    """A validated 18-character resident ID number with what it encodes."""

    __slots__ = ("birth_date", "gender", "number")

    def __init__(self, number: str, birth_date: date, gender: str) -> None:
        self.number = number
        self.birth_date = birth_date
        self.gender = gender


# ASCII digits throughout: \d would take the digits of other scripts too.
_RESIDENT = re.compile(r"^[0-9]{17}[0-9X]$")


def parse_resident_id(value: str) -> ResidentId:
    """Validate a GB 11643 number: length, format, the MOD 11-2 check digit, the birth date
    and the region code.

    The region code must be a known GB/T 2260 code of any period: python-stdnum's own
    `ric.validate` also demands that the county existed in the birth year, but the code is
    the one where the number was first issued (from 1984 on), so a person born in 1962 in
    Nanjing rightly holds 320102 although its table entry starts in 1983.
    """
    number = fold(value).replace(" ", "").upper()
    if len(number) != 18:
        raise ValueError("a resident ID number has 18 characters")
    if not _RESIDENT.match(number):
        raise ValueError("must be 17 digits and a digit or X")
    if ric.calc_check_digit(number) != number[17]:
        raise ValueError("check digit does not match (GB 11643 MOD 11-2)")
    try:
        birth = date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        raise ValueError("birth date encoded in the number is not a calendar date") from None
    if birth.year < 1900:
        raise ValueError("birth date encoded in the number is before 1900")
    if birth > date.today():
        raise ValueError("birth date encoded in the number is in the future")
    if region_name(number[:6]) is None:
        raise ValueError("region code in the number is not a GB/T 2260 code")
    gender = "male" if int(number[16]) % 2 else "female"
    return ResidentId(number, birth, gender)


_DOCUMENT_PATTERNS = {
    "passport": re.compile(r"^[A-Z0-9]{5,17}$"),
    "hk_macao_permit": re.compile(r"^[HM][0-9]{8,10}$"),
    "taiwan_permit": re.compile(r"^[0-9]{8}$|^[0-9]{10}$"),
    "foreign_permanent_resident": re.compile(r"^[A-Z]{3}[0-9]{12}$|^9[0-9]{17}$"),
    "other": re.compile(r"^[A-Z0-9\-]{3,32}$"),
}


def normalise_document(id_type: str, value: str) -> str:
    """A document number in its stored form; resident IDs get the full GB 11643 check."""
    if id_type == "resident_id":
        return parse_resident_id(value).number
    number = fold(value).replace(" ", "").upper()
    pattern = _DOCUMENT_PATTERNS.get(id_type)
    if pattern is None:
        raise ValueError("unknown document type")
    if not pattern.match(number):
        raise ValueError(f"not a valid {id_type.replace('_', ' ')} number")
    return number


def normalise_uscc(value: str) -> str:
    """A GB 32100 unified social credit code with its check digit verified."""
    code = fold(value).replace(" ", "").upper()
    try:
        return uscc.validate(code)
    except ValidationError as exc:
        if type(exc).__name__ == "InvalidChecksum":
            raise ValueError("check digit does not match (GB 32100)") from None
        raise ValueError("not a unified social credit code (18 characters)") from None


_REGION = re.compile(r"^[0-9]{6}$")
# Hong Kong, Macao and Taiwan as the residence permits for their residents number them.
_SPECIAL_REGIONS = {"810000": "香港特别行政区", "820000": "澳门特别行政区", "830000": "台湾"}


def region_name(code: str) -> str | None:
    """The name python-stdnum's GB/T 2260 table gives a six-digit code, or None."""
    if code in _SPECIAL_REGIONS:
        return _SPECIAL_REGIONS[code]
    from stdnum import numdb

    info = {k: v for _, props in numdb.get("cn/loc").info(code) for k, v in props.items()}
    if "province" not in info or "county" not in info:
        return None
    county = re.sub(r"^\[[^\]]*\]", "", info["county"].split(",")[-1])
    province = info["province"]
    return province if county in ("", province) else f"{province} {county}"


def region_prefix(code: str) -> str:
    """A GB/T 2260 code as the prefix it stands for: a province's or city's own code, as
    statistics and facets give it (110000, 110100), is its two or four digits (11, 1101), and
    so is a province's four-digit code (1100)."""
    if len(code) not in (4, 6):  # already a prefix (11, 11010): taken as given
        return code
    prefix = code
    while len(prefix) > 2 and prefix.endswith("00"):
        prefix = prefix[:-2]
    return prefix


def normalise_region_code(value: str) -> str:
    """A known six-digit GB/T 2260 code; `11` and `1101` are padded to `110000` and `110100`."""
    code = fold(value).replace(" ", "")
    if len(code) in (2, 4) and code.isdigit():
        code = code.ljust(6, "0")
    if not _REGION.match(code):
        raise ValueError("a region code has six digits (GB/T 2260)")
    if region_name(code) is None:
        raise ValueError("unknown region code (GB/T 2260)")
    return code


# ISO 3166-1 alpha-2: the 249 codes officially assigned (user-assigned ones such as XK, and
# withdrawn ones such as AN and CS, are no country).
COUNTRY_CODES = frozenset(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ
    BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM
    DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS
    GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN
    KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ
    MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM
    PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV
    SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI
    VN VU WF WS YE YT ZA ZM ZW
    """.split()  # noqa: SIM905 - a table, read as one
)


def normalise_country(value: str) -> str:
    """An ISO 3166-1 alpha-2 country code in upper case (`cn`, `ＣＮ` -> `CN`)."""
    code = fold(value).replace(" ", "").upper()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise ValueError("a country is two letters (ISO 3166-1 alpha-2)")
    if code not in COUNTRY_CODES:
        raise ValueError("unknown country code (ISO 3166-1 alpha-2)")
    return code


def uuid7_hex_batch(count: int) -> list[str]:
    """`count` version 7 UUIDs at once, as 32 hex digits (PostgreSQL reads them as uuid):
    one clock read for the batch, then a counter (26 bits) so the batch sorts as drawn, then
    48 random bits. Bulk imports draw hundreds of thousands; `uuid7()` one at a time is slower.
    """
    ms = (time.time_ns() // 1_000_000) & ((1 << 48) - 1)
    rand = os.urandom(6 * count).hex()
    stamp = f"{ms:012x}7"
    # Built from precomputed pieces (the counter's high part changes every 2**14 ids): half
    # the time of formatting each id, which showed in a million-row import.
    ids: list[str] = []
    for block in range(0, count, 1 << 14):
        high = f"{stamp}{(block >> 14) & 0xFFF:03x}"
        size = min(1 << 14, count - block)
        ids.extend(
            map(
                str.__add__,
                [high + low for low in _UUID7_LOW[:size]],
                [rand[k : k + 12] for k in range(12 * block, 12 * (block + size), 12)],
            )
        )
    return ids


_UUID7_LOW = [f"{0x8000 | i:04x}" for i in range(1 << 14)]
