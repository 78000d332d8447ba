"""The periods a statement covers: a quarter by default ("2026Q3"), a half-year ("2026H2"), a month
("2026-07"), a year ("2026"), or any start and end dates."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

QUARTER = re.compile(r"^(\d{4})\s*Q([1-4])$", re.IGNORECASE)
HALF = re.compile(r"^(\d{4})\s*H([12])$", re.IGNORECASE)
MONTH = re.compile(r"^(\d{4})-(\d{1,2})$")
YEAR = re.compile(r"^(\d{4})$")
LATE = timedelta(days=30)  # a period's statement is late this long after the period ends (DESIGN §4.4)
ESCALATE = timedelta(days=7)  # then community staff are told


@dataclass(frozen=True, slots=True)
class Period:
    """The days a statement covers, both included."""

    start: date
    end: date

    @classmethod
    def from_iso(cls, start: str, end: str) -> Period:
        """A period from its ISO dates (as events carry them)."""
        return cls(date.fromisoformat(start), date.fromisoformat(end))

    def label(self) -> str:
        """The period's short name: 2026Q3, 2026H2, 2026-07, 2026, or 2026-07-01~2026-08-15."""
        s, e = self.start, self.end
        if s.day == 1 and e == _month_end(e.year, e.month) and s.year == e.year:
            months = e.month - s.month + 1
            if months == 3 and s.month % 3 == 1:
                return f"{s.year}Q{(s.month - 1) // 3 + 1}"
            if months == 6 and s.month in (1, 7):
                return f"{s.year}H{1 if s.month == 1 else 2}"
            if months == 1:
                return f"{s.year}-{s.month:02d}"
            if months == 12:
                return f"{s.year}"
        return f"{s.isoformat()}~{e.isoformat()}"


class PeriodError(ValueError):
    """A period that cannot be read, or whose end comes before its start."""


def _month_end(year: int, month: int) -> date:
    following = date(year + month // 12, month % 12 + 1, 1)
    return following - timedelta(days=1)


def quarter_of(day: date) -> Period:
    """The quarter a day lies in."""
    first = (day.month - 1) // 3 * 3 + 1
    return Period(date(day.year, first, 1), _month_end(day.year, first + 2))


def previous_quarter(day: date) -> Period:
    """The last quarter that ended before the quarter a day lies in."""
    return quarter_of(quarter_of(day).start - timedelta(days=1))


def parse_period(text: str) -> Period:
    """A period from its short name (2026Q3, 2026H2, 2026-07, 2026) or "START~END" / "START..END" dates."""
    text = text.strip()
    if m := QUARTER.match(text):
        year, q = int(m[1]), int(m[2])
        return Period(date(year, 3 * q - 2, 1), _month_end(year, 3 * q))
    if m := HALF.match(text):
        year, h = int(m[1]), int(m[2])
        return Period(date(year, 6 * h - 5, 1), _month_end(year, 6 * h))
    if (m := MONTH.match(text)) and 1 <= int(m[2]) <= 12:
        year, month = int(m[1]), int(m[2])
        return Period(date(year, month, 1), _month_end(year, month))
    if m := YEAR.match(text):
        return Period(date(int(m[1]), 1, 1), date(int(m[1]), 12, 31))
    for sep in ("~", ".."):
        if sep in text:
            start, end = (part.strip() for part in text.split(sep, 1))
            return between(start, end)
    raise PeriodError(f"{text!r} is not a period (2026Q3, 2026H2, 2026-07, 2026 or START~END)")


def between(start: str | date, end: str | date) -> Period:
    """A period from its first and last days (ISO dates), checked."""
    try:
        first = start if isinstance(start, date) else date.fromisoformat(str(start).strip())
        last = end if isinstance(end, date) else date.fromisoformat(str(end).strip())
    except ValueError:
        raise PeriodError(f"{start}~{end}: dates must be written YYYY-MM-DD") from None
    if last < first:
        raise PeriodError(f"{start}~{end}: the period ends before it starts")
    if (last - first).days > 366:
        raise PeriodError(f"{start}~{end}: a period is at most a year")
    return Period(first, last)


def ended_at(period: Period, zone: ZoneInfo) -> datetime:
    """The moment a period ends: midnight after its last day, local time."""
    return datetime.combine(period.end + timedelta(days=1), time(0), tzinfo=zone)


def late_at(period: Period, zone: ZoneInfo) -> datetime:
    """When a period's statement is late and its filer is reminded: 30 days after the period ends."""
    return ended_at(period, zone) + LATE
