"""Today's date where the registry's users live, as a dependency the tests can freeze."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Depends

from .civil_date import ZONE, age_on, today, years_before

__all__ = ["ZONE", "TodayDep", "age_on", "get_today", "today", "years_before"]


def get_today() -> date:
    """The date the rules apply; tests override this dependency to freeze the clock."""
    return today()


TodayDep = Annotated[date, Depends(get_today)]
