"""Cursor (keyset) pagination: opaque cursors over ordered keys, a capped limit."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel

from .errors import InvalidField

DEFAULT_LIMIT = 50
MAX_LIMIT = 200

T = TypeVar("T")
R = TypeVar("R")


class Page(BaseModel, Generic[T]):
    """One page of a list and the cursor of the next one (null at the end)."""

    items: list[T]
    next_cursor: str | None = None


def encode_cursor(key: uuid.UUID | int, scope: bytes = b"") -> str:
    raw = key.bytes + scope if isinstance(key, uuid.UUID) else b"i" + str(key).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def list_scope(**filters: Any) -> bytes:
    """Eight bytes that tell a list's filters from other filters: a cursor of a list that has
    filters carries them, so that reused with other filters (where it would skip every
    matching row before its key) it is refused instead."""
    given = {name: value for name, value in filters.items() if value is not None}
    canonical = json.dumps(given, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).digest()[:8]


def _raw(cursor: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        raise _malformed() from None


def _malformed() -> InvalidField:
    return InvalidField("cursor", "malformed cursor; pass next_cursor back unchanged")


@dataclass(frozen=True)
class PageParams:
    """Where a page starts (the cursor as sent) and how long it is."""

    cursor: str | None
    limit: int

    def after_uuid(self, scope: bytes = b"") -> uuid.UUID | None:
        """The key the page starts after; `scope` is the list's `list_scope`, if it has one."""
        if not self.cursor:
            return None
        raw = _raw(self.cursor)
        if len(raw) != 16 + len(scope):
            raise _malformed()
        if raw[16:] != scope:
            raise InvalidField(
                "cursor", "the cursor belongs to the list with other filters; start again"
            )
        return uuid.UUID(bytes=raw[:16])

    def after_int(self) -> int | None:
        if not self.cursor:
            return None
        raw = _raw(self.cursor)
        # Keys are bigint: a larger number is no key (the database would refuse to compare).
        if not raw.startswith(b"i") or not raw[1:].isdigit() or int(raw[1:]) >= 2**63:
            raise _malformed()
        return int(raw[1:])


# async: FastAPI runs a plain def dependency in the thread pool, a trip costlier than the work.
async def page_params(
    cursor: Annotated[
        str | None, Query(max_length=64, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="page length")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]


def like_escape(text: str) -> str:
    """A user's search text for LIKE/ILIKE with `escape="\\"`: wildcards match themselves."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def page_of(
    rows: list[R],
    limit: int,
    key: Callable[[R], uuid.UUID | int],
    render: Callable[[R], T],
    scope: bytes = b"",
) -> Page[T]:
    """Rows fetched with limit + 1: the extra row only says that a next page exists."""
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        items=[render(r) for r in rows],
        next_cursor=encode_cursor(key(rows[-1]), scope) if has_more and rows else None,
    )
