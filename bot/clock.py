"""Time comes from a clock that tests can replace; every time is timezone-aware."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    """Anything that tells the current time."""

    def now(self) -> datetime:
        """The current time, timezone-aware (UTC)."""
        ...


class SystemClock:
    """The real wall clock."""

    def now(self) -> datetime:
        """The current UTC time."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that stands still until moved; for tests."""

    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 11, 20, 2, 0, tzinfo=UTC)

    def now(self) -> datetime:
        """The clock's current time."""
        return self.current

    def advance(self, **delta: float) -> None:
        """Move the clock forward by a timedelta's keyword arguments."""
        self.current += timedelta(**delta)
