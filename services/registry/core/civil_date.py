"""Civil dates in China: today in Beijing, full years of age, a day some years before."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

# Membership dates are civil dates in China: a membership valid until 31 December is valid
# for the whole of that day in Beijing time, whatever the server's time zone.
ZONE = ZoneInfo("Asia/Shanghai")


def today() -> date:
    return datetime.now(ZONE).date()


def age_on(birth: date, day: date) -> int:
    """Full years of age on `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def years_before(day: date, years: int) -> date:
    """The same calendar day `years` earlier; 29 February falls back to the 28th."""
    try:
        return day.replace(year=day.year - years)
    except ValueError:
        return day.replace(year=day.year - years, day=28)
