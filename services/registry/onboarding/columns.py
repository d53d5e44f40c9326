"""The columns each import file may have, and how a header row is matched to them.

A header cell matches a column when, folded (full-width forms to half-width), lower-cased and
without spaces, underscores, hyphens or the `*` that templates put on required columns, it
equals one of the column's labels treated the same way: Chinese or English, as CONTRACT.md
lists them, plus a few common variants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from ..core.normalize import label_key
from ..core.security import mask_document
from .readers import FORMULA_ERRORS, FileProblem, formula_error


@dataclass(frozen=True)
class Column:
    field: str
    labels: tuple[str, ...]  # the first two are the documented Chinese and English headers

    @property
    def title(self) -> str:
        return "/".join(self.labels[:2])


MEMBER_COLUMNS = (
    Column("name", ("姓名", "name")),
    Column("gender", ("性别", "gender", "sex")),
    Column("birth_date", ("出生日期", "birth_date", "出生年月日", "date of birth", "birthday")),
    Column("id_type", ("证件类型", "id_type", "document type")),
    Column("id_number", ("证件号码", "id_number", "身份证号", "身份证号码", "证件号")),
    Column("phone", ("手机", "phone", "手机号", "手机号码", "mobile", "联系电话")),
    Column("email", ("邮箱", "email", "电子邮箱", "电子邮件", "e-mail")),
    Column("institution", ("工作单位", "institution", "单位")),
    Column("title", ("职称", "title", "title_level")),
    Column("discipline", ("学科", "discipline", "discipline_codes", "学科代码")),
    Column("research_fields", ("研究方向", "research_fields")),
    Column("grade", ("会员等级", "grade", "会员级别")),
    Column("member_no", ("会员编号", "member_no", "会员号")),
    Column("joined_on", ("入会日期", "joined_on", "入会时间")),
    Column("valid_until", ("有效期至", "valid_until", "有效期")),
    Column("name_en", ("英文名", "name_en", "英文姓名")),
    Column("region_code", ("行政区划代码", "region_code")),
    Column("orcid", ("ORCID", "orcid")),
    Column("expert_opt_in", ("入选专家库", "expert_opt_in")),
)

ORG_COLUMNS = (
    Column("code", ("代码", "code", "机构代码")),
    Column("name", ("名称", "name", "机构名称")),
    Column("kind", ("类型", "kind", "机构类型")),
    Column("parent_code", ("上级代码", "parent_code")),
    Column("uscc", ("统一社会信用代码", "uscc")),
    Column("region_code", ("行政区划代码", "region_code")),
    Column("name_en", ("英文名称", "name_en")),
)

GROUP_MEMBER_COLUMNS = (
    Column("name", ("单位名称", "name", "名称")),
    Column("uscc", ("统一社会信用代码", "uscc")),
    Column("member_no", ("会员编号", "member_no")),
    Column("grade", ("会员等级", "grade")),
    Column("joined_on", ("入会日期", "joined_on")),
    Column("valid_until", ("有效期至", "valid_until")),
    Column("region_code", ("行政区划代码", "region_code")),
    Column("contact_name", ("联系人", "contact_name")),
    Column("contact_phone", ("联系电话", "contact_phone", "联系人手机")),
    Column("contact_email", ("联系邮箱", "contact_email")),
    Column("seats", ("席位数", "seats", "席位", "代表名额")),
)


def header_key(text: str) -> str:
    return label_key(text).replace("_", "").replace("-", "").replace("*", "")


@cache
def _by_key(columns: tuple[Column, ...]) -> dict[str, Column]:
    """Each label of the columns, as `header_key` gives it, and its column."""
    return {header_key(label): column for column in columns for label in column.labels}


def names_a_column(cells: list[str], columns: tuple[Column, ...]) -> bool:
    """Whether a record is a header: it names at least one of the columns."""
    keys = _by_key(columns)
    return any(header_key(cell) in keys for cell in cells if cell.strip())


DATE_FIELDS = frozenset({"birth_date", "joined_on", "valid_until"})


def date_positions(cells: list[str], columns: tuple[Column, ...]) -> set[int]:
    """The positions of a header's date columns."""
    keys = _by_key(columns)
    return {
        index
        for index, cell in enumerate(cells)
        if (column := keys.get(header_key(cell))) is not None and column.field in DATE_FIELDS
    }


_DIGITS = re.compile(r"\d")


def _shown(cell: str) -> str:
    """A header cell as an error message may quote it: a file without a header row has a
    member's cells there, so numbers (documents, phones) are masked and addresses left out."""
    if "@" in cell:
        return "<e-mail address>"
    if len(_DIGITS.findall(cell)) >= 6:
        return mask_document(cell)
    return cell


@dataclass(frozen=True)
class HeaderMap:
    """Which position in a row holds which field; unknown header cells kept for the report."""

    positions: dict[str, int]
    labels: dict[str, str]  # field -> the header cell as the file wrote it
    unknown: list[str]
    width: int

    def values(self, cells: list[str]) -> dict[str, str]:
        """A row's non-blank cells, trimmed, by field."""
        values = {}
        for name, index in self.positions.items():
            text = cells[index].strip() if index < len(cells) else ""
            if text:
                values[name] = text
        return values

    def formula_errors(self, values: dict[str, str]) -> str | None:
        """Why a row read by `values` is refused for holding spreadsheet formula errors."""
        reasons = [
            f"{self.labels[name]}: {formula_error(text)}"
            for name, text in values.items()
            if text in FORMULA_ERRORS
        ]
        return "; ".join(reasons) or None


def map_header(
    header: list[str], columns: tuple[Column, ...], *, required: tuple[str, ...], file_name: str
) -> HeaderMap:
    by_key = _by_key(columns)
    positions: dict[str, int] = {}
    labels: dict[str, str] = {}
    ranks: dict[str, int] = {}
    unknown: list[str] = []
    for index, cell in enumerate(header):
        if not cell.strip():
            continue
        key = header_key(cell)
        column = by_key.get(key)
        if column is None:
            unknown.append(cell.strip())
            continue
        # A field named twice under different labels (手机 and 联系电话: a mobile and an
        # office number side by side) is read from the label listed first; the same label
        # twice leaves no way to choose.
        rank = [header_key(label) for label in column.labels].index(key)
        if column.field in positions:
            if rank == ranks[column.field]:
                raise FileProblem(
                    f"{file_name}: columns {positions[column.field] + 1} and {index + 1} both "
                    f"give {column.title}"
                )
            kept, other = (labels[column.field], cell.strip())
            if rank < ranks[column.field]:
                kept, other = other, kept
                positions[column.field], labels[column.field] = index, cell.strip()
                ranks[column.field] = rank
            unknown.append(f"{other} (also {column.title}; {kept} is read)")
            continue
        positions[column.field] = index
        labels[column.field] = cell.strip()
        ranks[column.field] = rank
    expected = ", ".join(c.title for c in columns if c.field in required)
    found = ", ".join(repr(_shown(c.strip())) for c in header if c.strip()) or "nothing"
    if not positions:
        raise FileProblem(
            f"{file_name}: no recognisable header; found {found}; expected {expected} "
            f"(and optionally {', '.join(c.title for c in columns if c.field not in required)})"
        )
    missing = [c.title for c in columns if c.field in required and c.field not in positions]
    if missing:
        raise FileProblem(
            f"{file_name}: missing required column(s) {', '.join(missing)}; found {found}"
        )
    return HeaderMap(positions, labels, unknown, len(header))
